import Foundation
import WeightFiles

/// What a job tells its caller while it runs. Jobs never print: a command
/// line tool draws a progress bar from `.layer`, a server logs it, a test
/// ignores it.
public enum JobEvent: Sendable {
    /// Item `index` (0-based) of `count` is done.
    case layer(index: Int, count: Int, LayerReport)
    /// Something that changes what the result means (shown even when quiet).
    case warning(String)
    /// Detail for verbose output.
    case note(String)
}

/// Receives a job's events, on the job's thread, in order.
public typealias JobObserver = (JobEvent) -> Void

/// One layer (or tensor) of a job, as reports and progress show it. Fields a
/// job does not compute stay nil and are left out of the JSON.
public struct LayerReport: Codable, Sendable, Equatable {
    /// The tensor (rewrites, merge, convert) or module (adapters) name, as in the checkpoint.
    public var layer: String
    /// The tensor's shape as stored (`[out, in]` for a weight).
    public var shape: [Int]?
    /// Wall-clock seconds spent on this layer (reading, computing and writing it).
    public var seconds: Double?
    /// Adapters: the rank written for this layer (its LoRA r).
    public var rank: Int?
    /// Compensation: the path taken — `eigen`, `cholesky`, `cholesky→eigen` (Cholesky failed) or `svd` (no calibration).
    public var path: String?
    /// Compensation: the error metric — `activation` (‖·X‖, with calibration statistics) or `frobenius` (‖·‖_F, without).
    public var metric: String?
    /// Compensation: ‖ΔW‖ / ‖W‖ in the metric — the relative error of W before the adapter is added.
    public var errorBefore: Double?
    /// Compensation: ‖ΔW − BA‖ / ‖W‖ in the metric — the relative error of W with the adapter added.
    public var errorAfter: Double?
    /// Compensation: the residual's relative error ‖ΔW − BA‖ / ‖ΔW‖ in the metric (0 when ΔW = 0).
    /// Quantisation: ‖W − Q‖_F / ‖W‖_F.
    public var relativeError: Double?
    /// Why a layer was left out (e.g. `unchanged (ΔW = 0)`).
    public var skipped: String?
    /// Remarks on how the layer was handled (e.g. a fallback taken), also sent as `.note` events.
    public var notes: [String]?
    /// Quantisation: the bits per weight.
    public var bits: Int?
    /// Quantisation with calibration (GPTQ): √(tr(ΔHΔᵀ) / tr(WHWᵀ)), the relative change of the layer's output on
    /// the calibration inputs (H their Gram, Δ = W − Q).
    public var activationError: Double?
    /// Pruning: the fraction of the layer's weights that are zero afterwards (in [0, 1]).
    public var zeroFraction: Double?
    /// Conversions: the stored dtype before (`F32`, `BF16`, …).
    public var fromDType: String?
    /// Conversions: the stored dtype after (the input's for integer and bool tensors).
    public var toDType: String?
    /// LoRA-GA: the gradient's largest singular value.
    public var gradientSigma1: Double?

    /// A report naming `layer`; every other field nil until the job fills it in.
    public init(layer: String, shape: [Int]? = nil, seconds: Double? = nil) {
        self.layer = layer
        self.shape = shape
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case layer, shape, seconds, rank, path, metric, skipped, notes, bits
        case errorBefore = "error_before", errorAfter = "error_after", relativeError = "relative_error"
        case activationError = "activation_error", zeroFraction = "zero_fraction", fromDType = "from_dtype", toDType = "to_dtype", gradientSigma1 = "gradient_sigma1"
    }
}

