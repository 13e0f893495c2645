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
    /// Bytes on disk of the files written (headers and index included).
    public var bytes: Int
    /// The number of tensors written: every tensor of the model, changed or copied.
    public var tensors: Int
    /// The layers the job changed, in order.
    public var layers: [LayerReport]
    /// Per tensor, values beyond the output dtype's range written as ±∞.
    public var overflows: [String: Int]
    /// Wall-clock seconds for the whole job.
    public var seconds: Double
    /// Bytes on disk of the input model's weight files, where the job reports it (packed quantization: the size
    /// before, beside `bytes` after).
    public var inputBytes: Int?

    enum CodingKeys: String, CodingKey {
        case output, files, bytes, tensors, layers, overflows, seconds
        case inputBytes = "input_bytes"
    }
}

/// A model copied tensor by tensor into a new safetensors file (or shards),
/// with the selected 2-D floating tensors replaced by `transform(name, W)`
/// (stored in the input dtype unless `dtype` says otherwise) and everything
/// else copied unchanged (converted with `dtype`). One tensor in memory at a
/// time; atomic output; refuses to overwrite `protecting` or the model.
public struct ModelRewrite {
    /// The input model; its files are never overwritten.
    public var model: Checkpoint
    /// The safetensors file to write, or with `maxShardSize` the name its shards and index derive from.
    public var output: URL
    /// The tensors `transform` receives (default: `LayerSelection.default`); the others are copied.
    public var selection: LayerSelection
    /// The stored dtype of the selected tensors and of every other floating tensor (narrowing rounds to nearest
    /// even); nil keeps each tensor's input dtype. Integer and bool tensors are always copied as they are.
    public var dtype: DType?
    /// The largest shard in bytes (see `SafetensorsWriter.maxShardSize`); nil writes one file.
    public var maxShardSize: Int?
    /// Further input files the output must not overwrite (the model's own files are always protected).
    public var protecting: [URL]
    /// Entries added to the model's `__metadata__` in the output; on a clash these win.
    public var metadata: [String: String]

