import LinearAlgebra

/// The Hessian preparation GPTQ and SparseGPT share (the research note's
/// a.2 steps 2, 4, 6 and 7): dead columns, the processing order, damping,
/// and U, the upper Cholesky factor of the damped H⁻¹ (H⁻¹ = UᵀU).
struct InverseHessianFactor {
    /// U in processing order, `[in, in]`, upper triangular with a positive diagonal.
    var upper: Matrix<Double>
    /// Processing position → original column (the identity without act-order).
    var order: [Int]
    /// Columns whose H diagonal was 0 (never seen a non-zero input): set to 1 in H, zeroed in W.
    var deadColumns: [Int]
    /// The damping used, as a fraction of the mean diagonal.
    var damp: Double

    /// Prepares H `[in, in]` (only the lower triangle and the diagonal are
    /// read, as LAPACK's `potrf` does): H[i,i] = 0 → 1; with `actOrder` the
    /// columns sorted by decreasing H[i,i] (a stable sort, so ties keep
    /// column order); H[i,i] += damp·mean(diag H); then U.
    ///
    /// When the damped H is not positive definite in working precision, the
    /// damping grows by 0.01 of the mean diagonal at a time (GPTQModel's
    /// rule) while below 1; nil when even that fails.
    ///
    /// U comes from one Cholesky factorisation of H with its order reversed
    /// (P H P = L̃ L̃ᵀ, P the exchange matrix) and one triangular inverse:
    /// H = R Rᵀ with R = P L̃ P upper, so H⁻¹ = R⁻ᵀR⁻¹ and U = R⁻¹ = P L̃⁻¹ P.
    /// That is the factor the reference computes as cholesky → inverse →
    /// upper cholesky (unique, so equal up to rounding), without forming H⁻¹.
    /// Cost: n³/3 for the factorisation and about 2n³/3 (in GEMM) for the
    /// triangular inverse, in Double.
    static func prepare(_ h: Matrix<Double>, damp: Double, actOrder: Bool) -> InverseHessianFactor? {
        let n = h.rows
        var h = h
        var dead: [Int] = []
        for i in 0..<n where h[i, i] == 0 {
            h[i, i] = 1
            dead.append(i)
        }
        let diagonal = (0..<n).map { h[i: $0] }
        let order = actOrder ? Array(0..<n).sorted { diagonal[$0] != diagonal[$1] ? diagonal[$0] > diagonal[$1] : $0 < $1 } : Array(0..<n)
        let mean = diagonal.reduce(0, +) / Double(Swift.max(n, 1))
        // Reversed and permuted in one gather: H̃[a, b] = H[order[n−1−a], order[n−1−b]], lower triangle mirrored up.
        var reversed = Matrix<Double>.zeros(rows: n, columns: n)
        reversed.withUnsafeMutableBufferPointer { p in
            h.withUnsafeBufferPointer { hp in
                for a in 0..<n {
                    let i = order[n - 1 - a]
                    for b in 0...a {
                        let j = order[n - 1 - b]
                        let value = i >= j ? hp[i * n + j] : hp[j * n + i]
                        p[a * n + b] = value
                        p[b * n + a] = value
                    }
                }
            }
        }
        var fraction = damp
        while fraction < 1 {
            let damped = reversed.addingToDiagonal(fraction * mean)
            if let lower = try? damped.cholesky(), let inverse = try? lower.triangularInverse(triangle: .lower) {
                var upper = Matrix<Double>.zeros(rows: n, columns: n)
                upper.withUnsafeMutableBufferPointer { p in
                    inverse.withUnsafeBufferPointer { x in
                        for i in 0..<n {
                            for j in i..<n { p[i * n + j] = x[(n - 1 - i) * n + (n - 1 - j)] }
                        }
                    }
                }
                return InverseHessianFactor(upper: upper, order: order, deadColumns: dead, damp: fraction)
            }
            fraction += 0.01
        }
        return nil
    }
}

