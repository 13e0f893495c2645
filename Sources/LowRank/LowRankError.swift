/// A failure of a low-rank algorithm that depends on the data or the
/// requested rank.
///
/// Cases carry the place (which operand, which parameter, which shapes)
/// rather than a sentence, so a caller can name it its own way (the
/// `rankwise` command maps `.rank` to `--rank` and adds the layer);
/// `description` names it in words.
public enum LowRankError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A parameter of a low-rank method; its raw value is its name in messages.
    public enum Parameter: String, Sendable, Equatable, CaseIterable {
        /// The adapter rank r (`LoRAGA.rank`), at least 1.
        case rank
    }

    /// A weight or gradient held NaN or ±∞; `what` names it ("the gradient").
    case nonFiniteWeights(what: String)
    /// A calibration covariance held NaN or ±∞.
    case nonFiniteCovariance
    /// `operand` ("the covariance", "the gradient", "the compressed weight")
    /// has shape `shape` where `expected` was needed (both [rows, columns]).
    case shapeMismatch(operand: String, shape: [Int], expected: [Int])
    /// LoRA-GA needs 2r singular directions: 2r ≤ min(out, in).
    case rankTooLarge(rank: Int, out: Int, in: Int, needed: String)
    /// `parameter` is `value`, outside `expected` (a range in words, e.g. "at least 1").
    case invalidParameter(parameter: Parameter, value: String, expected: String)
    /// The covariance has an eigenvalue below −tolerance·λ_max (see `EoRA.indefiniteTolerance`).
    case indefiniteCovariance(smallest: Double, largest: Double)

    /// One line naming the place and the cause, without command-line flags.
    public var description: String {
        switch self {
        case .nonFiniteWeights(let what): return "\(what) contains NaN or infinity"
        case .nonFiniteCovariance: return "the calibration covariance contains NaN or infinity"
        case .shapeMismatch(let operand, let shape, let expected):
            return "shape mismatch: \(operand) is \(shape.map(String.init).joined(separator: "×")), expected \(expected.map(String.init).joined(separator: "×"))"
        case .rankTooLarge(let rank, let out, let inFeatures, let needed):
            return "rank \(rank) is too large for a \(out)×\(inFeatures) layer: \(needed)"
        case .invalidParameter(let parameter, let value, let expected):
            return "\(parameter.rawValue) must be \(expected), got \(value)"
        case .indefiniteCovariance(let smallest, let largest):
            return "the calibration covariance is not positive semi-definite: smallest eigenvalue \(smallest), largest \(largest) (a Gram Σ x xᵀ has no negative eigenvalues beyond rounding)"
        }
    }
}
