import ArgumentParser
import Foundation
import WeightFiles

/// `rankwise compensate`: low-rank residual paths for a compressed model.
struct Compensate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Low-rank compensation of a compressed model: EoRA with --calib, plain SVD without.",
        discussion: "ΔW = W − Ŵ per layer; writes a PEFT adapter (lora_alpha = r) and report.json into the output folder.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The original model.") var original: String
    @Option(help: "The compressed (quantised or pruned) model.") var compressed: String
    @Option(help: "Calibration statistics (M.gram + M.tokens, or M.inputs).") var calib: String?
    @Flag(help: "Layers missing from --calib fall back to plain SVD (reported) instead of failing.") var allowMissingCalib = false
    @OptionGroup var svd: SVDOptions
    @OptionGroup var layers: LayerSelectionOptions
    @Option(help: "base_model_name_or_path in adapter_config.json (default: the --compressed model's folder, absolute).") var baseName: String?
    @Option(help: ArgumentHelp("task_type in adapter_config.json: \(AdapterBase.taskTypes.joined(separator: ", ")) (default: from the base folder's config.json architectures).", valueName: "type")) var taskType: String?
    @Option(help: "dtype of the adapter tensors: f32 (default), bf16, f16 or f64.") var dtype: String = "f32"
    @Option(name: .shortAndLong, help: "The adapter folder.") var output: String

    func validate() throws { try validateAdapterOptions(taskType: taskType, dtype: dtype) }

    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: output), as: .folder)
        let base = AdapterBase(modelPath: compressed, baseName: baseName, taskType: taskType)
        try global.run { console in
            try AdapterJob(minuend: Checkpoint(path: original), subtrahend: Checkpoint(path: compressed),
                           calibration: try calib.map { try CalibrationFile(path: URL(fileURLWithPath: $0)) },
                           allowMissingCalibration: allowMissingCalib, options: svd, selection: layers.selection,
                           output: URL(fileURLWithPath: output), baseName: base.name, dtype: try parseDType(dtype)!, taskType: base.taskType, skipUnchanged: false,
                           command: "compensate").run(console: console)
        }
    }
}

/// `rankwise extract`: a LoRA adapter from a fine-tune.
struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract a LoRA adapter from a fine-tuned model: ΔW = W_tuned − W_base.",
        discussion: "With --calib, the EoRA (activation-aware) weighting. Unchanged layers are skipped and reported.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The base model.") var base: String
    @Option(help: "The fine-tuned model.") var tuned: String
    @Option(help: "Calibration statistics (M.gram + M.tokens, or M.inputs).") var calib: String?
    @Flag(help: "Layers missing from --calib fall back to plain SVD (reported) instead of failing.") var allowMissingCalib = false
    @OptionGroup var svd: SVDOptions
    @OptionGroup var layers: LayerSelectionOptions
    @Option(help: "base_model_name_or_path in adapter_config.json (default: the --base model's folder, absolute).") var baseName: String?
    @Option(help: ArgumentHelp("task_type in adapter_config.json: \(AdapterBase.taskTypes.joined(separator: ", ")) (default: from the base folder's config.json architectures).", valueName: "type")) var taskType: String?
    @Option(help: "dtype of the adapter tensors: f32 (default), bf16, f16 or f64.") var dtype: String = "f32"
    @Option(name: .shortAndLong, help: "The adapter folder.") var output: String

    func validate() throws { try validateAdapterOptions(taskType: taskType, dtype: dtype) }

    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: output), as: .folder)
        let adapterBase = AdapterBase(modelPath: base, baseName: baseName, taskType: taskType)
        try global.run { console in
            try AdapterJob(minuend: Checkpoint(path: tuned), subtrahend: Checkpoint(path: base),
                           calibration: try calib.map { try CalibrationFile(path: URL(fileURLWithPath: $0)) },
                           allowMissingCalibration: allowMissingCalib, options: svd, selection: layers.selection,
                           output: URL(fileURLWithPath: output), baseName: adapterBase.name, dtype: try parseDType(dtype)!, taskType: adapterBase.taskType, skipUnchanged: true,
                           command: "extract").run(console: console)
        }
    }
}

/// --task-type and --dtype of the adapter commands.
func validateAdapterOptions(taskType: String?, dtype: String) throws {
    if let taskType, !AdapterBase.taskTypes.contains(taskType) {
        throw ValidationError("--task-type must be one of \(AdapterBase.taskTypes.joined(separator: ", ")), got '\(taskType)'")
    }
    guard DType(cliName: dtype) != nil else { throw ValidationError("--dtype must be f32, f16, bf16 or f64, got '\(dtype)'") }
}