private extension Matrix where Element == Double {
    subscript(i i: Int) -> Double { self[i, i] }
}

/// Optimal-brain-surgeon error feedback over the columns of W, in lazy
/// blocks (GPTQ and SparseGPT's column loop, research note a.3 and a.9).
///
/// For each block [i1, i2) of `blockSize` columns, rows in parallel: column
/// c = i1 + i gets its new value v = `decide(row, i1, i, block, snapshot)`,
/// the error e = (w − v)/U[c,c] is spread over the rest of the block,
/// block[j] −= e·U[c, j] for j > c, and the loss gains (w − v)²/U[c,c]²/2.
/// After the block, W[:, i2:] −= E·U[i1:i2, i2:] as one GEMM, E `[out, i2−i1]`
/// the errors. `block` is the row's block segment as updated so far;
/// `snapshot` is the same segment at the block's start (GPTQ computes group
/// grids from it, as the reference does from its global W). `beginBlock`
/// runs before the rows of each block (SparseGPT's unstructured mask).
///
/// Returns the sum of the losses. W is in processing order; the caller
/// maps columns back. Cost: out·in·blockSize for the in-block updates plus
/// out·in² for the trailing GEMMs.
func errorFeedbackSweep<T: Scalar>(
    _ w: inout Matrix<T>, upper u: Matrix<T>, blockSize: Int,
    beginBlock: (_ i1: Int, _ i2: Int, _ w: Matrix<T>) -> Void = { _, _, _ in },
    decide: (_ row: Int, _ i1: Int, _ i: Int, _ block: UnsafeMutablePointer<T>, _ snapshot: UnsafePointer<T>) -> T
) -> Double {
    let rows = w.rows, cols = w.columns
    guard rows > 0, cols > 0 else { return 0 }
    let chunks = Swift.min(rows, rows * cols >= 1 << 15 ? 64 : 1)
    var losses = [Double](repeating: 0, count: chunks)
    var i1 = 0
    while i1 < cols {
        let i2 = Swift.min(i1 + blockSize, cols), width = i2 - i1
        beginBlock(i1, i2, w)
        // U's diagonal block, contiguous, and the errors of this block.
        let block = u.submatrix(rows: i1..<i2, columns: i1..<i2)
        var errors = Matrix<T>.zeros(rows: rows, columns: width)
        w.withUnsafeMutableBufferPointer { wp in
            errors.withUnsafeMutableBufferPointer { ep in
                block.withUnsafeBufferPointer { up in
                    losses.withUnsafeMutableBufferPointer { lp in
                        nonisolated(unsafe) let (wp, ep, up, lp) = (wp, ep, up, lp)
                        Backend.forEachChunk(chunks) { chunk in
                            let snapshot = UnsafeMutablePointer<T>.allocate(capacity: width)
                            defer { snapshot.deallocate() }
                            var loss = 0.0
                            for r in (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks) {
                                let segment = wp.baseAddress! + r * cols + i1
                                snapshot.update(from: segment, count: width)
                                let errorRow = ep.baseAddress! + r * width
                                for i in 0..<width {
                                    let x = segment[i]
                                    let v = decide(r, i1, i, segment, snapshot)
                                    let d = up[i * width + i]
                                    let e = (x - v) / d
                                    loss += (x - v).doubleValue * (x - v).doubleValue / (d.doubleValue * d.doubleValue) / 2
                                    errorRow[i] = e
                                    segment[i] = v
                                    let urow = up.baseAddress! + i * width
                                    for j in (i + 1)..<Swift.max(i + 1, width) { segment[j] -= e * urow[j] }
                                }
                            }
                            lp[chunk] += loss
                        }
                    }
                }
            }
        }
        if i2 < cols {
            let trailing = u.submatrix(rows: i1..<i2, columns: i2..<cols)
            Matrix.gemm(errors, .none, trailing, .none, alpha: -1, beta: 1, into: &w, rows: 0..<rows, columns: i2..<cols)
        }
        i1 = i2
    }
    return losses.reduce(0, +)
}
