import Foundation
import KernelRegression
import LinearAlgebra
import WeightFiles

/// Features and targets read from a CSV file (targets named by column) or a
/// `.npy` array (targets by column index, negative from the end).
public struct DataTable: Sendable {
    /// `[samples, features]`.
    public var x: Matrix<Double>
    /// `[samples, targets]`.
    public var y: Matrix<Double>
    public var features: [String]
    public var targets: [String]

    public init(path: String, targets: [String]) throws {
        let url = URL(fileURLWithPath: path)
        if path.hasSuffix(".npy") {
            let m = try NPY.read(url)
            let indices = try targets.map { t -> Int in
                guard let i = Int(t), (-m.columns..<m.columns).contains(i) else {
                    throw ModelSurgeryError.invalidFile(file: path, tensor: nil,
                                                        detail: "with .npy data a target is a column index (0..<\(m.columns), or negative from the end), got '\(t.prefix(40))'")
                }
                return i < 0 ? m.columns + i : i
            }
            let split = try CSVTable(columns: (0..<m.columns).map { "column\($0)" }, values: m).split(targets: indices.map { "column\($0)" })
            (x, y, features) = (split.x, split.y, split.features)
        } else {
            let table = try CSVTable.read(url)
            do {
                (x, y, features) = try table.split(targets: targets)
            } catch let error as CSVError {
                throw CSVError(file: path, reason: error.reason)
            }
        }
        self.targets = targets
    }
}

/// What `KernelFitJob` reports.
public struct KernelFitReport: Codable, Sendable {
    public var output: String
    public var samples: Int
    public var features: [String]
    public var targets: [String]
    public var kernel: String
    /// The ridge α used (leave-one-out's pick when a grid was given).
    public var alpha: Double
    /// Leave-one-out mean squared error per α of the grid, and the best.
    public var looScores: [String: Double]?
    public var looMSE: Double?
    public var warnings: [String]
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case output, samples, features, targets, kernel, alpha, warnings, seconds
        case looScores = "loo_scores", looMSE = "loo_mse"
    }
}

/// Kernel ridge regression (exact, or on `nystroem` landmarks) fitted to a
/// CSV or `.npy` table and saved as a kernel-model file (docs/formats.md):
/// with an `alphas` grid, leave-one-out CV picks α first. The output is
/// checked before the data is read; features and targets must be finite, and
/// a fit whose kernel values overflow is an error.
public struct KernelFitJob {
    public var data: String
    public var targets: [String]
    /// γ = nil takes scikit-learn's default, 1/n_features.
    public var kernel: Kernel
    public var alpha: Double
    public var alphas: [Double]?
    public var nystroem: Int?
    public var seed: UInt64
    public var output: URL

    public init(data: String, targets: [String], kernel: Kernel = .rbf(), alpha: Double = 1, alphas: [Double]? = nil,
                nystroem: Int? = nil, seed: UInt64 = 0, output: URL) {
        self.data = data
        self.targets = targets
        self.kernel = kernel
        self.alpha = alpha
        self.alphas = alphas
        self.nystroem = nystroem
        self.seed = seed
        self.output = output
    }

