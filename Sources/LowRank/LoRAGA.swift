import LinearAlgebra

/// LoRA-GA: gradient-aligned LoRA initialisation (Wang et al., 2024),
/// following the paper's Algorithm 1 and the authors' reference code.
///
/// 1. G = the averaged gradient of W `[out, in]`.
/// 2. Randomized SVD of G with sketch width q = min(4r, min(out, in)) and 4
///    power iterations, seeded: G ≈ U S Vᵀ.
/// 3. Direction (default ArB2r): A = V[:, 1…r]ᵀ, B = U[:, r+1…2r];
///    A2rBr: B = U[:, 1…r], A = V[:, r+1…2r]ᵀ; ArBr: B = U's odd columns,
///    A = V's even columns among 1…2r (1-based). Needs 2r ≤ min(out, in).
/// 4. Scale, with s = lora_alpha/r (or /√r with rsLoRA): stable (default)
///    multiplies A and B by ζ = out^{1/4}/√γ; gd divides both by s; unit
///    leaves them; weight-svd multiplies both by mean(√(σᵢ(W)/s)) over W's
///    top r singular values.
/// 5. The residual base W − s·B A, so that base + adapter = W at step 0.
///
/// PEFT's later built-in `lora_ga` scales B by singular values and only B, so
/// its factors differ; both satisfy base + s·BA = W.
public struct LoRAGA: Sendable, Equatable {
    /// Which singular directions of G go to A and B (step 3).
    public enum Direction: String, Sendable, Equatable, CaseIterable {
        /// A = V[:, 1…r]ᵀ, B = U[:, r+1…2r] (the paper's default).
        case ArB2r
        /// B = U[:, 1…r], A = V[:, r+1…2r]ᵀ.
        case A2rBr
        /// B = U's odd columns, A = V's even columns among 1…2r.
        case ArBr
    }

    /// How A and B are scaled (step 4).
    public enum Scale: String, Sendable, Equatable, CaseIterable {
        /// ζ = out^{1/4}/√γ on both (the paper's default).
        case stable
        /// 1/s on both.
        case gd
        /// No scaling.
        case unit
        /// mean(√(σᵢ(W)/s)) over W's top r singular values, on both.
        case weightSVD = "weight-svd"
    }

    /// r (default 8).
    public var rank: Int
    /// lora_alpha (default 16).
    public var alpha: Double
    /// s = α/√r instead of α/r.
    public var useRSLoRA: Bool
    /// Which directions go to A and B (default `.ArB2r`).
    public var direction: Direction
    /// How A and B are scaled (default `.stable`).
    public var scale: Scale
    /// γ of the stable scale (default 16).
    public var gamma: Double
    /// Seed of the randomized SVD's test matrix.
    public var seed: UInt64

    /// LoRA-GA with the paper's defaults unless given.
    public init(rank: Int = 8, alpha: Double = 16, useRSLoRA: Bool = false, direction: Direction = .ArB2r,
                scale: Scale = .stable, gamma: Double = 16, seed: UInt64 = 0) {
        self.rank = rank
        self.alpha = alpha
        self.useRSLoRA = useRSLoRA
        self.direction = direction
        self.scale = scale
        self.gamma = gamma
        self.seed = seed
    }

    /// s = α / r, or α / √r with rsLoRA.
    public var scaling: Double {
        useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank)
    }

    /// The initial adapter and the residual base for one layer.
    public struct Initialization<Element: Scalar>: Sendable {
        /// A `[r, in]`, B `[out, r]`, scale s.
        public var factors: LowRankFactors<Element>
        /// W − s·B·A `[out, in]`, computed in at least Float precision.
        public var residualBase: Matrix<Element>
        /// G's leading singular values from the sketch (for reports).
        public var gradientSingularValues: [Element]
    }

    /// LoRA-GA factors for a weight W and its averaged gradient G (both out×in).
    ///
    /// Cost: a randomized SVD of G of width min(4r, min(out, in)) with four
    /// power iterations, O(out·in·r), plus one for W with `.weightSVD`, and
    /// the out·in·r product of the residual base.
    ///
    /// - Throws: `LowRankError.rankTooLarge` when 2r > min(out, in);
    ///   `.invalidParameter(.rank)` when r < 1; `.shapeMismatch` when G is
    ///   not the shape of W; `.nonFiniteWeights`.
    public func initialize<T: Scalar>(weight: Matrix<T>, gradient: Matrix<T>) throws -> Initialization<T> {
        let (out, inFeatures) = (weight.rows, weight.columns)
        guard gradient.rows == out && gradient.columns == inFeatures else {
            throw LowRankError.shapeMismatch(operand: "the gradient", shape: [gradient.rows, gradient.columns], expected: [out, inFeatures])
        }
        guard rank >= 1 else { throw LowRankError.invalidParameter(parameter: .rank, value: "\(rank)", expected: "at least 1") }
        guard 2 * rank <= Swift.min(out, inFeatures) else {
            throw LowRankError.rankTooLarge(rank: rank, out: out, in: inFeatures,
                                            needed: "LoRA-GA uses 2r = \(2 * rank) singular directions, more than min(out, in) = \(Swift.min(out, inFeatures))")
        }
        guard weight.isFinite else { throw LowRankError.nonFiniteWeights(what: "the weight") }
        guard gradient.isFinite else { throw LowRankError.nonFiniteWeights(what: "the gradient") }

        let width = Swift.min(4 * rank, Swift.min(out, inFeatures))
        let g = try gradient.randomizedSVD(rank: width, oversampling: 0, powerIterations: 4, seed: seed)
        let r = rank
        let (bColumns, aRows): ([Int], [Int])
        switch direction {
        case .ArB2r: (bColumns, aRows) = (Array(r..<(2 * r)), Array(0..<r))
        case .A2rBr: (bColumns, aRows) = (Array(0..<r), Array(r..<(2 * r)))
        case .ArBr: (bColumns, aRows) = (Array(stride(from: 0, to: 2 * r, by: 2)), Array(stride(from: 1, to: 2 * r, by: 2)))
        }
        var b = Matrix<T>(rows: out, columns: r) { i, j in g.u[i, bColumns[j]] }
        var a = Matrix<T>(rows: r, columns: inFeatures) { i, j in g.vt[aRows[i], j] }

        let s = scaling
        let factor: Double
        switch scale {
        case .stable: factor = Double(out).squareRoot().squareRoot() / gamma.squareRoot()
        case .gd: factor = 1 / s
        case .unit: factor = 1
        case .weightSVD:
            let sigma = try weight.randomizedSVD(rank: r, oversampling: 0, powerIterations: 4, seed: seed).singularValues
            factor = sigma.map { (Double($0) / s).squareRoot() }.reduce(0, +) / Double(sigma.count)
        }
        a = T(factor) * a
        b = T(factor) * b
        let factors = LowRankFactors(a: a, b: b, scale: T(s))
        // T is Float or Double, so this is "in float32 at least"; F16/BF16
        // storage is converted on load and rounded once when written.
        return Initialization(factors: factors, residualBase: weight - factors.product(), gradientSingularValues: g.singularValues)
    }
}
