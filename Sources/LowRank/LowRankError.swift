/// A failure of a low-rank algorithm that depends on the data or the
/// requested rank.
public enum LowRankError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A weight or gradient held NaN or ±∞.
    case nonFiniteWeights(what: String)
    /// A calibration covariance held NaN or ±∞.
    case nonFiniteCovariance
    /// Shapes that do not fit together (e.g. C is not in×in).
    case shapeMismatch(String)
    /// LoRA-GA needs 2r singular directions: 2r ≤ min(out, in).
    case rankTooLarge(rank: Int, out: Int, in: Int, needed: String)
    /// A parameter outside its range (bits, group size, sparsity, N:M).
    case invalidParameter(String)
    /// The covariance has an eigenvalue below −tolerance·λ_max (see `EoRA.indefiniteTolerance`).
    case indefiniteCovariance(smallest: Double, largest: Double)

    public var description: String {
        switch self {
        case .nonFiniteWeights(let what): return "\(what) contains NaN or infinity"
        case .nonFiniteCovariance: return "the calibration covariance contains NaN or infinity"
        case .shapeMismatch(let detail): return "shape mismatch: \(detail)"
        case .rankTooLarge(let rank, let out, let inFeatures, let needed):
            return "rank \(rank) is too large for a \(out)×\(inFeatures) layer: \(needed)"
        case .invalidParameter(let detail): return detail
        case .indefiniteCovariance(let smallest, let largest):
            return "the calibration covariance is not positive semi-definite: smallest eigenvalue \(smallest), largest \(largest) (a Gram Σ x xᵀ has no negative eigenvalues beyond rounding)"
        }
    }
}
