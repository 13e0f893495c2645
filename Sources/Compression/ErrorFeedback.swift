import LinearAlgebra

/// The Hessian preparation GPTQ and SparseGPT share (the research note's
/// a.2 steps 2, 4, 6 and 7): dead columns, the processing order, damping,
/// and U, the upper Cholesky factor of the damped H⁻¹ (H⁻¹ = UᵀU), in the
/// weight's precision T (computed in Double).
struct InverseHessianFactor<T: Scalar> {
    /// U in processing order, `[in, in]`, upper triangular with a positive diagonal.
    var upper: Matrix<T>
    /// Processing position → original column (the identity without act-order).
    var order: [Int]
    /// Columns whose H diagonal was 0 (never seen a non-zero input): set to 1 in H, zeroed in W.
    var deadColumns: [Int]
    /// The damping used, as a fraction of the mean diagonal.
    var damp: Double

    /// Prepares H `[in, in]` (symmetric, as a Gram is; the whole matrix is
    /// read): H[i,i] = 0 → 1; with `actOrder` the columns sorted by
    /// decreasing H[i,i] (a stable sort, so ties keep column order);
    /// H[i,i] += damp·mean(diag H); then U.
    ///
    /// When the damped H is not positive definite in working precision, the
    /// damping grows by 0.01 of the mean diagonal at a time (GPTQModel's
    /// rule) while below 1; nil when even that fails.
    ///
    /// U comes from the Cholesky factor of H with its order reversed and that
    /// factor's inverse (P H P = L̃ L̃ᵀ, P the exchange matrix): H = R Rᵀ with
    /// R = P L̃ P upper, so H⁻¹ = R⁻ᵀR⁻¹ and U = R⁻¹ = P L̃⁻¹ P. That is the
    /// factor the reference computes as cholesky → inverse → upper cholesky
    /// (unique, so equal up to rounding), without forming H⁻¹. L̃⁻¹ comes
    /// from one recursive factorisation on GEMM (`invertCholeskyFactor`), in
    /// Double: about 4n³/3 flops, and three n×n buffers.
    static func prepare(_ h: Matrix<Double>, damp: Double, actOrder: Bool) -> InverseHessianFactor? {
        let n = h.rows
        var dead: [Int] = []
        var diagonal = (0..<n).map { h[$0, $0] }
        for i in 0..<n where diagonal[i] == 0 {
            diagonal[i] = 1
            dead.append(i)
        }
        let order = actOrder ? Array(0..<n).sorted { diagonal[$0] != diagonal[$1] ? diagonal[$0] > diagonal[$1] : $0 < $1 } : Array(0..<n)
        let mean = diagonal.reduce(0, +) / Double(Swift.max(n, 1))
        let source = (0..<n).map { order[n - 1 - $0] }
        var fraction = damp
        while fraction < 1 {
            // Reversed, permuted and damped in one gather, a row of H at a time: H̃[a, b] = H[order[n−1−a], order[n−1−b]].
            var reversed = Matrix<Double>.zeros(rows: n, columns: n)
            reversed.withUnsafeMutableBufferPointer { p in
                h.withUnsafeBufferPointer { hp in
                    for a in 0..<n {
                        let row = hp.baseAddress! + source[a] * n
                        for b in 0...a { p[a * n + b] = row[source[b]] }
                        p[a * n + a] = diagonal[source[a]] + fraction * mean
                    }
                }
            }
            if invertCholeskyFactor(&reversed) {
                // U[i, j] = L̃⁻¹[n−1−i, n−1−j].
                let upper = Matrix<T>(rows: n, columns: n) { i, j in j >= i ? T(reversed[n - 1 - i, n - 1 - j]) : 0 }
                return InverseHessianFactor(upper: upper, order: order, deadColumns: dead, damp: fraction)
            }
            fraction += 0.01
        }
        return nil
    }
}

/// Replaces a symmetric positive definite A (n×n; only the lower triangle
/// is read) by L⁻¹, the inverse of its lower Cholesky factor (zero above the
/// diagonal), and returns true; returns false, A destroyed, when A is not
/// positive definite (a pivot ≤ 0 or not finite).
///
/// Recursive halving on the backend's GEMM: with A = [A₁₁ ·; A₂₁ A₂₂],
/// X₁₁ = L₁₁⁻¹ from A₁₁; L₂₁ = A₂₁X₁₁ᵀ; X₂₂ = L₂₂⁻¹ from A₂₂ − L₂₁L₂₁ᵀ;
/// X₂₁ = −X₂₂(L₂₁X₁₁); 64×64 blocks by Cholesky–Crout and substitution.
/// About 4n³/3 flops, nearly all in GEMM (LAPACK's potrf + trtri do
/// n³/3 + n³/3, but in slower kernels). Forward-stable like them.
func invertCholeskyFactor(_ a: inout Matrix<Double>) -> Bool {
    let n = a.rows
    func factor(_ r: Range<Int>) -> Bool {
        guard r.count > 64 else {
            let m = r.count, first = r.lowerBound
            var l = [Double](repeating: 0, count: m * m)
            var ok = true
            a.withUnsafeMutableBufferPointer { ap in
                // Cholesky–Crout on the block, then forward substitution for its inverse, written over it.
                for j in 0..<m {
                    var d = ap[(first + j) * n + first + j]
                    for k in 0..<j { d -= l[j * m + k] * l[j * m + k] }
                    guard d > 0, d.isFinite else { ok = false; return }
                    let pivot = d.squareRoot()
                    l[j * m + j] = pivot
                    for i in (j + 1)..<Swift.max(j + 1, m) {
                        var s = ap[(first + i) * n + first + j]
                        for k in 0..<j { s -= l[i * m + k] * l[j * m + k] }
                        l[i * m + j] = s / pivot
                    }
                }
                for j in 0..<m {
                    ap[(first + j) * n + first + j] = 1 / l[j * m + j]
                    for i in (j + 1)..<Swift.max(j + 1, m) {
                        var s = 0.0
                        for k in j..<i { s += l[i * m + k] * ap[(first + k) * n + first + j] }
                        ap[(first + i) * n + first + j] = -s / l[i * m + i]
                    }
                    for i in 0..<j { ap[(first + i) * n + first + j] = 0 }
                }
            }
            return ok
        }
        let middle = r.lowerBound + r.count / 2
        let top = r.lowerBound..<middle, bottom = middle..<r.upperBound
        guard factor(top) else { return false }
        let l21 = Matrix.product(a.submatrix(rows: bottom, columns: top), .none, a.submatrix(rows: top, columns: top), .transposed)
        Matrix.gemm(l21, .none, l21, .transposed, alpha: -1, beta: 1, into: &a, rows: bottom, columns: bottom)
        guard factor(bottom) else { return false }
        let product = Matrix.product(l21, .none, a.submatrix(rows: top, columns: top), .none)
        Matrix.gemm(a.submatrix(rows: bottom, columns: bottom), .none, product, .none, alpha: -1, beta: 0, into: &a, rows: bottom, columns: top)
        // Above the diagonal blocks: zero.
        a.withUnsafeMutableBufferPointer { ap in
            for i in top { for j in bottom { ap[i * n + j] = 0 } }
        }
        return true
    }
    return n == 0 || factor(0..<n)
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
