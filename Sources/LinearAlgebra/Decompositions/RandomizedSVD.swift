extension Matrix {
    /// A rank-r approximation A ≈ U_r Σ_r V_rᵀ by the randomized range finder
    /// of Halko, Martinsson and Tropp (2011), Algorithms 4.4 and 5.1.
    ///
    /// With sketch width ℓ = r + p (p = `oversampling`): draw a Gaussian test
    /// matrix Ω from `SeededGenerator(seed:)` on the shorter side, form the
    /// sketch Y of the range of A (or of Aᵀ when A is wide), orthonormalise it
    /// with QR, run `powerIterations` subspace iterations re-orthonormalising
    /// after every half-step (so that σ_{ℓ+1}/σ_r, raised to 2q+1, governs the
    /// error, while rounding does not swamp the small directions), then take
    /// the exact SVD of the small ℓ-wide projection. Defaults p = 10, q = 4
    /// follow scikit-learn's `randomized_svd` for rank ≥ 10 spectra.
    ///
    /// When ℓ ≥ min(m, n) the exact SVD is used (the sketch would cost more).
    /// The result has the same shape contract as `svd()`, truncated to
    /// k = min(r, m, n). Cost O(m·n·ℓ·(2q + 2)).
    ///
    /// Properties: an exactly rank-k matrix with k + p ≤ min(m, n) is
    /// reconstructed to rounding error; for a decaying spectrum the residual is
    /// close to the optimal sqrt(Σ_{i>r} σᵢ²). The seed fixes the result.
    ///
    /// - Throws: `.nonFiniteInput`, `.noConvergence`.
    public func randomizedSVD(rank: Int, oversampling: Int = 10, powerIterations: Int = 4, seed: UInt64 = 0) throws -> SVD<Element> {
        precondition(rank >= 0 && oversampling >= 0 && powerIterations >= 0,
                     "randomizedSVD: rank, oversampling and powerIterations must be non-negative")
        try requireFinite("randomizedSVD")
        let k = Swift.min(rank, rows, columns)
        let width = rank + oversampling
        if width >= Swift.min(rows, columns) || k == 0 {
            return try svd().truncated(to: k)
        }
        // Tall: sketch the range of A (m×ℓ). Wide: sketch the range of Aᵀ (n×ℓ).
        let tall = rows >= columns
        let opForward: Transpose = tall ? .none : .transposed   // multiplies a short-side vector into the long side
        let opBack: Transpose = tall ? .transposed : .none
        let omega = Matrix.random(rows: tall ? columns : rows, columns: width, seed: seed)
        var q = try Matrix.product(self, opForward, omega, .none).qr().q
        for _ in 0..<powerIterations {
            let z = try Matrix.product(self, opBack, q, .none).qr().q
            q = try Matrix.product(self, opForward, z, .none).qr().q
        }
        if tall {
            // B = Qᵀ A (ℓ×n) = U_b Σ Vᵀ, and A ≈ Q B = (Q U_b) Σ Vᵀ.
            let small = try Matrix.product(q, .transposed, self, .none).svd()
            return SVD(u: q * small.u, singularValues: small.singularValues, vt: small.vt).truncated(to: k)
        } else {
            // C = A Q (m×ℓ) = U Σ V_cᵀ, and A ≈ A Q Qᵀ = U Σ (V_cᵀ Qᵀ).
            let small = try (self * q).svd()
            return SVD(u: small.u, singularValues: small.singularValues,
                       vt: Matrix.product(small.vt, .none, q, .transposed)).truncated(to: k)
        }
    }
}
