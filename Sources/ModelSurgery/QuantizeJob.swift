import Foundation
import LinearAlgebra
import Compression
import WeightFiles
import Models

/// Quantization of the selected layers of a model: round-to-nearest or GPTQ,
/// written dequantized (floats, the model's own layout) or as a packed GPTQ
/// checkpoint folder that transformers, optimum, GPTQModel and vLLM load.
///
/// Packed output (`format: .gptq`): `rewrite.output` is a folder receiving
/// `model.safetensors` (or shards, with `rewrite.maxShardSize`) in which each
/// selected `M.weight` is replaced by `M.qweight`, `M.qzeros`, `M.scales`
/// (F16) and `M.g_idx`; every other tensor is copied. Symmetric grids are
/// written as `checkpoint_format: "gptq"` (v1, zero points stored minus
/// one: what every loader reads), asymmetric ones as `gptq_v2` (v1 cannot
/// hold a zero point of 0). The model folder's config.json gains
/// `quantization_config`, `quantize_config.json` says the same, and the
/// tokenizer and generation files are copied, so the folder is a model.
/// Scales are rounded to F16 before the codes are chosen, so the packed
/// model computes exactly the weights the algorithm settled on.
public struct QuantizeJob {
    /// How each selected layer is quantized.
    public enum Method {
        /// Round to nearest, per group (no calibration).
        case roundToNearest(RoundToNearest)
        /// GPTQ with the layer's input statistics: H = the Gram of
        /// `calibration` (`M.gram` or `M.inputs`, `same_as` followed). A layer
        /// without statistics fails with `CalibrationError.missingLayer`.
        case gptq(GPTQ, calibration: CalibrationFile)
        /// Sequential GPTQ (GPTQModel's scheme): the model built by `model`
        /// over the job's weights runs `sequences` block by block; in each
        /// block the groups of Linear layers sharing an input are quantized in
        /// order ([q,k,v] → [o] → [gate,up] → [down]; BERT: [q,k,v] → [attention
        /// output] → [intermediate] → [output]), each group's Gram taken after
        /// the groups before it were quantized, and the next block's inputs
        /// come from the quantized block. Selected layers outside those groups
        /// fail with `ModelSurgeryError.layerFailed`.
        case sequentialGPTQ(GPTQ, model: @Sendable (WeightProvider) throws -> TransformerModel, sequences: [[Int]])
    }

    /// How the result is stored.
    public enum Format: String, Sendable, CaseIterable {
        /// Floats in the model's layout (the input's dtype unless the rewrite says otherwise): usable anywhere, same size.
        case dequantized
        /// A packed GPTQ checkpoint folder (qweight, qzeros, scales, g_idx; bits 2, 3, 4 or 8).
        case gptq
    }

    /// The model, the output (a file for `.dequantized`, a folder for `.gptq`) and the selection.
    public var rewrite: ModelRewrite
    /// Round to nearest or GPTQ, with its parameters.
    public var method: Method
    /// Dequantized floats or a packed checkpoint.
    public var format: Format

    /// A job quantising `rewrite`'s selected layers with `method`, stored as `format` (GPTQ's calibration files are
    /// protected from overwriting).
    public init(rewrite: ModelRewrite, method: Method, format: Format = .dequantized) {
        self.rewrite = rewrite
        self.method = method
        self.format = format
        if case .gptq(_, let calibration) = method { self.rewrite.protecting += calibration.checkpoint.inputURLs }
        self.precomputed = [:]
    }

    /// A round-to-nearest job stored dequantized (the original form of this job).
    public init(rewrite: ModelRewrite, quantizer: RoundToNearest) {
        self.init(rewrite: rewrite, method: .roundToNearest(quantizer))
    }

    var bits: Int {
        switch method {
        case .roundToNearest(let q): return q.bits
        case .gptq(let q, _), .sequentialGPTQ(let q, _, _): return q.bits
        }
    }

    var groupSize: Int? {
        switch method {
        case .roundToNearest(let q): return q.groupSize
        case .gptq(let q, _), .sequentialGPTQ(let q, _, _): return q.groupSize
        }
    }

    var symmetric: Bool {
        switch method {
        case .roundToNearest(let q): return q.symmetric
        case .gptq(let q, _), .sequentialGPTQ(let q, _, _): return q.symmetric
        }
    }

