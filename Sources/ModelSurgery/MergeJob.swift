import Foundation
import LinearAlgebra
import Merging
import WeightFiles

/// What `MergeJob` reports.
public struct MergeReport: Codable, Sendable {
    /// The output path, as given (the single file, or the name the shards derive from).
    public var output: String
    /// The files written: one, or the shards followed by the index.
    public var files: [String]
    /// The method's name: `linear`, `task-arithmetic`, `fisher` or `regmean`.
    public var method: String
    /// The number of models merged (the base not counted); with slices, the distinct models the slices name, bases
    /// included.
    public var models: Int
    /// The number of tensors written: every tensor of the first model.
    public var tensors: Int
    /// Bytes on disk of the files written (headers and index included).
    public var bytes: Int
    /// Tensors where RegMean's summed Gram was singular (minimum-norm least squares used).
    public var regmeanLeastSquares: [String]
    /// Layers relaxed towards the base by AIM.
    public var aimLayers: Int
    /// Each model's whole-Fisher norm (Fisher merging with normalisation), else nil.
    public var fisherNorms: [Double]?
    /// Per tensor, values beyond the output dtype's range written as ±∞.
    public var overflows: [String: Int]
    /// Wall-clock seconds for the whole job, the Fisher-norm pass included.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case output, files, method, models, tensors, bytes, overflows, seconds
        case regmeanLeastSquares = "regmean_least_squares", aimLayers = "aim_layers", fisherNorms = "fisher_norms"
    }
}

/// A merge of any number of models with the same tensors, streamed tensor by
/// tensor (memory is about one tensor per model), written as a model file
/// (or shards). Linear and task arithmetic merge every floating tensor;
/// Fisher weighs each parameter by its Fisher (with normalisation, first a
/// pass over the Fisher files for each model's norm); RegMean solves per
/// linear layer with the models' per-token Grams (other tensors: the
/// weighted mean); AIM optionally relaxes each merged layer towards the base
/// by the base's activation magnitudes. Integer tensors are copied from the
/// first model. A merged tensor that overflows is an error naming it.
public struct MergeJob {
    /// `linear`: weighted mean (sum without `normalize`); `task-arithmetic`: base + λ Σ wᵢ(θᵢ − base); `fisher`: Fisher-weighted mean;
    /// `regmean`: per linear layer, (Σ Wᵢ G̃ᵢ)(Σ G̃ᵢ)⁻¹ with the models' Grams. The raw value is the CLI's spelling.
    public enum Method: String, CaseIterable, Sendable {
        /// Weighted average.
        case linear
        /// θ_base + λ Σ wᵢ(θᵢ − θ_base).
        case taskArithmetic = "task-arithmetic"
        /// Fisher-weighted average.
        case fisher
        /// RegMean (Gram-weighted least squares per linear layer).
        case regmean
        /// mergekit's TIES (top-k by magnitude, sign election, disjoint mean).
        case ties
        /// DARE drops with TIES' sign election.
        case dareTies = "dare_ties"
        /// DARE drops, summed.
        case dareLinear = "dare_linear"
        /// Breadcrumbs (drop the largest and the smallest), summed.
        case breadcrumbs
        /// Breadcrumbs with TIES' sign election.
        case breadcrumbsTies = "breadcrumbs_ties"
        /// DELLA (magnitude-ranked drop probabilities) with sign election.
        case della
        /// DELLA, summed.
        case dellaLinear = "della_linear"
        /// Spherical interpolation between the base and one model, at `t`.
        case slerp
        /// mergekit's nuslerp between two models (or their task vectors).
        case nuslerp
        /// Model Stock (the angle between task vectors sets the interpolation).
        case modelStock = "model_stock"
        /// The Karcher (Riemannian) mean.
        case karcher
        /// SCE (select, calculate, erase).
        case sce
        /// NearSwap (take the model where it is near the base).
        case nearswap
        /// One model's tensors copied (optionally scaled).
        case passthrough
    }

