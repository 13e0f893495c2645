import Foundation
import LinearAlgebra
import LowRank
import WeightFiles

/// The per-layer loop behind `compensate` and `extract`: ΔW = minuend − subtrahend
/// for each selected layer, EoRA with calibration data or plain SVD without,
/// written as a PEFT adapter (lora_alpha = r) plus `report.json`.
struct AdapterJob {
    var minuend: Checkpoint          // W (compensate) or W_tuned (extract)
    var subtrahend: Checkpoint       // Ŵ (compensate) or W_base (extract)
    var calibration: CalibrationFile?
    var allowMissingCalibration: Bool
    var options: SVDOptions
    var selection: LayerSelection
    var output: URL
    var baseName: String
    var dtype: DType = .f32
    var taskType: String?
    var skipUnchanged: Bool
    var command: String

    func run(console: Console) throws {
        let start = ContinuousClock.now
        let layers = minuend.tensorNames.filter { name in selection.selects(name: name, isMatrix: minuend[name]!.isMatrix) }
        guard !layers.isEmpty else { throw CLIError("no layer of \(minuend.url.path) matches the selection (2-D floating *.weight tensors, minus --exclude)") }
        var withoutTokens = 0
        for name in layers {
            let shape = minuend[name]!.shape
            guard let other = subtrahend[name] else { throw CLIError("\(subtrahend.url.path) has no tensor '\(name)' (present in \(minuend.url.path))") }
            guard other.shape == shape else {
                throw CLIError("tensor '\(name)': shape \(shape) in \(minuend.url.path) but \(other.shape) in \(subtrahend.url.path)")
            }
            guard options.rank <= shape.min()! else {
                throw CLIError("layer '\(name)' (\(shape[0])x\(shape[1])) allows a rank of at most \(shape.min()!), --rank is \(options.rank); lower --rank or --exclude the layer")
            }
            if let calibration {
                if !calibration.contains(layer: module(name)) {
                    if !allowMissingCalibration { throw CalibrationError.missingLayer(layer: module(name), file: calibration.checkpoint.url.path) }
                } else if calibration.checkpoint["\(module(name)).gram"] != nil, try calibration.tokens(layer: module(name)) == nil {
                    withoutTokens += 1
                }
            }
        }
        if withoutTokens > 0 {
            console.warning("\(calibration!.checkpoint.url.path): \(withoutTokens) layer(s) have M.gram without M.tokens; EoRA does not depend on the Gram's scale, "
                            + "so they are used as they are (the file format asks for M.tokens)")
        }
        let inputs = minuend.inputURLs + subtrahend.inputURLs + (calibration?.checkpoint.inputURLs ?? [])
        let writer = try PEFTAdapterWriter(
            directory: output,
            configuration: .init(rank: options.rank, alpha: Double(options.rank), baseModel: baseName, taskType: taskType, dtype: dtype),
            base: subtrahend, protecting: inputs)
        var report: [[String: Any]] = []
        var written = 0
        for (i, name) in layers.enumerated() {
            let layerStart = ContinuousClock.now
            let w: Matrix<Float> = try minuend.matrix(name)
            let delta = w - (try subtrahend.matrix(name, as: Float.self))
            guard delta.isFinite else { throw CLIError("tensor '\(name)': the weight difference contains NaN or infinity") }
            let deltaNorm = squaredNorm(delta)
            if skipUnchanged && deltaNorm == 0 {
                report.append(["layer": module(name), "skipped": "unchanged (ΔW = 0)"])
                console.step(i, of: layers.count, name: name, String(format: "[%3d/%d] %@  skipped: ΔW = 0", i + 1, layers.count, name))
                continue
            }
            let covariance = try calibration?.covariance(layer: module(name))
            let result: Compensation<Float>
            var before: Double, after: Double, metric: String
            if let covariance {
                var eora = options.eora
                // Rounding of the stored Gram may give slightly negative eigenvalues; a clearly negative one is not a Gram.
                let gramDType = calibration!.checkpoint["\(module(name)).gram"]?.dtype ?? .f64
                eora.indefiniteTolerance = Swift.min(0.01, 8 * Double(covariance.gram.rows).squareRoot() * gramDType.roundingUnit)
                do {
                    result = try eora.compensate(delta: delta, covariance: covariance.gram)
                } catch let error as LowRankError {
                    throw CLIError("layer '\(module(name))' in \(calibration!.checkpoint.url.path): \(error)")
                }
                let c = covariance.gram.converted(to: Float.self)
                let outputEnergy = LowRankMetrics.activationEnergy(w, covariance: c)
                before = outputEnergy > 0 ? (result.deltaEnergy / outputEnergy).squareRoot() : 0
                after = outputEnergy > 0 ? (result.residualEnergy / outputEnergy).squareRoot() : 0
                metric = "activation"
            } else {
                result = try SVDCompensation(rank: options.rank, method: options.method).compensate(delta: delta)
                let weightEnergy = squaredNorm(w)
                before = weightEnergy > 0 ? (result.deltaEnergy / weightEnergy).squareRoot() : 0
                after = weightEnergy > 0 ? (result.residualEnergy / weightEnergy).squareRoot() : 0
                metric = "frobenius"
            }
            try writer.add(module: module(name), a: result.factors.a, b: result.factors.b)
            written += 1
            let seconds = secondsSince(layerStart)
            var notes = result.notes
            if calibration != nil && covariance == nil { notes.append("no calibration statistics for this layer: plain SVD (--allow-missing-calib)") }
            for note in notes { console.detail("    \(name): \(note)") }
            report.append(["layer": module(name), "shape": [w.rows, w.columns], "rank": result.factors.rank, "path": result.path.rawValue,
                           "metric": metric, "error_before": before, "error_after": after,
                           "relative_error": result.relativeError, "seconds": seconds, "notes": notes])
            console.step(i, of: layers.count, name: name,
                         String(format: "[%3d/%d] %@  %dx%d  rank %d  err %.3f -> %.3f  %@  %.1f s", i + 1, layers.count, name,
                                w.rows, w.columns, result.factors.rank, before, after, result.path.rawValue, seconds))
        }
        guard written > 0 else { throw CLIError("every selected layer is unchanged (ΔW = 0): no adapter written") }
        let summary: [String: Any] = [
            "command": command, "output": output.path, "rank": options.rank, "layers": report, "written": written,
            "svd": options.svd, "whitening": calibration == nil ? "none" : options.whitening,
            "seconds": secondsSince(start),
        ]
        let reportURL = output.appendingPathComponent("report.json")
        try writeJSON(summary, to: reportURL)
        do { try writer.finish(metadata: ["rankwise.command": command]) } catch {
            try? FileManager.default.removeItem(at: reportURL)
            throw error
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: output.appendingPathComponent("adapter_model.safetensors").path)[.size] as? Int) ?? 0
        console.progress(String(format: "wrote %@: %d modules, rank %d, %@, report.json; %.1f s", output.path, written, options.rank, formatBytes(size), secondsSince(start)))
        try console.emitJSON(summary)
    }

    func module(_ tensor: String) -> String { moduleName(tensor) }
}