    /// Writes the quantized model. Each layer reports `bits`, `relativeError` = ‖W − Q‖_F / ‖W‖_F and, with GPTQ,
    /// `activationError` = √(tr(ΔHΔᵀ) / tr(WHWᵀ)) with H the layer's Gram, plus a note when damping had to grow or
    /// the layer fell back to round-to-nearest.
    ///
    /// - Throws: what `ModelRewrite.run` throws; `CalibrationError` for missing or unusable statistics;
    ///   `ModelSurgeryError.invalidParameter` for packing parameters no loader reads (bits other than 2, 3, 4, 8),
    ///   `.shapeMismatch` naming the first layer whose shape cannot be packed, and
    ///   `.layerFailed` for a compressor failure, naming the layer.
    public func run(observer: JobObserver = { _ in }) throws -> ModelReport {
        let start = ContinuousClock.now
        var job = self
        if case .sequentialGPTQ(let gptq, let build, let sequences) = method {
            job.precomputed = try SequentialQuantization(rewrite: rewrite, gptq: gptq, build: build, sequences: sequences,
                                                         float16Scales: true).run(observer: observer)
        }
        var report: ModelReport
        switch format {
        case .dequantized:
            report = try job.rewrite.run(observer: observer) { name, w in
                let (q, report) = try job.quantize(name: name, w, float16Scales: true)
                return (q.dequantized, report)
            }
        case .gptq:
            report = try job.runPacked(observer: observer)
        }
        report.seconds = secondsSince(start)   // sequential GPTQ's passes included
        return report
    }

    /// Sequential GPTQ's results, by weight name, computed before writing.
    var precomputed: [String: (QuantizedMatrix<Float>, LayerReport)] = [:]

    /// One layer: codes, grids and the report.
    func quantize(name: String, _ w: Matrix<Float>, float16Scales: Bool) throws -> (QuantizedMatrix<Float>, LayerReport) {
        var report = LayerReport(layer: "")
        report.bits = bits
        let quantized: QuantizedMatrix<Float>
        if method.isSequential {
            guard let done = precomputed[name] else {
                throw ModelSurgeryError.layerFailed(layer: name, detail: "sequential GPTQ quantizes the Linear layers of the model's blocks only; leave this one out (--exclude)")
            }
            return done
        }
        do {
            switch method {
            case .sequentialGPTQ: preconditionFailure("handled above")
            case .roundToNearest(var rtn):
                rtn.float16Scales = float16Scales
                quantized = try rtn.quantizeToCodes(w)
            case .gptq(var gptq, let calibration):
                gptq.float16Scales = float16Scales
                let layer = moduleName(name)
                guard let statistics = try calibration.covariance(layer: layer) else {
                    throw CalibrationError.missingLayer(layer: layer, file: calibration.checkpoint.url.path)
                }
                let result = try gptq.quantize(w, hessian: statistics.gram)
                quantized = result.quantized
                var notes: [String] = []
                if result.fellBackToRoundToNearest {
                    notes.append("the Gram is not positive definite even with damping near 1: quantized round-to-nearest")
                } else if result.damp > gptq.damp {
                    notes.append(String(format: "damping raised from %g to %g of the mean diagonal (the Gram was not positive definite)",
                                        gptq.damp, result.damp))
                }
                if !result.deadColumns.isEmpty {
                    notes.append("\(result.deadColumns.count) input column(s) never active in the calibration data; their weights are zero")
                }
                report.notes = notes.isEmpty ? nil : notes
                report.activationError = activationError(w, quantized.dequantized, statistics.gram)
            }
        } catch let error as CompressionError {
            throw ModelSurgeryError.layerFailed(layer: name, detail: error.description)
        }
        let norm = w.frobeniusNorm()
        report.relativeError = Double((w - quantized.dequantized).frobeniusNorm() / Swift.max(norm, .leastNormalMagnitude))
        return (quantized, report)
    }

