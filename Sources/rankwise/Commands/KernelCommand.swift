import ArgumentParser
import Foundation
import KernelRegression
import LinearAlgebra
import WeightFiles

/// `rankwise kernel fit|predict`.
struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Kernel ridge regression (scikit-learn semantics), leave-one-out CV, Nyström.",
        subcommands: [KernelFit.self, KernelPredict.self])
}

/// Features and targets from CSV (targets by column name) or .npy (by column index).
func loadTable(_ path: String, targets: [String]) throws -> (x: Matrix<Double>, y: Matrix<Double>, features: [String], targets: [String]) {
    let url = URL(fileURLWithPath: path)
    if path.hasSuffix(".npy") {
        let m = try NPY.read(url)
        let indices = try targets.map { t -> Int in
            guard let i = Int(t), (-m.columns..<m.columns).contains(i) else {
                throw CLIError("\(path): with .npy data, --target is a column index (0..<\(m.columns), or negative from the end), got '\(t)'")
            }
            return i < 0 ? m.columns + i : i
        }
        let table = CSVTable(columns: (0..<m.columns).map { "column\($0)" }, values: m)
        let split = try table.split(targets: indices.map { "column\($0)" })
        return (split.x, split.y, split.features, targets)
    }
    let table = try CSVTable.read(url)
    do {
        let split = try table.split(targets: targets)
        return (split.x, split.y, split.features, targets)
    } catch let error as CSVError {
        throw CSVError(file: path, reason: error.reason)
    }
}

