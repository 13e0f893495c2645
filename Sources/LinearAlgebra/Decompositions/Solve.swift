extension Matrix {
    /// X with A X = B, for a square A (n×n) and B (n×p), by LU with partial
    /// pivoting (`getrf`/`getrs` on OpenBLAS). Cost 2n³/3 + 2n²p.
    ///
    /// - Throws: `.singular(pivot:)` when a pivot is exactly zero (use
    ///   `leastSquares` for singular or nearly singular systems);
    ///   `.nonFiniteInput`.
    public func solve(_ b: Matrix) throws -> Matrix {
        precondition(isSquare, "solve: A must be square, got \(rows)×\(columns)")
        precondition(b.rows == rows, "solve: B has \(b.rows) rows, A has \(rows)")
        try requireFinite("solve")
        try b.requireFinite("solve")
        guard rows > 0, b.columns > 0 else { return .zeros(rows: columns, columns: b.columns) }
        return try Backend.current.kernels.solve(self, b)
    }

    /// x with A x = b for a vector b (see `solve(_:)` for matrices).
    public func solve(_ b: [Element]) throws -> [Element] {
        try solve(Matrix(rows: b.count, columns: 1, elements: b)).elements
    }

    /// The minimum-norm least-squares solution X (n×p) of A X ≈ B for any
    /// m×n A and m×p B, of any rank: X = V Σ⁺ Uᵀ B.
    ///
    /// Singular values σᵢ ≤ ε·max(m, n)·σ₁ are treated as zero (numpy's and
    /// LAPACK `gelsd`'s default cut-off), so rank-deficient and wide systems
    /// get the solution of smallest ‖X‖_F. Written once over `svd()`, so both
    /// backends share it. Cost: one SVD plus two GEMMs.
    ///
    /// - Throws: `.nonFiniteInput`, `.noConvergence`.
    public func leastSquares(_ b: Matrix) throws -> Matrix {
        precondition(b.rows == rows, "leastSquares: B has \(b.rows) rows, A has \(rows)")
        try requireFinite("leastSquares")
        try b.requireFinite("leastSquares")
        guard rows > 0, columns > 0, b.columns > 0 else { return .zeros(rows: columns, columns: b.columns) }
        let decomposition = try svd()
        let sigma = decomposition.singularValues
        let cutoff = Element.ulpOfOne * Element(Swift.max(rows, columns)) * (sigma.first ?? 0)
        var utb = Matrix.product(decomposition.u, .transposed, b, .none)  // k×p
        utb.scaleRows(by: sigma.map { $0 > cutoff ? 1 / $0 : 0 })
        return Matrix.product(decomposition.vt, .transposed, utb, .none)
    }

    /// x minimising ‖A x − b‖ with minimum norm (see `leastSquares(_:)`).
    public func leastSquares(_ b: [Element]) throws -> [Element] {
        try leastSquares(Matrix(rows: b.count, columns: 1, elements: b)).elements
    }

    /// Solves with a triangular matrix T (self): op(T) X = B for `side: .left`
    /// (B is n×p) or X op(T) = B for `side: .right` (B is p×n), where op(T) is
    /// T or Tᵀ. Only the named triangle of T is read. BLAS `trsm`. Cost n²p.
    ///
    /// - Throws: `.singular(pivot:)` if a diagonal entry is zero;
    ///   `.nonFiniteInput`.
    public func solveTriangular(
        _ b: Matrix, triangle: Triangle, transpose: Bool = false, side: Side = .left
    ) throws -> Matrix {
        precondition(isSquare, "solveTriangular: T must be square, got \(rows)×\(columns)")
        precondition(side == .left ? b.rows == rows : b.columns == rows,
                     "solveTriangular: B is \(b.rows)×\(b.columns), T is \(rows)×\(columns)")
        try requireFinite("solveTriangular")
        try b.requireFinite("solveTriangular")
        if let zero = diagonalElements.firstIndex(of: 0) { throw LinearAlgebraError.singular(pivot: zero) }
        guard !b.isEmpty else { return b }
        return Backend.current.kernels.triangularSolve(self, b, triangle: triangle, transpose: transpose, side: side)
    }
}
