import LinearAlgebra

/// mergekit's generalized task arithmetic: one engine behind `task_arithmetic`,
/// `ties`, `dare_ties`, `dare_linear`, `breadcrumbs`, `breadcrumbs_ties`, `della`
/// and `della_linear`, which differ only in their sparsifier, sign consensus and
/// defaults (`Method`). Build one with `GeneralizedTaskArithmetic(.ties, density: 0.5)`
/// and change any field afterwards (for example `consensus = .count`).
///
/// Per tensor, with base θ_b, models θ_m (m = 1…N, the base not among them), weights w_m:
/// 1. δ_m = θ_m − θ_b;
/// 2. δ_m is sparsified with its own density (and gamma or epsilon) and rescaled
///    (`Sparsification`, `Rescale`); density ≥ 1 leaves it untouched;
/// 3. D_m = w_m δ_m;
/// 4. without consensus: M = Σ_m D_m, div = Σ_m w_m (1 if |div| < 1e-8);
///    with consensus: σ = +1 where Σ_m D_m ≥ 0 (`sum`) or Σ_m sign(D_m) ≥ 0 (`count`),
///    else −1; mask_m = (sign(D_m) = σ), so zeros never count; M = Σ_m mask_m D_m,
///    div = Σ_m mask_m w_m elementwise (1 where 0);
/// 5. with `normalize`, M ← M / div; 6. M ← λ M; 7. θ* = θ_b + M.
///
/// Computed in Double for Float and Double tensors (mergekit: in the base's dtype,
/// ranking magnitudes in float32). Random drops use `DropRandomness` keyed by
/// `seed`, the tensor's name and the model's index, so they are reproducible but
/// not mergekit's torch draws. mergekit's `int8_mask` only changes the dtype of its
/// masks (memory), so it has no counterpart here. mergekit cuts a larger embedding
/// to the base's shape and skips other tensors whose shape differs from the base's;
/// here every tensor must have the base's size (the caller cuts or skips).
///
/// Properties (tested): density 1 without consensus is task arithmetic; `ties` with
/// density 1, normalize and equal-sign deltas is the weighted mean of the deltas;
/// the masks of `random` and `dellaMagprune` depend only on the seed, tensor name and
/// model index. Cost: O(N n) plus the sparsifier's (at most O(N n log m)); memory N n Doubles.
public struct GeneralizedTaskArithmetic: Sendable, Equatable {
    /// The mergekit methods of this family, with their sparsifier, consensus and defaults.
    public enum Method: String, Sendable, Equatable, CaseIterable {
        /// No sparsifier, no consensus; normalize false, rescale off.
        case taskArithmetic = "task_arithmetic"
        /// Magnitude (top-k), `sum` consensus; normalize **true**, rescale off.
        case ties
        /// Random (DARE), `sum` consensus; normalize false, rescale **on** (L1).
        case dareTies = "dare_ties"
        /// Random (DARE), no consensus; normalize false, rescale **on** (L1).
        case dareLinear = "dare_linear"
        /// Magnitude outliers, no consensus; normalize false, rescale off.
        case breadcrumbs
        /// Magnitude outliers, `sum` consensus; normalize false, rescale off.
        case breadcrumbsTies = "breadcrumbs_ties"
        /// DELLA MagPrune, `sum` consensus; normalize **true**, rescale **on** (L1).
        case della
        /// DELLA MagPrune, no consensus; normalize false, rescale **on** (L1).
        case dellaLinear = "della_linear"

        /// The method's sparsifier (nil: none).
        public var sparsification: Sparsification? {
            switch self {
            case .taskArithmetic: return nil
            case .ties: return .magnitude
            case .dareTies, .dareLinear: return .random
            case .breadcrumbs, .breadcrumbsTies: return .magnitudeOutliers
            case .della, .dellaLinear: return .dellaMagprune
            }
        }

        /// The method's sign consensus (nil: none). mergekit registers no method with `count`.
        public var consensus: Consensus? {
            switch self {
            case .ties, .dareTies, .breadcrumbsTies, .della: return .sum
            case .taskArithmetic, .dareLinear, .breadcrumbs, .dellaLinear: return nil
            }
        }

        /// mergekit's default of `normalize`: true for `ties` and `della` only.
        public var defaultNormalize: Bool { self == .ties || self == .della }

