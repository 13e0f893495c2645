/// Householder QR, working on Aᵀ so that every column of A is a contiguous
/// row: reflector j zeroes column j below the diagonal and is applied to the
/// later columns with contiguous dot products and updates. The thin Q is then
/// formed by applying the reflectors in reverse to the first k unit vectors.
enum NativeQR {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func decompose<T: Scalar>(_ a: Matrix<T>) -> QR<T> {
        let m = a.rows, n = a.columns, k = Swift.min(m, n)
        var columns = a.transposed()               // n×m: row j is column j of A
        var tau = [T](repeating: 0, count: k)
        columns.withUnsafeMutableBufferPointer { c in
            for j in 0..<k {
                let col = c.baseAddress! + j * m
                let (beta, t) = householder(col + j, count: m - j)
                tau[j] = t
                // Apply H = I − τ v vᵀ (v = [1, col[j+1...]]) to columns j+1..<n.
                if t != 0 {
                    for l in (j + 1)..<Swift.max(n, j + 1) {
                        let other = c.baseAddress! + l * m
                        var w = other[j]
                        for i in (j + 1)..<m { w += col[i] * other[i] }
                        w *= t
                        other[j] -= w
                        for i in (j + 1)..<m { other[i] -= w * col[i] }
                    }
                }
                col[j] = beta
            }
        }
        // R: entry (i, j) for i ≤ j is row j, position i, of the transposed work array.
        var r = Matrix<T>.zeros(rows: k, columns: n)
        columns.withUnsafeBufferPointer { c in
            r.withUnsafeMutableBufferPointer { rp in
                for j in 0..<n { for i in 0...Swift.min(j, k - 1) { rp[i * n + j] = c[j * m + i] } }
            }
        }
        // Qᵀ (k×m): start from the first k unit rows and apply H_{k-1} … H_0.
        var qt = Matrix<T>.zeros(rows: k, columns: m)
        columns.withUnsafeBufferPointer { c in
            qt.withUnsafeMutableBufferPointer { q in
                for i in 0..<k { q[i * m + i] = 1 }
                for j in stride(from: k - 1, through: 0, by: -1) where tau[j] != 0 {
                    let v = c.baseAddress! + j * m
                    for row in 0..<k {
                        let target = q.baseAddress! + row * m
                        var w = target[j]
                        for i in (j + 1)..<m { w += v[i] * target[i] }
                        w *= tau[j]
                        target[j] -= w
                        for i in (j + 1)..<m { target[i] -= w * v[i] }
                    }
                }
            }
        }
        return QR(q: qt.transposed(), r: r)
    }

    /// The reflector H = I − τ v vᵀ with v = [1, x₂/(x₁ − β), …] and
    /// H x = β e₁. Overwrites x[1...] with v's tail; returns (β, τ). Scaled
    /// so that the norm neither overflows nor underflows.
    @inline(__always)
    static func householder<T: Scalar>(_ x: UnsafeMutablePointer<T>, count: Int) -> (beta: T, tau: T) {
        guard count > 1 else { return (x[0], 0) }
        var scale: T = 0
        for i in 0..<count { scale = Swift.max(scale, x[i].magnitude) }
        guard scale > 0 else { return (0, 0) }
        var tail: T = 0
        for i in 1..<count { let y = x[i] / scale; tail += y * y }
        if tail == 0 { return (x[0], 0) }
        let alpha = x[0]
        let norm = scale * ((alpha / scale) * (alpha / scale) + tail).squareRoot()
        let beta = alpha >= 0 ? -norm : norm
        let tau = (beta - alpha) / beta
        let divisor = alpha - beta
        for i in 1..<count { x[i] /= divisor }
        return (beta, tau)
    }
}