    /// The packed checkpoint folder.
    func runPacked(observer: JobObserver) throws -> ModelReport {
        let start = ContinuousClock.now
        guard [2, 3, 4, 8].contains(bits) else {
            throw ModelSurgeryError.invalidParameter(parameter: "bits", value: "\(bits)", expected: "2, 3, 4 or 8 for a packed GPTQ checkpoint")
        }
        let model = rewrite.model
        let selected = rewrite.selection.layers(of: model)
        guard !selected.isEmpty else { throw ModelSurgeryError.noLayerSelected(model: model.url.path) }
        let selectedSet = Set(selected)
        // Every selected layer must fit the packed layout before any work is done.
        for name in selected {
            let shape = model[name]!.shape
            if let problem = PackedLinear.packingProblem(format: .gptq(symmetric: symmetric), bits: bits, outFeatures: shape[0],
                                                         inFeatures: shape[1], groupSize: groupSize) {
                throw ModelSurgeryError.shapeMismatch(tensor: name, detail: "\(shape[0])x\(shape[1]) cannot be packed: \(problem); "
                                                      + "leave the layer out (--exclude) or write --format dequantized")
            }
        }
        let format = PackedFormat.gptq(symmetric: symmetric)
        var layout: [TensorLayout] = []
        for name in model.tensorNames {
            let info = model[name]!
            if selectedSet.contains(name) {
                let module = moduleName(name)
                let groups = groupSize.map { (info.shape[1] + $0 - 1) / $0 } ?? 1
                for (suffix, dtype, shape) in PackedLinear.storedLayout(format: format, bits: bits, outFeatures: info.shape[0],
                                                                        inFeatures: info.shape[1], groupCount: groups) {
                    layout.append(TensorLayout(name: "\(module).\(suffix)", dtype: dtype, shape: shape))
                }
            } else {
                let changes = rewrite.dtype != nil && info.dtype.isFloatingPoint
                layout.append(TensorLayout(name: name, dtype: changes ? rewrite.dtype! : info.dtype, shape: info.shape))
            }
        }
        let folder = rewrite.output
        try OutputPath.check(folder, as: .folder)
        let inputs = model.inputURLs + rewrite.protecting
        let writer = try SafetensorsWriter(url: folder.appendingPathComponent("model.safetensors"), protecting: inputs, layout: layout,
                                           metadata: model.metadata.merging(rewrite.metadata) { $1 }, maxShardSize: rewrite.maxShardSize)
        var reports: [LayerReport] = []
        for name in model.tensorNames {
            let info = model[name]!
            if selectedSet.contains(name) {
                let layerStart = ContinuousClock.now
                let w: Matrix<Float> = try model.matrix(name)
                guard w.isFinite else { throw ModelSurgeryError.nonFinite(tensor: name, file: model.url.path, what: "the weight") }
                var (q, report) = try quantize(name: name, w, float16Scales: true)
                model.evict(name)
                let packed = try PackedLinear(format: format, bits: bits, outFeatures: w.rows, inFeatures: w.columns, groupCount: q.groupCount,
                                              codes: q.codes, zeros: transposed(q.zeros, rows: w.rows, columns: q.groupCount),
                                              scales: transposed(q.scales.map(Float.init), rows: w.rows, columns: q.groupCount),
                                              groupIndex: q.groupIndex)
                for tensor in try packed.storedTensors() {
                    try tensor.bytes.withUnsafeBytes { bytes in
                        try writer.add(name: "\(moduleName(name)).\(tensor.suffix)", shape: tensor.shape, dtype: tensor.dtype, rawBytes: bytes)
                    }
                }
                report.layer = name
                report.shape = info.shape
                report.seconds = secondsSince(layerStart)
                reports.append(report)
                observer(.layer(index: reports.count - 1, count: selected.count, report))
            } else {
                try writer.add(copying: name, from: model, dtype: rewrite.dtype)
            }
        }
        // The folder's other files, staged now and renamed into place right after the tensors.
        let config = QuantizationConfig(format: format, bits: bits, groupSize: groupSize, descAct: descAct, symmetric: symmetric,
                                        damp: damp, staticGroups: staticGroups, trueSequential: method.isGPTQ ? false : nil)
        let json = config.jsonObject(quantizer: "rankwise:\(rankwiseVersion)")
        let companions = ModelFolderCompanions(directory: folder, protecting: inputs)
        let source = ModelFolderCompanions.sourceFolder(of: model)
        let copied = try companions.stageCompanions(from: source) { object in object["quantization_config"] = json }
        if !copied.contains("config.json") {
            observer(.warning("\(source.path) has no config.json: \(folder.path) holds the quantized weights and quantize_config.json, "
                              + "but loaders also need the model's config.json (with this quantization_config)"))
        }
        try companions.stageJSON(json, as: "quantize_config.json")
        try writer.finish()
        try companions.commit()
        var report = finishReport(writer, output: folder, tensors: layout.count, layers: reports, start: start, observer: observer)
        report.files += copied.map { folder.appendingPathComponent($0).path } + [folder.appendingPathComponent("quantize_config.json").path]
        report.inputBytes = totalSize(model.files.map(\.url))
        return report
    }

    var gptq: GPTQ? {
        switch method {
        case .gptq(let q, _), .sequentialGPTQ(let q, _, _): return q
        case .roundToNearest: return nil
        }
    }
    var descAct: Bool { gptq?.actOrder ?? false }
    var damp: Double? { gptq?.damp }
    var staticGroups: Bool? { gptq?.staticGroups }
}

extension QuantizeJob.Method {
    var isGPTQ: Bool { if case .roundToNearest = self { return false } else { return true } }
    var isSequential: Bool { if case .sequentialGPTQ = self { return true } else { return false } }
}

/// A `[rows, columns]` row-major array transposed to `[columns, rows]`.
func transposed<E>(_ values: [E], rows: Int, columns: Int) -> [E] {
    guard rows > 0, columns > 0 else { return values }
    return (0..<(rows * columns)).map { k in values[(k % rows) * columns + k / rows] }
}