    /// How the floating tensors are merged.
    public var method: Method
    /// The models merged: at least two (one for task arithmetic), all with the first model's tensor names, shapes and dtypes.
    public var models: [Checkpoint]
    /// The shared starting model: required by task arithmetic and by AIM, unused otherwise; must match the models' tensors.
    public var base: Checkpoint?
    /// One per model (default: equal).
    public var weights: [Double]?
    /// Linear: divide by Σ wᵢ (default true; false gives Σ wᵢ θᵢ). Fisher: scale each model by 1/‖Fᵢ‖₂ over its whole
    /// Fisher (a first pass over the Fisher files), so no model dominates by the scale of its Fisher.
    public var normalize = true
    /// Task arithmetic's scale λ.
    public var lambda = 1.0
    /// Fisher merging: one diagonal Fisher file per model, in the models' order, a tensor per floating parameter
    /// of the same shape; values must be finite and non-negative.
    public var fishers: [Checkpoint] = []
    /// Fisher merging: F is raised to at least this floor (default 1e-6) — for the first model only, or all with `floorAll`.
    public var fisherFloor = 1e-6
    /// Fisher merging: apply `fisherFloor` to every model's Fisher, not only the first (target) model's.
    public var floorAll = false
    /// RegMean: one calibration file per model with `M.gram` and `M.tokens` (or `M.inputs`) per linear layer M;
    /// a 2-D tensor is solved only when every file has its statistics, otherwise it gets the weighted mean Σwθ/Σw.
    public var grams: [CalibrationFile] = []
    /// RegMean's α: each Gram becomes α G + (1 − α) diag(G) (default 1, the Grams as they are; 0 gives a per-input
    /// weighted mean).
    public var nonDiagonalAlpha = 1.0
    /// AIM: the base model's activation statistics (`M.abs_mean` or `M.inputs`); with them each merged 2-D tensor
    /// (except embeddings and heads, and layers without statistics) is relaxed towards the base. nil: no relaxation.
    public var aim: CalibrationFile?
    /// AIM's ω in [0, 1] (default 0.4): ρ = 1 − a(1 − ω) per input channel, a = mean |x| / max; ω = 1 leaves the merge.
    public var omega = 0.4
    /// Stored dtype of floating tensors (default: the input's).
    public var dtype: DType?
    /// The safetensors file to write, or with `maxShardSize` the name its shards and index derive from.
    public var output: URL
    /// The largest shard in bytes (see `SafetensorsWriter.maxShardSize`); nil writes one file.
    public var maxShardSize: Int? = nil
    /// Files besides the models that must not be overwritten (a YAML config).
    public var extraInputs: [URL] = []
    /// mergekit-style parameters evaluated per tensor (plain values, gradients over the layers, filter lists): the
    /// top-level ones, by name (`weight`, `density`, `gamma`, `epsilon`, `lambda`, `normalize`, `rescale`, `t`,
    /// `select_topk`, `filter_wise`, `max_iter`, `tol`, `nuslerp_flatten`, `nuslerp_row_wise`, `scale`).
    public var parameters: [String: ParameterSetting] = [:]
    /// The same per model (mergekit's `models[i].parameters`), taking precedence over `parameters`.
    public var modelParameters: [[String: ParameterSetting]] = []
    /// The seed of DARE's and DELLA's drops (each tensor and model draws its own stream from it and the name).
    public var seed: UInt64 = 0
    /// The config text to keep beside a merged model folder as `mergekit_config.yml` (when the output is a folder).
    public var configText: String?
    /// mergekit's `slices` instead of `models`: each output layer merged by `method` from the layers its slice's
    /// sources name (layer stacking, "frankenmerges", with `passthrough`), the tensors outside the layers from the
    /// first slice (embeddings) or the last (final norm, head) — see `LayerSlicePlan`. Parameters are looked up per
    /// input as mergekit does: the source's, the slice's, then `parameters`; the base of a slice is its `base_model`,
    /// else the plan's, and must be one of its sources for methods that use a base. Every method but Fisher and
    /// RegMean (and no AIM). config.json's `num_hidden_layers` becomes the plan's layer count.
    public var slicePlan: LayerSlicePlan?
    /// The models a slice plan names (its sources and bases), by the names it uses.
    public var sliceModels: [String: Checkpoint] = [:]

