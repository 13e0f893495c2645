/// A compressor input that cannot be used: a parameter outside its range, a
/// weight with NaN or ±∞, or a weight whose shape does not fit the method.
///
/// Cases carry the place (which parameter, which value, which sizes) rather
/// than a sentence, so a caller can name the parameter its own way (the
/// `rankwise` command maps `.bits` to `--bits`); `description` names it in
/// words, e.g. "bits must be between 2 and 8, got 9".
public enum CompressionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A compressor parameter; its raw value is its name in messages.
    public enum Parameter: String, Sendable, Equatable, CaseIterable {
        /// `RoundToNearest.bits`, 2 to 8.
        case bits
        /// `RoundToNearest.groupSize`, at least 1 (nil: the whole row).
        case groupSize = "group size"
        /// The N and M of `Pruning.nOfM`: 0 ≤ N ≤ M, M ≥ 1.
        case pattern = "N:M pattern"
        /// The fraction of `Pruning.unstructured` and `SparseGPT`, in [0, 1].
        case sparsity
        /// GPTQ's and SparseGPT's damping of H, a fraction of its mean diagonal in [0, 1).
        case damp
        /// GPTQ's and SparseGPT's lazy block width, at least 1.
        case blockSize = "block size"
    }

    /// `parameter` is `value`, outside `expected` (a range in words, e.g.
    /// "between 2 and 8").
    case invalidParameter(parameter: Parameter, value: String, expected: String)
    /// The weight holds NaN or ±∞.
    case nonFiniteWeights
    /// N:M pruning needs the layer's input count to be a multiple of M.
    case inputsNotMultipleOfM(inputs: Int, m: Int)
    /// Wanda pruning got `norms` input norms for a layer with `inputs` inputs.
    case inputNormCount(norms: Int, inputs: Int)
    /// GPTQ/SparseGPT got H `[rows, columns]` for a layer with `inputs` inputs (H must be `[in, in]`).
    case hessianShape(rows: Int, columns: Int, inputs: Int)
    /// H (the calibration Gram) holds NaN or ±∞.
    case nonFiniteHessian
    /// H is not positive definite even with its damping raised towards 1 (an indefinite Gram).
    case hessianNotPositiveDefinite

    /// One line naming the place and the cause, without command-line flags.
    public var description: String {
        switch self {
        case .invalidParameter(let parameter, let value, let expected):
            return "\(parameter.rawValue) must be \(expected), got \(value)"
        case .nonFiniteWeights:
            return "the weight contains NaN or infinity"
        case .inputsNotMultipleOfM(let inputs, let m):
            return "N:M pruning with M = \(m) needs the input size \(inputs) to be a multiple of \(m)"
        case .inputNormCount(let norms, let inputs):
            return "\(norms) input norms for a layer with \(inputs) inputs"
        case .hessianShape(let rows, let columns, let inputs):
            return "the Hessian (Gram) is \(rows)×\(columns) for a layer with \(inputs) inputs; it must be \(inputs)×\(inputs)"
        case .nonFiniteHessian:
            return "the Hessian (Gram) contains NaN or infinity"
        case .hessianNotPositiveDefinite:
            return "the Hessian (Gram) is not positive definite even with damping near 1; is it a Gram matrix?"
        }
    }
}
