/// A kernel-regression input that cannot be used.
public enum KernelRegressionError: Error, Equatable, Sendable, CustomStringConvertible {
    case nonFiniteData(String)
    case shapeMismatch(String)
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .nonFiniteData(let what): return "\(what) contains NaN or infinity"
        case .shapeMismatch(let detail), .invalidParameter(let detail): return detail
        }
    }
}
