import ArgumentParser
import Foundation
import ModelSurgery
import WeightFiles

/// The flags `compensate` and `extract` share besides the two models.
struct AdapterOptions: ParsableArguments {
    @Option(help: "Calibration statistics (M.gram + M.tokens, or M.inputs).") var calib: String?
    @Flag(help: "Layers missing from --calib fall back to plain SVD (reported) instead of failing.") var allowMissingCalib = false
    @OptionGroup var svd: SVDOptions
    @OptionGroup var layers: LayerSelectionOptions
    @Option(help: "base_model_name_or_path in adapter_config.json (default: the base model's folder, absolute).") var baseName: String?
    @Option(help: ArgumentHelp("task_type in adapter_config.json: \(AdapterBase.taskTypes.joined(separator: ", ")) (default: from the base folder's config.json architectures).",
                               valueName: "type")) var taskType: String?
    @Option(help: "dtype of the adapter tensors: f32 (default), bf16, f16 or f64.") var dtype = DTypeArgument(.f32)
    @Option(name: .shortAndLong, help: "The adapter folder.") var output: String

    func validate() throws {
        if let taskType, !AdapterBase.taskTypes.contains(taskType) {
            throw ValidationError("--task-type must be one of \(AdapterBase.taskTypes.joined(separator: ", ")), got '\(taskType)'")
        }
    }

    /// Runs the job for ΔW = minuend − subtrahend and prints its report.
    func run(minuend: String, subtrahend: String, skipUnchanged: Bool, command: String, console: Console) throws {
        let job = CompensationJob(
            minuend: try Checkpoint(path: minuend), subtrahend: try Checkpoint(path: subtrahend),
            calibration: try calib.map { try CalibrationFile(path: URL(fileURLWithPath: $0)) }, allowMissingCalibration: allowMissingCalib,
            rank: svd.rank, method: svd.method, whitening: svd.whitening, selection: try layers.selection(), output: URL(fileURLWithPath: output),
            base: AdapterBase(modelPath: subtrahend, baseName: baseName, taskType: taskType), dtype: dtype.dtype,
            skipUnchanged: skipUnchanged, command: command)
        let report = try job.run(observer: console.observer { i, n, r in
            if let skipped = r.skipped { return String(format: "[%3d/%d] %@  skipped: %@", i + 1, n, r.layer, skipped) }
            return String(format: "[%3d/%d] %@  %@  rank %d  err %.3f -> %.3f  %@  %.1f s", i + 1, n, r.layer, shapeText(r.shape), r.rank ?? 0,
                          r.errorBefore ?? 0, r.errorAfter ?? 0, r.path ?? "", r.seconds ?? 0)
        })
        let size = (try? FileManager.default.attributesOfItem(atPath: job.output.appendingPathComponent("adapter_model.safetensors").path)[.size] as? Int) ?? 0
        console.progress(String(format: "wrote %@: %d modules, rank %d, %@, report.json; %.1f s", output, report.written, report.rank, formatBytes(size), report.seconds))
        try console.emitJSON(report)
    }
}

/// `compensate` and `extract`: the same job on ΔW = minuend − subtrahend,
/// the subtrahend being the model the adapter attaches to.
protocol AdapterCommand: ParsableCommand {
    var global: GlobalOptions { get }
    var adapter: AdapterOptions { get }
    var minuend: String { get }
    var subtrahend: String { get }
    /// Extraction skips layers whose ΔW is zero; compensation writes them all.
    static var skipsUnchanged: Bool { get }
    /// `compensate` or `extract`, recorded in the report and the adapter's metadata.
    static var jobName: String { get }
}

extension AdapterCommand {
    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: adapter.output), as: .folder)
        try global.run { console in
            try adapter.run(minuend: minuend, subtrahend: subtrahend, skipUnchanged: Self.skipsUnchanged,
                            command: Self.jobName, console: console)
        }
    }
}

/// `rankwise compensate`: low-rank residual paths for a compressed model.
struct Compensate: AdapterCommand {
    static let configuration = CommandConfiguration(
        abstract: "Low-rank compensation of a compressed model: EoRA with --calib, plain SVD without.",
        discussion: "ΔW = W − Ŵ per layer; writes a PEFT adapter (lora_alpha = r) and report.json into the output folder.")
    static let skipsUnchanged = false
    static let jobName = "compensate"

    @OptionGroup var global: GlobalOptions
    @Option(help: "The original model.") var original: String
    @Option(help: "The compressed (quantised or pruned) model: the adapter's base.") var compressed: String
    @OptionGroup var adapter: AdapterOptions

    var minuend: String { original }
    var subtrahend: String { compressed }
}

/// `rankwise extract`: a LoRA adapter from a fine-tune.
struct Extract: AdapterCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract a LoRA adapter from a fine-tuned model: ΔW = W_tuned − W_base.",
        discussion: "With --calib, the EoRA (activation-aware) weighting. Unchanged layers are skipped and reported.")
    static let skipsUnchanged = true
    static let jobName = "extract"

    @OptionGroup var global: GlobalOptions
    @Option(help: "The base model: the adapter's base.") var base: String
    @Option(help: "The fine-tuned model.") var tuned: String
    @OptionGroup var adapter: AdapterOptions

    var minuend: String { tuned }
    var subtrahend: String { base }
}