    /// A merge job. Defaults: equal weights, normalisation on, λ = 1, Fisher floor 1e-6 on the first model only,
    /// RegMean α = 1, no AIM (ω = 0.4 when given), input dtypes kept, one file. Nothing is read until `run`.
    public init(method: Method, models: [Checkpoint], base: Checkpoint? = nil, weights: [Double]? = nil, normalize: Bool = true,
                lambda: Double = 1, fishers: [Checkpoint] = [], fisherFloor: Double = 1e-6, floorAll: Bool = false,
                grams: [CalibrationFile] = [], nonDiagonalAlpha: Double = 1, aim: CalibrationFile? = nil, omega: Double = 0.4,
                dtype: DType? = nil, output: URL, maxShardSize: Int? = nil) {
        self.method = method
        self.models = models
        self.base = base
        self.weights = weights
        self.normalize = normalize
        self.lambda = lambda
        self.fishers = fishers
        self.fisherFloor = fisherFloor
        self.floorAll = floorAll
        self.grams = grams
        self.nonDiagonalAlpha = nonDiagonalAlpha
        self.aim = aim
        self.omega = omega
        self.dtype = dtype
        self.output = output
        self.maxShardSize = maxShardSize
    }

    /// Whether the method divides by the sum of the weights.
    var normalisesWeights: Bool {
        switch method {
        case .linear: return normalize
        case .fisher, .regmean: return true   // Fisher's fallback mean and RegMean's non-matrix tensors divide by Σw
        default: return false
        }
    }

    /// The methods of mergekit's generalized task-arithmetic family, by method.
    static let taskArithmeticFamily: [Method: GeneralizedTaskArithmetic.Method] = [
        .ties: .ties, .dareTies: .dareTies, .dareLinear: .dareLinear, .breadcrumbs: .breadcrumbs, .breadcrumbsTies: .breadcrumbsTies,
        .della: .della, .dellaLinear: .dellaLinear,
    ]

    /// Methods that need the base model.
    var needsBase: Bool {
        Self.taskArithmeticFamily[method] != nil || [.taskArithmetic, .slerp, .modelStock, .sce, .nearswap].contains(method)
    }

    /// The number of models a method takes besides the base (a range).
    var modelCountRange: ClosedRange<Int> {
        switch method {
        case .slerp, .nearswap, .passthrough: return 1...1
        case .nuslerp: return 2...2
        case .taskArithmetic, .ties, .dareTies, .dareLinear, .breadcrumbs, .breadcrumbsTies, .della, .dellaLinear, .sce: return 1...Int.max
        case .linear, .fisher, .regmean, .modelStock, .karcher: return 2...Int.max
        }
    }

    /// Checks counts, parameters and that every model (and the base, Fisher
    /// and Gram files) matches the first model's tensors.
    public func validate() throws {
        if slicePlan != nil {
            _ = try planSlices()
            return
        }
        guard modelCountRange.contains(models.count) else {
            if models.count < modelCountRange.lowerBound { throw MergingError.tooFewModels(models.count) }
            throw ModelSurgeryError.invalidParameter(parameter: "models", value: "\(models.count)",
                                                     expected: "\(modelCountRange.upperBound) model(s) besides the base for \(method.rawValue)")
        }
        if !modelParameters.isEmpty && modelParameters.count != models.count {
            throw ModelSurgeryError.invalidParameter(parameter: "model parameters", value: "\(modelParameters.count)", expected: "one set per model (\(models.count))")
        }
        if let weights, weights.count != models.count { throw MergingError.weightCount(expected: models.count, got: weights.count) }
        if let weights {
            guard weights.allSatisfy(\.isFinite) else {
                throw ModelSurgeryError.invalidParameter(parameter: "weights", value: "\(weights)", expected: "finite numbers")
            }
            if normalisesWeights && weights.reduce(0, +) == 0 {
                throw ModelSurgeryError.invalidParameter(parameter: "weights", value: "\(weights)",
                                                         expected: "weights that do not sum to zero (\(method.rawValue) normalises by their sum)")
            }
        }
        for (name, value) in [("lambda", lambda), ("fisher floor", fisherFloor), ("nondiag alpha", nonDiagonalAlpha), ("omega", omega)] where !value.isFinite {
            throw ModelSurgeryError.invalidParameter(parameter: name, value: "\(value)", expected: "finite")
        }
        if needsBase && base == nil {
            throw ModelSurgeryError.invalidParameter(parameter: "base", value: "none", expected: "given for \(method.rawValue) (the model the task vectors start from)")
        }
        if aim != nil && base == nil {
            throw ModelSurgeryError.invalidParameter(parameter: "base", value: "none", expected: "given with AIM (it relaxes towards the base model)")
        }
        // Same tensor names, shapes and dtypes everywhere.
        let reference = models[0]
        for (i, other) in (models + (base.map { [$0] } ?? [])).enumerated().dropFirst() {
            var differences: [String] = []
            let a = Set(reference.tensorNames), b = Set(other.tensorNames)
            for name in a.subtracting(b).sorted().prefix(3) { differences.append("'\(name)' missing") }
            for name in b.subtracting(a).sorted().prefix(3) { differences.append("'\(name)' extra") }
            for name in a.intersection(b).sorted() where differences.count < 5 {
                let x = reference[name]!, y = other[name]!
                if x.shape != y.shape { differences.append("'\(name)' shape \(y.shape) vs \(x.shape)") }
                else if x.dtype != y.dtype { differences.append("'\(name)' dtype \(y.dtype.rawValue) vs \(x.dtype.rawValue)") }
            }
            if !differences.isEmpty {
                let label = i < models.count ? "model \(i + 1) (\(other.url.path))" : "the base model (\(other.url.path))"
                throw ModelSurgeryError.modelsDiffer(detail: "\(label) differs from model 1 (\(reference.url.path)): " + differences.prefix(5).joined(separator: "; "))
            }
        }
        if method == .fisher {
            guard fishers.count == models.count else {
                throw ModelSurgeryError.invalidParameter(parameter: "fisher", value: "\(fishers.count) files", expected: "one Fisher file per model (\(models.count))")
            }
            for (i, f) in fishers.enumerated() {
                for name in reference.tensorNames where reference[name]!.dtype.isFloatingPoint {
                    guard let info = f[name] else { throw ModelSurgeryError.missingTensor(tensor: name, file: f.url.path, other: "model \(i + 1), \(models[i].url.path)") }
                    guard info.shape == reference[name]!.shape else {
                        throw ModelSurgeryError.shapeMismatch(tensor: name, detail: "the Fisher in \(f.url.path) is \(info.shape), the parameter is \(reference[name]!.shape)")
                    }
                }
            }
        }
        if method == .regmean && grams.count != models.count {
            throw ModelSurgeryError.invalidParameter(parameter: "gram", value: "\(grams.count) files", expected: "one Gram file per model (\(models.count))")
        }
    }