/// The module a weight belongs to: the tensor name without `.weight` (a name
/// without that suffix is its own module).
func moduleName(_ tensor: String) -> String { tensor.hasSuffix(".weight") ? String(tensor.dropLast(".weight".count)) : tensor }

/// ‖M‖²_F accumulated in Double.
func squaredNorm(_ m: Matrix<Float>) -> Double {
    m.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) * Double($1) } }
}

/// A pretty-printed JSON file written atomically (temporary name, then rename).
func writeJSON(_ object: [String: Any], to url: URL) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    try writeFileAtomically(data + Data([0x0A]), to: url)
}

/// A one-line error for the CLI's own checks.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What an adapter's config says of its base model (spec/cli.md,
/// "Additions"): `base_model_name_or_path` is `--base-name`, else the base
/// model's folder as an absolute path; `task_type` is `--task-type`, else
/// derived from the folder's config.json `architectures` (nil when unknown).
struct AdapterBase {
    var name: String
    var taskType: String?

    static let taskTypes = ["CAUSAL_LM", "SEQ_CLS", "SEQ_2_SEQ_LM", "TOKEN_CLS", "QUESTION_ANS", "FEATURE_EXTRACTION"]

    init(modelPath: String, baseName: String?, taskType: String?) {
        var isFolder: ObjCBool = false
        let url = URL(fileURLWithPath: modelPath).standardizedFileURL
        let folder = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
            ? url : url.deletingLastPathComponent()
        name = baseName ?? folder.resolvingSymlinksInPath().path
        self.taskType = taskType ?? Self.taskType(configIn: folder)
    }

    /// PEFT's task type for the first of config.json's `architectures`.
    static func taskType(configIn folder: URL) -> String? {
        guard let data = try? readRegularFile(folder.appendingPathComponent("config.json"), limit: 16 << 20),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let architecture = (json["architectures"] as? [String])?.first else { return nil }
        let suffixes = [("ForCausalLM", "CAUSAL_LM"), ("LMHeadModel", "CAUSAL_LM"), ("ForSequenceClassification", "SEQ_CLS"),
                        ("ForTokenClassification", "TOKEN_CLS"), ("ForQuestionAnswering", "QUESTION_ANS"),
                        ("ForConditionalGeneration", "SEQ_2_SEQ_LM")]
        return suffixes.first { architecture.hasSuffix($0.0) }?.1
    }
}