struct KernelFit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fit", abstract: "Fit kernel ridge (or Nyström ridge) and save the model.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Training data: CSV with a header row, or .npy.") var data: String
    @Option(parsing: .unconditionalSingleValue, help: "Target column name (CSV) or index (.npy, negative from the end); repeat for multi-output.") var target: [String]
    @Option(help: "linear, poly, rbf, laplacian or sigmoid.") var kernel = "rbf"
    @Option(parsing: .unconditional, help: "γ > 0 (default 1/n_features).") var gamma: Double?
    @Option(parsing: .unconditional, help: "Polynomial degree (≥ 0).") var degree: Double = 3
    @Option(parsing: .unconditional, help: "coef0 of poly and sigmoid (may be negative).") var coef0: Double = 1
    @Option(parsing: .unconditional, help: "Ridge α ≥ 0.") var alpha: Double = 1
    @Option(parsing: .unconditional, help: "Comma-separated α grid: leave-one-out CV picks one.") var alphas: String?
    @Option(parsing: .unconditional, help: "Nyström landmarks m, 1...\(KernelFit.maxComponents) (ridge on m features instead of exact KRR); more than the samples is capped with a warning.") var nystroem: Int?
    @Option(help: "Seed of the Nyström landmark choice.") var seed: UInt64 = 0
    @Option(name: .shortAndLong, help: "The model file (.safetensors).") var output: String

    /// The largest --nystroem: the m×m matrices take 8m² bytes (80 GB at this bound).
    static let maxComponents = 100_000

    var alphaGrid: [Double]? { alphas.map { $0.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } } }

    func validate() throws {
        guard !target.isEmpty else { throw ValidationError("--target is required") }
        guard ["linear", "poly", "rbf", "laplacian", "sigmoid"].contains(kernel) else {
            throw ValidationError("--kernel must be linear, poly, rbf, laplacian or sigmoid, got '\(kernel)'")
        }
        if let gamma { guard gamma.isFinite, gamma > 0 else { throw ValidationError("--gamma must be a finite number > 0, got \(gamma)") } }
        guard degree.isFinite, degree >= 0 else { throw ValidationError("--degree must be a finite number ≥ 0, got \(degree)") }
        guard coef0.isFinite else { throw ValidationError("--coef0 must be finite, got \(coef0)") }
        guard alpha.isFinite, alpha >= 0 else { throw ValidationError("--alpha must be a finite number ≥ 0, got \(alpha)") }
        if let alphas {
            guard let grid = alphaGrid, grid.count == alphas.split(separator: ",", omittingEmptySubsequences: false).count, !grid.isEmpty,
                  grid.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw ValidationError("--alphas must be comma-separated finite numbers ≥ 0, got '\(alphas)'")
            }
            if nystroem != nil { throw ValidationError("--alphas (leave-one-out CV) works with exact kernel ridge, not --nystroem") }
        }
        if let nystroem {
            guard (1...Self.maxComponents).contains(nystroem) else {
                throw ValidationError("--nystroem must be between 1 and \(Self.maxComponents), got \(nystroem)")
            }
        }
    }

    var kernelValue: Kernel {
        switch kernel {
        case "linear": return .linear
        case "poly": return .polynomial(degree: degree, gamma: gamma, coef0: coef0)
        case "laplacian": return .laplacian(gamma: gamma)
        case "sigmoid": return .sigmoid(gamma: gamma, coef0: coef0)
        default: return .rbf(gamma: gamma)
        }
    }

    func run() throws {
        try global.run { console in
            let start = ContinuousClock.now
            let outputURL = URL(fileURLWithPath: output)
            guard !sameFile(outputURL, URL(fileURLWithPath: data)) else { throw CLIError("\(output): refusing to overwrite an input file") }
            try OutputPath.check(outputURL, as: .file)
            let (x, y, features, targets) = try loadTable(data, targets: target)
            guard x.columns > 0 else { throw CLIError("\(data): no feature columns left once the targets are taken out") }
            guard x.isFinite else { throw CLIError("\(data): the features contain NaN or infinity") }
            guard y.isFinite else { throw CLIError("\(data): the target contains NaN or infinity") }
            let resolved = kernelValue.resolved(features: x.columns)
            var chosenAlpha = alpha
            var summary: [String: Any] = ["samples": x.rows, "features": features, "targets": targets, "kernel": kernel]
            if let grid = alphaGrid {
                let search = try LeaveOneOutSearch(kernel: resolved, alphas: grid).search(x, y)
                chosenAlpha = search.bestAlpha
                summary["loo_scores"] = Dictionary(uniqueKeysWithValues: zip(grid.map { "\($0)" }, search.scores))
                summary["loo_mse"] = search.bestScore
                console.progress("leave-one-out CV over \(grid.count) alphas: alpha = \(chosenAlpha), LOO MSE = \(search.bestScore)")
            }
            summary["alpha"] = chosenAlpha
            var metadata: [String: String] = [
                "rankwise.kind": nystroem == nil ? "kernel_ridge" : "nystroem_ridge",
                "kernel": kernel, "alpha": "\(chosenAlpha)", "degree": "\(degree)", "coef0": "\(coef0)",
                "gamma": resolved.gamma.map { "\($0)" } ?? "", "features": features.joined(separator: ","), "targets": targets.joined(separator: ","),
            ]
            let writer = try SafetensorsWriter(url: outputURL, protecting: [URL(fileURLWithPath: data)])
            var warnings: [String]
            if let m = nystroem {
                let model = try NystroemRidge(nystroem: Nystroem(kernel: resolved, components: m, seed: seed), alpha: chosenAlpha).fit(x, y)
                guard model.featureMap.normalization.isFinite, model.coefficients.isFinite else {
                    throw CLIError("the Nyström fit produced NaN or infinity (the kernel values overflow: check --gamma, --degree, --coef0)")
                }
                try writer.add(name: "landmarks", matrix: model.featureMap.landmarks, dtype: .f64)
                try writer.add(name: "normalization", matrix: model.featureMap.normalization, dtype: .f64)
                try writer.add(name: "coefficients", matrix: model.coefficients, dtype: .f64)
                metadata["components"] = "\(model.featureMap.landmarks.rows)"
                warnings = model.warnings
            } else {
                let model = try KernelRidge(kernel: resolved, alpha: chosenAlpha).fit(x, y)
                guard model.dualCoefficients.isFinite else {
                    throw CLIError("the fit produced NaN or infinity (the kernel values overflow: check --gamma, --degree, --coef0)")
                }
                try writer.add(name: "training_inputs", matrix: model.trainingInputs, dtype: .f64)
                try writer.add(name: "dual_coefficients", matrix: model.dualCoefficients, dtype: .f64)
                warnings = model.warnings
            }
            for w in warnings { console.warning(w) }
            try writer.finish(metadata: metadata)
            summary["warnings"] = warnings
            summary["output"] = output
            console.progress(String(format: "wrote %@: %@ kernel ridge on %d samples × %d features, alpha = %g; %.2f s",
                                    output, kernel, x.rows, x.columns, chosenAlpha, secondsSince(start)))
            try console.emitJSON(summary)
        }
    }
}

