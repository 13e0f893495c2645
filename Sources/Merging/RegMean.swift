import LinearAlgebra

/// RegMean: regression-mean merging of linear layers (Jin et al., 2023).
///
/// For a linear layer with weights Wᵢ `[out, in]` and Gram matrices Gᵢ =
/// XᵢXᵢᵀ / Nᵢ (calibration sums divided by token counts, so each model counts
/// equally unless weighted):
/// G̃ᵢ = wᵢ·(α Gᵢ + (1 − α) diag(Gᵢ)), α = `nonDiagonalAlpha` (default 1), and
/// W* = (Σᵢ Wᵢ G̃ᵢ)(Σᵢ G̃ᵢ)⁻¹, solved by Cholesky; when Σ G̃ᵢ is singular the
/// minimum-norm least-squares solution is used and reported.
///
/// Properties: W* minimises Σᵢ ‖(W − Wᵢ) Xᵢ‖²_F (the stacked least-squares
/// solution); identical Grams give the plain mean; α = 0 gives a per-input-
/// column weighted mean.
public struct RegMean: Sendable, Equatable {
    /// Per-model weights wᵢ (nil: all 1).
    public var weights: [Double]?
    /// α ∈ [0, 1], the share of the off-diagonal Gram entries kept (default 1).
    public var nonDiagonalAlpha: Double

    /// RegMean with the given weights and α (checked when merging).
    public init(weights: [Double]? = nil, nonDiagonalAlpha: Double = 1) {
        self.weights = weights
        self.nonDiagonalAlpha = nonDiagonalAlpha
    }

    /// The merged weight and how it was solved.
    public struct Result<Element: Scalar>: Sendable {
        /// W* `[out, in]`.
        public var weight: Matrix<Element>
        /// True when Σ G̃ᵢ was not positive definite and least squares was used.
        public var usedLeastSquares: Bool
    }

    /// Merges one linear layer. `grams` are the per-token Gram matrices (in×in, Double).
    public func merge<T: Scalar>(_ weights: [Matrix<T>], grams: [Matrix<Double>], name: String = "tensor") throws -> Result<T> {
        guard (0...1).contains(nonDiagonalAlpha) else {
            throw MergingError.invalidParameter(parameter: .nonDiagonalAlpha, value: "\(nonDiagonalAlpha)", expected: "in [0, 1]")
        }
        let w = try resolvedWeights(self.weights, models: weights.count)
        guard grams.count == weights.count else {
            throw MergingError.sizeMismatch(tensor: name, detail: "\(grams.count) Gram matrices for \(weights.count) models")
        }
        let (out, n) = (weights[0].rows, weights[0].columns)
        for (i, (wi, g)) in zip(weights, grams).enumerated() {
            guard wi.rows == out && wi.columns == n else {
                throw MergingError.sizeMismatch(tensor: name, detail: "model \(i + 1) is \(wi.rows)×\(wi.columns), model 1 is \(out)×\(n)")
            }
            guard g.rows == n && g.columns == n else {
                throw MergingError.sizeMismatch(tensor: name, detail: "model \(i + 1)'s Gram is \(g.rows)×\(g.columns), expected \(n)×\(n)")
            }
            guard wi.isFinite else { throw MergingError.nonFinite(tensor: name, what: "model \(i + 1)'s weight") }
            guard g.isFinite else { throw MergingError.nonFinite(tensor: name, what: "model \(i + 1)'s Gram matrix") }
        }
        var gramSum = Matrix<Double>.zeros(rows: n, columns: n)
        var rhs = Matrix<Double>.zeros(rows: out, columns: n)
        for (i, g) in grams.enumerated() {
            var regularized = nonDiagonalAlpha * g
            for j in 0..<n { regularized[j, j] = g[j, j] }
            regularized = w[i] * regularized
            gramSum += regularized
            Matrix.gemm(weights[i].converted(to: Double.self), regularized, alpha: 1, beta: 1, into: &rhs)
        }
        // W* Σ = R with Σ symmetric: Σ W*ᵀ = Rᵀ.
        do {
            let l = try gramSum.cholesky()
            let y = try l.solveTriangular(rhs, triangle: .lower, transpose: true, side: .right)   // Y Lᵀ = R
            let merged = try l.solveTriangular(y, triangle: .lower, transpose: false, side: .right) // W* L = Y
            return Result(weight: merged.converted(), usedLeastSquares: false)
        } catch LinearAlgebraError.notPositiveDefinite {
            let merged = try gramSum.leastSquares(rhs.transposed()).transposed()
            return Result(weight: merged.converted(), usedLeastSquares: true)
        }
    }
}
