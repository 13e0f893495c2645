import ArgumentParser
import Foundation
import LowRank
import ModelSurgery
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
    @Option(help: "ArB2r, A2rBr or ArBr.") var direction: LoRAGA.Direction = .ArB2r
    @Option(help: "stable, gd, unit or weight-svd.") var scale: LoRAGA.Scale = .stable
    @Option(parsing: .unconditional, help: "γ of the stable scale.") var gamma: Double = 16
    @Option(parsing: .unconditional, help: "Seed of the randomized SVD.") var seed: UInt64 = 0
    @Option(help: ArgumentHelp("task_type in adapter_config.json (default: from the model folder's config.json architectures).", valueName: "type")) var taskType: String?
    @OptionGroup var layers: LayerSelectionOptions
    @Option(name: .shortAndLong, help: "The output folder.") var output: String

    func validate() throws {
        guard (1...SVDOptions.maximumRank).contains(rank) else { throw ValidationError("--rank must be between 1 and \(SVDOptions.maximumRank), got \(rank)") }
        guard alpha > 0, alpha.isFinite else { throw ValidationError("--alpha must be a positive finite number, got \(alpha)") }
        guard gamma > 0, gamma.isFinite else { throw ValidationError("--gamma must be a positive finite number, got \(gamma)") }
        if let taskType, !AdapterBase.taskTypes.contains(taskType) {
            throw ValidationError("--task-type must be one of \(AdapterBase.taskTypes.joined(separator: ", ")), got '\(taskType)'")
        }
    }

    func run() throws {
        let folder = URL(fileURLWithPath: output)
        try OutputPath.check(folder, as: .folder)
        let config = LoRAGA(rank: rank, alpha: alpha, useRSLoRA: rslora, direction: direction, scale: scale, gamma: gamma, seed: seed)
        try global.run { console in
            let job = LoRAGAJob(model: try Checkpoint(path: model), modelPath: model, gradients: try Checkpoint(path: gradients), configuration: config,
                                selection: try layers.selection(), output: folder, taskType: taskType)
            let report = try job.run(observer: console.observer { i, n, r in
                String(format: "[%3d/%d] %@  %@  rank %d  σ₁(G) %.3g  %.1f s", i + 1, n, r.layer, shapeText(r.shape), r.rank ?? 0,
                       r.gradientSigma1 ?? 0, r.seconds ?? 0)
            })
            console.progress(String(format: "wrote %@: adapter (%d modules, r = %d, s = %.4g) and residual base model.safetensors; %.1f s",
                                    output, report.layers, rank, report.scaling, report.seconds))
            try console.emitJSON(report)
        }
    }
}
