/// Blocked Cholesky, right-looking, on the lower triangle (the only part of
/// S it reads). For each block column of width 128:
///
/// - the diagonal block is factored by Cholesky–Crout by rows,
///   L[i][j] = (A[i][j] − Σ_{k<j} L[i][k]·L[j][k]) / L[j][j], where both factors
///   of every dot product are contiguous rows;
/// - the rows below it are solved against it the same way, across threads;
/// - the trailing lower triangle is updated, A₂₂ ← A₂₂ − L₂₁L₂₁ᵀ, by one GEMM
///   per 128-row strip (only up to the strip's diagonal).
enum NativeCholesky {
    static let blockSize = 128

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func factor<T: Scalar>(_ s: Matrix<T>) throws -> Matrix<T> {
        let n = s.rows
        var l = Matrix<T>.zeros(rows: n, columns: n)
        var failure: Int?
        s.withUnsafeBufferPointer { sp in
            l.withUnsafeMutableBufferPointer { lp in
                let a = lp.baseAddress!
                for i in 0..<n { for j in 0...i { a[i * n + j] = sp[i * n + j] } }
                // Row i of L in columns first...last (one block column), from A's
                // updated row and the rows of L above it.
                @inline(__always) func crout(row i: Int, first: Int, through last: Int) -> Bool {
                    let rowI = a + i * n
                    for j in first...last {
                        let rowJ = a + j * n
                        var sum = rowI[j]
                        for q in first..<j { sum -= rowI[q] * rowJ[q] }
                        if i == j {
                            guard sum > 0, sum.isFinite else { return false }
                            rowI[i] = sum.squareRoot()
                        } else {
                            rowI[j] = sum / rowJ[j]
                        }
                    }
                    return true
                }
                for first in stride(from: 0, to: n, by: blockSize) {
                    let width = Swift.min(blockSize, n - first), next = first + width
                    for i in first..<next {
                        guard crout(row: i, first: first, through: i) else { failure = i; return }
                    }
                    let rest = n - next
                    guard rest > 0 else { break }
                    let bands = rest * width >= 1 << 14 ? Swift.max(1, Backend.threadCount) : 1
                    Backend.forEachChunk(bands) { band in
                        for i in (next + rest * band / bands)..<(next + rest * (band + 1) / bands) {
                            _ = crout(row: i, first: first, through: next - 1)   // divides by pivots already checked
                        }
                    }
                    for top in stride(from: next, to: n, by: blockSize) {
                        let height = Swift.min(blockSize, n - top)
                        NativeGEMM.multiply(transposeA: false, transposeB: true, m: height, n: top + height - next, k: width, alpha: -1,
                                            a: a + top * n + first, lda: n, b: a + next * n + first, ldb: n,
                                            beta: 1, c: a + top * n + next, ldc: n)
                    }
                }
                // The strips' GEMMs also wrote above the diagonal of their diagonal blocks.
                for i in 0..<n { for j in (i + 1)..<Swift.min(n, (i / blockSize + 1) * blockSize) { a[i * n + j] = 0 } }
            }
        }
        if let pivot = failure { throw LinearAlgebraError.notPositiveDefinite(pivot: pivot) }
        return l
    }
}
