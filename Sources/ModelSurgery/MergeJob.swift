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
    /// The number of models merged (the base not counted).
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
    public enum Method: String, CaseIterable, Sendable { case linear, taskArithmetic = "task-arithmetic", fisher, regmean }

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
        case .taskArithmetic: return false
        }
    }

    /// Checks counts, parameters and that every model (and the base, Fisher
    /// and Gram files) matches the first model's tensors.
    public func validate() throws {
        let minimum = method == .taskArithmetic ? 1 : 2
        guard models.count >= minimum else {
            throw MergingError.tooFewModels(models.count)
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
        if method == .taskArithmetic && base == nil {
            throw ModelSurgeryError.invalidParameter(parameter: "base", value: "none", expected: "given for task arithmetic (the model the task vectors start from)")
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
        let layout = names.map { name in
            let info = reference[name]!
            return TensorLayout(name: name, dtype: info.dtype.isFloatingPoint ? dtype ?? info.dtype : info.dtype, shape: info.shape)
        }
        let metadata = ["rankwise.command": "merge --method \(method.rawValue)", "rankwise.models": models.map(\.url.path).joined(separator: ",")]
        let writer = try SafetensorsWriter(url: output, protecting: inputs, layout: layout, metadata: metadata, maxShardSize: maxShardSize)
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
            switch method {
            case .linear:
                merged = try LinearMerge(weights: weights, normalize: normalize).merge(arrays, name: name)
            case .taskArithmetic:
                merged = try TaskArithmetic(weights: weights, lambda: lambda).merge(arrays, base: try base!.array(name), name: name)
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
        try writer.finish()
        let written = finishReport(writer, output: output, tensors: names.count, layers: [], start: start, observer: observer)
        return MergeReport(output: output.path, files: written.files, method: method.rawValue, models: models.count, tensors: names.count,
                           bytes: written.bytes, regmeanLeastSquares: regmeanFallbacks, aimLayers: relaxed, fisherNorms: norms,
                           overflows: written.overflows, seconds: secondsSince(start))
    }
}