    /// Validates, then merges and writes tensor by tensor (about one tensor per model in memory); `observer` gets a
    /// `.layer` event per tensor, a `.note` with the Fisher norms and a `.warning` per singular RegMean Gram.
    ///
    /// - Throws: what `validate()` throws; `MergingError` for a negative or non-finite Fisher or mismatched sizes;
    ///   `CalibrationError` for RegMean's and AIM's statistics; `ModelSurgeryError.nonFinite` for a merged tensor that
    ///   overflows; `SafetensorsError` or `FileAccessError` from reading and writing.
    public func run(observer: JobObserver = { _ in }) throws -> MergeReport {
        if slicePlan != nil { return try runSlices(observer: observer) }   // plans (and so validates) first
        try validate()
        let start = ContinuousClock.now
        let reference = models[0]
        var norms: [Double]?
        if method == .fisher && normalize {
            var accumulator = FisherNorms(models: fishers.count)
            for (i, f) in fishers.enumerated() {
                for name in reference.tensorNames where reference[name]!.dtype.isFloatingPoint {
                    let values: [Float] = try f.array(name)
                    let scan = ValueScan(values)
                    if !scan.allFinite || scan.anyNegative, let bad = values.first(where: { !$0.isFinite || $0 < 0 }) {
                        if !bad.isFinite { throw MergingError.nonFinite(tensor: name, what: "the Fisher of model \(i + 1) (\(f.url.path))") }
                        throw MergingError.negativeFisher(tensor: name, model: i, value: Double(bad))
                    }
                    accumulator.add(values, model: i)
                    f.evict(name)
                }
            }
            norms = accumulator.norms
            observer(.note("Fisher norms: " + norms!.map { String(format: "%.4g", $0) }.joined(separator: ", ")))
        }
        let inputs = extraInputs + models.flatMap(\.inputURLs) + (base?.inputURLs ?? []) + fishers.flatMap(\.inputURLs)
            + grams.flatMap(\.checkpoint.inputURLs) + (aim?.checkpoint.inputURLs ?? [])
        let names = reference.tensorNames
        let layerCount = Self.layerCount(names)
        let layout = names.map { name in
            let info = reference[name]!
            return TensorLayout(name: name, dtype: info.dtype.isFloatingPoint ? dtype ?? info.dtype : info.dtype, shape: info.shape)
        }
        let metadata = ["rankwise.command": "merge --method \(method.rawValue)", "rankwise.models": models.map(\.url.path).joined(separator: ",")]
        let destination = try MergeDestination(job: self, layout: layout, inputs: inputs, metadata: metadata, companionSource: base ?? reference)
        let writer = destination.writer
        var regmeanFallbacks: [String] = [], relaxed = 0
        for (index, name) in names.enumerated() {
            let info = reference[name]!
            let tensorStart = ContinuousClock.now
            func progress() {
                observer(.layer(index: index, count: names.count, LayerReport(layer: name, shape: info.shape, seconds: secondsSince(tensorStart))))
            }
            guard info.dtype.isFloatingPoint else {
                try writer.add(copying: name, from: reference)
                progress()
                continue
            }
            let arrays: [[Float]] = try models.map { try $0.array(name) }
            var merged: [Float]
            let module = moduleName(name)
            let tensorWeights = try resolvedWeights(tensor: name, layers: layerCount)
            switch method {
            case .linear, .taskArithmetic, .ties, .dareTies, .dareLinear, .breadcrumbs, .breadcrumbsTies, .della, .dellaLinear, .slerp, .nuslerp,
                 .modelStock, .karcher, .sce, .nearswap, .passthrough:
                merged = try mergeTensor(arrays, base: try usesBase ? base?.array(name) : nil, name: name, shape: info.shape, weights: tensorWeights,
                                         global: { setting($0, tensor: name, layers: layerCount) },
                                         perModel: { try perModel($0, tensor: name, layers: layerCount) })
            case .fisher:
                let f: [[Float]] = try fishers.map { try $0.array(name) }
                merged = try FisherMerge(weights: weights, normalize: normalize, floor: fisherFloor, floorAll: floorAll)
                    .merge(arrays, fishers: f, fisherNorms: norms, name: name)
            case .regmean:
                // RegMean weighs each model's Gram per token: the count is required.
                let statistics = try grams.map { try $0.covariance(layer: module, requireTokens: true) }
                if info.shape.count == 2, statistics.allSatisfy({ $0 != nil }) {
                    let matrices = arrays.map { Matrix(rows: info.shape[0], columns: info.shape[1], elements: $0) }
                    let perToken = statistics.map { s in (1 / s!.tokens) * s!.gram }
                    let result = try RegMean(weights: weights, nonDiagonalAlpha: nonDiagonalAlpha).merge(matrices, grams: perToken, name: name)
                    if result.usedLeastSquares { regmeanFallbacks.append(name) ; observer(.warning("\(name): the summed Gram matrix is singular; used the minimum-norm least-squares solution")) }
                    merged = result.weight.elements
                } else {
                    merged = try LinearMerge(weights: weights, normalize: true).merge(arrays, name: name)
                }
            }
            if let aim, let base, info.shape.count == 2, !LayerSelection.headMarkers.contains(where: { name.contains($0) }),
               let absMean = try aim.absMean(layer: module) {
                let m = Matrix(rows: info.shape[0], columns: info.shape[1], elements: merged)
                merged = try AIM(omega: omega).relax(merged: m, base: try base.matrix(name), absMean: absMean, name: name).elements
                relaxed += 1
            }
            // An overflow (λ = 1e300, huge weights) is an error, not a file of infinities.
            guard ValueScan(merged).allFinite else {
                throw ModelSurgeryError.nonFinite(tensor: name, file: nil, what: "the merged tensor (the weights and λ make it overflow)")
            }
            try writer.add(name: name, shape: info.shape, array: merged, dtype: dtype ?? info.dtype)
            progress()
        }
        let written = try destination.finish(tensors: names.count, start: start, observer: observer)
        return MergeReport(output: output.path, files: written.files, method: method.rawValue, models: models.count, tensors: names.count,
                           bytes: written.bytes, regmeanLeastSquares: regmeanFallbacks, aimLayers: relaxed, fisherNorms: norms,
                           overflows: written.overflows, seconds: secondsSince(start))
    }