/// √(tr(ΔHΔᵀ) / tr(WHWᵀ)), Δ = W − Q: the relative change of the layer's
/// output on the calibration inputs. Two GEMMs of out·in².
func activationError(_ w: Matrix<Float>, _ q: Matrix<Float>, _ h: Matrix<Double>) -> Double {
    let hf = h.converted(to: Float.self)
    func energy(_ m: Matrix<Float>) -> Double {
        let p = m * hf
        return zip(p.elements, m.elements).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    let total = energy(w)
    return total > 0 ? (Swift.max(energy(w - q), 0) / total).squareRoot() : 0
}

/// Weights read from a base, with some replaced in memory (sequential GPTQ's
/// already-quantized layers, seen by the following forward passes).
final class OverlayWeights: WeightProvider, @unchecked Sendable {
    let base: WeightProvider
    var replaced: [String: Matrix<Float>] = [:]

    init(base: WeightProvider) { self.base = base }

    var location: String { base.location }
    func shape(of name: String) -> [Int]? { base.shape(of: name) }
    func matrix(_ name: String) throws -> Matrix<Float> { try replaced[name] ?? base.matrix(name) }
    func release(_ name: String) { base.release(name) }
}

/// GPTQModel's sequential scheme over a `TransformerModel` (see
/// `QuantizeJob.Method.sequentialGPTQ`): per block, per group of Linear layers
/// sharing an input, the Gram of that input with the earlier groups already
/// quantized, then GPTQ of the group's selected layers; the block's output
/// with all its layers quantized feeds the next block. Five forward passes
/// of each block (one per group, one for the output), over chunks of tokens.
struct SequentialQuantization {
    var rewrite: ModelRewrite
    var gptq: GPTQ
    var build: @Sendable (WeightProvider) throws -> TransformerModel
    var sequences: [[Int]]
    var float16Scales: Bool
    var chunkTokens = 8192

    func run(observer: JobObserver) throws -> [String: (QuantizedMatrix<Float>, LayerReport)] {
        guard !sequences.isEmpty else {
            throw ModelSurgeryError.invalidParameter(parameter: "calibration text", value: "no sequences", expected: "at least one non-empty sequence")
        }
        let overlay = OverlayWeights(base: rewrite.model)
        let model = try build(overlay)
        let selected = Set(rewrite.selection.layers(of: rewrite.model))
        let chunks = try TokenSequences.chunks(sequences, tokens: chunkTokens).map { try TokenBatch($0) }
        var states = try chunks.map { try model.embed($0) }
        var results: [String: (QuantizedMatrix<Float>, LayerReport)] = [:]
        var gptq = self.gptq
        gptq.float16Scales = float16Scales
        for block in 0..<model.blockCount {
            let groups = model.linearInputs(block: block)
            for group in groups {
                let names = group.modules.map { "\($0).weight" }.filter(selected.contains)
                guard !names.isEmpty else { continue }
                var gram: Matrix<Double>?
                for (c, batch) in chunks.enumerated() {
                    _ = try model.block(block, states[c], batch: batch) { input, x in
                        guard input == group else { return }
                        let g = x.gram().converted(to: Double.self)
                        gram = gram.map { $0 + g } ?? g
                    }
                }
                guard let h = gram else { continue }
                for name in names {
                    let start = ContinuousClock.now
                    let w: Matrix<Float> = try rewrite.model.matrix(name)
                    rewrite.model.evict(name)
                    let result: GPTQ.Result<Float>
                    do {
                        result = try gptq.quantize(w, hessian: h)
                    } catch let error as CompressionError {
                        throw ModelSurgeryError.layerFailed(layer: name, detail: error.description)
                    }
                    overlay.replaced[name] = result.quantized.dequantized
                    var report = LayerReport(layer: name, shape: [w.rows, w.columns])
                    report.bits = gptq.bits
                    report.activationError = activationError(w, result.quantized.dequantized, h)
                    report.relativeError = Double((w - result.quantized.dequantized).frobeniusNorm() / Swift.max(w.frobeniusNorm(), .leastNormalMagnitude))
                    var notes = ["sequential: block \(block), inputs from the quantized blocks before it"]
                    if result.fellBackToRoundToNearest { notes.append("the Gram is not positive definite even with damping near 1: quantized round-to-nearest") }
                    report.notes = notes
                    report.seconds = secondsSince(start)
                    results[name] = (result.quantized, report)
                    observer(.note("\(name): GPTQ from \(chunks.map(\.tokenCount).reduce(0, +)) calibration tokens"))
                }
            }
            for (c, batch) in chunks.enumerated() { states[c] = try model.block(block, states[c], batch: batch, observer: nil) }
        }
        return results
    }
}