        /// mergekit's default of `rescale`: true (L1) for the DARE and DELLA methods.
        public var defaultRescale: Bool {
            switch self {
            case .dareTies, .dareLinear, .della, .dellaLinear: return true
            case .taskArithmetic, .ties, .breadcrumbs, .breadcrumbsTies: return false
            }
        }
    }

    /// How the majority sign of each entry is elected (mergekit's `consensus_method`).
    public enum Consensus: String, Sendable, Equatable, CaseIterable {
        /// The sign of Σ_m w_m δ_m (TIES' "elect by mass"); ties (sum 0) elect +.
        case sum
        /// The sign of Σ_m sign(w_m δ_m), a head count; ties elect +.
        case count
    }

    /// The sparsifier (nil: none).
    public var sparsification: Sparsification?
    /// The sign consensus (nil: none).
    public var consensus: Consensus?
    /// mergekit's per-model `weight` w_m (mergekit requires it; default here 1 each).
    public var weight: PerModel
    /// mergekit's per-model `density`, the share of δ kept (default 1: no sparsification).
    public var density: PerModel
    /// mergekit's per-model `gamma` of breadcrumbs, the share of largest |δ| removed (default 0.01).
    public var gamma: PerModel
    /// mergekit's per-model `epsilon` of DELLA, the spread of keep probabilities (default 0.15).
    public var epsilon: PerModel
    /// Divide the merged delta by the (masked) sum of weights (default: the method's).
    public var normalize: Bool
    /// How kept entries are rescaled (default: `l1` where the method rescales, else `none`).
    public var rescale: Rescale
    /// mergekit's `lambda`, the factor on the merged delta (default 1).
    public var lambda: Double
    /// The seed of the random drops (`DropRandomness`; default 0).
    public var seed: UInt64
    /// Replicate mergekit's breadcrumbs quirk: when int(gamma · n) is 0 its slice
    /// `[n_bot:-0]` is empty and the whole delta is dropped (default false: no
    /// outliers are removed and the smallest are still dropped). Matters for tensors
    /// of fewer than 1/gamma values (norms and biases at the default gamma 0.01).
    public var emptyWhenNoOutliers: Bool

    /// The family member `method` with mergekit's defaults unless given. Nothing is
    /// checked until `merge`. Cost: O(1).
    public init(_ method: Method, weight: PerModel = 1, density: PerModel = 1, gamma: PerModel = 0.01, epsilon: PerModel = 0.15,
                normalize: Bool? = nil, rescale: Rescale? = nil, lambda: Double = 1, seed: UInt64 = 0, emptyWhenNoOutliers: Bool = false) {
        self.sparsification = method.sparsification
        self.consensus = method.consensus
        self.weight = weight
        self.density = density
        self.gamma = gamma
        self.epsilon = epsilon
        self.normalize = normalize ?? method.defaultNormalize
        self.rescale = rescale ?? (method.defaultRescale ? .l1 : .none)
        self.lambda = lambda
        self.seed = seed
        self.emptyWhenNoOutliers = emptyWhenNoOutliers
    }

    /// Merges one tensor.
    ///
    /// - Parameters:
    ///   - tensors: θ_m, the merged models' values (flat, row-major), in the order of
    ///     the per-model parameters; none returns the base (as mergekit does).
    ///   - base: θ_b, same size.
    ///   - shape: the tensor's shape; DELLA ranks along its dimension 1 and needs it
    ///     (nil is an error there), the others only check it (nil: one dimension).
    ///   - name: the tensor's name, for errors and as part of the random drops' key.
    /// - Throws: `MergingError` for mismatched sizes or non-finite values,
    ///   `.weightCount` for a per-model list of the wrong length, `.invalidParameter`
    ///   naming `weights`, `density`, `gamma`, `epsilon`, `lambda` or `shape`.
    /// - Complexity: O(N n) plus the sparsifier's (see `Sparsification`).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ tensors: [[T]], base: [T], shape: [Int]? = nil, name: String = "tensor") throws -> [T] {
        let models = tensors.count
        try checkModels(tensors, base: base, name: name)
        if sparsification == .dellaMagprune && shape == nil {
            throw MergingError.invalidParameter(parameter: .shape, value: "none", expected: "given: DELLA ranks along dimension 1")
        }
        let shape = try checkedShape(shape, count: base.count, name: name)
        let w = try weight.values(models: models)
        guard w.allSatisfy(\.isFinite) else { throw MergingError.invalidParameter(parameter: .weights, value: "\(w)", expected: "finite") }
        guard lambda.isFinite else { throw MergingError.invalidParameter(parameter: .lambda, value: "\(lambda)", expected: "finite") }
        let deltas = try sparsifiedDeltas(tensors, base: base, shape: shape, name: name).deltas
        guard models > 0 else { return base }

