import LinearAlgebra

/// Leave-one-out cross-validation of kernel ridge over a grid of α, from one
/// eigendecomposition K = Q Λ Qᵀ.
///
/// For each α the hat matrix is H_α = Q diag(λ/(λ+α)) Qᵀ and the LOO residual
/// of sample i is eᵢ = (yᵢ − ŷᵢ)/(1 − H_α,ii) (exact for ridge: the same as
/// refitting without sample i). The α with the smallest mean squared eᵢ (over
/// samples and targets) wins; ties go to the larger α (more regularisation).
/// Cost: one n³ eigendecomposition plus O(n²·t) per α.
public struct LeaveOneOutSearch: Sendable, Equatable {
    /// The kernel, γ resolved as in `KernelRidge`.
    public var kernel: Kernel
    /// The grid of α ≥ 0 to score (at least one).
    public var alphas: [Double]

    /// A search over `alphas` with this kernel.
    public init(kernel: Kernel = .linear, alphas: [Double]) {
        self.kernel = kernel
        self.alphas = alphas
    }

    /// The score of each α and the choice.
    public struct Result<Element: Scalar>: Sendable {
        /// Mean squared LOO residual per α (∞ where 1 − H_ii = 0).
        public var scores: [Double]
        /// The α of the smallest score (the larger α on ties).
        public var bestAlpha: Double
        /// Its mean squared LOO residual.
        public var bestScore: Double
        /// LOO residuals `[n, targets]` at the best α.
        public var residuals: Matrix<Element>
    }

    /// Scores every α of the grid on samples X `[n, d]` and targets Y `[n, t]`.
    ///
    /// - Throws: `KernelRegressionError.invalidParameter(.alphaGrid)` for an
    ///   empty grid, `.invalidParameter(.alpha)` for a negative α, the data
    ///   errors of `KernelRidge.fit`, and `.kernelOverflow` when K is not finite.
    public func search<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<T>) throws -> Result<T> {
        guard !alphas.isEmpty else { throw KernelRegressionError.invalidParameter(parameter: .alphaGrid, value: "[]", expected: "non-empty") }
        for a in alphas { try KernelRidge(kernel: kernel, alpha: a).validate(x, y) }
        let n = x.rows, t = y.columns
        let k = kernel.resolved(features: x.columns).gram(x).converted(to: Double.self)
        guard k.isFinite else { throw KernelRegressionError.kernelOverflow }
        let eig = try k.symmetricEigen()
        let q = eig.vectors
        let qty = Matrix.product(q, .transposed, y.converted(to: Double.self), .none)  // n×t
        let qSquared = q.map { $0 * $0 }
        var scores: [Double] = []
        var best: (alpha: Double, score: Double, residuals: Matrix<Double>)?
        for alpha in alphas {
            let shrink = eig.values.map { lambda -> Double in
                let l = Swift.max(lambda, 0)
                return l + alpha > 0 ? l / (l + alpha) : 0
            }
            var scaled = qty
            scaled.scaleRows(by: shrink)
            let fitted = q * scaled                                                         // ŷ = H y
            let hDiagonal = (qSquared * Matrix(rows: n, columns: 1, elements: shrink)).elements  // H_ii
            var residuals = Matrix<Double>.zeros(rows: n, columns: t)
            var sum = 0.0, finite = true
            for i in 0..<n {
                let denominator = 1 - hDiagonal[i]
                if denominator <= 1e-12 { finite = false; break }
                for j in 0..<t {
                    let e = (Double(y[i, j]) - fitted[i, j]) / denominator
                    residuals[i, j] = e
                    sum += e * e
                }
            }
            let score = finite ? sum / Double(n * t) : .infinity
            scores.append(score)
            if let current = best {
                if score < current.score || (score == current.score && alpha > current.alpha) { best = (alpha, score, residuals) }
            } else {
                best = (alpha, score, residuals)
            }
        }
        return Result(scores: scores, bestAlpha: best!.alpha, bestScore: best!.score, residuals: best!.residuals.converted())
    }
}
