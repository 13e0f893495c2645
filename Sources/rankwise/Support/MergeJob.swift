import Foundation
import LinearAlgebra
import Merging
import WeightFiles

/// Streams a merge tensor by tensor over any number of models: memory is about
/// one tensor per model. Fisher merging with normalisation first accumulates
/// each model's whole-Fisher norm in a pass over the Fisher files.
struct MergeJob {
    enum Method: String, CaseIterable { case linear, taskArithmetic = "task-arithmetic", fisher, regmean }

    var method: Method
    var models: [Checkpoint]
    var base: Checkpoint?
    var weights: [Double]?
    var normalize = true
    var lambda = 1.0
    var fishers: [Checkpoint] = []
    var fisherFloor = 1e-6
    var floorAll = false
    var grams: [CalibrationFile] = []
    var nonDiagonalAlpha = 1.0
    var aim: CalibrationFile?
    var omega = 0.4
    var dtype: DType?
    var output: URL
    var maxShardSize: Int? = nil
    /// Files besides the models that must not be overwritten (the YAML config).
    var extraInputs: [URL] = []

    /// Whether the method divides by the sum of the weights.
    var normalisesWeights: Bool {
        switch method {
        case .linear: return normalize
        case .fisher, .regmean: return true   // Fisher's fallback mean and RegMean's non-matrix tensors divide by Σw
        case .taskArithmetic: return false
        }
    }

    func validate() throws {
        let minimum = method == .taskArithmetic ? 1 : 2
        guard models.count >= minimum else {
            throw MergingError.tooFewModels(models.count)
        }
        if let weights, weights.count != models.count { throw MergingError.weightCount(expected: models.count, got: weights.count) }
        if let weights {
            guard weights.allSatisfy(\.isFinite) else { throw CLIError("the merge weights must be finite numbers, got \(weights)") }
            if normalisesWeights && weights.reduce(0, +) == 0 {
                throw CLIError("the merge weights \(weights) sum to zero; \(method.rawValue) normalises by their sum (give weights that do not cancel out)")
            }
        }
        for (name, value) in [("lambda", lambda), ("fisher floor", fisherFloor), ("nondiag alpha", nonDiagonalAlpha), ("omega", omega)] where !value.isFinite {
            throw CLIError("the \(name) must be finite, got \(value)")
        }
        if method == .taskArithmetic && base == nil { throw CLIError("task-arithmetic needs --base (the model the task vectors start from)") }
        if aim != nil && base == nil { throw CLIError("--aim relaxes towards the base model: give --base") }
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
                throw CLIError("\(label) differs from model 1 (\(reference.url.path)): " + differences.prefix(5).joined(separator: "; "))
            }
        }
        if method == .fisher {
            guard fishers.count == models.count else { throw CLIError("fisher merging needs one --fisher file per model: \(models.count) models, \(fishers.count) Fisher files") }
            for (i, f) in fishers.enumerated() {
                for name in reference.tensorNames where reference[name]!.dtype.isFloatingPoint {
                    guard let info = f[name] else { throw CLIError("\(f.url.path) (Fisher of model \(i + 1)) has no entry for '\(name)'") }
                    guard info.shape == reference[name]!.shape else { throw CLIError("\(f.url.path): Fisher '\(name)' is \(info.shape), the parameter is \(reference[name]!.shape)") }
                }
            }
        }
        if method == .regmean && grams.count != models.count {
            throw CLIError("regmean needs one --gram file per model: \(models.count) models, \(grams.count) Gram files")
        }
    }

    func run(console: Console) throws -> [String: Any] {
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
            console.detail("Fisher norms: " + norms!.map { String(format: "%.4g", $0) }.joined(separator: ", "))
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
                console.step(index, of: names.count, name: name,
                             String(format: "[%3d/%d] %@  %@  %.2f s", index + 1, names.count, name,
                                    info.shape.map(String.init).joined(separator: "x"), secondsSince(tensorStart)))
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
                    if result.usedLeastSquares { regmeanFallbacks.append(name) ; console.warning("\(name): the summed Gram matrix is singular; used the minimum-norm least-squares solution") }
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
                throw CLIError("tensor '\(name)': the merged values overflow to NaN or infinity (check the weights and λ); nothing written")
            }
            try writer.add(name: name, shape: info.shape, array: merged, dtype: dtype ?? info.dtype)
            progress()
        }
        try writer.finish()
        warnAboutOverflows(writer, console: console)
        let size = writer.writtenFiles.compactMap { (try? FileManager.default.attributesOfItem(atPath: $0.path)[.size]) as? Int }.reduce(0, +)
        console.progress(String(format: "wrote %@: %@ merge of %d models, %d tensors, %@%@; %.1f s", output.path, method.rawValue, models.count, names.count,
                                formatBytes(size), relaxed > 0 ? ", AIM on \(relaxed) layers" : "", secondsSince(start)))
        return ["output": output.path, "method": method.rawValue, "models": models.count, "tensors": names.count, "bytes": size,
                "regmean_least_squares": regmeanFallbacks, "aim_layers": relaxed, "fisher_norms": norms as Any? ?? NSNull()]
    }
}