/// A failure of a whole-model job, naming the file, tensor, layer or
/// parameter it concerns. Parameters are named as the library names them
/// (`rank`, `lambda`); a command line maps them to its flags.
public enum ModelSurgeryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No tensor of the model matches the layer selection.
    case noLayerSelected(model: String)
    /// `file` lacks a tensor that `other` has and the job needs.
    case missingTensor(tensor: String, file: String, other: String)
    /// Two inputs disagree on a tensor's shape, or a tensor has the wrong shape.
    case shapeMismatch(tensor: String, detail: String)
    /// `rank` exceeds what the layer allows (`maximum`, from its shape;
    /// `requirement` says why when it is not min(out, in)).
    case rankTooLarge(layer: String, shape: [Int], rank: Int, maximum: Int, requirement: String? = nil)
    /// NaN or ±∞ in `what` (e.g. "the weight difference") of a tensor.
    case nonFinite(tensor: String, file: String?, what: String)
    /// A parameter outside its range.
    case invalidParameter(parameter: String, value: String, expected: String)
    /// A layer-selection pattern that is not a regular expression.
    case invalidPattern(pattern: String, reason: String)
    /// An input file that is not what the job needs (kernel models, configs, data).
    case invalidFile(file: String, tensor: String?, detail: String)
    /// A merge config entry that is wrong or not supported, at `place` (e.g. `models[0].parameters`).
    case invalidConfig(file: String, place: String, detail: String)
    /// A merge's output slices (mergekit's `slices`) that cannot be merged, at `place` (e.g.
    /// `slices[1].sources[0].layer_range`); a config reader names its file beside it.
    case invalidSlice(place: String, detail: String)
    /// Every selected layer is unchanged: there is nothing to write.
    case nothingToWrite(detail: String)
    /// Models that must match (merge inputs) do not.
    case modelsDiffer(detail: String)
    /// A compressor refused a layer (e.g. its calibration Gram does not fit it); `detail` says why.
    case layerFailed(layer: String, detail: String)

    public var description: String {
        switch self {
        case .noLayerSelected(let model):
            return "no layer of \(model) matches the selection (by default 2-D floating *.weight tensors that are not embeddings or heads)"
        case .missingTensor(let tensor, let file, let other): return "\(file) has no tensor '\(tensor)' (present in \(other))"
        case .shapeMismatch(let tensor, let detail): return "tensor '\(tensor)': \(detail)"
        case .rankTooLarge(let layer, let shape, let rank, let maximum, let requirement):
            return "layer '\(layer)' (\(shape.map(String.init).joined(separator: "x"))) allows a rank of at most \(maximum)\(requirement.map { " (\($0))" } ?? ""), "
                + "the rank asked for is \(rank); lower the rank or leave the layer out"
        case .nonFinite(let tensor, let file, let what):
            return "tensor '\(tensor)'\(file.map { " in \($0)" } ?? ""): \(what) contains NaN or infinity"
        case .invalidParameter(let parameter, let value, let expected): return "\(parameter) must be \(expected), got \(value)"
        case .invalidPattern(let pattern, let reason): return "invalid regular expression '\(pattern)': \(reason)"
        case .invalidFile(let file, let tensor, let detail): return tensor.map { "\(file): tensor '\($0)': \(detail)" } ?? "\(file): \(detail)"
        case .invalidConfig(let file, let place, let detail): return place.isEmpty ? "\(file): \(detail)" : "\(file): \(place): \(detail)"
        case .invalidSlice(let place, let detail): return "\(place): \(detail)"
        case .nothingToWrite(let detail): return detail
        case .modelsDiffer(let detail): return detail
        case .layerFailed(let layer, let detail): return "layer '\(layer)': \(detail)"
        }
    }

    /// The file the error concerns, where it knows one.
    public var file: String? {
        switch self {
        case .noLayerSelected(let f), .missingTensor(_, let f, _), .invalidFile(let f, _, _), .invalidConfig(let f, _, _): return f
        case .nonFinite(_, let f, _): return f
        default: return nil
        }
    }

    /// The tensor or layer the error concerns, where it knows one.
    public var tensor: String? {
        switch self {
        case .missingTensor(let t, _, _), .shapeMismatch(let t, _), .nonFinite(let t, _, _): return t
        case .rankTooLarge(let layer, _, _, _, _), .layerFailed(let layer, _): return layer
        case .invalidFile(_, let t, _): return t
        default: return nil
        }
    }
}

/// The module a weight belongs to: the tensor name without `.weight` (a name
/// without that suffix is its own module).
public func moduleName(_ tensor: String) -> String {
    tensor.hasSuffix(".weight") ? String(tensor.dropLast(".weight".count)) : tensor
}

/// Seconds since `start`.
func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// Total size of `files` in bytes.
func totalSize(_ files: [URL]) -> Int {
    files.compactMap { (try? FileManager.default.attributesOfItem(atPath: $0.path)[.size]) as? Int }.reduce(0, +)
}