        let n = base.count
        if let consensus {
            return Self.electAndMerge(deltas, base: base, weights: w, consensus: consensus, normalize: normalize, lambda: lambda)
        }
        var merged = [Double](repeating: 0, count: n)
        for m in 0..<models {
            let wm = w[m]
            deltas[m].withUnsafeBufferPointer { d in
                for j in 0..<n { merged[j] += wm * d[j] }
            }
        }
        var divisor = w.reduce(0, +)
        if abs(divisor) < 1e-8 { divisor = 1 }
        if normalize { for j in 0..<n { merged[j] /= divisor } }
        if lambda != 1 { for j in 0..<n { merged[j] *= lambda } }
        return base.withUnsafeBufferPointer { b in (0..<n).map { T(b[$0].doubleValue + merged[$0]) } }
    }

    /// Steps 4–7 with consensus: θ* = θ_b + λ · (Σ_m mask_m D_m) / div, elementwise.
    /// Chunks of 16K entries across threads; within a chunk, model by model over
    /// contiguous values (the loops vectorise) into Double accumulators that stay in
    /// L2. Every entry sums its models in the order m = 1…N, as a loop over m per
    /// entry would, so the result does not depend on the chunking. Cost: O(N n).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func electAndMerge<T: Scalar>(_ deltas: [[Double]], base: [T], weights w: [Double], consensus: Consensus,
                                         normalize: Bool, lambda: Double) -> [T] {
        let n = base.count
        let chunk = 1 << 14, chunks = (n + chunk - 1) / chunk
        return [T](unsafeUninitializedCapacity: n) { result, initialized in
            base.withUnsafeBufferPointer { b in
                nonisolated(unsafe) let result = result
                Backend.forEachChunk(chunks) { c in
                    let first = c * chunk, length = Swift.min(n, first + chunk) - first
                    // Per entry: the vote, the sum of the elected D_m and of their weights.
                    let scratch = UnsafeMutableBufferPointer<Double>.allocate(capacity: 3 * length)
                    defer { scratch.deallocate() }
                    scratch.initialize(repeating: 0)
                    let vote = scratch.baseAddress!, sum = vote + length, total = sum + length
                    for m in deltas.indices {
                        let wm = w[m]
                        deltas[m].withUnsafeBufferPointer { delta in
                            let d = delta.baseAddress! + first
                            if consensus == .sum {
                                for j in 0..<length { vote[j] += wm * d[j] }
                            } else {
                                for j in 0..<length { vote[j] += signum(wm * d[j]) }
                            }
                        }
                    }
                    for m in deltas.indices {
                        let wm = w[m]
                        deltas[m].withUnsafeBufferPointer { delta in
                            let d = delta.baseAddress! + first
                            for j in 0..<length {
                                // sign(x) = majority, with zeros never elected. Adding +0 where
                                // not elected leaves the sums' bits unchanged: neither is ever −0
                                // (a sum of nonzero values is +0 or nonzero).
                                let x = wm * d[j]
                                let elected = vote[j] >= 0 ? x > 0 : x < 0
                                sum[j] += elected ? x : 0
                                total[j] += elected ? wm : 0
                            }
                        }
                    }
                    for j in 0..<length {
                        var merged = sum[j]
                        if normalize { merged /= total[j] == 0 ? 1 : total[j] }
                        if lambda != 1 { merged *= lambda }
                        (result.baseAddress! + first + j).initialize(to: T(b[first + j].doubleValue + merged))
                    }
                }
            }
            initialized = n
        }
    }

    /// The sparsified, rescaled deltas δ_m (before weighting) and their keep masks
    /// (nil where nothing was dropped), for `merge` and the tests.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func sparsifiedDeltas<T: Scalar>(_ tensors: [[T]], base: [T], shape: [Int], name: String) throws -> (deltas: [[Double]], masks: [KeepMask?]) {
        let models = tensors.count
        let densities = try density.values(models: models)
        let gammas = try gamma.values(models: models)
        let epsilons = try epsilon.values(models: models)
        // Each model's delta is sparsified on its own: in parallel over the models.
        func sparsified(_ m: Int) throws -> (delta: [Double], mask: KeepMask?) {
            let count = Swift.min(tensors[m].count, base.count)
            var delta = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                tensors[m].withUnsafeBufferPointer { theta in
                    base.withUnsafeBufferPointer { b in
                        for j in 0..<count { buffer[j] = theta[j].doubleValue - b[j].doubleValue }
                    }
                }
                initialized = count
            }
            var mask: KeepMask?
            if let sparsification {
                let d = densities[m]
                guard d.isFinite && d >= 0 else { throw MergingError.invalidParameter(parameter: .density, value: "\(d)", expected: "finite and ≥ 0") }
                if sparsification == .magnitudeOutliers {
                    let g = gammas[m]
                    guard g.isFinite && (0...1).contains(g) else { throw MergingError.invalidParameter(parameter: .gamma, value: "\(g)", expected: "in [0, 1]") }
                }
                if sparsification == .dellaMagprune && d > 0 && d < 1 {
                    let e = epsilons[m]
                    guard e.isFinite && d - e > 0 && d + e < 1 else {
                        throw MergingError.invalidParameter(parameter: .epsilon, value: "\(e)",
                                                            expected: "such that density ± epsilon lies in (0, 1) (density \(d))")
                    }
                }
                if d < 1 && !delta.isEmpty {
                    switch sparsification {
                    case .magnitude:
                        mask = try Sparsifier.magnitude(delta, density: d, name: name)
                    case .magnitudeOutliers:
                        mask = Sparsifier.magnitudeOutliers(delta, density: d, gamma: gammas[m], emptyWhenNoOutliers: emptyWhenNoOutliers)
                    case .random:
                        mask = Sparsifier.random(count: delta.count, density: d, seed: seed, tensor: name, model: m)
                    case .dellaMagprune:
                        if d <= 0 {
                            mask = KeepMask(keep: [Bool](repeating: false, count: delta.count), probability: [0])
                        } else {
                            let p = Sparsifier.dellaProbabilities(delta, shape: shape, density: d, epsilon: epsilons[m])
                            let u = DropRandomness.uniforms(count: delta.count, seed: seed, tensor: name, model: m)
                            mask = KeepMask(keep: zip(u, p).map { $0 < $1 }, probability: p)
                        }
                    }
                    // mergekit returns zeros for DELLA at density ≤ 0 without rescaling.
                    Sparsifier.apply(&delta, mask!, rescale: sparsification == .dellaMagprune && d <= 0 ? .none : rescale)
                }
            }
            return (delta, mask)
        }
        var results = [Result<(delta: [Double], mask: KeepMask?), Error>?](repeating: nil, count: models)
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let slots = buffer
            Backend.forEachChunk(models) { m in slots[m] = Result { try sparsified(m) } }
        }
        var deltas: [[Double]] = [], masks: [KeepMask?] = []
        for result in results {
            let (delta, mask) = try result!.get()
            deltas.append(delta)
            masks.append(mask)
        }
        return (deltas, masks)
    }
}

/// −1, 0 or +1 (0 for ±0), as torch's `sign`.
@inline(__always)
func signum(_ x: Double) -> Double { x > 0 ? 1 : (x < 0 ? -1 : 0) }

/// The shape, checked against the element count (nil: one dimension).
func checkedShape(_ shape: [Int]?, count: Int, name: String) throws -> [Int] {
    guard let shape else { return [count] }
    guard shape.allSatisfy({ $0 >= 0 }) else { throw MergingError.invalidParameter(parameter: .shape, value: "\(shape)", expected: "of dimensions ≥ 0") }
    var product = 1
    for d in shape {
        let (p, overflow) = product.multipliedReportingOverflow(by: d)
        guard !overflow else { throw MergingError.invalidParameter(parameter: .shape, value: "\(shape)", expected: "of fewer than 2⁶³ elements") }
        product = p
    }
    guard product == count else {
        throw MergingError.sizeMismatch(tensor: name, detail: "the shape \(shape) has \(product) elements, the tensor \(count)")
    }
    return shape
}
