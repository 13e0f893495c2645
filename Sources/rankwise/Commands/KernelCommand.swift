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
    @Option(help: "Target column name (CSV) or index (.npy); repeat for multi-output.") var target: [String]
    @Option(help: "linear, poly, rbf, laplacian or sigmoid.") var kernel = "rbf"
    @Option(help: "γ (default 1/n_features).") var gamma: Double?
    @Option(help: "Polynomial degree.") var degree: Double = 3
    @Option(help: "coef0 of poly and sigmoid.") var coef0: Double = 1
    @Option(help: "Ridge α.") var alpha: Double = 1
    @Option(help: "Comma-separated α grid: leave-one-out CV picks one.") var alphas: String?
    @Option(help: "Nyström landmarks m (ridge on m features instead of exact KRR).") var nystroem: Int?
    @Option(help: "Seed of the Nyström landmark choice.") var seed: UInt64 = 0
    @Option(name: .shortAndLong, help: "The model file (.safetensors).") var output: String

    var alphaGrid: [Double]? { alphas.map { $0.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } } }

    func validate() throws {
        guard !target.isEmpty else { throw ValidationError("--target is required") }
        guard ["linear", "poly", "rbf", "laplacian", "sigmoid"].contains(kernel) else {
            throw ValidationError("--kernel must be linear, poly, rbf, laplacian or sigmoid, got '\(kernel)'")
        }
        guard alpha >= 0 else { throw ValidationError("--alpha must be ≥ 0, got \(alpha)") }
        if let alphas {
            guard let grid = alphaGrid, grid.count == alphas.split(separator: ",").count, !grid.isEmpty, grid.allSatisfy({ $0 >= 0 }) else {
                throw ValidationError("--alphas must be comma-separated numbers ≥ 0, got '\(alphas)'")
            }
            if nystroem != nil { throw ValidationError("--alphas (leave-one-out CV) works with exact kernel ridge, not --nystroem") }
        }
        if let nystroem { guard nystroem >= 1 else { throw ValidationError("--nystroem must be at least 1") } }
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
            let (x, y, features, targets) = try loadTable(data, targets: target)
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
            let writer = try SafetensorsWriter(url: URL(fileURLWithPath: output), protecting: [URL(fileURLWithPath: data)])
            var warnings: [String]
            if let m = nystroem {
                let model = try NystroemRidge(nystroem: Nystroem(kernel: resolved, components: m, seed: seed), alpha: chosenAlpha).fit(x, y)
                try writer.add(name: "landmarks", matrix: model.featureMap.landmarks, dtype: .f64)
                try writer.add(name: "normalization", matrix: model.featureMap.normalization, dtype: .f64)
                try writer.add(name: "coefficients", matrix: model.coefficients, dtype: .f64)
                metadata["components"] = "\(model.featureMap.landmarks.rows)"
                warnings = model.warnings
            } else {
                let model = try KernelRidge(kernel: resolved, alpha: chosenAlpha).fit(x, y)
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
            let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: model))
            let meta = file.metadata
            guard let kind = meta["rankwise.kind"], let kernelName = meta["kernel"] else {
                throw CLIError("\(model): not a model written by `rankwise kernel fit` (no rankwise.kind / kernel metadata)")
            }
            let gamma = Double(meta["gamma"] ?? "")
            let degree = Double(meta["degree"] ?? "") ?? 3, coef0 = Double(meta["coef0"] ?? "") ?? 1
            let kernel: Kernel
            switch kernelName {
            case "linear": kernel = .linear
            case "poly": kernel = .polynomial(degree: degree, gamma: gamma, coef0: coef0)
            case "laplacian": kernel = .laplacian(gamma: gamma)
            case "sigmoid": kernel = .sigmoid(gamma: gamma, coef0: coef0)
            default: kernel = .rbf(gamma: gamma)
            }
            let features = (meta["features"] ?? "").split(separator: ",").map(String.init)
            let targets = (meta["targets"] ?? "").split(separator: ",").map(String.init)
            let x: Matrix<Double>
            if data.hasSuffix(".npy") {
                x = try NPY.read(URL(fileURLWithPath: data))
                guard x.columns == features.count else { throw CLIError("\(data): \(x.columns) columns, the model expects \(features.count) features") }
            } else {
                let table = try CSVTable.read(URL(fileURLWithPath: data))
                let indices = try features.map { f -> Int in
                    guard let i = table.columns.firstIndex(of: f) else { throw CLIError("\(data): missing feature column '\(f)'") }
                    return i
                }
                x = Matrix(rows: table.values.rows, columns: indices.count) { i, j in table.values[i, indices[j]] }
            }
            guard x.isFinite else { throw CLIError("\(data): the features contain NaN or infinity") }
            let predictions: Matrix<Double>
            if kind == "nystroem_ridge" {
                let map = Nystroem.FeatureMap<Double>(kernel: kernel, landmarks: try file.matrix("landmarks"), normalization: try file.matrix("normalization"), warnings: [])
                predictions = try NystroemRidge.Model(featureMap: map, coefficients: try file.matrix("coefficients"), warnings: []).predict(x)
            } else {
                predictions = try KernelRidgeModel(kernel: kernel, alpha: Double(meta["alpha"] ?? "") ?? 1,
                                                   trainingInputs: try file.matrix("training_inputs"),
                                                   dualCoefficients: try file.matrix("dual_coefficients")).predict(x)
            }
            let header = targets.count == 1 ? ["prediction"] : targets.map { "prediction_\($0)" }
            var text = header.joined(separator: ",") + "\n"
            for i in 0..<predictions.rows {
                text += (0..<predictions.columns).map { "\(predictions[i, $0])" }.joined(separator: ",") + "\n"
            }
            let url = URL(fileURLWithPath: output)
            guard !sameFile(url, URL(fileURLWithPath: data)), !sameFile(url, URL(fileURLWithPath: model)) else {
                throw CLIError("\(output): refusing to overwrite an input file")
            }
            let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
            try Data(text.utf8).write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else { throw CLIError("cannot write \(output)") }
            console.progress("wrote \(output): \(predictions.rows) predictions")
            try console.emitJSON(["output": output, "rows": predictions.rows, "targets": targets])
        }
    }
}

/// True when both paths name the same existing file.
func sameFile(_ a: URL, _ b: URL) -> Bool {
    a.standardizedFileURL.resolvingSymlinksInPath().path == b.standardizedFileURL.resolvingSymlinksInPath().path
}
