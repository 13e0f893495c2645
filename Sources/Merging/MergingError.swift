import LinearAlgebra

/// A merge that cannot be carried out as asked.
///
/// Cases carry the place (the tensor, the model, the parameter) so a caller
/// can name it its own way (the `rankwise` command maps `.omega` to
/// `--omega`); `description` names it in words.
public enum MergingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A merge parameter; its raw value is its name in messages.
    public enum Parameter: String, Sendable, Equatable, CaseIterable {
        /// The per-model merge weights: finite, and with a nonzero sum when normalised.
        case weights = "merge weights"
        /// The Fisher norms of `FisherMerge` with normalisation: one per model.
        case fisherNorms = "Fisher norms"
        /// `RegMean.nonDiagonalAlpha`, in [0, 1].
        case nonDiagonalAlpha = "the non-diagonal alpha"
        /// `AIM.omega`, in [0, 1].
        case omega
        /// mergekit's per-model `density` of the task-arithmetic family: finite and ≥ 0, and
        /// large enough that magnitude pruning keeps a value (`int(density · n) ≥ 1`).
        case density
        /// mergekit's `gamma` (breadcrumbs): the share of largest deltas removed, in [0, 1].
        case gamma
        /// mergekit's `epsilon` (DELLA): density ± epsilon must lie in (0, 1).
        case epsilon
        /// mergekit's `lambda`, the scale of the merged task vector: finite.
        case lambda
        /// mergekit's `t` of `slerp` and `nearswap`: finite.
        case t
        /// mergekit's `select_topk` of `sce`: finite, ≥ 0.
        case selectTopK = "select_topk"
        /// mergekit's `max_iter` of `karcher`: ≥ 0.
        case maxIter = "max_iter"
        /// mergekit's `tol` of `karcher`: finite, ≥ 0.
        case tol
        /// mergekit's `scale` of `passthrough`: finite.
        case scale
        /// A tensor's shape: its dimensions must multiply to the element count.
        case shape
        /// A `layer_range` of a slice: 0 ≤ start ≤ end, and every source of one slice as long.
        case layerRange = "layer_range"
        /// The `sources` of an output slice: at least one, each model at most once (mergekit keys a
        /// slice's inputs and their parameters by model).
        case sources
    }

    /// Merging needs at least two models.
    case tooFewModels(Int)
    /// `method` takes `expected` models besides the base (a phrase such as "exactly one"), got `got`.
    case modelCount(method: String, expected: String, got: Int)
    /// One weight per model.
    case weightCount(expected: Int, got: Int)
    /// Tensors of one name differ in size between models (or Fisher/Gram entries).
    case sizeMismatch(tensor: String, detail: String)
    /// A Fisher value below zero (Fisher information is a second moment).
    case negativeFisher(tensor: String, model: Int, value: Double)
    /// NaN or ±∞ in a parameter, Fisher or Gram entry.
    case nonFinite(tensor: String, what: String)
    /// `parameter` is `value`, outside `expected` (a condition in words).
    case invalidParameter(parameter: Parameter, value: String, expected: String)

    /// One line naming the place and the cause, without command-line flags.
    public var description: String {
        switch self {
        case .tooFewModels(let n): return "merging needs at least two models, got \(n)"
        case .modelCount(let method, let expected, let got): return "\(method) merges \(expected), got \(got)"
        case .weightCount(let expected, let got): return "expected \(expected) weights (one per model), got \(got)"
        case .sizeMismatch(let tensor, let detail): return "\(tensor): \(detail)"
        case .negativeFisher(let tensor, let model, let value):
            return "\(tensor): the Fisher of model \(model + 1) has a negative value (\(value)); Fisher values must be ≥ 0"
        case .nonFinite(let tensor, let what): return "\(tensor): \(what) contains NaN or infinity"
        case .invalidParameter(let parameter, let value, let expected):
            return "\(parameter.rawValue) must be \(expected), got \(value)"
        }
    }
}

/// Validates model count and weights; returns the weights (equal by default).
func resolvedWeights(_ weights: [Double]?, models: Int) throws -> [Double] {
    guard models >= 2 else { throw MergingError.tooFewModels(models) }
    guard let weights else { return Array(repeating: 1, count: models) }
    guard weights.count == models else { throw MergingError.weightCount(expected: models, got: weights.count) }
    guard weights.allSatisfy(\.isFinite) else { throw MergingError.invalidParameter(parameter: .weights, value: "\(weights)", expected: "finite") }
    return weights
}

/// Checks that every model's tensor has the base's element count (the first
/// model's without a base) and that all values are finite; errors count models from 1.
@_specialize(where T == Float)
@_specialize(where T == Double)
func checkModels<T: BinaryFloatingPoint>(_ tensors: [[T]], base: [T]?, name: String) throws {
    // The scans, one per tensor, across threads; the errors in order, base first.
    var finite = [Bool](repeating: true, count: tensors.count + 1)
    finite.withUnsafeMutableBufferPointer { slots in
        nonisolated(unsafe) let slots = slots
        Backend.forEachChunk(tensors.count + 1) { i in
            if i == 0 {
                if let base { slots[0] = ValueScan(base).allFinite }
            } else {
                slots[i] = ValueScan(tensors[i - 1]).allFinite
            }
        }
    }
    if base != nil {
        guard finite[0] else { throw MergingError.nonFinite(tensor: name, what: "the base's parameters") }
    }
    guard let count = base?.count ?? tensors.first?.count else { return }
    let reference = base == nil ? "model 1" : "the base"
    for (i, t) in tensors.enumerated() {
        guard t.count == count else {
            throw MergingError.sizeMismatch(tensor: name, detail: "model \(i + 1) has \(t.count) parameters, \(reference) has \(count)")
        }
        guard finite[i + 1] else { throw MergingError.nonFinite(tensor: name, what: "model \(i + 1)'s parameters") }
    }
}

/// Checks that every tensor has the same element count and finite values.
@_specialize(where T == Float)
@_specialize(where T == Double)
func checkSameSize<T: BinaryFloatingPoint>(_ tensors: [[T]], name: String, what: String = "parameters") throws {
    guard let count = tensors.first?.count else { return }
    for (i, t) in tensors.enumerated() {
        guard t.count == count else {
            throw MergingError.sizeMismatch(tensor: name, detail: "model \(i + 1) has \(t.count) \(what), model 1 has \(count)")
        }
        guard ValueScan(t).allFinite else { throw MergingError.nonFinite(tensor: name, what: "model \(i + 1)'s \(what)") }
    }
}

/// Whether every value is finite, and whether any is below zero, in one
/// branch-free pass (flag reductions over compares, which vectorise).
public struct ValueScan<T: BinaryFloatingPoint> {
    /// No value is NaN or ±∞.
    public let allFinite: Bool
    /// Some value is below zero.
    public let anyNegative: Bool

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    /// Scans `values` once. Cost: O(n), vectorised.
    public init(_ values: [T]) {
        var nonFinite: UInt8 = 0, negative: UInt8 = 0
        values.withUnsafeBufferPointer { p in
            // The flags as bytes, not `? 1 : 0`, which compiles to a branch that
            // mispredicts on values of random sign (Float, Swift 6.3).
            for x in p {
                nonFinite |= unsafeBitCast(!x.isFinite, to: UInt8.self)
                negative |= unsafeBitCast(x < 0, to: UInt8.self)
            }
        }
        allFinite = nonFinite == 0
        anyNegative = negative != 0
    }
}