    /// The number of transformer layers: one more than the largest N in `layers.N.` (or `layer.N.`, `h.N.`, `blk.N.`).
    static func layerCount(_ names: [String]) -> Int {
        var largest = -1
        for name in names {
            if let n = layerIndex(name) { largest = Swift.max(largest, n) }
        }
        return largest + 1
    }

    /// The layer a tensor belongs to, from its name, or nil (embeddings, the final norm, heads).
    static func layerIndex(_ name: String) -> Int? {
        let parts = name.split(separator: ".")
        for (i, part) in parts.enumerated() where ["layers", "layer", "h", "blk"].contains(part) && i + 1 < parts.count {
            if let n = Int(parts[i + 1]) { return n }
        }
        return nil
    }

    /// mergekit's layer position t of a tensor: its layer over (layers − 1), 1 for a single layer, 0 outside the layers.
    static func position(_ name: String, layers: Int) -> Double {
        guard let index = layerIndex(name) else { return 0 }
        return layers <= 1 ? 1 : Double(index) / Double(layers - 1)
    }

    /// A top-level parameter's value for a tensor (nil: not set).
    func setting(_ key: String, tensor: String, layers: Int) -> ParameterValue? {
        parameters[key]?.evaluate(tensor: tensor, position: Self.position(tensor, layers: layers))
    }

