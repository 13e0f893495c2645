/// Householder QR, working on Aᵀ so that every column of A is a contiguous
/// row. Blocked: a panel of 32 columns is factored column by column (each
/// reflector applied to the rest of the panel with contiguous dot products
/// and updates), then the panel's reflectors, as one compact-WY block, update
/// all later columns with two GEMMs. The thin Q is formed the same way,
/// applying the blocks in reverse to the first k unit vectors.
enum NativeQR {
    static let blockSize = 32

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func decompose<T: Scalar>(_ a: Matrix<T>) -> QR<T> {
        let m = a.rows, n = a.columns, k = Swift.min(m, n)
        var columns = a.transposed()               // n×m: row j is column j of A
        var tau = [T](repeating: 0, count: k)
        columns.withUnsafeMutableBufferPointer { c in
            let base = c.baseAddress!
            for first in stride(from: 0, to: k, by: blockSize) {
                let b = Swift.min(blockSize, k - first)
                for j in first..<(first + b) {
                    let col = base + j * m
                    let (beta, t) = householder(col + j, count: m - j)
                    tau[j] = t
                    // Apply H = I − τ v vᵀ (v = [1, col[j+1...]]) to the panel's later columns.
                    if t != 0 {
                        for l in (j + 1)..<(first + b) {
                            let other = base + l * m
                            var w = other[j]
                            for i in (j + 1)..<m { w += col[i] * other[i] }
                            w *= t
                            other[j] -= w
                            for i in (j + 1)..<m { other[i] -= w * col[i] }
                        }
                    }
                    col[j] = beta
                }
                let later = n - first - b
                guard later > 0 else { continue }
                // Columns first+b..<n: Aᵀ₂ ← Aᵀ₂ H_first⋯H_{first+b−1}, i.e. A₂ ← H_{first+b−1}⋯H_first A₂.
                let block = reflectorBlock(base, m: m, first: first, count: b, tau: tau)
                block.applyFromRight(to: base + (first + b) * m + first, rows: later, ldx: m, transposedT: false)
            }
        }
        // R: entry (i, j) for i ≤ j is row j, position i, of the transposed work array.
        var r = Matrix<T>.zeros(rows: k, columns: n)
        columns.withUnsafeBufferPointer { c in
            r.withUnsafeMutableBufferPointer { rp in
                for j in 0..<n { for i in 0...Swift.min(j, k - 1) { rp[i * n + j] = c[j * m + i] } }
            }
        }
        // Qᵀ (k×m): the first k unit rows times H_{k−1}⋯H_0, a block at a time
        // from the last. Rows and columns before a block's first index are
        // still unit vectors there, untouched by it.
        var qt = Matrix<T>.zeros(rows: k, columns: m)
        columns.withUnsafeMutableBufferPointer { c in
            qt.withUnsafeMutableBufferPointer { q in
                for i in 0..<k { q[i * m + i] = 1 }
                guard k > 0 else { return }
                for first in stride(from: ((k - 1) / blockSize) * blockSize, through: 0, by: -blockSize) {
                    let block = reflectorBlock(c.baseAddress!, m: m, first: first, count: Swift.min(blockSize, k - first), tau: tau)
                    block.applyFromRight(to: q.baseAddress! + first * m + first, rows: k - first, ldx: m, transposedT: true)
                }
            }
        }
        return QR(q: qt.transposed(), r: r)
    }

    /// Reflectors first..<first+count, stored below the diagonal of the
    /// columns of A (rows of `columns`, length m), as a block acting on
    /// indices first..<m.
    @inline(__always)
    static func reflectorBlock<T: Scalar>(_ columns: UnsafeMutablePointer<T>, m: Int, first: Int, count: Int, tau: [T]) -> BlockReflector<T> {
        BlockReflector(count: count, length: m - first, taus: tau[first..<(first + count)]) { c, i in
            columns[(first + c) * m + first + i]
        }
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
        // A vector near the subnormal range (as LAPACK's larfg): β = ±‖x‖ would keep too few bits for τ and
        // v to make H orthogonal, so work on 2ᵏx (exact, same v and τ) and scale β back.
        if scale < T.leastNormalMagnitude / T.ulpOfOne {
            let factor = T(sign: .plus, exponent: Swift.min(-scale.exponent, 100), significand: 1)   // 2¹⁰⁰ at most: finite in Float
            let alpha = x[0]
            for i in 0..<count { x[i] *= factor }
            let (beta, tau) = householder(x, count: count)
            x[0] = alpha
            return (beta / factor, tau)
        }
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
