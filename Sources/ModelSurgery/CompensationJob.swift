import Foundation
import LinearAlgebra
import LowRank
import WeightFiles

/// The report of `CompensationJob`, also written as the adapter's `report.json`.
public struct CompensationReport: Codable, Sendable {
    /// `compensate` or `extract`.
    public var command: String
    /// The adapter folder's path, as given.
    public var output: String
    /// The rank r asked for (lora_alpha = r in the adapter config).
    public var rank: Int
    /// Per selected layer, in natural order (skipped layers say why).
    public var layers: [LayerReport]
    /// Modules written.
    public var written: Int
    /// `exact` or `randomized`.
    public var svd: String
    /// `eigen`, `cholesky`, or `none` without calibration.
    public var whitening: String
    /// Wall-clock seconds for the whole job, checks and writing included.
    public var seconds: Double
}

/// Low-rank paths for the difference of two models, layer by layer, written
/// as a PEFT LoRA adapter (lora_alpha = r, so s = 1) plus `report.json`:
/// ΔW = minuend − subtrahend (compensation: W − Ŵ of an original and its
/// compressed model; extraction: W_tuned − W_base). With calibration
/// statistics each layer is compensated by EoRA (errors are activation
/// errors ‖ΔW X‖/‖W X‖); without, by plain truncated SVD (Frobenius errors).
///
/// Every selected layer is checked before any work: present in both models
/// with one shape, a rank of at most min(out, in), and calibration
/// statistics unless `allowMissingCalibration` (then plain SVD, noted).
/// Grams clearly not positive semi-definite (an eigenvalue below
/// −τ·λ_max, τ from their stored precision) are refused.
public struct CompensationJob {
    /// W (compensate) or W_tuned (extract).
    public var minuend: Checkpoint
    /// Ŵ (compensate) or W_base (extract): the model the adapter attaches to.
    public var subtrahend: Checkpoint
    /// Calibration statistics (`M.gram` or `M.inputs` per module M): with them each layer is compensated by EoRA in
    /// the activation metric; nil for plain truncated SVD of ΔW in the Frobenius metric.
    public var calibration: CalibrationFile?
    /// With calibration, whether a selected layer without statistics falls back to plain SVD (with a note) instead
    /// of failing with `CalibrationError.missingLayer`. Default false, so that no layer changes metric unasked.
    public var allowMissingCalibration: Bool
    /// The adapter rank r per layer: at least 1 and at most min(out, in) of every selected layer (checked first).
    public var rank: Int
    /// How the leading r singular triplets are found: `.exact` (default) or `.randomized`.
    public var method: SVDMethod
    /// How EoRA factors the Gram C: `.eigen` (default; exact) or `.cholesky` (faster, falls back to eigen).
    /// Ignored without calibration.
    public var whitening: EoRA.Whitening
    /// The layers compensated, chosen among the minuend's tensors (default: `LayerSelection.default`).
    public var selection: LayerSelection
    /// The adapter folder to write (`adapter_model.safetensors`, `adapter_config.json`, `report.json`).
    public var output: URL
    /// `base_model_name_or_path` and `task_type` of the adapter.
    public var base: AdapterBase
    /// Stored dtype of the factors.
    public var dtype: DType
    /// Extraction skips layers whose ΔW is exactly zero; compensation writes them.
    public var skipUnchanged: Bool
    /// `compensate` or `extract` (recorded in the report and metadata).
    public var command: String

    /// A job with the given inputs; defaults: calibration required for every layer, exact SVD, eigen whitening,
    /// the default layer selection, F32 factors. Nothing is read until `run`.
    public init(minuend: Checkpoint, subtrahend: Checkpoint, calibration: CalibrationFile?, allowMissingCalibration: Bool = false,
                rank: Int, method: SVDMethod = .exact, whitening: EoRA.Whitening = .eigen, selection: LayerSelection = .default,
                output: URL, base: AdapterBase, dtype: DType = .f32, skipUnchanged: Bool, command: String) {
        self.minuend = minuend
        self.subtrahend = subtrahend
        self.calibration = calibration
        self.allowMissingCalibration = allowMissingCalibration
        self.rank = rank
        self.method = method
        self.whitening = whitening
        self.selection = selection
        self.output = output
        self.base = base
        self.dtype = dtype
        self.skipUnchanged = skipUnchanged
        self.command = command
    }