    /// A per-model parameter for each model: its own setting, else the top-level one, else nil.
    func perModel(_ key: String, tensor: String, layers: Int) throws -> [Double?] {
        let t = Self.position(tensor, layers: layers)
        return try (0..<models.count).map { i in
            let value = ParameterSetting.resolve([modelParameters.isEmpty ? nil : modelParameters[i][key], parameters[key]], tensor: tensor, position: t)
            guard let value else { return nil }
            guard let number = value.number, number.isFinite else {
                throw ModelSurgeryError.invalidParameter(parameter: key, value: "\(value)", expected: "a finite number (tensor '\(tensor)')")
            }
            return number
        }
    }

    /// The models' weights for a tensor: the per-tensor settings when any are given (1 where unset), else `weights`.
    func resolvedWeights(tensor: String, layers: Int) throws -> [Double]? {
        let given = parameters["weight"] != nil || modelParameters.contains { $0["weight"] != nil }
        return given ? try perModel("weight", tensor: tensor, layers: layers).map { $0 ?? 1 } : weights
    }

    /// Whether the method reads the base's tensors: the task-vector methods, slerp, model_stock, sce, nearswap, and
    /// nuslerp when a base is given.
    var usesBase: Bool { needsBase || method == .nuslerp }

    /// One tensor by any method but Fisher and RegMean, from the merged models' values `arrays` (the base not among
    /// them), the base's (nil unless the method uses one), the weights (nil: 1 each), the tensor's value of each global
    /// parameter (`global`, nil: unset) and each model's of each per-model one (`perModel`, nil where unset). Unset
    /// parameters take mergekit's defaults (`normalize` and `lambda`: the job's).
    ///
    /// - Throws: `ModelSurgeryError.invalidParameter` when slerp's or nearswap's `t` is unset; what the method throws.
    func mergeTensor(_ arrays: [[Float]], base: [Float]?, name: String, shape: [Int], weights: [Double]?,
                     global: (String) -> ParameterValue?, perModel: (String) throws -> [Double?]) throws -> [Float] {
        func number(_ key: String) -> Double? { global(key)?.number }
        func flag(_ key: String) -> Bool? { global(key)?.bool }
        func required(_ key: String) throws -> Double {
            guard let value = number(key), value.isFinite else {
                throw ModelSurgeryError.invalidParameter(parameter: key, value: "not set", expected: "a number for \(method.rawValue) (tensor '\(name)')")
            }
            return value
        }
        func each(_ key: String, _ fallback: Double) throws -> PerModel { .each(try perModel(key).map { $0 ?? fallback }) }
        switch method {
        case .linear:
            return try LinearMerge(weights: weights, normalize: flag("normalize") ?? normalize).merge(arrays, name: name)
        case .taskArithmetic:
            return try TaskArithmetic(weights: weights, lambda: number("lambda") ?? lambda).merge(arrays, base: base!, name: name)
        case .slerp:
            return try Slerp(t: try required("t")).merge(arrays[0], base: base!, name: name)
        case .nearswap:
            return try NearSwap(t: try required("t")).merge(arrays[0], base: base!, name: name)
        case .nuslerp:
            return try NuSlerp(weights: weights, flatten: flag("nuslerp_flatten") ?? true, rowWise: flag("nuslerp_row_wise") ?? false)
                .merge(arrays, base: base, shape: shape, name: name)
        case .karcher:
            return try Karcher(maxIter: Int(number("max_iter") ?? 10), tol: number("tol") ?? 1e-5).merge(arrays, name: name)
        case .modelStock:
            return try ModelStock(filterWise: flag("filter_wise") ?? false).merge(arrays, base: base!, shape: shape, name: name)
        case .sce:
            return try SCE(selectTopK: number("select_topk") ?? 1).merge(arrays, base: base!, name: name)
        case .passthrough:
            return try Passthrough(scale: try perModel("scale")[0]).merge(arrays, name: name)
        case .fisher, .regmean:
            preconditionFailure("\(method) merges through its own statistics, not mergeTensor")
        case .ties, .dareTies, .dareLinear, .breadcrumbs, .breadcrumbsTies, .della, .dellaLinear:
            let merger = GeneralizedTaskArithmetic(
                Self.taskArithmeticFamily[method]!, weight: .each(weights ?? Array(repeating: 1, count: arrays.count)),
                density: try each("density", 1), gamma: try each("gamma", 0.01), epsilon: try each("epsilon", 0.15),
                normalize: flag("normalize"), rescale: flag("rescale").map { $0 ? .l1 : GeneralizedTaskArithmetic.Rescale.none },
                lambda: number("lambda") ?? 1, seed: seed)
            return try merger.merge(arrays, base: base!, shape: shape, name: name)
        }
    }

