/// Thin SVD by one-sided Jacobi (Hestenes): rotate pairs of columns of A
/// until all are mutually orthogonal; then σᵢ = ‖aᵢ‖, uᵢ = aᵢ/σᵢ and V is the
/// product of the rotations. Columns are kept as contiguous rows of Aᵀ.
///
/// Tall inputs are first reduced by Householder QR (A = QR, Jacobi on R,
/// U = Q·U_R); wide inputs are handled as the SVD of Aᵀ. One-sided Jacobi is
/// among the most accurate SVD algorithms (high relative accuracy for the
/// small singular values of graded matrices such as Hilbert's). When some σ
/// is zero, U is completed to orthonormal columns.
enum NativeSVD {
    static let maxSweeps = 60

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
            let inner = try jacobi(qr.r, computeVectors: computeVectors)
            guard computeVectors else { return inner }
            return SVD(u: qr.q * inner.u, singularValues: inner.singularValues, vt: inner.vt)
        }
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
        var sweeps = 0
        var worst: T = 0
        g.withUnsafeMutableBufferPointer { gp in
            vt.withUnsafeMutableBufferPointer { vp in
                let gb = gp.baseAddress!
                repeat {
                    worst = 0
                    var rotated = false
                    for i in 0..<n {
                        for j in (i + 1)..<Swift.max(n, i + 1) {
                            let gi = gb + i * m, gj = gb + j * m
                            var alpha: T = 0, beta: T = 0, gamma: T = 0
                            for k in 0..<m {
                                alpha += gi[k] * gi[k]
                                beta += gj[k] * gj[k]
                                gamma += gi[k] * gj[k]
                            }
                            if alpha == 0 || beta == 0 { continue }
                            let cosine = gamma.magnitude / (alpha.squareRoot() * beta.squareRoot())
                            worst = Swift.max(worst, cosine)
                            if cosine <= eps { continue }
                            rotated = true
                            let zeta = (beta - alpha) / (2 * gamma)
                            let t = (zeta >= 0 ? T(1) : T(-1)) / (zeta.magnitude + (1 + zeta * zeta).squareRoot())
                            let c = 1 / (1 + t * t).squareRoot(), s = c * t
                            for k in 0..<m {
                                let x = gi[k], y = gj[k]
                                gi[k] = c * x - s * y
                                gj[k] = s * x + c * y
                            }
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
        // Rounding can keep a few cosines hovering just above ε: accept those.
        if sweeps >= maxSweeps && worst > 64 * eps { throw LinearAlgebraError.noConvergence(operation: "svd") }

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
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func completedBasis<T: Scalar>(_ basis: Matrix<T>, count: Int, dimension m: Int) -> Matrix<T> {
        var out = basis
        let rows = basis.rows
        var candidate = 0
        out.withUnsafeMutableBufferPointer { p in
            var row = count
            while row < rows && candidate < m {
                let target = p.baseAddress! + row * m
                for k in 0..<m { target[k] = k == candidate ? 1 : 0 }
                candidate += 1
                for _ in 0..<2 {
                    for prior in 0..<row {
                        let q = p.baseAddress! + prior * m
                        var dot: T = 0
                        for k in 0..<m { dot += q[k] * target[k] }
                        for k in 0..<m { target[k] -= dot * q[k] }
                    }
                }
                var norm: T = 0
                for k in 0..<m { norm += target[k] * target[k] }
                norm = norm.squareRoot()
                guard norm > 0.5 else { continue }   // this unit vector lies (almost) in the span: try the next
                for k in 0..<m { target[k] /= norm }
                row += 1
            }
        }
        return out
    }
}
