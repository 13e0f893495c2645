extension Matrix {
    /// The thin singular value decomposition A = U Σ Vᵀ.
    ///
    /// For an m×n A with k = min(m, n): `u` is m×k with orthonormal columns,
    /// `singularValues` holds σ₁ ≥ … ≥ σ_k ≥ 0, and `vt` is k×n with
    /// orthonormal rows. Singular vectors are unique only up to sign (and up to
    /// rotation within repeated singular values), so compare subspaces or
    /// reconstructions, not raw vectors, across backends.
    ///
    /// OpenBLAS: LAPACK `gesdd` (divide and conquer), falling back to `gesvd`
    /// if it does not converge. Native: one-sided Jacobi. Cost O(m·n·k).
    ///
    /// - Throws: `.nonFiniteInput` for NaN/∞ entries, `.noConvergence`.
    public func svd() throws -> SVD<Element> {
        try requireFinite("svd")
        let k = Swift.min(rows, columns)
        guard k > 0 else {
            return SVD(u: .zeros(rows: rows, columns: 0), singularValues: [], vt: .zeros(rows: 0, columns: columns))
        }
        return try Backend.current.kernels.svd(self, computeVectors: true)
    }

    /// The singular values σ₁ ≥ … ≥ σ_k ≥ 0 (k = min(m, n)), without vectors.
    ///
    /// - Throws: `.nonFiniteInput`, `.noConvergence`.
    public func singularValues() throws -> [Element] {
        try requireFinite("singularValues")
        guard Swift.min(rows, columns) > 0 else { return [] }
        return try Backend.current.kernels.svd(self, computeVectors: false).singularValues
    }
}
