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
    /// The feature columns' names, in the order of `x`'s columns (`column<i>` for `.npy` data).
    public var features: [String]
    /// The targets as given, in the order of `y`'s columns (for `.npy` data the indices as written, e.g. `-1`).
    public var targets: [String]

    /// Reads `path` (`.npy` by its suffix, else CSV with a header row) and splits off the target columns; every
    /// other column is a feature.
    ///
    /// - Throws: `NPYError`, `CSVError` (also for an unknown target name) or `FileAccessError` from reading;
    ///   `ModelSurgeryError.invalidFile` for a `.npy` target that is not a column index in range.
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
    /// The model file's path, as given.
    public var output: String
    /// The number of training rows.
    public var samples: Int
    /// The feature columns' names, in the model's order.
    public var features: [String]
    /// The target columns, as given.
    public var targets: [String]
    /// The kernel's name as scikit-learn spells it (`linear`, `poly`, `rbf`, `laplacian`, `sigmoid`).
    public var kernel: String
    /// The ridge α used (leave-one-out's pick when a grid was given).
    public var alpha: Double
    /// Leave-one-out mean squared error per α of the grid, keyed by α as Swift prints it (`"0.1"`, `"1.0"`); nil without a grid.
    public var looScores: [String: Double]?
    /// The smallest leave-one-out MSE, that of `alpha`; nil without a grid.
    public var looMSE: Double?
    /// The fit's warnings (K + αI not positive definite, so least squares was used; more landmarks than samples), also sent as `.warning` events.
    public var warnings: [String]
    /// Wall-clock seconds for the whole job.
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
    /// The training table's path: `.npy` by its suffix, else CSV with a header row.
    public var data: String
    /// The target columns: names for CSV, column indices as text for `.npy` (negative from the end).
    public var targets: [String]
    /// γ = nil takes scikit-learn's default, 1/n_features.
    public var kernel: Kernel
    /// The ridge regularisation α (default 1), used when `alphas` is nil.
    public var alpha: Double
    /// A grid of α for leave-one-out cross-validation, which then picks α (smallest LOO MSE; ties to the larger α);
    /// nil fits with `alpha`. Costs one n³ eigendecomposition plus O(n²·t) per α, for n samples and t targets.
    public var alphas: [Double]?
    /// The number m of Nyström landmarks (clamped to the sample count): ridge on m features, O(n·m²) instead of
    /// the exact fit's O(n³) time and O(n²) memory. nil fits exact kernel ridge.
    public var nystroem: Int?
    /// The seed of the landmarks' random choice (Nyström only; default 0).
    public var seed: UInt64
    /// The kernel-model file to write (safetensors, F64 tensors).
    public var output: URL

    /// A fit with scikit-learn's defaults where they exist: RBF with γ = 1/n_features, α = 1; no grid, exact
    /// ridge, seed 0. Nothing is read until `run`.
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

    /// Checks the output path, reads the table, fits and writes the model file; warnings also go to `observer`.
    ///
    /// - Throws: `SafetensorsError.wouldOverwriteInput` (the output is the data), `FileAccessError`, `NPYError` or
    ///   `CSVError` from the files; `ModelSurgeryError.invalidFile` for no feature left, NaN or ±∞ in the data, or a
    ///   fit that overflows; `KernelRegressionError` from the fit.
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
    /// The predictions file's path, as given.
    public var output: String
    /// The number of predictions written: one per input row.
    public var rows: Int
    /// The model's target names (one prediction column each).
    public var targets: [String]
}

/// Predictions of a saved kernel model for a CSV (the training feature
/// columns, by name; others ignored) or `.npy` (exactly those columns)
/// table, written atomically as CSV: a header (`prediction`, or
/// `prediction_<target>` per target) and one row per input row.
public struct KernelPredictJob {
    /// The kernel-model file, as `KernelFitJob` writes it.
    public var model: URL
    /// The features' table: CSV (the model's feature columns by name, others ignored) or `.npy` (exactly those columns, in order).
    public var data: String
    /// The CSV file of predictions to write.
    public var output: URL

    /// A prediction job; nothing is read until `run`.
    public init(model: URL, data: String, output: URL) {
        self.model = model
        self.data = data
        self.output = output
    }

    /// Reads the model and the table and writes the predictions atomically.
    ///
    /// - Throws: `SafetensorsError.wouldOverwriteInput` (the output is the data or the model), `FileAccessError`,
    ///   `SafetensorsError`, `NPYError` or `CSVError` from the files; `ModelSurgeryError.invalidFile` for a model file
    ///   that fails its checks, a missing feature column, a wrong column count, NaN or ±∞ in the features, or
    ///   predictions that overflow.
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
    /// The fitted model: `kernel_ridge` (exact: training inputs and dual coefficients) or `nystroem_ridge` (landmarks,
    /// normalisation and primal coefficients); the raw value is the `rankwise.kind` metadata.
    public enum Kind: String, Sendable { case kernelRidge = "kernel_ridge", nystroemRidge = "nystroem_ridge" }

    /// Which model the tensors describe.
    public var kind: Kind
    /// With γ resolved.
    public var kernel: Kernel
    /// The ridge α the model was fitted with.
    public var alpha: Double
    /// Feature names, one per input column, in order; names must not contain commas (the metadata joins them with `,`).
    public var features: [String]
    /// Target names, one per prediction column, in order; no commas, as for `features`.
    public var targets: [String]
    /// kernel_ridge: training_inputs, dual_coefficients; nystroem_ridge: landmarks, normalization, coefficients.
    public var tensors: [String: Matrix<Double>]

    /// A model from its parts, as given (`write` checks that the tensors of `kind` are present; shapes are checked on read).
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