struct KernelPredict: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict", abstract: "Predict with a saved kernel model; writes CSV.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The model written by `kernel fit`.") var model: String
    @Option(help: "Data: CSV with the training feature columns (extra columns are ignored), or .npy with exactly those columns.") var data: String
    @Option(name: .shortAndLong, help: "The predictions (.csv).") var output: String

    func run() throws {
        try global.run { console in
            let url = URL(fileURLWithPath: output), modelURL = URL(fileURLWithPath: model), dataURL = URL(fileURLWithPath: data)
            guard !sameFile(url, dataURL), !sameFile(url, modelURL) else {
                throw CLIError("\(output): refusing to overwrite an input file")
            }
            try OutputPath.check(url, as: .file)
            let saved = try SavedKernelModel(file: SafetensorsFile(contentsOf: modelURL), path: model)
            let features = saved.features, targets = saved.targets
            let x: Matrix<Double>
            if data.hasSuffix(".npy") {
                x = try NPY.read(dataURL)
                guard x.columns == features.count else { throw CLIError("\(data): \(x.columns) columns, the model expects \(features.count) features") }
            } else {
                let table = try CSVTable.read(dataURL)
                let indices = try features.map { f -> Int in
                    guard let i = table.columns.firstIndex(of: f) else { throw CLIError("\(data): missing feature column '\(f)'") }
                    return i
                }
                x = Matrix(rows: table.values.rows, columns: indices.count) { i, j in table.values[i, indices[j]] }
            }
            guard x.isFinite else { throw CLIError("\(data): the features contain NaN or infinity") }
            let predictions = try saved.predict(x)
            guard predictions.isFinite else {
                throw CLIError("\(model): the predictions overflow to NaN or infinity on \(data) (the kernel values are too large for this data)")
            }
            let header = targets.count == 1 ? ["prediction"] : targets.map { "prediction_\($0)" }
            var text = header.joined(separator: ",") + "\n"
            for i in 0..<predictions.rows {
                text += (0..<predictions.columns).map { "\(predictions[i, $0])" }.joined(separator: ",") + "\n"
            }
            try writeFileAtomically(Data(text.utf8), to: url, protecting: [dataURL, modelURL])
            console.progress("wrote \(output): \(predictions.rows) predictions")
            try console.emitJSON(["output": output, "rows": predictions.rows, "targets": targets])
        }
    }
}

/// A model written by `kernel fit`, checked before use: a known kind and
/// kernel, finite parameters, every tensor present, 2-D, finite and of
/// consistent shape. Errors name the file and the tensor or metadata key.
struct SavedKernelModel {
    enum Kind: String { case kernelRidge = "kernel_ridge", nystroemRidge = "nystroem_ridge" }

    var kind: Kind
    var kernel: Kernel
    var features: [String]
    var targets: [String]
    /// kernel_ridge: training_inputs, dual_coefficients; nystroem_ridge: landmarks, normalization, coefficients.
    var tensors: [String: Matrix<Double>]