    public func run(observer: JobObserver = { _ in }) throws -> KernelFitReport {
        let start = ContinuousClock.now
        let dataURL = URL(fileURLWithPath: data)
        if sameFile(output, dataURL) { throw SafetensorsError(file: output.path, rule: .wouldOverwriteInput) }
        try OutputPath.check(output, as: .file)
        let table = try DataTable(path: data, targets: targets)
        let (x, y) = (table.x, table.y)
        guard x.columns > 0 else { throw ModelSurgeryError.invalidFile(file: data, tensor: nil, detail: "no feature columns left once the targets are taken out") }
        guard x.isFinite else { throw ModelSurgeryError.invalidFile(file: data, tensor: nil, detail: "the features contain NaN or infinity") }
        guard y.isFinite else { throw ModelSurgeryError.invalidFile(file: data, tensor: nil, detail: "the target contains NaN or infinity") }
        let resolved = kernel.resolved(features: x.columns)
        var report = KernelFitReport(output: output.path, samples: x.rows, features: table.features, targets: targets, kernel: kernel.name,
                                     alpha: alpha, looScores: nil, looMSE: nil, warnings: [], seconds: 0)
        if let grid = alphas {
            let search = try LeaveOneOutSearch(kernel: resolved, alphas: grid).search(x, y)
            report.alpha = search.bestAlpha
            report.looScores = Dictionary(uniqueKeysWithValues: zip(grid.map { "\($0)" }, search.scores))
            report.looMSE = search.bestScore
        }
        var file = KernelModelFile(kind: nystroem == nil ? .kernelRidge : .nystroemRidge, kernel: resolved, alpha: report.alpha,
                                   features: table.features, targets: targets, tensors: [:])
        let overflow = "the kernel values overflow: check gamma, degree and coef0"
        if let m = nystroem {
            let model = try NystroemRidge(nystroem: Nystroem(kernel: resolved, components: m, seed: seed), alpha: report.alpha).fit(x, y)
            guard model.featureMap.normalization.isFinite, model.coefficients.isFinite else {
                throw ModelSurgeryError.invalidFile(file: data, tensor: nil, detail: "the Nyström fit produced NaN or infinity (\(overflow))")
            }
            file.tensors = ["landmarks": model.featureMap.landmarks, "normalization": model.featureMap.normalization, "coefficients": model.coefficients]
            report.warnings = model.warnings
        } else {
            let model = try KernelRidge(kernel: resolved, alpha: report.alpha).fit(x, y)
            guard model.dualCoefficients.isFinite else {
                throw ModelSurgeryError.invalidFile(file: data, tensor: nil, detail: "the fit produced NaN or infinity (\(overflow))")
            }
            file.tensors = ["training_inputs": model.trainingInputs, "dual_coefficients": model.dualCoefficients]
            report.warnings = model.warnings
        }
        for w in report.warnings { observer(.warning(w)) }
        try file.write(to: output, protecting: [dataURL])
        report.seconds = secondsSince(start)
        return report
    }
}

/// What `KernelPredictJob` reports.
public struct KernelPredictReport: Codable, Sendable {
    public var output: String
    public var rows: Int
    public var targets: [String]
}

/// Predictions of a saved kernel model for a CSV (the training feature
/// columns, by name; others ignored) or `.npy` (exactly those columns)
/// table, written atomically as CSV: a header (`prediction`, or
/// `prediction_<target>` per target) and one row per input row.
public struct KernelPredictJob {
    public var model: URL
    public var data: String
    public var output: URL

    public init(model: URL, data: String, output: URL) {
        self.model = model
        self.data = data
        self.output = output
    }

    public func run(observer: JobObserver = { _ in }) throws -> KernelPredictReport {
        let dataURL = URL(fileURLWithPath: data)
        if sameFile(output, dataURL) || sameFile(output, model) { throw SafetensorsError(file: output.path, rule: .wouldOverwriteInput) }
        try OutputPath.check(output, as: .file)
        let saved = try KernelModelFile(contentsOf: model)
        let x: Matrix<Double>
        if data.hasSuffix(".npy") {
            x = try NPY.read(dataURL)
            guard x.columns == saved.features.count else {
                throw ModelSurgeryError.invalidFile(file: data, tensor: nil, detail: "\(x.columns) columns, the model expects \(saved.features.count) features")
            }
        } else {
            let table = try CSVTable.read(dataURL)
            let indices = try saved.features.map { f -> Int in
                guard let i = table.columns.firstIndex(of: f) else { throw ModelSurgeryError.invalidFile(file: data, tensor: nil, detail: "missing feature column '\(f)'") }
                return i
            }
            x = Matrix(rows: table.values.rows, columns: indices.count) { i, j in table.values[i, indices[j]] }
        }
        guard x.isFinite else { throw ModelSurgeryError.invalidFile(file: data, tensor: nil, detail: "the features contain NaN or infinity") }
        let predictions = try saved.predict(x)
        guard predictions.isFinite else {
            throw ModelSurgeryError.invalidFile(file: model.path, tensor: nil,
                                                detail: "the predictions overflow to NaN or infinity on \(data) (the kernel values are too large for this data)")
        }
        let header = saved.targets.count == 1 ? ["prediction"] : saved.targets.map { "prediction_\($0)" }
        var text = header.joined(separator: ",") + "\n"
        for i in 0..<predictions.rows {
            text += (0..<predictions.columns).map { "\(predictions[i, $0])" }.joined(separator: ",") + "\n"
        }
        try writeFileAtomically(Data(text.utf8), to: output, protecting: [dataURL, model])
        return KernelPredictReport(output: output.path, rows: predictions.rows, targets: saved.targets)
    }
}