    /// A short model card: the method, the models, the base, and the tool.
    func modelCard() -> String {
        var lines = ["---", "library_name: transformers", "tags:", "- merge", "- rankwise", "---", "", "# Merged model", "",
                     "Merged with [Rankwise](https://github.com/) `rankwise merge`, method `\(method.rawValue)`.", ""]
        if let plan = slicePlan {
            if let name = plan.baseModel, let model = sliceModels[name] { lines.append("Base model: `\(model.url.path)`.\n") }
            lines.append("Output slices (\(plan.layerCount) layers):")
            for (s, slice) in plan.outputSlices.enumerated() {
                let sources = slice.sources.map { "`\(sliceModels[$0.model]?.url.path ?? $0.model)` layers [\($0.layers.lowerBound), \($0.layers.upperBound))" }
                lines.append("- slice \(s): " + sources.joined(separator: ", "))
            }
        } else {
            if let base { lines.append("Base model: `\(base.url.path)`.\n") }
            lines.append("Models:")
            for (i, model) in models.enumerated() {
                let w = weights.map { $0.indices.contains(i) ? String(format: " (weight %g)", $0[i]) : "" } ?? ""
                lines.append("- `\(model.url.path)`\(w)")
            }
        }
        if let configText { lines += ["", "Configuration:", "", "```yaml", configText.trimmingCharacters(in: .newlines), "```"] }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Where a merge writes: one safetensors file (an output named `….safetensors`), or a model folder — the weights
/// (`model.safetensors` or shards), the companion files of `companionSource`'s folder (config.json passed through
/// `editConfig`), `mergekit_config.yml` with the config text and a README model card, staged at the start and
/// renamed into place right after the weights.
struct MergeDestination {
    let output: URL
    let isFolder: Bool
    let writer: SafetensorsWriter
    let companions: ModelFolderCompanions

    init(job: MergeJob, layout: [TensorLayout], inputs: [URL], metadata: [String: String], companionSource: Checkpoint,
         editConfig: ((inout [String: Any]) -> Void)? = nil) throws {
        output = job.output
        isFolder = output.pathExtension != "safetensors"
        if isFolder { try OutputPath.check(output, as: .folder) }
        writer = try SafetensorsWriter(url: isFolder ? output.appendingPathComponent("model.safetensors") : output, protecting: inputs,
                                       layout: layout, metadata: metadata, maxShardSize: job.maxShardSize)
        companions = ModelFolderCompanions(directory: output, protecting: inputs)
        if isFolder {
            try companions.stageCompanions(from: ModelFolderCompanions.sourceFolder(of: companionSource), editConfig: editConfig)
            if let text = job.configText { try companions.stage(Array(text.utf8), as: "mergekit_config.yml") }
            try companions.stage(Array(job.modelCard().utf8), as: "README.md")
        }
    }

    /// Finishes the weights, then the folder's other files; the report lists them all.
    func finish(tensors: Int, start: ContinuousClock.Instant, observer: JobObserver) throws -> ModelReport {
        try writer.finish()
        try companions.commit()
        var written = finishReport(writer, output: output, tensors: tensors, layers: [], start: start, observer: observer)
        if isFolder { written.files += companions.committedNames.map { output.appendingPathComponent($0).path } }
        return written
    }
}