    init(file: SafetensorsFile, path: String) throws {
        let meta = file.metadata
        guard let kindName = meta["rankwise.kind"], let kernelName = meta["kernel"] else {
            throw CLIError("\(path): not a model written by `rankwise kernel fit` (no rankwise.kind / kernel metadata)")
        }
        guard let kind = Kind(rawValue: kindName) else {
            throw CLIError("\(path): unknown model kind '\(kindName.prefix(40))' (expected kernel_ridge or nystroem_ridge)")
        }
        self.kind = kind
        func number(_ key: String, default value: Double?) throws -> Double? {
            guard let text = meta[key], !text.isEmpty else { return value }
            guard let v = Double(text), v.isFinite else { throw CLIError("\(path): metadata '\(key)' must be a finite number, got '\(text.prefix(40))'") }
            return v
        }
        let gamma = try number("gamma", default: nil)
        if let gamma, gamma <= 0, kernelName != "linear" { throw CLIError("\(path): metadata 'gamma' must be > 0, got \(gamma)") }
        let degree = try number("degree", default: 3)!, coef0 = try number("coef0", default: 1)!
        guard degree >= 0 else { throw CLIError("\(path): metadata 'degree' must be ≥ 0, got \(degree)") }
        _ = try number("alpha", default: 1)
        switch kernelName {
        case "linear": kernel = .linear
        case "poly": kernel = .polynomial(degree: degree, gamma: gamma, coef0: coef0)
        case "rbf": kernel = .rbf(gamma: gamma)
        case "laplacian": kernel = .laplacian(gamma: gamma)
        case "sigmoid": kernel = .sigmoid(gamma: gamma, coef0: coef0)
        default: throw CLIError("\(path): unknown kernel '\(kernelName.prefix(40))' (expected linear, poly, rbf, laplacian or sigmoid)")
        }
        features = (meta["features"] ?? "").split(separator: ",").map(String.init)
        targets = (meta["targets"] ?? "").split(separator: ",").map(String.init)
        guard !features.isEmpty else { throw CLIError("\(path): metadata 'features' names no feature") }
        guard !targets.isEmpty else { throw CLIError("\(path): metadata 'targets' names no target") }

        let names = kind == .kernelRidge ? ["training_inputs", "dual_coefficients"] : ["landmarks", "normalization", "coefficients"]
        var tensors: [String: Matrix<Double>] = [:]
        for name in names {
            guard let info = file[name] else { throw CLIError("\(path): missing tensor '\(name)' (a \(kind.rawValue) model has \(names.joined(separator: ", ")))") }
            guard info.shape.count == 2 else { throw CLIError("\(path): tensor '\(name)' has shape \(info.shape), expected 2-D") }
            guard info.dtype.isFloatingPoint else { throw CLIError("\(path): tensor '\(name)' is \(info.dtype.rawValue), expected floating point") }
            let m: Matrix<Double> = try file.matrix(name)
            guard m.isFinite else { throw CLIError("\(path): tensor '\(name)' contains NaN or infinity") }
            tensors[name] = m
        }
        func shape(_ name: String) -> String { "\(tensors[name]!.rows)×\(tensors[name]!.columns)" }
        let d = features.count, t = targets.count
        if kind == .kernelRidge {
            let x = tensors["training_inputs"]!, dual = tensors["dual_coefficients"]!
            guard x.columns == d else { throw CLIError("\(path): tensor 'training_inputs' is \(shape("training_inputs")), expected \(d) columns (one per feature)") }
            guard dual.rows == x.rows else {
                throw CLIError("\(path): tensor 'dual_coefficients' is \(shape("dual_coefficients")), expected \(x.rows) rows (training_inputs is \(shape("training_inputs")))")
            }
            guard dual.columns == t else { throw CLIError("\(path): tensor 'dual_coefficients' is \(shape("dual_coefficients")), expected \(t) columns (one per target)") }
        } else {
            let landmarks = tensors["landmarks"]!, m = landmarks.rows
            guard landmarks.columns == d else { throw CLIError("\(path): tensor 'landmarks' is \(shape("landmarks")), expected \(d) columns (one per feature)") }
            let n = tensors["normalization"]!, w = tensors["coefficients"]!
            guard n.rows == m, n.columns == m else { throw CLIError("\(path): tensor 'normalization' is \(shape("normalization")), expected \(m)×\(m) (landmarks is \(shape("landmarks")))") }
            guard w.rows == m else { throw CLIError("\(path): tensor 'coefficients' is \(shape("coefficients")), expected \(m) rows (landmarks is \(shape("landmarks")))") }
            guard w.columns == t else { throw CLIError("\(path): tensor 'coefficients' is \(shape("coefficients")), expected \(t) columns (one per target)") }
        }
        self.tensors = tensors
    }

    func predict(_ x: Matrix<Double>) throws -> Matrix<Double> {
        switch kind {
        case .nystroemRidge:
            let map = Nystroem.FeatureMap<Double>(kernel: kernel, landmarks: tensors["landmarks"]!, normalization: tensors["normalization"]!, warnings: [])
            return try NystroemRidge.Model(featureMap: map, coefficients: tensors["coefficients"]!, warnings: []).predict(x)
        case .kernelRidge:
            return try KernelRidgeModel(kernel: kernel, alpha: 1, trainingInputs: tensors["training_inputs"]!,
                                        dualCoefficients: tensors["dual_coefficients"]!).predict(x)
        }
    }
}

/// True when both paths name the same existing file.
func sameFile(_ a: URL, _ b: URL) -> Bool {
    a.standardizedFileURL.resolvingSymlinksInPath().path == b.standardizedFileURL.resolvingSymlinksInPath().path
}
