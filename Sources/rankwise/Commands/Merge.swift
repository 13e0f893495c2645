import ArgumentParser
import Foundation
import WeightFiles
import Yams

/// `rankwise merge`: linear, task arithmetic, Fisher, RegMean, with optional
/// AIM relaxation; from flags or a mergekit-style YAML config.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge models: linear, task-arithmetic, fisher or regmean, optionally relaxed with AIM.",
        discussion: """
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
    @Argument(help: "The models to merge.") var models: [String] = []
    @Option(help: "linear, task-arithmetic, fisher or regmean.") var method: String?
    @Option(help: "The base model (task arithmetic, AIM).") var base: String?
    @Option(help: "Comma-separated weight per model (default: equal).") var weights: String?
    @Option(parsing: .upToNextOption, help: "Fisher files, one per model.") var fisher: [String] = []
    @Option(parsing: .upToNextOption, help: "Gram (calibration) files, one per model (regmean).") var gram: [String] = []
    @Option(help: "Floor on the target model's Fisher.") var fisherFloor: Double = 1e-6
    @Flag(help: "Apply the Fisher floor to every model.") var floorAll = false
    @Flag(help: "Do not normalise (weights, Fisher norms).") var noNormalize = false
    @Option(help: "RegMean off-diagonal scale α.") var nondiagAlpha: Double = 1
    @Option(help: "Task arithmetic scale λ.") var lambda: Double = 1
    @Option(help: "Calibration of the base model (abs_mean or inputs): AIM relaxation.") var aim: String?
    @Option(help: "AIM ω in [0, 1].") var omega: Double = 0.4
    @Option(help: "A mergekit-style YAML config.") var config: String?
    @Option(help: "dtype of written tensors (default: the input's).") var dtype: String?
    @Option(name: .shortAndLong, help: "The merged .safetensors file.") var output: String
    @OptionGroup var shards: ShardOption

    func validate() throws {
        if config == nil {
            guard let method, MergeJob.Method(rawValue: method) != nil else {
                throw ValidationError("--method must be linear, task-arithmetic, fisher or regmean (or give --config)")
            }
        } else if method != nil || !models.isEmpty {
            throw ValidationError("give either --config or --method with models, not both")
        }
        guard (0...1).contains(omega) else { throw ValidationError("--omega must be in [0, 1], got \(omega)") }
        guard (0...1).contains(nondiagAlpha) else { throw ValidationError("--nondiag-alpha must be in [0, 1], got \(nondiagAlpha)") }
        guard fisherFloor >= 0 else { throw ValidationError("--fisher-floor must be ≥ 0") }
    }

    func run() throws {
        try global.run { console in
            var job = try config.map { try Self.job(fromYAML: $0, output: output) } ?? flagJob()
            job.maxShardSize = shards.limit
            let summary = try job.run(console: console)
            try console.emitJSON(summary)
        }
    }

    func flagJob() throws -> MergeJob {
        let parsedWeights = try weights.map { text -> [Double] in
            let values = text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count == text.split(separator: ",").count else { throw CLIError("--weights must be comma-separated numbers, got '\(text)'") }
            return values
        }
        return MergeJob(method: MergeJob.Method(rawValue: method!)!, models: try models.map { try Checkpoint(path: $0) },
                        base: try base.map { try Checkpoint(path: $0) }, weights: parsedWeights, normalize: !noNormalize, lambda: lambda,
                        fishers: try fisher.map { try Checkpoint(path: $0) }, fisherFloor: fisherFloor, floorAll: floorAll,
                        grams: try gram.map { try CalibrationFile(path: URL(fileURLWithPath: $0)) }, nonDiagonalAlpha: nondiagAlpha,
                        aim: try aim.map { try CalibrationFile(path: URL(fileURLWithPath: $0)) }, omega: omega,
                        dtype: try parseDType(dtype), output: URL(fileURLWithPath: output))
    }

    /// Reads mergekit's shape: merge_method, models [{model, parameters}], base_model, parameters, dtype.
    static func job(fromYAML path: String, output: String) throws -> MergeJob {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("\(path): cannot read the config") }
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch { throw CLIError("\(path): not valid YAML: \(error)") }
        guard let root = loaded as? [String: Any] else { throw CLIError("\(path): the config must be a YAML mapping") }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : folder.appendingPathComponent(p).path }
        guard let methodName = root["merge_method"] as? String else { throw CLIError("\(path): missing merge_method") }
        let aliases = ["task_arithmetic": "task-arithmetic", "linear": "linear", "fisher": "fisher", "regmean": "regmean"]
        guard let method = MergeJob.Method(rawValue: aliases[methodName] ?? methodName) else {
            throw CLIError("\(path): merge_method must be linear, task_arithmetic, fisher or regmean, got '\(methodName)'")
        }
        guard let entries = root["models"] as? [[String: Any]], !entries.isEmpty else { throw CLIError("\(path): 'models' must be a list of {model, parameters}") }
        var models: [Checkpoint] = [], weights: [Double] = [], fishers: [Checkpoint] = [], grams: [CalibrationFile] = []
        for (i, entry) in entries.enumerated() {
            guard let model = entry["model"] as? String else { throw CLIError("\(path): models[\(i)] has no 'model'") }
            models.append(try Checkpoint(path: resolve(model)))
            let parameters = entry["parameters"] as? [String: Any] ?? [:]
            weights.append(number(parameters["weight"]) ?? 1)
            if let f = parameters["fisher"] as? String { fishers.append(try Checkpoint(path: resolve(f))) }
            if let g = parameters["gram"] as? String { grams.append(try CalibrationFile(path: URL(fileURLWithPath: resolve(g)))) }
        }
        let global = root["parameters"] as? [String: Any] ?? [:]
        let dtypeName = root["dtype"] as? String
        let dtype: DType? = try dtypeName.map { name in
            guard let d = DType(cliName: name) else { throw CLIError("\(path): dtype must be float32, float16, bfloat16 or float64, got '\(name)'") }
            return d
        }
        return MergeJob(method: method, models: models, base: try (root["base_model"] as? String).map { try Checkpoint(path: resolve($0)) },
                        weights: weights, normalize: global["normalize"] as? Bool ?? true, lambda: number(global["lambda"]) ?? 1,
                        fishers: fishers, fisherFloor: number(global["fisher_floor"]) ?? 1e-6, floorAll: global["floor_all"] as? Bool ?? false,
                        grams: grams, nonDiagonalAlpha: number(global["nondiag_alpha"]) ?? 1,
                        aim: try (global["aim"] as? String).map { try CalibrationFile(path: URL(fileURLWithPath: resolve($0))) },
                        omega: number(global["omega"]) ?? 0.4, dtype: dtype, output: URL(fileURLWithPath: output))
    }

    static func number(_ value: Any?) -> Double? {
        if let d = value as? Double { return d }
        if let i = value as? Int { return Double(i) }
        if let s = value as? String { return Double(s) }
        return nil
    }
}
