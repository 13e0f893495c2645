import Foundation
import LinearAlgebra
import Compression
import LowRank
import WeightFiles

/// What a job that writes a model reports.
public struct ModelReport: Codable, Sendable {
    /// The path asked for.
    public var output: String
    /// The files written: one, or the shards followed by the index.
    public var files: [String]
    public var bytes: Int
    public var tensors: Int
    /// The layers the job changed, in order.
    public var layers: [LayerReport]
    /// Per tensor, values beyond the output dtype's range written as ±∞.
    public var overflows: [String: Int]
    public var seconds: Double
}

/// A model copied tensor by tensor into a new safetensors file (or shards),
/// with the selected 2-D floating tensors replaced by `transform(name, W)`
/// (stored in the input dtype unless `dtype` says otherwise) and everything
/// else copied unchanged (converted with `dtype`). One tensor in memory at a
/// time; atomic output; refuses to overwrite `protecting` or the model.
public struct ModelRewrite {
    public var model: Checkpoint
    public var output: URL
    public var selection: LayerSelection
    public var dtype: DType?
    public var maxShardSize: Int?
    public var protecting: [URL]
    public var metadata: [String: String]

    public init(model: Checkpoint, output: URL, selection: LayerSelection = .default, dtype: DType? = nil, maxShardSize: Int? = nil,
                protecting: [URL] = [], metadata: [String: String] = [:]) {
        self.model = model
        self.output = output
        self.selection = selection
        self.dtype = dtype
        self.maxShardSize = maxShardSize
        self.protecting = protecting
        self.metadata = metadata
    }

    /// Runs the rewrite: `transform` gets each selected tensor's name and
    /// weight and returns the new weight and its report (name, shape and
    /// time are filled in).
    public func run(observer: JobObserver = { _ in },
                    transform: (String, Matrix<Float>) throws -> (Matrix<Float>, LayerReport)) throws -> ModelReport {
        let start = ContinuousClock.now
        let names = model.tensorNames
        let selected = selection.layers(of: model)
        guard !selected.isEmpty else { throw ModelSurgeryError.noLayerSelected(model: model.url.path) }
        let selectedSet = Set(selected)
        // Every output tensor keeps its shape; the selected ones, and with a
        // dtype every floating one, take the output dtype.
        let layout = names.map { name in
            let info = model[name]!
            let changes = selectedSet.contains(name) || (dtype != nil && info.dtype.isFloatingPoint)
            return TensorLayout(name: name, dtype: changes ? dtype ?? info.dtype : info.dtype, shape: info.shape)
        }
        let writer = try SafetensorsWriter(url: output, protecting: model.inputURLs + protecting, layout: layout,
                                           metadata: model.metadata.merging(metadata) { $1 }, maxShardSize: maxShardSize)
        var reports: [LayerReport] = []
        for name in names {
            let info = model[name]!
            if selectedSet.contains(name) {
                let layerStart = ContinuousClock.now
                let w: Matrix<Float> = try model.matrix(name)
                guard w.isFinite else { throw ModelSurgeryError.nonFinite(tensor: name, file: model.url.path, what: "the weight") }
                var (out, report) = try transform(name, w)
                try writer.add(name: name, matrix: out, dtype: dtype ?? info.dtype)
                report.layer = name
                report.shape = info.shape
                report.seconds = secondsSince(layerStart)
                reports.append(report)
                observer(.layer(index: reports.count - 1, count: selected.count, report))
            } else if let dtype, info.dtype.isFloatingPoint, info.dtype != dtype {
                try writer.add(name: name, shape: info.shape, dtype: dtype, converting: try model.rawBytes(name), from: info.dtype)
                model.evict(name)
            } else {
                try writer.add(copying: name, from: model)
            }
        }
        try writer.finish()
        return finishReport(writer, output: output, tensors: names.count, layers: reports, start: start, observer: observer)
    }
}

/// The report of a finished writer, with a warning per overflowed tensor.
func finishReport(_ writer: SafetensorsWriter, output: URL, tensors: Int, layers: [LayerReport],
                  start: ContinuousClock.Instant, observer: JobObserver) -> ModelReport {
    for (name, count) in writer.overflows.sorted(by: { naturalOrder($0.key, $1.key) }) {
        observer(.warning("tensor '\(name)': \(count) value(s) beyond the range of the output dtype were written as ±infinity"))
    }
    return ModelReport(output: output.path, files: writer.writtenFiles.map(\.path), bytes: totalSize(writer.writtenFiles),
                       tensors: tensors, layers: layers, overflows: writer.overflows, seconds: secondsSince(start))
}

/// Round-to-nearest fake quantisation of the selected layers (stored
/// dequantised); each layer reports its relative Frobenius error.
public struct QuantizeJob {
    public var rewrite: ModelRewrite
    public var quantizer: RoundToNearest

    public init(rewrite: ModelRewrite, quantizer: RoundToNearest) {
        self.rewrite = rewrite
        self.quantizer = quantizer
    }

    public func run(observer: JobObserver = { _ in }) throws -> ModelReport {
        try rewrite.run(observer: observer) { _, w in
            let q = try quantizer.quantize(w)
            var report = LayerReport(layer: "")
            report.bits = quantizer.bits
            report.relativeError = Double((w - q).frobeniusNorm() / Swift.max(w.frobeniusNorm(), .leastNormalMagnitude))
            return (q, report)
        }
    }
}

