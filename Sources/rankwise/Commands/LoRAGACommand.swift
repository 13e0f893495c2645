import ArgumentParser
import Foundation
import LinearAlgebra
import LowRank
import WeightFiles

/// `rankwise lora-ga`: gradient-aligned LoRA initialisation with the residual base.
struct LoRAGACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora-ga",
        abstract: "LoRA-GA initialisation: an adapter aligned with the gradients, and the residual base W − s·BA.",
        discussion: "Writes OUT_DIR/adapter_model.safetensors, adapter_config.json and model.safetensors, so that base + adapter equals the original model at step 0.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The model.") var model: String
    @Option(help: "Averaged gradients (M.weight per layer).") var gradients: String
    @Option(parsing: .unconditional, help: "Adapter rank r (2r at most min(out, in) of every selected layer).") var rank = 8
    @Option(parsing: .unconditional, help: "lora_alpha.") var alpha: Double = 16
    @Flag(help: "rsLoRA scaling s = α/√r.") var rslora = false
    @Option(help: "ArB2r, A2rBr or ArBr.") var direction = "ArB2r"
    @Option(help: "stable, gd, unit or weight-svd.") var scale = "stable"
    @Option(parsing: .unconditional, help: "γ of the stable scale.") var gamma: Double = 16
    @Option(parsing: .unconditional, help: "Seed of the randomized SVD.") var seed: UInt64 = 0
    @Option(help: ArgumentHelp("task_type in adapter_config.json (default: from the model folder's config.json architectures).", valueName: "type")) var taskType: String?
    @OptionGroup var layers: LayerSelectionOptions
    @Option(name: .shortAndLong, help: "The output folder.") var output: String

    func validate() throws {
        guard (1...SVDOptions.maximumRank).contains(rank) else { throw ValidationError("--rank must be between 1 and \(SVDOptions.maximumRank), got \(rank)") }
        guard LoRAGA.Direction(rawValue: direction) != nil else { throw ValidationError("--direction must be ArB2r, A2rBr or ArBr, got '\(direction)'") }
        guard LoRAGA.Scale(rawValue: scale) != nil else { throw ValidationError("--scale must be stable, gd, unit or weight-svd, got '\(scale)'") }
        guard alpha > 0, alpha.isFinite else { throw ValidationError("--alpha must be a positive finite number, got \(alpha)") }
        guard gamma > 0, gamma.isFinite else { throw ValidationError("--gamma must be a positive finite number, got \(gamma)") }
        try validateAdapterOptions(taskType: taskType, dtype: "f32")
    }

    func run() throws {
        let config = LoRAGA(rank: rank, alpha: alpha, useRSLoRA: rslora, direction: LoRAGA.Direction(rawValue: direction)!,
                            scale: LoRAGA.Scale(rawValue: scale)!, gamma: gamma, seed: seed)
        let folder = URL(fileURLWithPath: output)
        try OutputPath.check(folder, as: .folder)
        // The adapter applies to the residual base written beside it, not to the original model.
        let adapterBase = AdapterBase(modelPath: model, baseName: folder.standardizedFileURL.path, taskType: taskType)
        try global.run { console in
            let start = ContinuousClock.now
            let base = try Checkpoint(path: model), grads = try Checkpoint(path: gradients)
            let selected = base.tensorNames.filter { layers.selection.selects(name: $0, isMatrix: base[$0]!.isMatrix) }
            for name in selected {
                guard let g = grads[name] else { throw CLIError("\(gradients) has no gradient '\(name)' for a selected layer (select fewer with --include/--exclude)") }
                guard g.shape == base[name]!.shape else { throw CLIError("gradient '\(name)' is \(g.shape), the weight is \(base[name]!.shape)") }
                let s = base[name]!.shape
                guard 2 * rank <= min(s[0], s[1]) else {
                    throw CLIError("layer '\(name)' (\(s[0])x\(s[1])): LoRA-GA needs 2r = \(2 * rank) ≤ min(out, in) = \(min(s[0], s[1])); lower --rank or --exclude it")
                }
            }
            let adapter = try PEFTAdapterWriter(directory: folder,
                                                configuration: .init(rank: rank, alpha: alpha, useRSLoRA: rslora, baseModel: adapterBase.name, taskType: adapterBase.taskType),
                                                base: nil, protecting: base.inputURLs + grads.inputURLs)
            var factors: [String: LowRankFactors<Float>] = [:]
            let count = try rewriteModel(base, to: folder.appendingPathComponent("model.safetensors"), selection: layers.selection, dtype: nil,
                                         protecting: grads.inputURLs, console: console, metadata: ["rankwise.command": "lora-ga"]) { name, w in
                let result = try config.initialize(weight: w, gradient: try grads.matrix(name, as: Float.self))
                factors[name] = result.factors
                try adapter.add(module: moduleName(name), a: result.factors.a, b: result.factors.b)
                return (result.residualBase, String(format: "rank %d  σ₁(G) %.3g", rank, Double(result.gradientSingularValues.first ?? 0)))
            }
            try adapter.finish(metadata: ["rankwise.command": "lora-ga"])
            console.progress(String(format: "wrote %@: adapter (%d modules, r = %d, s = %.4g) and residual base model.safetensors; %.1f s",
                                    output, count, rank, config.scaling, secondsSince(start)))
            try console.emitJSON(["output": output, "layers": count, "rank": rank, "scaling": config.scaling])
        }
    }
}
