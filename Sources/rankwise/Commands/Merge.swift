import ArgumentParser
import Foundation
import ModelSurgery
import WeightFiles

/// `rankwise merge`: linear, task arithmetic, Fisher, RegMean, with optional
/// AIM relaxation; from flags or a mergekit-style YAML config.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge models: mergekit's methods (linear, task arithmetic, ties, dare, breadcrumbs, della, slerp, nuslerp, model_stock, karcher, sce, nearswap, passthrough) and Fisher, RegMean, AIM.",
        discussion: """
            `rankwise merge CONFIG.yml OUT_DIR` works like mergekit-yaml: OUT_DIR receives model.safetensors (or shards), \
            the base model's (else the first model's) config.json and tokenizer files, mergekit_config.yml and a README \
            model card. An -o ending in .safetensors writes one file instead. Parameters may be numbers, gradients over \
            the layers ([0, 0.5, 1]) or filter lists ([{filter: mlp, value: 0.8}, {value: 0.2}]), as mergekit reads them. \
            Streams tensor by tensor (memory ≈ one tensor per model). --config takes mergekit's YAML shape:
              merge_method: fisher
              base_model: base.safetensors
              models:
                - model: a.safetensors
                  parameters: {weight: 0.5, fisher: fa.safetensors, gram: ga.safetensors}
              parameters: {normalize: true, lambda: 1.0, fisher_floor: 1.0e-6, floor_all: false, nondiag_alpha: 1.0, aim: calib.safetensors, omega: 0.4}
              dtype: bfloat16
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The models to merge (or: CONFIG.yml OUT_DIR).") var models: [String] = []
    @Option(help: "linear, task-arithmetic, fisher, regmean, or a mergekit method (ties, dare_ties, slerp, …).") var method: MergeJob.Method?
    @Option(help: "The base model (task arithmetic, AIM).") var base: String?
    @Option(parsing: .unconditional, help: "Comma-separated weight per model (default: equal).") var weights: String?
    @Option(parsing: .upToNextOption, help: "Fisher files, one per model.") var fisher: [String] = []
    @Option(parsing: .upToNextOption, help: "Gram (calibration) files, one per model (regmean).") var gram: [String] = []
    @Option(parsing: .unconditional, help: "Floor on the target model's Fisher (finite, ≥ 0).") var fisherFloor: Double = 1e-6
    @Flag(help: "Apply the Fisher floor to every model.") var floorAll = false
    @Flag(help: "Do not normalise (weights, Fisher norms).") var noNormalize = false
    @Option(parsing: .unconditional, help: "RegMean off-diagonal scale α in [0, 1].") var nondiagAlpha: Double = 1
    @Option(parsing: .unconditional, help: "Task arithmetic scale λ (finite; may be negative).") var lambda: Double = 1
    @Option(help: "Calibration of the base model (abs_mean or inputs): AIM relaxation.") var aim: String?
    @Option(parsing: .unconditional, help: "AIM ω in [0, 1].") var omega: Double = 0.4
    @Option(help: "A mergekit-style YAML config (at most 1 MiB).") var config: String?
    @Option(help: "dtype of written tensors (default: the input's).") var dtype: DTypeArgument?
    @Option(name: .shortAndLong, help: "The merged model: a folder, or a .safetensors file.") var output: String?

    /// `rankwise merge CONFIG.yml OUT_DIR`, mergekit-yaml's form.
    var positionalConfig: (config: String, output: String)? {
        guard config == nil, method == nil, models.count == 2, models[0].hasSuffix(".yml") || models[0].hasSuffix(".yaml") else { return nil }
        return (models[0], models[1])
    }
    var configPath: String? { config ?? positionalConfig?.config }
    var outputPath: String { output ?? positionalConfig?.output ?? "" }
    @OptionGroup var shards: ShardOption

    func validate() throws {
        if let positional = positionalConfig {
            if output != nil { throw ValidationError("give the output once: rankwise merge CONFIG.yml OUT_DIR, or --config CONFIG.yml -o OUT") }
            _ = positional
        } else if config == nil {
            guard method != nil else {
                throw ValidationError("--method must be linear, task-arithmetic, fisher, regmean or a mergekit method (or give a config: rankwise merge CONFIG.yml OUT_DIR)")
            }
        } else if method != nil || !models.isEmpty {
            throw ValidationError("give either --config or --method with models, not both")
        }
        guard !outputPath.isEmpty else { throw ValidationError("name the output: -o OUT_DIR (or OUT.safetensors)") }
        guard lambda.isFinite else { throw ValidationError("--lambda must be a finite number, got \(lambda)") }
        guard omega.isFinite, (0...1).contains(omega) else { throw ValidationError("--omega must be in [0, 1], got \(omega)") }
        guard nondiagAlpha.isFinite, (0...1).contains(nondiagAlpha) else { throw ValidationError("--nondiag-alpha must be in [0, 1], got \(nondiagAlpha)") }
        guard fisherFloor.isFinite, fisherFloor >= 0 else { throw ValidationError("--fisher-floor must be a finite number ≥ 0, got \(fisherFloor)") }
        if let weights { _ = try Self.parseWeights(weights) }
    }

    /// `--weights`: comma-separated finite numbers.
    static func parseWeights(_ text: String) throws -> [Double] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var values: [Double] = []
        for (i, part) in parts.enumerated() {
            guard let v = Double(part) else { throw ValidationError("--weights must be comma-separated numbers, got '\(text)'") }
            guard v.isFinite else { throw ValidationError("--weights must be finite numbers, got '\(part)' (weight \(i + 1))") }
            values.append(v)
        }
        return values
    }

    func run() throws {
        // The output is checked before any model, Fisher or Gram file is read.
        let out = URL(fileURLWithPath: outputPath)
        try OutputPath.check(out, as: out.pathExtension == "safetensors" ? .file : .folder)
        try global.run { console in
            var job = try configPath.map { try MergeConfig.job(fromYAML: $0, output: out) } ?? flagJob()
            job.maxShardSize = shards.limit
            let report = try job.run(observer: console.observer { i, n, r in
                String(format: "[%3d/%d] %@  %@  %.2f s", i + 1, n, r.layer, shapeText(r.shape), r.seconds ?? 0)
            })
            console.progress(String(format: "wrote %@: %@ merge of %d models, %d tensors, %@%@; %.1f s", outputPath, report.method, report.models, report.tensors,
                                    formatBytes(report.bytes), report.aimLayers > 0 ? ", AIM on \(report.aimLayers) layers" : "", report.seconds))
            try console.emitJSON(report)
        }
    }

    func flagJob() throws -> MergeJob {
        MergeJob(method: method!, models: try models.map { try Checkpoint(path: $0) },
                 base: try base.map { try Checkpoint(path: $0) }, weights: try weights.map(Self.parseWeights), normalize: !noNormalize, lambda: lambda,
                 fishers: try fisher.map { try Checkpoint(path: $0) }, fisherFloor: fisherFloor, floorAll: floorAll,
                 grams: try gram.map { try CalibrationFile(path: URL(fileURLWithPath: $0)) }, nonDiagonalAlpha: nondiagAlpha,
                 aim: try aim.map { try CalibrationFile(path: URL(fileURLWithPath: $0)) }, omega: omega,
                 dtype: dtype?.dtype, output: URL(fileURLWithPath: outputPath))
    }
}
