/// Cholesky–Crout by rows: L[i][j] = (S[i][j] − Σ_{k<j} L[i][k]·L[j][k]) / L[j][j].
/// Both factors of every dot product are contiguous rows of L, so the inner
/// loop streams memory and vectorises. Reads only the lower triangle of S.
enum NativeCholesky {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func factor<T: Scalar>(_ s: Matrix<T>) throws -> Matrix<T> {
        let n = s.rows
        var l = Matrix<T>.zeros(rows: n, columns: n)
        var failure: Int?
        s.withUnsafeBufferPointer { sp in
            l.withUnsafeMutableBufferPointer { lp in
                outer: for i in 0..<n {
                    let rowI = lp.baseAddress! + i * n
                    for j in 0...i {
                        let rowJ = lp.baseAddress! + j * n
                        var sum = sp[i * n + j]
                        for k in 0..<j { sum -= rowI[k] * rowJ[k] }
                        if i == j {
                            guard sum > 0, sum.isFinite else { failure = i; break outer }
                            rowI[i] = sum.squareRoot()
                        } else {
                            rowI[j] = sum / rowJ[j]
                        }
                    }
                }
            }
        }
        if let pivot = failure { throw LinearAlgebraError.notPositiveDefinite(pivot: pivot) }
        return l
    }
}
