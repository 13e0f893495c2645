/// A X = B by LU with partial pivoting (row interchanges), row-oriented: each
/// elimination step subtracts a multiple of the pivot row from the rows below
/// it, contiguous in memory. Then forward and back substitution on the rows
/// of B. Throws `.singular(pivot:)` on an exactly zero pivot column.
enum NativeLU {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func solve<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
        let n = a.rows, p = b.columns
        var lu = a, x = b
        var singularAt: Int?
        lu.withUnsafeMutableBufferPointer { m in
            x.withUnsafeMutableBufferPointer { r in
                for k in 0..<n {
                    // Pivot: the largest |entry| in column k at or below row k.
                    var pivot = k, largest = m[k * n + k].magnitude
                    for i in (k + 1)..<Swift.max(n, k + 1) where m[i * n + k].magnitude > largest {
                        largest = m[i * n + k].magnitude
                        pivot = i
                    }
                    if largest == 0 { singularAt = k; return }
                    if pivot != k {
                        for j in 0..<n { m.swapAt(k * n + j, pivot * n + j) }
                        for j in 0..<p { r.swapAt(k * p + j, pivot * p + j) }
                    }
                    let d = m[k * n + k]
                    for i in (k + 1)..<Swift.max(n, k + 1) {
                        let f = m[i * n + k] / d
                        if f == 0 { continue }
                        m[i * n + k] = f
                        for j in (k + 1)..<n { m[i * n + j] -= f * m[k * n + j] }
                        for j in 0..<p { r[i * p + j] -= f * r[k * p + j] }
                    }
                }
                // Back substitution with U.
                for i in stride(from: n - 1, through: 0, by: -1) {
                    for k in (i + 1)..<Swift.max(n, i + 1) {
                        let f = m[i * n + k]
                        if f == 0 { continue }
                        for j in 0..<p { r[i * p + j] -= f * r[k * p + j] }
                    }
                    let d = m[i * n + i]
                    for j in 0..<p { r[i * p + j] /= d }
                }
            }
        }
        if let k = singularAt { throw LinearAlgebraError.singular(pivot: k) }
        return x
    }
}
