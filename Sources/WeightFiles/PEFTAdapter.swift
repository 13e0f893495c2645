import Foundation
import LinearAlgebra

/// A PEFT LoRA adapter folder: `adapter_model.safetensors` with
/// `base_model.model.M.lora_A.weight` `[r, in]` and `…lora_B.weight` `[out, r]`
/// per module M, and `adapter_config.json` (docs/formats.md). The update is
/// ΔW = s·B·A with s = lora_alpha / r (or / √r with rsLoRA).
///
/// Written streaming: `add(module:a:b:)` checks the module against the base
/// model and spools its factors; `finish()` writes both files atomically.
public final class PEFTAdapterWriter {
    /// What `adapter_config.json` says, and the dtype the factors are stored in.
    public struct Configuration: Sendable {
        /// The adapter's r (modules with another rank go to `rank_pattern`).
        public var rank: Int
        /// lora_alpha (compensation and extraction use α = r, so s = 1).
        public var alpha: Double
        /// `use_rslora`: PEFT scales by s = α/√r instead of α/r. Only recorded: the factors are written as given.
        public var useRSLoRA: Bool
        /// `base_model_name_or_path`.
        public var baseModel: String
        /// `task_type` (`CAUSAL_LM`, `SEQ_CLS`, …); written as JSON null when nil.
        public var taskType: String?
        /// `init_lora_weights` (PEFT's default is true).
        public var initLoRAWeights: String
        /// Stored dtype of the factors (default F32).
        public var dtype: DType

        /// A configuration; the defaults are PEFT's (no rsLoRA, no task type, `init_lora_weights` true), with F32
        /// factors. `initLoRAWeights` "true" or "false" is written as a JSON boolean, any other value as a string.
        public init(rank: Int, alpha: Double, useRSLoRA: Bool = false, baseModel: String, taskType: String? = nil,
                    initLoRAWeights: String = "true", dtype: DType = .f32) {
            self.rank = rank
            self.alpha = alpha
            self.useRSLoRA = useRSLoRA
            self.baseModel = baseModel
            self.taskType = taskType
            self.initLoRAWeights = initLoRAWeights
            self.dtype = dtype
        }
    }

    /// The adapter folder written; created if missing (and removed again by `cancel()` when empty).
    public let directory: URL
    /// The configuration given at init; its `rank` and `alpha` are the adapter-wide r and lora_alpha.
    public let configuration: Configuration
    private let base: Checkpoint?
    private let tensors: SafetensorsWriter
    private var modules: [(name: String, rank: Int)] = []
    private let createdDirectory: Bool
    private var finished = false

    /// Starts an adapter in `directory` (created when missing; an existing
    /// folder must be writable and a file there is refused).
    ///
    /// - Parameters:
    ///   - directory: the adapter folder.
    ///   - configuration: what `adapter_config.json` records.
    ///   - base: when given, every module must exist in it as `M.weight`
    ///     with shape [B.rows, A.columns].
    ///   - inputs: files this run reads; writing over any of them is refused.
    public init(directory: URL, configuration: Configuration, base: Checkpoint?, protecting inputs: [URL] = []) throws {
        try OutputPath.check(directory, as: .folder)
        for input in inputs where sameFile(input, directory) { throw SafetensorsError(file: directory.path, rule: .wouldOverwriteInput) }
        var isFolder: ObjCBool = false
        createdDirectory = !FileManager.default.fileExists(atPath: directory.path, isDirectory: &isFolder)
        if createdDirectory { TemporaryFiles.register(folder: directory.path) }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            TemporaryFiles.unregister(folder: directory.path)
            throw FileAccessError(path: directory.path, reason: "cannot create the folder: \((error as NSError).localizedDescription)")
        }
        self.directory = directory
        self.configuration = configuration
        self.base = base
        tensors = try SafetensorsWriter(url: directory.appendingPathComponent("adapter_model.safetensors"), protecting: inputs)
    }

    /// Adds module M (the path without `.weight`) with A `[r, in]` and B `[out, r]`.
    public func add<T: Scalar>(module: String, a: Matrix<T>, b: Matrix<T>) throws {
        guard a.rows == b.columns else {
            throw AdapterError.shapeMismatch(module: module, detail: "A is \(a.rows)×\(a.columns) but B is \(b.rows)×\(b.columns)")
        }
        if let base {
            guard let info = base["\(module).weight"] else { throw AdapterError.moduleNotInBase(module: module, base: base.url.path) }
            guard info.shape == [b.rows, a.columns] else {
                throw AdapterError.shapeMismatch(module: module, detail: "the base weight is \(info.shape.map(String.init).joined(separator: "×")), the adapter needs \(b.rows)×\(a.columns)")
            }
        }
        try tensors.add(name: "base_model.model.\(module).lora_A.weight", matrix: a, dtype: configuration.dtype)
        try tensors.add(name: "base_model.model.\(module).lora_B.weight", matrix: b, dtype: configuration.dtype)
        modules.append((module, a.rows))
    }

    /// The number of modules added so far.
    public var moduleCount: Int { modules.count }

    /// Writes `adapter_config.json` and `adapter_model.safetensors`.
    public func finish(metadata: [String: String] = [:]) throws {
        let c = configuration
        var config: [String: Any] = [
            "peft_type": "LORA",
            "r": c.rank,
            "lora_alpha": c.alpha == c.alpha.rounded() ? Int(c.alpha) as Any : c.alpha as Any,
            "target_modules": modules.map(\.name).sorted(),
            "bias": "none",
            "lora_dropout": 0.0,
            "fan_in_fan_out": false,
            "use_rslora": c.useRSLoRA,
            "init_lora_weights": c.initLoRAWeights == "true" ? true as Any : (c.initLoRAWeights == "false" ? false as Any : c.initLoRAWeights as Any),
            "task_type": c.taskType as Any? ?? NSNull(),
            "base_model_name_or_path": c.baseModel,
            "inference_mode": true,
            "modules_to_save": NSNull(),
        ]
        let others = modules.filter { $0.rank != c.rank }
        config["rank_pattern"] = Dictionary(uniqueKeysWithValues: others.map { ($0.name, $0.rank) })
        // Keep s = α/r per module for compensation adapters (α = r): a module of rank r′ gets α′ = r′·α/r.
        config["alpha_pattern"] = Dictionary(uniqueKeysWithValues: others.map { ($0.name, Double($0.rank) * c.alpha / Double(c.rank)) })
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try tensors.finish(metadata: metadata)
        let file = try AtomicFile(destination: directory.appendingPathComponent("adapter_config.json"))
        try file.write(Array(json) + [0x0A])
        try file.commit()
        finished = true
        if createdDirectory { TemporaryFiles.unregister(folder: directory.path) }
    }

    /// Abandons the adapter: temporary files go, and so does the folder if
    /// this writer created it and it is empty.
    public func cancel() {
        guard !finished else { return }
        finished = true
        tensors.cancel()
        if createdDirectory {
            rmdir(directory.path)   // only when empty
            TemporaryFiles.unregister(folder: directory.path)
        }
    }

    deinit { cancel() }
}

