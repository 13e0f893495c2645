/// Thin SVD by one-sided Jacobi (Hestenes): rotate pairs of columns of A
/// until all are mutually orthogonal; then σᵢ = ‖aᵢ‖, uᵢ = aᵢ/σᵢ and V is the
/// product of the rotations. Columns are kept as contiguous rows of Aᵀ.
///
/// Tall inputs are first reduced by Householder QR (A = QR, Jacobi on R,
/// U = Q·U_R); wide inputs are handled as the SVD of Aᵀ. One-sided Jacobi is
/// among the most accurate SVD algorithms (high relative accuracy for the
/// small singular values of graded matrices such as Hilbert's). When some σ
/// is zero, U is completed to orthonormal columns.
///
/// Above `bidiagonalCrossover` columns the square problem goes instead to
/// `NativeBidiagonalSVD` (bidiagonalisation and divide and conquer, as
/// LAPACK's gesdd): backward stable, σ accurate to O(ε σ₁) rather than to
/// high relative accuracy, and several times fewer passes over the data.
enum NativeSVD {
    static let maxSweeps = 60
    /// From this many columns on, Jacobi is preconditioned by the eigenvectors of AᵀA.
    static let preconditionSize = 64

    /// Σₖ x[k]·y[k] with eight independent SIMD lanes (a plain loop is a
    /// serial floating-point reduction that the compiler may not vectorise).
    @inline(__always)
    static func dot<T: Scalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ count: Int) -> T {
        var acc0 = SIMD8<T>(), acc1 = SIMD8<T>()
        var k = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y), size = MemoryLayout<T>.stride
        while k + 16 <= count {
            acc0 += rx.loadUnaligned(fromByteOffset: k * size, as: SIMD8<T>.self) * ry.loadUnaligned(fromByteOffset: k * size, as: SIMD8<T>.self)
            acc1 += rx.loadUnaligned(fromByteOffset: (k + 8) * size, as: SIMD8<T>.self) * ry.loadUnaligned(fromByteOffset: (k + 8) * size, as: SIMD8<T>.self)
            k += 16
        }
        var sum = (acc0 + acc1).sum()
        while k < count { sum += x[k] * y[k]; k += 1 }
        return sum
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func decompose<T: Scalar>(_ a: Matrix<T>, computeVectors: Bool) throws -> SVD<T> {
        let m = a.rows, n = a.columns
        if m < n {
            let t = try decompose(a.transposed(), computeVectors: computeVectors)
            guard computeVectors else { return t }
            return SVD(u: t.vt.transposed(), singularValues: t.singularValues, vt: t.u.transposed())
        }
        if m > n {
            let qr = NativeQR.decompose(a)
            let inner = try square(qr.r, computeVectors: computeVectors)
            guard computeVectors else { return inner }
            return SVD(u: qr.q * inner.u, singularValues: inner.singularValues, vt: inner.vt)
        }
        return try square(a, computeVectors: computeVectors)
    }

    /// Above this many columns, square problems go to the bidiagonal divide
    /// and conquer (`NativeBidiagonalSVD`, as gesdd) instead of Jacobi.
    nonisolated(unsafe) static var bidiagonalCrossover = 128

    /// The SVD of a square matrix: one-sided Jacobi up to
    /// `bidiagonalCrossover` columns (high relative accuracy, cheap there),
    /// bidiagonalisation and divide and conquer above.
    static func square<T: Scalar>(_ a: Matrix<T>, computeVectors: Bool) throws -> SVD<T> {
        if a.columns > bidiagonalCrossover { return try NativeBidiagonalSVD.decompose(a, computeVectors: computeVectors) }
        return try jacobi(a, computeVectors: computeVectors)
    }

    /// One-sided Jacobi on an m×n matrix with m ≥ n.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func jacobi<T: Scalar>(_ a: Matrix<T>, computeVectors: Bool) throws -> SVD<T> {
        let m = a.rows, n = a.columns
        // Scale into a safe range so that squared norms neither overflow nor underflow.
        let scale = a.maxAbs()
        if scale == 0 {
            return SVD(u: computeVectors ? completedBasis(Matrix<T>.zeros(rows: n, columns: m), count: 0, dimension: m).transposed() : .zeros(rows: 0, columns: 0),
                       singularValues: [T](repeating: 0, count: n),
                       vt: computeVectors ? .identity(n) : .zeros(rows: 0, columns: 0))
        }
        var g = (T(1) / scale * a).transposed()        // n×m: row i is column i of A
        var vt = computeVectors ? Matrix<T>.identity(n) : Matrix<T>.zeros(rows: 0, columns: 0)
        let eps = T.ulpOfOne
        // Pairs whose cosine is below `tolerance` count as orthogonal. Small
        // matrices keep the strict ε (and Jacobi's high relative accuracy on
        // graded matrices); larger ones are preconditioned and use √m·ε, the
        // default of LAPACK's xGESVJ.
        var tolerance = eps
        let preconditioned = n >= preconditionSize
        if preconditioned {
            // Preconditioning: with AᵀA = QΛQᵀ, the columns of A·Q are already
            // orthogonal up to O(ε‖A‖²) in their inner products, so Jacobi on
            // A·Q finishes in a few sweeps that are mostly dot products, and
            // V = Q·J. Singular values still come from the columns of A·Q,
            // not from √λ, so no digits are lost to squaring (the eigenvalues
            // only order the columns).
            let eigen = try NativeEigen.decompose(g * g.transposed(), computeVectors: true)
            let q = Matrix<T>(rows: n, columns: n) { i, j in eigen.vectors[i, n - 1 - j] }   // descending λ first
            g = Matrix.product(q, .transposed, g, .none)           // rows: columns of A·Q
            if computeVectors { vt = q.transposed() }
            tolerance = eps * T(Double(m).squareRoot())
        }
        var sweeps = 0
        var worst: T = 0
        var norms = [T](repeating: 0, count: n)
        g.withUnsafeMutableBufferPointer { gp in
            vt.withUnsafeMutableBufferPointer { vp in
                let gb = gp.baseAddress!
                repeat {
                    // Once the last sweep's largest cosine squared is within
                    // the tolerance (Jacobi converges quadratically), what is
                    // left is rounding: the next sweeps would only turn a few
                    // pairs hovering at √m·ε and then confirm. Check all the
                    // cosines at once from the Gram matrix G Gᵀ (one GEMM
                    // instead of n²/2 serial dot products); its own rounding
                    // is about √m·ε too, so it accepts up to 4× the tolerance.
                    if preconditioned && sweeps > 0 && worst * worst <= tolerance {
                        worst = largestCosine(gb, n: n, m: m)
                        if worst <= 4 * tolerance { break }
                    }
                    worst = 0
                    var rotated = false
                    // Squared norms are refreshed once a sweep and updated
                    // through each rotation, so a pair costs one dot product.
                    for i in 0..<n { norms[i] = dot(gb + i * m, gb + i * m, m) }
                    // Squared norms at or below ε² times the largest are
                    // numerically zero: such a column is far below the σ
                    // cut-off and ends in the completed basis, and rotating
                    // it only shrinks it (a rank-deficient matrix can leave a
                    // tiny column parallel to a big one, sweep after sweep).
                    let negligible = (norms.max() ?? 0) * eps * eps
                    for i in 0..<n {
                        for j in (i + 1)..<Swift.max(n, i + 1) {
                            let gi = gb + i * m, gj = gb + j * m
                            let alpha = norms[i], beta = norms[j]
                            if alpha <= negligible || beta <= negligible { continue }
                            let gamma = dot(gi, gj, m)
                            let cosine = gamma.magnitude / (alpha.squareRoot() * beta.squareRoot())
                            worst = Swift.max(worst, cosine)
                            if cosine <= tolerance { continue }
                            rotated = true
                            let zeta = (beta - alpha) / (2 * gamma)
                            let t = (zeta >= 0 ? T(1) : T(-1)) / (zeta.magnitude + (1 + zeta * zeta).squareRoot())
                            let c = 1 / (1 + t * t).squareRoot(), s = c * t
                            for k in 0..<m {
                                let x = gi[k], y = gj[k]
                                gi[k] = c * x - s * y
                                gj[k] = s * x + c * y
                            }
                            // The updated norms; where the update cancels (a
                            // column shrinks to under a quarter), recompute.
                            let newI = alpha - t * gamma, newJ = beta + t * gamma
                            norms[i] = newI >= alpha / 4 ? newI : dot(gi, gi, m)
                            norms[j] = newJ >= beta / 4 ? newJ : dot(gj, gj, m)
                            if computeVectors {
                                let vi = vp.baseAddress! + i * n, vj = vp.baseAddress! + j * n
                                for k in 0..<n {
                                    let x = vi[k], y = vj[k]
                                    vi[k] = c * x - s * y
                                    vj[k] = s * x + c * y
                                }
                            }
                        }
                    }
                    sweeps += 1
                    if !rotated { break }
                } while sweeps < maxSweeps
            }
        }
        // Rounding can keep a few cosines hovering just above the tolerance: accept those.
        if sweeps >= maxSweeps && worst > 64 * tolerance { throw LinearAlgebraError.noConvergence(operation: "svd") }

        var sigma = [T](repeating: 0, count: n)
        g.withUnsafeBufferPointer { gp in
            for i in 0..<n {
                var s: T = 0
                for k in 0..<m { s += gp[i * m + k] * gp[i * m + k] }
                sigma[i] = s.squareRoot()
            }
        }
        let order = sigma.indices.sorted { sigma[$0] > sigma[$1] }
        let values = order.map { sigma[$0] * scale }
        guard computeVectors else {
            return SVD(u: .zeros(rows: 0, columns: 0), singularValues: values, vt: .zeros(rows: 0, columns: 0))
        }
        // Uᵀ rows: normalised columns, in order; numerically zero σ get a completed basis.
        let cutoff = sigma[order[0]] * eps * T(Swift.max(m, n))
        var ut = Matrix<T>.zeros(rows: n, columns: m)
        var sortedVt = Matrix<T>.zeros(rows: n, columns: n)
        var filled = 0
        g.withUnsafeBufferPointer { gp in
            ut.withUnsafeMutableBufferPointer { up in
                vt.withUnsafeBufferPointer { vp in
                    sortedVt.withUnsafeMutableBufferPointer { sp in
                        for (row, source) in order.enumerated() {
                            for k in 0..<n { sp[row * n + k] = vp[source * n + k] }
                            guard sigma[source] > cutoff else { continue }
                            for k in 0..<m { up[row * m + k] = gp[source * m + k] / sigma[source] }
                            filled = row + 1
                        }
                    }
                }
            }
        }
        if filled < n { ut = completedBasis(ut, count: filled, dimension: m) }
        return SVD(u: orthonormalizedRows(ut).transposed(), singularValues: values, vt: orthonormalizedRows(sortedVt))
    }

    /// max over i < j of |⟨gᵢ, gⱼ⟩| / (‖gᵢ‖‖gⱼ‖) for the n rows of length m at
    /// `g`, from one GEMM; rows that are numerically zero (squared norm at
    /// most ε² times the largest) are left out, as the sweeps leave them.
    static func largestCosine<T: Scalar>(_ g: UnsafeMutablePointer<T>, n: Int, m: Int) -> T {
        var gram = [T](repeating: 0, count: n * n)
        gram.withUnsafeMutableBufferPointer { p in
            NativeGEMM.multiply(transposeA: false, transposeB: true, m: n, n: n, k: m, alpha: 1,
                                a: g, lda: m, b: g, ldb: m, beta: 0, c: p.baseAddress!, ldc: n)
        }
        var largest: T = 0
        for i in 0..<n { largest = Swift.max(largest, gram[i * n + i]) }
        let negligible = largest * T.ulpOfOne * T.ulpOfOne
        var worst: T = 0
        for i in 0..<n where gram[i * n + i] > negligible {
            let ni = gram[i * n + i].squareRoot()
            for j in (i + 1)..<Swift.max(n, i + 1) where gram[j * n + j] > negligible {
                worst = Swift.max(worst, gram[i * n + j].magnitude / (ni * gram[j * n + j].squareRoot()))
            }
        }
        return worst
    }

    /// One Newton–Schulz step towards the nearest matrix with orthonormal
    /// rows, X ← (1.5·I − 0.5·X Xᵀ) X. Thousands of accumulated rotations
    /// leave ‖XXᵀ − I‖ at a few hundred ε; one step squares that error away
    /// (to rounding level) for two GEMMs, and moves X by no more than it.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func orthonormalizedRows<T: Scalar>(_ x: Matrix<T>) -> Matrix<T> {
        var correction = Matrix.product(x, .none, x, .transposed)   // X Xᵀ
        correction = T(-0.5) * correction
        correction = correction.addingToDiagonal(T(1.5))
        return correction * x
    }

    /// Rows `count..<rows` of `basis` replaced by unit vectors orthonormalised
    /// (twice, classical Gram–Schmidt) against all earlier rows.
    ///
    /// Each new row starts from the unit vector eₖ that keeps the most length
    /// outside the span so far: its residual ‖eₖ − PeₖI‖² = 1 − Σᵣ q_r[k]² is
    /// known for every k from the column sums of squares, which are updated
    /// as rows are added. The best residual is at least the missing
    /// dimension over m, so the Gram–Schmidt is well conditioned, and the
    /// cost is O((rows − count)·rows·m) rather than a trial of every eₖ.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func completedBasis<T: Scalar>(_ basis: Matrix<T>, count: Int, dimension m: Int) -> Matrix<T> {
        var out = basis
        let rows = basis.rows
        out.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            var residual = [T](repeating: 1, count: m)
            for r in 0..<count { for k in 0..<m { residual[k] -= base[r * m + k] * base[r * m + k] } }
            for row in count..<Swift.min(rows, m) {
                var best = 0
                for k in 1..<m where residual[k] > residual[best] { best = k }
                let target = base + row * m
                for k in 0..<m { target[k] = k == best ? 1 : 0 }
                for _ in 0..<2 {
                    for prior in 0..<row {
                        let q = base + prior * m
                        let projection = dot(q, target, m)
                        for k in 0..<m { target[k] -= projection * q[k] }
                    }
                }
                let norm = dot(target, target, m).squareRoot()
                for k in 0..<m { target[k] /= norm }
                for k in 0..<m { residual[k] -= target[k] * target[k] }
                residual[best] = -1   // never pick the same eₖ twice
            }
            for r in Swift.min(rows, m)..<rows { for k in 0..<m { base[r * m + k] = 0 } }
        }
        return out
    }
}