/// A kernel-model file (docs/formats.md): the fitted model's tensors in F64
/// and its kind, kernel and column names in the metadata. Read back checked:
/// a known kind and kernel, finite parameters, every tensor present, 2-D,
/// finite and of consistent shape; errors name the file and the tensor or
/// metadata key.
public struct KernelModelFile {
    public enum Kind: String, Sendable { case kernelRidge = "kernel_ridge", nystroemRidge = "nystroem_ridge" }

    public var kind: Kind
    /// With γ resolved.
    public var kernel: Kernel
    public var alpha: Double
    public var features: [String]
    public var targets: [String]
    /// kernel_ridge: training_inputs, dual_coefficients; nystroem_ridge: landmarks, normalization, coefficients.
    public var tensors: [String: Matrix<Double>]

    public init(kind: Kind, kernel: Kernel, alpha: Double, features: [String], targets: [String], tensors: [String: Matrix<Double>]) {
        self.kind = kind
        self.kernel = kernel
        self.alpha = alpha
        self.features = features
        self.targets = targets
        self.tensors = tensors
    }

    /// The tensor names a model of `kind` holds.
    public static func tensorNames(_ kind: Kind) -> [String] {
        kind == .kernelRidge ? ["training_inputs", "dual_coefficients"] : ["landmarks", "normalization", "coefficients"]
    }

    /// Writes the file atomically.
    public func write(to url: URL, protecting inputs: [URL] = []) throws {
        var degree = 3.0, coef0 = 1.0
        switch kernel {
        case .polynomial(let d, _, let c): (degree, coef0) = (d, c)
        case .sigmoid(_, let c): coef0 = c
        default: break
        }
        var metadata: [String: String] = [
            "rankwise.kind": kind.rawValue, "kernel": kernel.name, "alpha": "\(alpha)", "degree": "\(degree)", "coef0": "\(coef0)",
            "gamma": kernel.gamma.map { "\($0)" } ?? "", "features": features.joined(separator: ","), "targets": targets.joined(separator: ","),
        ]
        if kind == .nystroemRidge, let landmarks = tensors["landmarks"] { metadata["components"] = "\(landmarks.rows)" }
        let writer = try SafetensorsWriter(url: url, protecting: inputs)
        for name in Self.tensorNames(kind) {
            guard let m = tensors[name] else { throw ModelSurgeryError.invalidFile(file: url.path, tensor: name, detail: "missing from the model to write") }
            try writer.add(name: name, matrix: m, dtype: .f64)
        }
        try writer.finish(metadata: metadata)
    }

    /// Reads and checks a kernel-model file.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let file = try SafetensorsFile(contentsOf: url)
        let meta = file.metadata
        func fail(_ detail: String, tensor: String? = nil) -> ModelSurgeryError { .invalidFile(file: path, tensor: tensor, detail: detail) }
        guard let kindName = meta["rankwise.kind"], let kernelName = meta["kernel"] else {
            throw fail("not a model written by `rankwise kernel fit` (no rankwise.kind / kernel metadata)")
        }
        guard let kind = Kind(rawValue: kindName) else { throw fail("unknown model kind '\(kindName.prefix(40))' (expected kernel_ridge or nystroem_ridge)") }
        self.kind = kind
        func number(_ key: String, default value: Double?) throws -> Double? {
            guard let text = meta[key], !text.isEmpty else { return value }
            guard let v = Double(text), v.isFinite else { throw fail("metadata '\(key)' must be a finite number, got '\(text.prefix(40))'") }
            return v
        }
        let gamma = try number("gamma", default: nil)
        if let gamma, gamma <= 0, kernelName != "linear" { throw fail("metadata 'gamma' must be > 0, got \(gamma)") }
        let degree = try number("degree", default: 3)!, coef0 = try number("coef0", default: 1)!
        guard degree >= 0 else { throw fail("metadata 'degree' must be ≥ 0, got \(degree)") }
        alpha = try number("alpha", default: 1)!
        switch kernelName {
        case "linear": kernel = .linear
        case "poly": kernel = .polynomial(degree: degree, gamma: gamma, coef0: coef0)
        case "rbf": kernel = .rbf(gamma: gamma)
        case "laplacian": kernel = .laplacian(gamma: gamma)
        case "sigmoid": kernel = .sigmoid(gamma: gamma, coef0: coef0)
        default: throw fail("unknown kernel '\(kernelName.prefix(40))' (expected linear, poly, rbf, laplacian or sigmoid)")
        }
        features = (meta["features"] ?? "").split(separator: ",").map(String.init)
        targets = (meta["targets"] ?? "").split(separator: ",").map(String.init)
        guard !features.isEmpty else { throw fail("metadata 'features' names no feature") }
        guard !targets.isEmpty else { throw fail("metadata 'targets' names no target") }