/// A PEFT adapter read back (for checks and tests).
public struct PEFTAdapter {
    /// `adapter_config.json` as a JSON object (values as `JSONSerialization` gives them: NSNumber, String, arrays,
    /// dictionaries, NSNull).
    public var config: [String: Any]
    /// `adapter_model.safetensors`, mapped and validated.
    public var file: SafetensorsFile

    /// Reads the adapter in `directory`. Throws `AdapterError.badConfig` when `adapter_config.json` is missing,
    /// over 16 MiB or not a JSON object, and `SafetensorsError` for `adapter_model.safetensors`.
    public init(directory: URL) throws {
        let configURL = directory.appendingPathComponent("adapter_config.json")
        guard let data = try? readRegularFile(configURL, limit: 16 << 20),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw AdapterError.badConfig(configURL.path)
        }
        config = json
        file = try SafetensorsFile(contentsOf: directory.appendingPathComponent("adapter_model.safetensors"))
    }

    /// Module paths in the adapter.
    public var modules: [String] {
        file.tensorNames.compactMap { name in
            guard name.hasPrefix("base_model.model."), name.hasSuffix(".lora_A.weight") else { return nil }
            return String(name.dropFirst("base_model.model.".count).dropLast(".lora_A.weight".count))
        }
    }

    /// Module M's factors converted to `T`: A `[r, in]` and B `[out, r]`, so that ΔW = s·B·A. Throws
    /// `SafetensorsError` (`noSuchTensor` when the adapter has no such module).
    public func factors<T: Scalar>(_ module: String, as type: T.Type = T.self) throws -> (a: Matrix<T>, b: Matrix<T>) {
        (try file.matrix("base_model.model.\(module).lora_A.weight"), try file.matrix("base_model.model.\(module).lora_B.weight"))
    }
}

/// An adapter that does not fit its base model, or an adapter folder that cannot be read.
public enum AdapterError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The base checkpoint (path) has no tensor `module.weight`.
    case moduleNotInBase(module: String, base: String)
    /// A's rows differ from B's columns, or the base weight is not `[B.rows, A.columns]`; `detail` gives the shapes.
    case shapeMismatch(module: String, detail: String)
    /// `adapter_config.json` (path) is missing, unreadable or not a JSON object.
    case badConfig(String)

    public var description: String {
        switch self {
        case .moduleNotInBase(let m, let base): return "adapter module '\(m)': the base model \(base) has no tensor '\(m).weight'"
        case .shapeMismatch(let m, let detail): return "adapter module '\(m)': \(detail)"
        case .badConfig(let path): return "\(path): missing or not a JSON object"
        }
    }
}
