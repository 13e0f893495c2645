/// A kernel-regression input that cannot be used.
///
/// Cases carry the place (which operand, which parameter, which counts)
/// rather than a sentence, so a caller can name it its own way (the
/// `rankwise` command maps `.alpha` to `--alpha`); `description` names it in
/// words, e.g. "alpha must be ≥ 0, got -1.0".
public enum KernelRegressionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A parameter of a kernel method; its raw value is its name in messages.
    public enum Parameter: String, Sendable, Equatable, CaseIterable {
        /// The ridge strength α of `KernelRidge` (and each α of a
        /// `LeaveOneOutSearch` grid), finite and ≥ 0.
        case alpha
        /// The α grid of `LeaveOneOutSearch`, not empty.
        case alphaGrid = "the alpha grid"
        /// The per-sample weights of `KernelRidge.fit`, finite and ≥ 0.
        case sampleWeights = "sample weights"
        /// `Nystroem.components`, at least 1.
        case components = "the number of Nyström components"
    }

    /// `what` ("the training inputs", "the inputs to predict") holds NaN or ±∞.
    case nonFiniteData(String)
    /// The kernel matrix overflowed to NaN or ±∞: the kernel's gamma, degree
    /// or coef0 are too large for the data.
    case kernelOverflow
    /// `parameter` is `value`, outside `expected` (a range in words).
    case invalidParameter(parameter: Parameter, value: String, expected: String)
    /// No samples to fit.
    case noSamples
    /// `operand` ("the targets", "the sample weights") has `count` entries
    /// where one per training sample, `expected`, was needed.
    case sampleCountMismatch(operand: String, count: Int, expected: Int)
    /// `operand` ("the inputs to predict", "the test data") has `features`
    /// columns where the training data had `expected`.
    case featureCountMismatch(operand: String, features: Int, expected: Int)
    /// A fitted model's part ("the dual coefficients", "the Nyström
    /// normalization") has shape `shape` where `expected` was needed (both
    /// [rows, columns]; a column count of 0 means any).
    case inconsistentModel(part: String, shape: [Int], expected: [Int])

    /// One line naming the place and the cause, without command-line flags.
    public var description: String {
        switch self {
        case .nonFiniteData(let what): return "\(what) contains NaN or infinity"
        case .kernelOverflow:
            return "the kernel matrix contains NaN or infinity (its values overflow: check gamma, degree and coef0)"
        case .invalidParameter(let parameter, let value, let expected):
            return "\(parameter.rawValue) must be \(expected), got \(value)"
        case .noSamples: return "no training samples"
        case .sampleCountMismatch(let operand, let count, let expected):
            return "\(operand): \(count) rows for \(expected) samples (one per sample)"
        case .featureCountMismatch(let operand, let features, let expected):
            return "\(operand) has \(features) features, the training data \(expected)"
        case .inconsistentModel(let part, let shape, let expected):
            func text(_ s: [Int]) -> String { s.map { $0 == 0 ? "any" : String($0) }.joined(separator: "×") }
            return "inconsistent model: \(part) is \(shape.map(String.init).joined(separator: "×")), expected \(text(expected))"
        }
    }
}