    /// Checks every selected layer, then writes the adapter and `report.json`, one layer in memory at a time.
    ///
    /// For each selected layer, ΔW = minuend − subtrahend (in Float) is approximated by B·A of rank r; `observer` gets a
    /// `.layer` event per layer, a `.note` per remark and a `.warning` when Grams come without token counts.
    /// The report is also the content of `report.json`, which is removed again if the adapter cannot be finished.
    ///
    /// - Throws: `ModelSurgeryError` — `invalidParameter` (rank < 1), `noLayerSelected`, `missingTensor` and
    ///   `shapeMismatch` (the subtrahend lacks or disagrees on a layer), `rankTooLarge`, `nonFinite` (ΔW),
    ///   `nothingToWrite` (every layer skipped as unchanged); `CalibrationError` (`missingLayer`, `indefinite` and
    ///   the Gram checks); `AdapterError`, `SafetensorsError` or `FileAccessError` from reading and writing.
    public func run(observer: JobObserver = { _ in }) throws -> CompensationReport {
        let start = ContinuousClock.now
        guard rank >= 1 else { throw ModelSurgeryError.invalidParameter(parameter: "rank", value: "\(rank)", expected: "at least 1") }
        let layers = selection.layers(of: minuend)
        guard !layers.isEmpty else { throw ModelSurgeryError.noLayerSelected(model: minuend.url.path) }
        var withoutTokens = 0
        for name in layers {
            let shape = minuend[name]!.shape
            guard let other = subtrahend[name] else {
                throw ModelSurgeryError.missingTensor(tensor: name, file: subtrahend.url.path, other: minuend.url.path)
            }
            guard other.shape == shape else {
                throw ModelSurgeryError.shapeMismatch(tensor: name, detail: "shape \(shape) in \(minuend.url.path) but \(other.shape) in \(subtrahend.url.path)")
            }
            guard rank <= shape.min()! else {
                throw ModelSurgeryError.rankTooLarge(layer: name, shape: shape, rank: rank, maximum: shape.min()!)
            }
            if let calibration {
                let module = moduleName(name)
                if !calibration.contains(layer: module) {
                    if !allowMissingCalibration { throw CalibrationError.missingLayer(layer: module, file: calibration.checkpoint.url.path) }
                } else if calibration.gramDType(layer: module) != nil, try calibration.tokens(layer: module) == nil {
                    withoutTokens += 1
                }
            }
        }
        if withoutTokens > 0 {
            observer(.warning("\(calibration!.checkpoint.url.path): \(withoutTokens) layer(s) have M.gram without M.tokens; EoRA does not "
                              + "depend on the Gram's scale, so they are used as they are (the file format asks for M.tokens)"))
        }
        let inputs = minuend.inputURLs + subtrahend.inputURLs + (calibration?.checkpoint.inputURLs ?? [])
        let writer = try PEFTAdapterWriter(
            directory: output,
            configuration: .init(rank: rank, alpha: Double(rank), baseModel: base.name, taskType: base.taskType, dtype: dtype),
            base: subtrahend, protecting: inputs)
        var reports: [LayerReport] = []
        var written = 0
        for (i, name) in layers.enumerated() {
            let layerStart = ContinuousClock.now
            let module = moduleName(name)
            let w: Matrix<Float> = try minuend.matrix(name)
            let delta = w - (try subtrahend.matrix(name, as: Float.self))
            guard delta.isFinite else { throw ModelSurgeryError.nonFinite(tensor: name, file: nil, what: "the weight difference") }
            var report = LayerReport(layer: module, shape: [w.rows, w.columns])
            if skipUnchanged && squaredNorm(delta) == 0 {
                report.skipped = "unchanged (ΔW = 0)"
                reports.append(report)
                observer(.layer(index: i, count: layers.count, report))
                continue
            }
            let covariance = try calibration?.covariance(layer: module)
            let result: Compensation<Float>
            let energy: Double
            if let covariance {
                var eora = EoRA(rank: rank, method: method, whitening: whitening)
                // Rounding of a stored Gram may give slightly negative eigenvalues; a clearly negative one is not a Gram.
                let gramDType = calibration!.gramDType(layer: module) ?? .f64
                eora.indefiniteTolerance = Swift.min(0.01, 8 * Double(covariance.gram.rows).squareRoot() * gramDType.roundingUnit)
                do {
                    result = try eora.compensate(delta: delta, covariance: covariance.gram)
                } catch LowRankError.indefiniteCovariance(let smallest, let largest) {
                    throw CalibrationError.indefinite(tensor: "\(calibration!.source(of: module)).gram", detail: "smallest eigenvalue \(smallest), largest \(largest)")
                }
                energy = LowRankMetrics.activationEnergy(w, covariance: covariance.gram.converted(to: Float.self))
                report.metric = "activation"
            } else {
                result = try SVDCompensation(rank: rank, method: method).compensate(delta: delta)
                energy = squaredNorm(w)
                report.metric = "frobenius"
            }
            try writer.add(module: module, a: result.factors.a, b: result.factors.b)
            written += 1
            var notes = result.notes
            if calibration != nil && covariance == nil { notes.append("no calibration statistics for this layer: plain SVD") }
            for note in notes { observer(.note("\(name): \(note)")) }
            report.rank = result.factors.rank
            report.path = result.path.rawValue
            report.errorBefore = energy > 0 ? (result.deltaEnergy / energy).squareRoot() : 0
            report.errorAfter = energy > 0 ? (result.residualEnergy / energy).squareRoot() : 0
            report.relativeError = result.relativeError
            report.notes = notes
            report.seconds = secondsSince(layerStart)
            reports.append(report)
            observer(.layer(index: i, count: layers.count, report))
        }
        guard written > 0 else { throw ModelSurgeryError.nothingToWrite(detail: "every selected layer is unchanged (ΔW = 0): no adapter written") }
        var svdName = "exact"
        if case .randomized = method { svdName = "randomized" }
        let summary = CompensationReport(command: command, output: output.path, rank: rank, layers: reports, written: written, svd: svdName,
                                         whitening: calibration == nil ? "none" : whitening.rawValue, seconds: secondsSince(start))
        let reportURL = output.appendingPathComponent("report.json")
        try writeFileAtomically(try encodeJSON(summary), to: reportURL)
        do { try writer.finish(metadata: ["rankwise.command": command]) } catch {
            try? FileManager.default.removeItem(at: reportURL)
            throw error
        }
        return summary
    }
}

/// Pretty, sorted JSON with a final newline; non-finite numbers as strings.
public func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try encoder.encode(value) + Data([0x0A])
}

/// ‖M‖²_F, summed in Double.
func squaredNorm(_ m: Matrix<Float>) -> Double { m.withUnsafeBufferPointer { Matrix<Float>.sumOfSquares($0) } }
