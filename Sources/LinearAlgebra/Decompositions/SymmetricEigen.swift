extension Matrix {
    /// The eigendecomposition S = Q Λ Qᵀ of a symmetric matrix.
    ///
    /// Only the lower triangle is read. `values` are ascending (LAPACK's
    /// order); `vectors` is orthogonal and its column j is the eigenvector of
    /// `values[j]`. OpenBLAS: `syevd`; native: Householder tridiagonalisation
    /// and implicit QL. Cost O(n³).
    ///
    /// - Precondition: the matrix is square.
    /// - Throws: `.nonFiniteInput`, `.noConvergence`.
    public func symmetricEigen() throws -> SymmetricEigen<Element> {
        precondition(isSquare, "symmetricEigen: the matrix must be square, got \(rows)×\(columns)")
        try requireFinite("symmetricEigen")
        guard rows > 0 else { return SymmetricEigen(values: [], vectors: .zeros(rows: 0, columns: 0)) }
        return try Backend.current.kernels.symmetricEigen(self, computeVectors: true)
    }

    /// The eigenvalues of a symmetric matrix, ascending, without vectors.
    public func symmetricEigenvalues() throws -> [Element] {
        precondition(isSquare, "symmetricEigenvalues: the matrix must be square, got \(rows)×\(columns)")
        try requireFinite("symmetricEigenvalues")
        guard rows > 0 else { return [] }
        return try Backend.current.kernels.symmetricEigen(self, computeVectors: false).values
    }
}
