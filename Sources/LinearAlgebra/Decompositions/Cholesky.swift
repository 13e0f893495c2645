extension Matrix {
    /// The Cholesky factor: lower-triangular L with S = L Lᵀ and a positive
    /// diagonal, for a symmetric positive definite S.
    ///
    /// Only the lower triangle of S is read; L's strict upper triangle is zero.
    /// OpenBLAS: `potrf`; native: blocked right-looking factorisation. Cost n³/3.
    ///
    /// - Precondition: the matrix is square.
    /// - Throws: `.notPositiveDefinite(pivot:)` with the 0-based row where a
    ///   pivot was not positive; `.nonFiniteInput`.
    public func cholesky() throws -> Matrix {
        precondition(isSquare, "cholesky: the matrix must be square, got \(rows)×\(columns)")
        try requireFinite("cholesky")
        guard rows > 0 else { return self }
        return try Backend.current.kernels.cholesky(self)
    }
}
