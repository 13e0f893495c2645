import Foundation
import LinearAlgebra
import LowRank
import WeightFiles

/// What `LoRAGAJob` reports.
public struct LoRAGAReport: Codable, Sendable {
    /// The output folder's path, as given.
    public var output: String
    /// Layers initialised.
    public var layers: Int
    /// The adapter rank r of every layer.
    public var rank: Int
    /// s = α/r (or α/√r with rsLoRA).
    public var scaling: Double
    /// Per initialised layer, in natural order: `rank` and `gradientSigma1` (JSON key `layer_reports`).
    public var details: [LayerReport]
    /// Wall-clock seconds for the whole job.
    public var seconds: Double

    enum CodingKeys: String, CodingKey { case output, layers, rank, scaling, details = "layer_reports", seconds }
}

/// LoRA-GA initialisation of a model from its averaged gradients: into the
/// output folder, a PEFT adapter (`adapter_model.safetensors`,
/// `adapter_config.json`) aligned with each selected layer's gradient, and
/// `model.safetensors`, the residual base W − s·B·A, so that the residual
/// plus the adapter equals the original model at step 0. The adapter's
/// `base_model_name_or_path` is the output folder (where its base is).
///
/// Checked before any work: every selected layer has a gradient of its
/// shape, and 2r ≤ min(out, in).
public struct LoRAGAJob {
    /// The model W whose selected layers get adapters; the residual base is written from it.
    public var model: Checkpoint
    /// The averaged gradients: for each selected layer a tensor of the same name and shape `[out, in]`.
    public var gradients: Checkpoint
    /// LoRA-GA's parameters: rank r, lora_alpha, rsLoRA, direction, scale, γ and the randomized SVD's seed.
    public var configuration: LoRAGA
    /// The layers initialised (default: `LayerSelection.default`); the others are copied to the residual base.
    public var selection: LayerSelection
    /// The output folder: the adapter files and `model.safetensors` (the residual base) are written into it.
    public var output: URL
    /// The adapter's task type (nil: from the model folder's config.json).
    public var taskType: String?
    /// The path the model was opened from, a file or a folder: the folder (a file's own folder) supplies config.json for the task type.
    public var modelPath: String

    /// A job with the given inputs (default layer selection; task type from config.json). Nothing is read until `run`.
    public init(model: Checkpoint, modelPath: String, gradients: Checkpoint, configuration: LoRAGA, selection: LayerSelection = .default,
                output: URL, taskType: String? = nil) {
        self.model = model
        self.modelPath = modelPath
        self.gradients = gradients
        self.configuration = configuration
        self.selection = selection
        self.output = output
        self.taskType = taskType
    }

    /// Checks every selected layer, then writes the residual base and the adapter, one layer in memory at a time;
    /// `observer` gets a `.layer` event per layer.
    ///
    /// - Throws: `ModelSurgeryError` — `missingTensor` or `shapeMismatch` (a gradient), `rankTooLarge` (2r > min(out, in)),
    ///   `noLayerSelected`, `nonFinite` (a weight); `LowRankError` from the initialisation (e.g. rank < 1); and
    ///   `AdapterError`, `SafetensorsError` or `FileAccessError` from reading and writing.
    public func run(observer: JobObserver = { _ in }) throws -> LoRAGAReport {
        let start = ContinuousClock.now
        let rank = configuration.rank
        for name in selection.layers(of: model) {
            guard let g = gradients[name] else { throw ModelSurgeryError.missingTensor(tensor: name, file: gradients.url.path, other: model.url.path) }
            let shape = model[name]!.shape
            guard g.shape == shape else { throw ModelSurgeryError.shapeMismatch(tensor: name, detail: "the gradient is \(g.shape), the weight is \(shape)") }
            guard 2 * rank <= shape.min()! else {
                throw ModelSurgeryError.rankTooLarge(layer: name, shape: shape, rank: rank, maximum: shape.min()! / 2,
                                                     requirement: "LoRA-GA needs 2r = \(2 * rank) ≤ min(out, in) = \(shape.min()!)")
            }
        }
        let base = AdapterBase(modelPath: modelPath, baseName: output.standardizedFileURL.path, taskType: taskType)
        let adapter = try PEFTAdapterWriter(directory: output,
                                            configuration: .init(rank: rank, alpha: configuration.alpha, useRSLoRA: configuration.useRSLoRA,
                                                                 baseModel: base.name, taskType: base.taskType),
                                            base: nil, protecting: model.inputURLs + gradients.inputURLs)
        let rewrite = ModelRewrite(model: model, output: output.appendingPathComponent("model.safetensors"), selection: selection,
                                   protecting: gradients.inputURLs, metadata: ["rankwise.command": "lora-ga"])
        let written = try rewrite.run(observer: observer) { name, w in
            let result = try configuration.initialize(weight: w, gradient: try gradients.matrix(name, as: Float.self))
            try adapter.add(module: moduleName(name), a: result.factors.a, b: result.factors.b)
            var report = LayerReport(layer: name)
            report.rank = rank
            report.gradientSigma1 = Double(result.gradientSingularValues.first ?? 0)
            return (result.residualBase, report)
        }
        try adapter.finish(metadata: ["rankwise.command": "lora-ga"])
        return LoRAGAReport(output: output.path, layers: written.layers.count, rank: rank, scaling: configuration.scaling,
                            details: written.layers, seconds: secondsSince(start))
    }
}