/// Pruning of the selected layers: N:M magnitude, unstructured magnitude, or
/// Wanda (|W|·‖x‖ per input channel, ‖x‖ from the calibration Gram's diagonal).
public struct PruneJob {
    public enum Method {
        case nOfM(n: Int, m: Int)
        case magnitude(sparsity: Double)
        case wanda(sparsity: Double, calibration: CalibrationFile)
    }

    public var rewrite: ModelRewrite
    public var method: Method

    public init(rewrite: ModelRewrite, method: Method) {
        self.rewrite = rewrite
        self.method = method
        if case .wanda(_, let calibration) = method { self.rewrite.protecting += calibration.checkpoint.inputURLs }
    }

    public func run(observer: JobObserver = { _ in }) throws -> ModelReport {
        try rewrite.run(observer: observer) { name, w in
            let pruning: Pruning
            switch method {
            case .nOfM(let n, let m): pruning = .nOfM(n: n, m: m)
            case .magnitude(let sparsity): pruning = .unstructured(sparsity: sparsity, inputNorms: nil)
            case .wanda(let sparsity, let calibration):
                let layer = moduleName(name)
                guard let c = try calibration.covariance(layer: layer) else {
                    throw CalibrationError.missingLayer(layer: layer, file: calibration.checkpoint.url.path)
                }
                pruning = .unstructured(sparsity: sparsity, inputNorms: c.gram.diagonalElements.map { Swift.max($0, 0).squareRoot() })
            }
            let pruned = try pruning.prune(w)
            var report = LayerReport(layer: "")
            let zeros = pruned.withUnsafeBufferPointer { $0.reduce(0) { $1 == 0 ? $0 + 1 : $0 } }
            report.zeroFraction = Double(zeros) / Double(Swift.max(pruned.count, 1))
            return (pruned, report)
        }
    }
}

/// A model's floating tensors re-encoded as `dtype` (round to nearest even
/// when narrowing), integer and bool tensors copied; from the mapped bytes a
/// chunk at a time.
public struct ConvertJob {
    public var model: Checkpoint
    public var output: URL
    public var dtype: DType
    public var maxShardSize: Int?

    public init(model: Checkpoint, output: URL, dtype: DType, maxShardSize: Int? = nil) {
        self.model = model
        self.output = output
        self.dtype = dtype
        self.maxShardSize = maxShardSize
    }

    public func run(observer: JobObserver = { _ in }) throws -> ModelReport {
        let start = ContinuousClock.now
        let names = model.tensorNames
        var metadata = model.metadata
        metadata["rankwise.converted_from"] = model.url.path
        let layout = names.map { name in
            let info = model[name]!
            return TensorLayout(name: name, dtype: info.dtype.isFloatingPoint ? dtype : info.dtype, shape: info.shape)
        }
        let writer = try SafetensorsWriter(url: output, protecting: model.inputURLs, layout: layout, metadata: metadata, maxShardSize: maxShardSize)
        for (i, name) in names.enumerated() {
            let info = model[name]!
            if info.dtype.isFloatingPoint && info.dtype != dtype {
                try writer.add(name: name, shape: info.shape, dtype: dtype, converting: try model.rawBytes(name), from: info.dtype)
                model.evict(name)
            } else {
                try writer.add(copying: name, from: model)
            }
            var report = LayerReport(layer: name, shape: info.shape)
            report.fromDType = info.dtype.rawValue
            report.toDType = layout[i].dtype.rawValue
            observer(.layer(index: i, count: names.count, report))
        }
        try writer.finish()
        return finishReport(writer, output: output, tensors: names.count, layers: [], start: start, observer: observer)
    }
}

/// What `inspect` shows of a model: its tensors, totals by dtype, metadata.
public struct ModelSummary: Codable, Sendable {
    public struct Tensor: Codable, Sendable {
        public var name: String, dtype: String, shape: [Int], parameters: Int, bytes: Int
    }
    public struct Total: Codable, Sendable {
        public var tensors: Int, parameters: Int, bytes: Int
    }
    public var path: String
    public var files: [String]
    /// In the model's natural order.
    public var tensors: [Tensor]
    /// By dtype name (`F32`, `BF16`, …).
    public var totals: [String: Total]
    public var parameters: Int
    public var bytes: Int
    public var metadata: [String: String]

    public init(_ model: Checkpoint, path: String) {
        self.path = path
        files = model.files.map(\.url.path)
        tensors = model.tensorNames.map { name in
            let info = model[name]!
            return Tensor(name: name, dtype: info.dtype.rawValue, shape: info.shape, parameters: info.elementCount, bytes: info.byteCount)
        }
        var totals: [String: Total] = [:]
        for t in tensors {
            totals[t.dtype, default: Total(tensors: 0, parameters: 0, bytes: 0)].tensors += 1
            totals[t.dtype]!.parameters += t.parameters
            totals[t.dtype]!.bytes += t.bytes
        }
        self.totals = totals
        parameters = tensors.map(\.parameters).reduce(0, +)
        bytes = tensors.map(\.bytes).reduce(0, +)
        metadata = model.metadata
    }
}