    /// A rewrite of `model` into `output`; by default the default selection, input dtypes kept, one file, nothing
    /// further protected, no metadata added. Nothing is read or written until `run`.
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
            } else {
                try writer.add(copying: name, from: model, dtype: dtype)
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

/// Pruning of the selected layers: N:M magnitude, unstructured magnitude, or
/// Wanda (|W|·‖x‖ per input channel, ‖x‖ from the calibration Gram's diagonal).
public struct PruneJob {
    /// Which weights of a layer are zeroed.
    public enum Method {
        /// N:M semi-structured: in each run of `m` consecutive inputs of a row keep the `n` largest |w| (2:4 is the
        /// pattern sparse tensor cores run).
        case nOfM(n: Int, m: Int)
        /// Unstructured: zero the fraction `sparsity` of the layer's weights with the smallest |w|.
        case magnitude(sparsity: Double)
        /// Wanda: per output row, zero the fraction `sparsity` with the smallest |w_ij|·‖x_j‖₂, ‖x_j‖₂ = √C_jj from
        /// the layer's calibration Gram (or inputs); a layer without statistics fails with `CalibrationError.missingLayer`.
        case wanda(sparsity: Double, calibration: CalibrationFile)
        /// SparseGPT with the layer's calibration Gram as H (unstructured or N:M, optionally quantizing the kept
        /// weights); a layer without statistics fails with `CalibrationError.missingLayer`.
        case sparseGPT(SparseGPT, calibration: CalibrationFile)
    }

    /// The model, output and selection; for Wanda `init` adds the calibration files to `protecting`.
    public var rewrite: ModelRewrite
    /// How each selected layer is pruned.
    public var method: Method

    /// A job pruning `rewrite`'s selected layers by `method` (Wanda's calibration files are protected from overwriting).
    public init(rewrite: ModelRewrite, method: Method) {
        self.rewrite = rewrite
        self.method = method
        switch method {
        case .wanda(_, let calibration), .sparseGPT(_, let calibration): self.rewrite.protecting += calibration.checkpoint.inputURLs
        default: break
        }
    }

    /// Writes the pruned model; each layer reports `zeroFraction` (and with SparseGPT `activationError`, as
    /// `QuantizeJob`'s). Throws what `ModelRewrite.run` throws, `CalibrationError` for Wanda's and SparseGPT's
    /// statistics, `CompressionError` for an invalid N:M or sparsity, and `ModelSurgeryError.layerFailed` for a
    /// SparseGPT failure naming the layer.
    public func run(observer: JobObserver = { _ in }) throws -> ModelReport {
        try rewrite.run(observer: observer) { name, w in
            let pruning: Pruning
            switch method {
            case .sparseGPT(let sparseGPT, let calibration):
                let layer = moduleName(name)
                guard let statistics = try calibration.covariance(layer: layer) else {
                    throw CalibrationError.missingLayer(layer: layer, file: calibration.checkpoint.url.path)
                }
                let pruned: Matrix<Float>
                do {
                    pruned = try sparseGPT.prune(w, hessian: statistics.gram).weight
                } catch let error as CompressionError {
                    throw ModelSurgeryError.layerFailed(layer: name, detail: error.description)
                }
                var report = LayerReport(layer: "")
                report.zeroFraction = Double(pruned.elements.filter { $0 == 0 }.count) / Double(Swift.max(pruned.count, 1))
                report.activationError = activationError(w, pruned, statistics.gram)
                report.bits = sparseGPT.bits
                return (pruned, report)
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
    /// The input model; its files are never overwritten.
    public var model: Checkpoint
    /// The safetensors file to write, or with `maxShardSize` the name its shards and index derive from.
    public var output: URL
    /// The stored dtype of every floating tensor in the output (F64, F32, F16 or BF16).
    public var dtype: DType
    /// The largest shard in bytes (see `SafetensorsWriter.maxShardSize`); nil writes one file.
    public var maxShardSize: Int?

    /// A conversion of `model` to `dtype` into `output` (one file unless `maxShardSize`).
    public init(model: Checkpoint, output: URL, dtype: DType, maxShardSize: Int? = nil) {
        self.model = model
        self.output = output
        self.dtype = dtype
        self.maxShardSize = maxShardSize
    }

    /// Writes the converted model, adding `rankwise.converted_from` (the input path) to `__metadata__`. Sends a
    /// `.layer` event per tensor (with `fromDType`/`toDType`); the report's `layers` stays empty. Values beyond the
    /// new dtype's range become ±∞, counted in `overflows` with a warning. Throws `SafetensorsError` or `FileAccessError`
    /// (and `GGUFError` for a GGUF tensor of a block format that is not dequantized).
    ///
    /// A GGUF model is written under its Hugging Face names (see `Checkpoint`), with a `.note` saying that only the
    /// tensors are written: its `config.json` (`GGUFFile.huggingFaceConfig`) and tokenizer are not.
    public func run(observer: JobObserver = { _ in }) throws -> ModelReport {
        let start = ContinuousClock.now
        let names = model.tensorNames
        if model.gguf != nil {
            observer(.note("a GGUF model: only its tensors are written (Hugging Face names); not its config.json or tokenizer"))
        }
        var metadata = model.metadata
        metadata["rankwise.converted_from"] = model.url.path
        let layout = names.map { name in
            let info = model[name]!
            return TensorLayout(name: name, dtype: info.dtype.isFloatingPoint ? dtype : info.dtype, shape: info.shape)
        }
        let writer = try SafetensorsWriter(url: output, protecting: model.inputURLs, layout: layout, metadata: metadata, maxShardSize: maxShardSize)
        for (i, name) in names.enumerated() {
            let info = model[name]!
            try writer.add(copying: name, from: model, dtype: dtype)
            var report = LayerReport(layer: name, shape: info.shape)
            report.fromDType = info.dtype.rawValue
            report.toDType = layout[i].dtype.rawValue
            observer(.layer(index: i, count: names.count, report))
        }
        try writer.finish()
        return finishReport(writer, output: output, tensors: names.count, layers: [], start: start, observer: observer)
    }
}

/// What `inspect` shows of a model: its tensors, totals by dtype, metadata, and for a GPTQ/AWQ model its packed
/// layers, for a GGUF model its file (version, architecture, block formats, stored size).
public struct ModelSummary: Codable, Sendable {
    /// One tensor as `inspect` lists it.
    public struct Tensor: Codable, Sendable {
        /// Its name, dtype (`F32`, `BF16`, …), shape, element count and data bytes. A packed layer's `P.weight` is
        /// listed as presented: the scales' dtype, `[out, in]`, and the bytes of its dequantized values.
        public var name: String, dtype: String, shape: [Int], parameters: Int, bytes: Int
        /// For a packed layer's `P.weight`: how it is stored (format, bits, group size, act-order, stored bytes);
        /// nil (absent in JSON) for a stored tensor.
        public var packed: PackedLayerInfo?
        /// For a GGUF model's tensor: the stored GGUF tensor; nil (absent in JSON) otherwise.
        public var gguf: GGUFTensor?
    }
    /// How a GGUF model's tensor is stored.
    public struct GGUFTensor: Codable, Sendable {
        /// Its name in the file (`blk.0.attn_q.weight`) and its GGUF type (`Q4_1`, `F32`, …).
        public var name: String, type: String
        /// Data bytes as stored.
        public var storedBytes: Int
        /// For a llama q/k weight or bias: the heads whose rows were put back in Hugging Face order; nil (absent in
        /// JSON) when rows are as stored.
        public var unpermutedHeads: Int?

        enum CodingKeys: String, CodingKey {
            case name, type, storedBytes = "stored_bytes", unpermutedHeads = "unpermuted_heads"
        }
    }
    /// A GGUF model's file.
    public struct GGUF: Codable, Sendable {
        /// The GGUF version (2 or 3).
        public var version: Int
        /// `general.architecture` (`llama`, `qwen2`, …); nil when absent.
        public var architecture: String?
        /// The Hugging Face class its tensors are named for (`LlamaForCausalLM`); nil when the architecture has no
        /// Hugging Face view (tensors keep their GGUF names).
        public var huggingFaceArchitecture: String?
        /// `general.name`; nil when absent.
        public var name: String?
        /// Tensors in the file, and their count per GGUF type (`Q4_1`: 210, …).
        public var tensors: Int, types: [String: Int]
        /// Metadata pairs in the file.
        public var metadataKeys: Int
        /// Tensor data bytes as stored (block formats packed).
        public var storedBytes: Int
        /// Tensor data bytes as presented (block formats as F32; the summary's `bytes`).
        public var dequantizedBytes: Int
        /// How many q/k tensors have their rows un-permuted (llama).
        public var unpermuted: Int
        /// True when the model has an embedding but no `output.weight` (the output layer reuses the embedding).
        public var tiedEmbeddings: Bool
        /// The tokenizer model (`tokenizer.ggml.model`: `gpt2`, `llama`, …) and its vocabulary size; nil when the
        /// file has none.
        public var tokenizer: String?, vocabulary: Int?

        enum CodingKeys: String, CodingKey {
            case version, architecture, huggingFaceArchitecture = "hugging_face_architecture", name, tensors, types
            case metadataKeys = "metadata_keys", storedBytes = "stored_bytes", dequantizedBytes = "dequantized_bytes", unpermuted
            case tiedEmbeddings = "tied_embeddings", tokenizer, vocabulary
        }
    }
    /// The packed (GPTQ/AWQ) layers of a model.
    public struct Quantization: Codable, Sendable {
        /// `gptq` (v1), `gptq_v2` or `awq`, of the first packed layer in natural order (see `uniform`).
        public var format: String
        /// Bits per code, of the first packed layer.
        public var bits: Int
        /// Inputs per group of the first packed layer; nil (absent in JSON) for one group of all inputs.
        public var groupSize: Int?
        /// Whether any packed layer is act-ordered (GPTQ `desc_act`: `g_idx` not `k / groupSize`).
        public var actOrder: Bool
        /// The number of packed layers.
        public var layers: Int
        /// Whether every packed layer has the same format, bits and group size (each tensor's `packed` has its own).
        public var uniform: Bool
        /// Whether format, bits and group size were inferred from the shapes (no quantization config beside the model).
        public var inferred: Bool
        /// Tensor data bytes of the whole model as stored: packed parts as packed (headers not counted).
        public var storedBytes: Int
        /// Tensor data bytes of the whole model with every packed layer dequantized (the summary's `bytes`).
        public var dequantizedBytes: Int

        enum CodingKeys: String, CodingKey {
            case format, bits, groupSize = "group_size", actOrder = "act_order", layers, uniform, inferred
            case storedBytes = "stored_bytes", dequantizedBytes = "dequantized_bytes"
        }
    }
    /// The totals for one dtype.
    public struct Total: Codable, Sendable {
        /// How many tensors have the dtype, and their elements and data bytes summed.
        public var tensors: Int, parameters: Int, bytes: Int
    }
    /// The model path, as the caller gave it.
    public var path: String
    /// The files read: the safetensors file or the shards in name order, or the GGUF file.
    public var files: [String]
    /// In the model's natural order.
    public var tensors: [Tensor]
    /// By dtype name (`F32`, `BF16`, …).
    public var totals: [String: Total]
    /// The element count summed over every tensor (integer and bool tensors included).
    public var parameters: Int
    /// Tensor data bytes summed over every tensor (headers not counted, so less than the files' size).
    public var bytes: Int
    /// `__metadata__` of the first shard.
    public var metadata: [String: String]
    /// For a model with packed (GPTQ/AWQ) layers: their format, bits, group size, act-order, count, and the
    /// model's stored and dequantized sizes; nil (absent in JSON) for a float model.
    public var quantization: Quantization?
    /// For a GGUF model: the file's version, architecture, types and sizes; nil (absent in JSON) otherwise.
    public var gguf: GGUF?

    /// Summarises an opened model from its headers alone (no tensor data is read beyond what `Checkpoint` read on
    /// open); `path` is recorded as given. Packed layers are listed as their dequantized `P.weight`, so `tensors`,
    /// `totals`, `parameters` and `bytes` describe the model as jobs read it; `quantization` says what is stored.
    /// A GGUF model is listed under its Hugging Face names and presented dtypes, each tensor with its `gguf` storage,
    /// and `gguf` summarises the file.
    public init(_ model: Checkpoint, path: String) {
        self.path = path
        files = model.files.map(\.url.path) + (model.gguf.map { [$0.url.path] } ?? [])
        tensors = model.tensorNames.map { name in
            let info = model[name]!
            let packed = model.isDequantized(name) ? model.packedLayers[moduleName(name)] : nil
            let stored = model.ggufTensor(name).map {
                GGUFTensor(name: $0.source.name, type: $0.source.type.name, storedBytes: $0.source.byteCount, unpermutedHeads: $0.unpermutedHeads)
            }
            return Tensor(name: name, dtype: info.dtype.rawValue, shape: info.shape, parameters: info.elementCount, bytes: info.byteCount,
                          packed: packed, gguf: stored)
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
        let packed = model.packedLayers.sorted { naturalOrder($0.key, $1.key) }.map(\.value)
        if let first = packed.first {
            quantization = Quantization(
                format: first.format.rawValue, bits: first.bits, groupSize: first.groupSize, actOrder: packed.contains { $0.descAct },
                layers: packed.count,
                uniform: packed.allSatisfy { ($0.format, $0.bits, $0.groupSize) == (first.format, first.bits, first.groupSize) },
                inferred: first.inferred, storedBytes: model.storedTensorNames.reduce(0) { $0 + model[$1]!.byteCount },
                dequantizedBytes: bytes)
        }
        if let file = model.gguf {
            var types: [String: Int] = [:]
            for t in file.tensors { types[t.type.name, default: 0] += 1 }
            let tokenizer = file.tokenizerMetadata
            gguf = GGUF(version: file.version, architecture: file.architecture,
                        huggingFaceArchitecture: file.architecture.flatMap { GGUFFile.huggingFaceArchitectures[$0]?.architecture },
                        name: file.metadata["general.name"]?.string, tensors: file.tensors.count, types: types,
                        metadataKeys: file.metadata.count, storedBytes: file.tensors.reduce(0) { $0 + $1.byteCount }, dequantizedBytes: bytes,
                        unpermuted: tensors.filter { $0.gguf?.unpermutedHeads != nil }.count,
                        tiedEmbeddings: file["token_embd.weight"] != nil && file["output.weight"] == nil,
                        tokenizer: tokenizer?.model, vocabulary: tokenizer?.tokens.count)
        }
    }
}