        let names = Self.tensorNames(kind)
        var tensors: [String: Matrix<Double>] = [:]
        for name in names {
            guard let info = file[name] else { throw fail("missing tensor '\(name)' (a \(kind.rawValue) model has \(names.joined(separator: ", ")))") }
            guard info.shape.count == 2 else { throw fail("tensor '\(name)' has shape \(info.shape), expected 2-D") }
            guard info.dtype.isFloatingPoint else { throw fail("tensor '\(name)' is \(info.dtype.rawValue), expected floating point") }
            let m: Matrix<Double> = try file.matrix(name)
            guard m.isFinite else { throw fail("tensor '\(name)' contains NaN or infinity") }
            tensors[name] = m
        }
        func shape(_ name: String) -> String { "\(tensors[name]!.rows)×\(tensors[name]!.columns)" }
        let d = features.count, t = targets.count
        if kind == .kernelRidge {
            let x = tensors["training_inputs"]!, dual = tensors["dual_coefficients"]!
            guard x.columns == d else { throw fail("tensor 'training_inputs' is \(shape("training_inputs")), expected \(d) columns (one per feature)") }
            guard dual.rows == x.rows else {
                throw fail("tensor 'dual_coefficients' is \(shape("dual_coefficients")), expected \(x.rows) rows (training_inputs is \(shape("training_inputs")))")
            }
            guard dual.columns == t else { throw fail("tensor 'dual_coefficients' is \(shape("dual_coefficients")), expected \(t) columns (one per target)") }
        } else {
            let landmarks = tensors["landmarks"]!, m = landmarks.rows
            guard landmarks.columns == d else { throw fail("tensor 'landmarks' is \(shape("landmarks")), expected \(d) columns (one per feature)") }
            let n = tensors["normalization"]!, w = tensors["coefficients"]!
            guard n.rows == m, n.columns == m else { throw fail("tensor 'normalization' is \(shape("normalization")), expected \(m)×\(m) (landmarks is \(shape("landmarks")))") }
            guard w.rows == m else { throw fail("tensor 'coefficients' is \(shape("coefficients")), expected \(m) rows (landmarks is \(shape("landmarks")))") }
            guard w.columns == t else { throw fail("tensor 'coefficients' is \(shape("coefficients")), expected \(t) columns (one per target)") }
        }
        self.tensors = tensors
    }

    /// Predictions `[samples, targets]` for `x` `[samples, features]`.
    public func predict(_ x: Matrix<Double>) throws -> Matrix<Double> {
        switch kind {
        case .nystroemRidge:
            let map = Nystroem.FeatureMap<Double>(kernel: kernel, landmarks: tensors["landmarks"]!, normalization: tensors["normalization"]!, warnings: [])
            return try NystroemRidge.Model(featureMap: map, coefficients: tensors["coefficients"]!, warnings: []).predict(x)
        case .kernelRidge:
            return try KernelRidgeModel(kernel: kernel, alpha: alpha, trainingInputs: tensors["training_inputs"]!,
                                        dualCoefficients: tensors["dual_coefficients"]!).predict(x)
        }
    }
}

/// Whether two paths name the same file (after symlinks).
func sameFile(_ a: URL, _ b: URL) -> Bool {
    a.standardizedFileURL.resolvingSymlinksInPath().path == b.standardizedFileURL.resolvingSymlinksInPath().path
}
