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
    var skipUnchanged: Bool
    var command: String

    func run(console: Console) throws {
        let start = ContinuousClock.now
        let layers = minuend.tensorNames.filter { name in selection.selects(name: name, isMatrix: minuend[name]!.isMatrix) }
        guard !layers.isEmpty else { throw CLIError("no layer of \(minuend.url.path) matches the selection (2-D floating *.weight tensors, minus --exclude)") }
        for name in layers {
            guard let other = subtrahend[name] else { throw CLIError("\(subtrahend.url.path) has no tensor '\(name)' (present in \(minuend.url.path))") }
            guard other.shape == minuend[name]!.shape else {
                throw CLIError("tensor '\(name)': shape \(minuend[name]!.shape) in \(minuend.url.path) but \(other.shape) in \(subtrahend.url.path)")
            }
            if let calibration, !allowMissingCalibration, !calibration.contains(layer: module(name)) {
                throw CalibrationError.missingLayer(layer: module(name), file: calibration.checkpoint.url.path)
            }
        }
        let inputs = minuend.inputURLs + subtrahend.inputURLs + (calibration?.checkpoint.inputURLs ?? [])
        let writer = try PEFTAdapterWriter(
            directory: output,
            configuration: .init(rank: options.rank, alpha: Double(options.rank), baseModel: baseName, dtype: dtype),
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
                console.progress(String(format: "[%3d/%d] %@  skipped: ΔW = 0", i + 1, layers.count, name))
                continue
            }
            let covariance = try calibration?.covariance(layer: module(name))
            let result: Compensation<Float>
            var before: Double, after: Double, metric: String
            if let covariance {
                result = try options.eora.compensate(delta: delta, covariance: covariance.gram)
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
            console.progress(String(format: "[%3d/%d] %@  %dx%d  rank %d  err %.3f -> %.3f  %@  %.1f s", i + 1, layers.count, name,
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

    func module(_ tensor: String) -> String { tensor.hasSuffix(".weight") ? String(tensor.dropLast(".weight".count)) : tensor }
}

/// ‖M‖²_F accumulated in Double.
func squaredNorm(_ m: Matrix<Float>) -> Double {
    m.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) * Double($1) } }
}

/// A pretty-printed JSON file written atomically (temporary name, then rename).
func writeJSON(_ object: [String: Any], to url: URL) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
    try data.write(to: temporary)
    guard rename(temporary.path, url.path) == 0 else {
        try? FileManager.default.removeItem(at: temporary)
        throw CLIError("cannot write \(url.path)")
    }
}

/// A one-line error for the CLI's own checks.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
