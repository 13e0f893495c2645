import ArgumentParser
import Foundation
import KernelRegression
import LinearAlgebra
import ModelSurgery
import WeightFiles

/// `rankwise kernel fit|predict`.
struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Kernel ridge regression (scikit-learn semantics), leave-one-out CV, Nyström.",
        subcommands: [KernelFit.self, KernelPredict.self])
}

struct KernelFit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fit", abstract: "Fit kernel ridge (or Nyström ridge) and save the model.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Training data: CSV with a header row, or .npy.") var data: String
    @Option(parsing: .unconditionalSingleValue, help: "Target column name (CSV) or index (.npy, negative from the end); repeat for multi-output.") var target: [String]
    @Option(help: "linear, poly, rbf, laplacian or sigmoid.") var kernel: KernelName = .rbf
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
        case .linear: return .linear
        case .poly: return .polynomial(degree: degree, gamma: gamma, coef0: coef0)
        case .laplacian: return .laplacian(gamma: gamma)
        case .sigmoid: return .sigmoid(gamma: gamma, coef0: coef0)
        case .rbf: return .rbf(gamma: gamma)
        }
    }

    func run() throws {
        try global.run { console in
            let job = KernelFitJob(data: data, targets: target, kernel: kernelValue, alpha: alpha, alphas: alphas == nil ? nil : alphaGrid,
                                   nystroem: nystroem, seed: seed, output: URL(fileURLWithPath: output))
            let report = try job.run(observer: console.observer { _, _, r in r.layer })
            if let mse = report.looMSE {
                console.progress("leave-one-out CV over \(report.looScores?.count ?? 0) alphas: alpha = \(report.alpha), LOO MSE = \(mse)")
            }
            console.progress(String(format: "wrote %@: %@ kernel ridge on %d samples × %d features, alpha = %g; %.2f s",
                                    output, report.kernel, report.samples, report.features.count, report.alpha, report.seconds))
            try console.emitJSON(report)
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
            let report = try KernelPredictJob(model: URL(fileURLWithPath: model), data: data, output: URL(fileURLWithPath: output)).run(
                observer: console.observer { _, _, r in r.layer })
            console.progress("wrote \(output): \(report.rows) predictions")
            try console.emitJSON(report)
        }
    }
}
