import Foundation
import LinearAlgebra

/// A model stored as one safetensors file or as shards: `path` may be a
/// `.safetensors` file, a `*.safetensors.index.json` (with `weight_map`), or
/// a folder holding either. All shards read as one set of tensors.
///
/// **Packed layers.** A module `P` stored packed (GPTQ or AWQ: `P.qweight`, `P.qzeros`, `P.scales`, and for GPTQ
/// `P.g_idx`; see `PackedLinear`) is presented as its dequantized weight `P.weight` `[out, in]`, a *virtual*
/// tensor: `tensorNames` lists it instead of the packed parts, `self[P.weight]` describes it (dtype: the scales'
/// dtype, usually F16), and `matrix`, `array` and `rawBytes` decode and dequantize it, one layer at a time, so that
/// every job reading a checkpoint works on GPTQ and AWQ models unchanged. `packedLayers` and `storedTensorNames`
/// tell what is really stored; the packed parts stay readable by their own names.
///
/// **GGUF models.** `path` may also be a `.gguf` file (or any file starting with the magic `GGUF`), or a folder
/// holding exactly one `.gguf` file and no safetensors. Its tensors are presented under their Hugging Face names
/// (`GGUFFile.huggingFaceTensors()`: `blk.0.attn_q.weight` is `model.layers.0.self_attn.q_proj.weight`, with the
/// `llama` q/k row permutation undone), every one *virtual*: block formats (Q8_0, Q4_1, Q4_K, …) are dequantized on
/// read and described as F32; F32, F16, BF16 and F64 tensors are described as stored (and read from the mapping
/// without a copy unless their rows are reordered); integer tensors as their integer dtype. `files` is empty,
/// `gguf` is the file, `storedTensorNames` is empty (nothing is stored as a safetensors tensor), `metadata` is empty.
public final class Checkpoint: @unchecked Sendable {
    /// What the caller named.
    public let url: URL
    /// The shard files, in name order.
    public let files: [SafetensorsFile]
    /// Tensor names across all shards, in natural order (layer 2 before layer 10), with each packed layer `P`
    /// listed as `P.weight` in place of its stored parts (`P.qweight`, `P.qzeros`, `P.scales`, `P.g_idx`).
    public let tensorNames: [String]
    /// The tensor names as stored in the shards, in natural order (packed parts included, virtual weights not);
    /// empty for a GGUF model.
    public let storedTensorNames: [String]
    /// The packed layers by module name (`model.layers.0.self_attn.q_proj`); empty for a float model.
    public let packedLayers: [String: PackedLayerInfo]
    /// The quantization config found beside the model (`config.json`'s `quantization_config` or
    /// `quantize_config.json`), read only when the model has packed layers; nil otherwise or when there is none.
    public let quantizationConfig: QuantizationConfig?
    /// The GGUF file of a GGUF model (whose tensors this checkpoint presents under Hugging Face names); nil for a
    /// safetensors model.
    public let gguf: GGUFFile?
    private let owner: [String: SafetensorsFile]
    /// A GGUF model's tensors by presented (Hugging Face) name.
    private let ggufTensors: [String: GGUFMappedTensor]
    /// Virtual weights by name (`P.weight`).
    private let virtualWeights: [String: VirtualWeight]
    /// Dequantized bytes handed out by `rawBytes` for virtual weights, kept until `evict` or deinit.
    private var dequantizedBuffers: [String: UnsafeMutableRawBufferPointer] = [:]
    private let bufferLock = NSLock()

    /// Opens the model at `url` and every shard it names; tensor data is mapped, not read.
    ///
    /// `url` may be a `.safetensors` file; a `.json` index whose `weight_map` maps each tensor to a shard file in the
    /// index's folder; a folder holding exactly one `*.safetensors.index.json`, or else exactly one `.safetensors`
    /// file (hidden files ignored); or a `model.safetensors` that does not exist but has `model.safetensors.index.json`
    /// beside it (a model written as shards). The index and the shards must agree exactly: each mapped tensor is in
    /// its shard, each shard tensor is in the map.
    ///
    /// Packed layers are found by their `P.qweight` tensors. Their format, bits and group size come from the
    /// quantization config in the model's folder (the folder given, or the folder of the file or index; see
    /// `QuantizationConfig.init(modelFolder:)`). Without one they are inferred per layer, and
    /// `PackedLayerInfo.inferred` says so: a layer with `g_idx` is GPTQ **v1** with
    /// `bits = qweight rows · 32 / in` (in = `g_idx` length); a layer without `g_idx` whose `qweight` is
    /// `[in, out/8]` (out = `scales` columns) is AWQ 4-bit; the group size is the one that gives the `scales` row
    /// count (⌈in / G⌉; none for one group). A v2 checkpoint without its config would be read with zero points off
    /// by one: keep the config beside such a model. Every packed part's dtype and shape is checked on open, and each
    /// `g_idx` is read (4·in bytes) to tell act-order layers and to check its range.
    ///
    /// A GGUF file (see the type's documentation) is opened with `GGUFFile`; a split GGUF (`split.count` > 1) is
    /// refused.
    ///
    /// - Throws: `CheckpointError` for a path that leads to no single set of tensors or an inconsistent index,
    ///   `FileAccessError` for an index that cannot be read (or is over 256 MiB), and `SafetensorsError` for a shard
    ///   that breaks the format; `GGUFError` for a GGUF file that breaks the format or whose q/k rows cannot be
    ///   un-permuted; for packed layers, `PackedLinearError` naming the file and the tensor (a part
    ///   missing or of the wrong dtype or shape, a stored `P.weight` beside `P.qweight`, a format that cannot be
    ///   inferred) and `QuantizationConfigError` for an unusable config.
    public init(path url: URL) throws {
        self.url = url
        var isFolder: ObjCBool = false
        var indexURL: URL?
        var single: URL?
        let shardedSibling = URL(fileURLWithPath: url.path + ".index.json")
        if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) {
            // `model.safetensors` written as shards: its index stands for it.
            guard url.pathExtension == "safetensors", FileManager.default.fileExists(atPath: shardedSibling.path) else {
                throw CheckpointError.notFound(url.path)
            }
            indexURL = shardedSibling
        } else if isFolder.boolValue {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            let indexes = contents.filter { $0.hasSuffix(".safetensors.index.json") }.sorted()
            let tensors = contents.filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }.sorted()
            let ggufs = contents.filter { $0.lowercased().hasSuffix(".gguf") && !$0.hasPrefix(".") }.sorted()
            if indexes.count == 1 {
                indexURL = url.appendingPathComponent(indexes[0])
            } else if indexes.count > 1 {
                throw CheckpointError.ambiguous(url.path, indexes)
            } else if tensors.count == 1 {
                single = url.appendingPathComponent(tensors[0])
            } else if tensors.isEmpty && ggufs.count == 1 {
                single = url.appendingPathComponent(ggufs[0])
            } else if tensors.isEmpty && ggufs.count > 1 {
                throw CheckpointError.ambiguous(url.path, ggufs)
            } else if tensors.isEmpty {
                throw CheckpointError.noSafetensors(url.path)
            } else {
                throw CheckpointError.ambiguous(url.path, tensors)
            }
        } else if url.lastPathComponent.hasSuffix(".json") {
            indexURL = url
        } else {
            single = url
        }
        if let single, Self.isGGUF(single) {
            let file = try GGUFFile(contentsOf: single)
            if let parts = file.metadata["split.count"]?.int, parts > 1 {
                throw GGUFError(file: single.path, key: "split.count", rule: .splitFile(parts: parts))
            }
            let mapped = try file.huggingFaceTensors()
            gguf = file
            ggufTensors = Dictionary(uniqueKeysWithValues: mapped.map { ($0.name, $0) })
            files = []
            owner = [:]
            storedTensorNames = []
            packedLayers = [:]
            virtualWeights = [:]
            quantizationConfig = nil
            tensorNames = mapped.map(\.name).sorted(by: naturalOrder)
            return
        }
        gguf = nil
        ggufTensors = [:]
        if let single {
            let file = try SafetensorsFile(contentsOf: single)
            files = [file]
            owner = Dictionary(uniqueKeysWithValues: file.tensorNames.map { ($0, file) })
        } else {
            let index = indexURL!
            let data = try readRegularFile(index, limit: Self.indexSizeLimit)
            guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: String] else {
                throw CheckpointError.badIndex(index.path, "no \"weight_map\" object mapping tensor names to shard files")
            }
            guard !map.isEmpty else { throw CheckpointError.badIndex(index.path, "the weight_map is empty") }
            let folder = index.deletingLastPathComponent()
            var opened: [String: SafetensorsFile] = [:]
            for shard in Set(map.values).sorted() {
                // A shard is named relative to the index's folder and stays in it: no absolute path, no `..`.
                // A symlink placed in the folder is followed (Hugging Face's cache links every shard to a blob
                // elsewhere): whoever controls the folder controls the index too.
                let components = shard.split(separator: "/", omittingEmptySubsequences: false)
                guard !shard.isEmpty, !shard.hasPrefix("/"), !components.contains(where: { $0 == ".." || $0.isEmpty }) else {
                    throw CheckpointError.shardOutsideFolder(index.path, shard)
                }
                let shardURL = folder.appendingPathComponent(shard)
                guard FileManager.default.fileExists(atPath: shardURL.path) else { throw CheckpointError.missingShard(index.path, shard) }
                opened[shard] = try SafetensorsFile(contentsOf: shardURL)
            }
            var owner: [String: SafetensorsFile] = [:]
            for (name, shard) in map {
                let file = opened[shard]!
                guard file[name] != nil else { throw CheckpointError.tensorNotInShard(index.path, name, shard) }
                owner[name] = file
            }
            for (shard, file) in opened.sorted(by: { $0.key < $1.key }) {
                if let unlisted = file.tensorNames.first(where: { map[$0] == nil }) {
                    throw CheckpointError.tensorNotInIndex(index.path, unlisted, shard)
                }
            }
            self.owner = owner
            files = opened.keys.sorted().map { opened[$0]! }
        }
        storedTensorNames = owner.keys.sorted(by: naturalOrder)
        let folder = isFolder.boolValue ? url : (indexURL ?? url).deletingLastPathComponent()
        let packed = try Self.findPackedLayers(owner, names: storedTensorNames, folder: folder)
        packedLayers = packed.layers
        virtualWeights = packed.weights
        quantizationConfig = packed.config
        let replaced = Set(packed.weights.values.flatMap { $0.parts.values })
        tensorNames = (storedTensorNames.filter { !replaced.contains($0) } + packed.weights.keys).sorted(by: naturalOrder)
    }

    deinit {
        for buffer in dequantizedBuffers.values { buffer.deallocate() }
    }

    /// An index is JSON text of a few MB even for the largest models.
    static let indexSizeLimit = 256 << 20

    /// A `.gguf` name, or a regular file starting with the magic `GGUF` (a safetensors file cannot: its first 8
    /// bytes are a header length, and "GGUF" there would make it over a gigabyte).
    static func isGGUF(_ url: URL) -> Bool {
        if url.pathExtension.lowercased() == "gguf" { return true }
        guard let (fd, size) = try? openRegularFile(url) else { return false }
        defer { close(fd) }
        guard size >= 4 else { return false }
        var magic = [UInt8](repeating: 0, count: 4)
        return read(fd, &magic, 4) == 4 && magic == Array("GGUF".utf8)
    }

    /// Opens the checkpoint at a file-system path; see `init(path:)` taking a URL.
    public convenience init(path: String) throws { try self.init(path: URL(fileURLWithPath: path)) }

    /// The tensor's dtype, shape and byte range in the shard that holds it, or nil when no shard does. For a packed
    /// layer's virtual `P.weight`: the scales' dtype, shape `[out, in]` and `dataOffsets` `0..<byteCount` (its
    /// dequantized bytes, as `rawBytes` returns them).
    ///
    /// For a GGUF model's tensor: the presented dtype (F32 for block formats, as stored otherwise), the shape in
    /// PyTorch order, and `dataOffsets` `0..<byteCount` (the bytes `rawBytes` returns).
    public subscript(name: String) -> TensorInfo? {
        if let tensor = ggufTensors[name] {
            return TensorInfo(name: name, dtype: tensor.dtype, shape: tensor.shape, dataOffsets: 0..<(tensor.source.elementCount * tensor.dtype.size))
        }
        return owner[name]?[name] ?? virtualWeights[name]?.info
    }

    /// A GGUF model's tensor by its presented (Hugging Face) name: the stored GGUF tensor, its type and row order;
    /// nil for a safetensors model or an unknown name.
    public func ggufTensor(_ name: String) -> GGUFMappedTensor? { ggufTensors[name] }

    /// The shard holding a stored tensor; nil for a virtual (dequantized) weight, which no shard holds.
    public func file(holding name: String) -> SafetensorsFile? { owner[name] }

    /// Whether `name` is virtual, decoded on read rather than stored in a shard: a packed layer's `P.weight`, or
    /// any tensor of a GGUF model.
    public func isDequantized(_ name: String) -> Bool { virtualWeights[name] != nil || ggufTensors[name] != nil }

    /// `__metadata__` of the first shard.
    public var metadata: [String: String] { files.first?.metadata ?? [:] }

    /// A 1-D or 2-D floating tensor as a matrix converted to `T` (`[out, in]` for a weight; 1-D becomes a 1×n row),
    /// read from the shard that holds it. Throws `SafetensorsError`: `noSuchTensor` (naming this checkpoint's path),
    /// `wrongRank` or `notFloatingPoint`.
    ///
    /// A packed layer's virtual `P.weight` is decoded and dequantized (`PackedLinear.dequantized(as:)`: computed in
    /// Float, not rounded to the dtype `self[P.weight]` names), O(out·in); its packed parts' pages are then evicted.
    /// Decoding throws `PackedLinearError` naming the file and tensor.
    ///
    /// A GGUF tensor is decoded (`array`) into a matrix; ranks other than 1 and 2 throw `wrongRank`.
    public func matrix<T: Scalar>(_ name: String, as type: T.Type = T.self) throws -> Matrix<T> {
        if let weight = virtualWeights[name] { return try decode(weight).dequantized() }
        if let tensor = ggufTensors[name] {
            let shape = tensor.shape
            guard shape.count == 1 || shape.count == 2 else { throw SafetensorsError(file: url.path, tensor: name, rule: .wrongRank(shape.count)) }
            let values: [T] = try ggufArray(tensor)
            return shape.count == 2 ? Matrix(rows: shape[0], columns: shape[1], elements: values) : Matrix(rows: 1, columns: shape[0], elements: values)
        }
        guard let file = owner[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        return try file.matrix(name)
    }

    /// A floating tensor of any rank, flattened in row-major order and converted to `T` (exact when widening).
    /// Throws `SafetensorsError`: `noSuchTensor` (naming this checkpoint's path) or `notFloatingPoint`. A virtual
    /// `P.weight` gives `matrix(P.weight).elements`. A GGUF tensor: F32/F16/BF16/F64 exactly as stored (rows
    /// reordered for a llama q/k), block formats dequantized in Float (`GGUFFile.floats(_:)`) then converted to `T`;
    /// an integer one throws `notFloatingPoint`, a block format not implemented `GGUFError.notDequantizable`.
    public func array<T: Scalar>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        if let weight = virtualWeights[name] { return try decode(weight).dequantized(as: T.self).elements }
        if let tensor = ggufTensors[name] { return try ggufArray(tensor) }
        guard let file = owner[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        return try file.array(name)
    }

    /// The tensor's stored little-endian bytes in its shard's mapping, valid while this checkpoint lives; any dtype.
    /// Throws `SafetensorsError.noSuchTensor` naming this checkpoint's path.
    ///
    /// For a packed layer's virtual `P.weight`: its dequantized values rounded to its dtype (nearest even), in a
    /// buffer this checkpoint allocates on the first call and keeps until `evict(P.weight)` (or until the
    /// checkpoint is deinitialised); later calls return the same buffer. Reading the pointer after `evict` is a use
    /// after free. Decoding throws `PackedLinearError`. Memory: the buffer plus one Float row block while it is filled.
    ///
    /// For a GGUF tensor: a float or integer tensor in stored row order is its bytes in the file's mapping (valid
    /// while this checkpoint lives); a block format (as F32 values) or a llama q/k (rows reordered) is a buffer kept
    /// as above, until `evict`.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        if let weight = virtualWeights[name] { return try dequantizedBytes(weight) }
        if let tensor = ggufTensors[name] { return try ggufBytes(tensor) }
        guard let file = owner[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        return try file.rawBytes(name)
    }

    /// Drops a tensor's pages from resident memory (see `SafetensorsFile.evict`). For a virtual `P.weight`: frees
    /// the buffer `rawBytes` returned (invalidating it) and evicts the packed parts' pages.
    public func evict(_ name: String) {
        if let weight = virtualWeights[name] {
            bufferLock.lock()
            dequantizedBuffers.removeValue(forKey: name)?.deallocate()
            bufferLock.unlock()
            for part in weight.parts.values { owner[part]?.evict(part) }
            return
        }
        if let tensor = ggufTensors[name] {
            bufferLock.lock()
            dequantizedBuffers.removeValue(forKey: name)?.deallocate()
            bufferLock.unlock()
            gguf?.evict(tensor.source.name)
            return
        }
        owner[name]?.evict(name)
    }

    /// Every file path this checkpoint reads (for refusing to overwrite inputs).
    public var inputURLs: [URL] { files.map(\.url) + (gguf.map { [$0.url] } ?? []) + [url] }

    // MARK: GGUF tensors

    /// A GGUF tensor's values as `T`: float types exactly (from `ggufBytes`), block formats through Float.
    private func ggufArray<T: Scalar>(_ tensor: GGUFMappedTensor) throws -> [T] {
        guard tensor.dtype.isFloatingPoint else { throw SafetensorsError(file: url.path, tensor: tensor.name, rule: .notFloatingPoint(tensor.dtype)) }
        if tensor.source.type.isQuantized {
            let values = try gguf!.floats(tensor)
            // A type test, not `as? [T]` (which checks the array element by element).
            if T.self == Float.self { return unsafeBitCast(values, to: [T].self) }
            return values.map { T($0.doubleValue) }
        }
        defer { evict(tensor.name) }
        return ElementConversion.decode(try ggufBytes(tensor), dtype: tensor.dtype, count: tensor.source.elementCount)
    }

    /// A GGUF tensor's presented bytes: the mapping for a float or integer tensor in stored order, else a buffer
    /// (dequantized to F32, or rows reordered) kept until `evict`.
    private func ggufBytes(_ tensor: GGUFMappedTensor) throws -> UnsafeRawBufferPointer {
        let file = gguf!, info = tensor.source
        if tensor.unpermutedHeads == nil && !info.type.isQuantized { return try file.rawBytes(info.name) }
        if info.type.isQuantized && !info.type.isDequantizable {
            throw GGUFError(file: file.url.path, tensor: info.name, rule: .notDequantizable(info.type))
        }
        bufferLock.lock()
        defer { bufferLock.unlock() }
        if let buffer = dequantizedBuffers[tensor.name] { return UnsafeRawBufferPointer(buffer) }
        let count = info.elementCount, size = tensor.dtype.size
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count * size, alignment: 64)
        if let base = buffer.baseAddress { adviseHugePages(base, byteCount: buffer.count) }
        if !info.type.isQuantized {
            // Rows reordered (a 1-D bias: elements), bytes copied as stored.
            let stored = try file.rawBytes(info.name)
            let unit = info.shape.count == 1 ? size : info.rowBytes, units = info.shape.count == 1 ? count : info.rowCount
            for r in 0..<units {
                (buffer.baseAddress! + r * unit).copyMemory(from: stored.baseAddress! + tensor.sourceRow(r) * unit, byteCount: unit)
            }
        } else if info.shape.count == 1 && tensor.unpermutedHeads != nil {
            let values = try file.floats(tensor)
            values.withUnsafeBytes { buffer.copyMemory(from: $0) }
        } else {
            let out = buffer.bindMemory(to: Float.self).baseAddress!
            let source: ((Int) -> Int)? = tensor.unpermutedHeads == nil ? nil : { tensor.sourceRow($0) }
            file.decode(info, rows: 0..<info.rowCount, source: source, into: out)
        }
        file.evict(info.name)
        dequantizedBuffers[tensor.name] = buffer
        return UnsafeRawBufferPointer(buffer)
    }

    // MARK: Packed layers

    /// A packed layer's virtual weight: how to decode it and what it presents.
    private struct VirtualWeight {
        var module: String
        var format: PackedFormat
        var bits: Int
        var groupSize: Int?
        /// The stored parts used, full names by suffix.
        var parts: [String: String]
        var info: TensorInfo
    }

    /// Decodes a packed layer from its stored parts (copied out of the mapping), then evicts their pages.
    private func decode(_ weight: VirtualWeight) throws -> PackedLinear {
        var tensors: [String: PackedTensor] = [:]
        for (suffix, name) in weight.parts {
            let file = owner[name]!, info = file[name]!
            tensors[suffix] = PackedTensor(suffix: suffix, dtype: info.dtype, shape: info.shape, bytes: Array(try file.rawBytes(name)))
        }
        defer { for name in weight.parts.values { owner[name]?.evict(name) } }
        do {
            return try PackedLinear(format: weight.format, bits: weight.bits, groupSize: weight.groupSize, tensors: tensors)
        } catch var error as PackedLinearError {
            let suffix = error.tensor ?? "qweight"
            error.tensor = weight.module + "." + suffix
            error.file = (owner[weight.module + "." + suffix] ?? owner[weight.parts["qweight"]!])?.url.path
            throw error
        }
    }

    /// The virtual weight's dequantized bytes in its dtype, from the kept buffer or filled now, 64 rows at a time.
    private func dequantizedBytes(_ weight: VirtualWeight) throws -> UnsafeRawBufferPointer {
        bufferLock.lock()
        defer { bufferLock.unlock() }
        let name = weight.info.name
        if let buffer = dequantizedBuffers[name] { return UnsafeRawBufferPointer(buffer) }
        let layer = try decode(weight)
        let n = layer.inFeatures, dtype = weight.info.dtype
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: weight.info.byteCount, alignment: 64)
        let block = Swift.max(1, Swift.min(layer.outFeatures, (1 << 20) / Swift.max(n, 1)))
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: block * n)
        defer { rows.deallocate() }
        for first in stride(from: 0, to: layer.outFeatures, by: block) {
            let count = Swift.min(block, layer.outFeatures - first)
            layer.dequantize(rows: first..<(first + count), into: rows)
            ElementConversion.encode(UnsafeBufferPointer(start: rows, count: count * n), as: dtype,
                                     into: buffer.baseAddress! + first * n * dtype.size)
        }
        dequantizedBuffers[name] = buffer
        return UnsafeRawBufferPointer(buffer)
    }

    /// Finds the packed layers among the stored tensors (by `P.qweight`), checks their parts' headers, reads their
    /// `g_idx`, and builds their virtual weights.
    private static func findPackedLayers(_ owner: [String: SafetensorsFile], names: [String], folder: URL)
        throws -> (layers: [String: PackedLayerInfo], weights: [String: VirtualWeight], config: QuantizationConfig?) {
        let modules = names.filter { $0.hasSuffix(".qweight") }.map { String($0.dropLast(".qweight".count)) }
        guard !modules.isEmpty else { return ([:], [:], nil) }
        let config = try QuantizationConfig(modelFolder: folder)
        var layers: [String: PackedLayerInfo] = [:], weights: [String: VirtualWeight] = [:]
        for module in modules {
            let qweightFile = owner[module + ".qweight"]!
            func located(_ error: PackedLinearError) -> PackedLinearError {
                var e = error
                let suffix = e.tensor ?? "qweight"
                e.tensor = module + "." + suffix
                e.file = (owner[module + "." + suffix] ?? qweightFile).url.path
                return e
            }
            do {
                if owner[module + ".weight"] != nil { throw PackedLinearError(tensor: "weight", rule: .weightAlongside) }
                var headers: [String: (dtype: DType, shape: [Int])] = [:]
                for suffix in PackedLinear.parts {
                    if let info = owner[module + "." + suffix]?[module + "." + suffix] { headers[suffix] = (info.dtype, info.shape) }
                }
                let format: PackedFormat, bits: Int, groupSize: Int?
                if let config {
                    (format, bits, groupSize) = (config.format, config.bits, config.groupSize)
                } else {
                    (format, bits, groupSize) = try inferFormat(headers)
                }
                let layout = try PackedLinear.layout(format: format, bits: bits, groupSize: groupSize, headers: headers)
                let used = PackedLinear.parts.filter { headers[$0] != nil && !(format == .awq && $0 == "g_idx") }
                var parts: [String: String] = [:]
                for suffix in used { parts[suffix] = module + "." + suffix }
                // Act-order: g_idx is not k / groupSize (its range is checked too).
                var actOrder = false
                if let gName = parts["g_idx"], let gFile = owner[gName] {
                    let raw = try gFile.rawBytes(gName)
                    let groupIndex = try PackedLinear.decodeGroupIndex(raw, dtype: headers["g_idx"]!.dtype, count: layout.inFeatures, groups: layout.groupCount)
                    gFile.evict(gName)
                    let size = layout.groupSize ?? layout.inFeatures
                    actOrder = groupIndex.indices.contains { Int(groupIndex[$0]) != $0 / size }
                }
                let dtype = headers["scales"]!.dtype
                let bytes = try checkedProduct([layout.outFeatures, layout.inFeatures, dtype.size], tensor: "qweight")
                let stored = used.reduce(0) { $0 + owner[module + "." + $1]![module + "." + $1]!.byteCount }
                let name = module + ".weight"
                layers[module] = PackedLayerInfo(format: format, bits: bits, groupSize: layout.groupSize, descAct: actOrder,
                                                 outFeatures: layout.outFeatures, inFeatures: layout.inFeatures, groupCount: layout.groupCount,
                                                 dtype: dtype, storedBytes: stored, inferred: config == nil)
                weights[name] = VirtualWeight(module: module, format: format, bits: bits, groupSize: layout.groupSize, parts: parts,
                                              info: TensorInfo(name: name, dtype: dtype, shape: [layout.outFeatures, layout.inFeatures],
                                                               dataOffsets: 0..<bytes))
            } catch let error as PackedLinearError {
                throw located(error)
            }
        }
        return (layers, weights, config)
    }

    /// The format, bits and group size of a packed layer without a config (see `init(path:)`).
    private static func inferFormat(_ headers: [String: (dtype: DType, shape: [Int])]) throws -> (PackedFormat, Int, Int?) {
        let (qweight, _, scales, gIndex) = try PackedLinear.checkParts(format: .gptq, headers: headers)
        let (groups, out) = (scales[0], scales[1])
        let n: Int, format: PackedFormat, bits: Int
        if let gIndex {
            n = gIndex[0]
            let (stream, overflow) = qweight[0].multipliedReportingOverflow(by: 32)
            guard n > 0, !overflow, stream % n == 0, PackedFormat.gptq.supportedBits.contains(stream / n) else {
                throw PackedLinearError(tensor: "qweight", rule: .unknownFormat("qweight \(qweight) with g_idx [\(n)] gives no GPTQ bit width (rows · 32 / in)"))
            }
            (format, bits) = (.gptq, stream / n)
        } else if qweight[1] > 0, qweight[1].multipliedReportingOverflow(by: 8) == (out, false) {
            (n, format, bits) = (qweight[0], .awq, 4)
        } else {
            throw PackedLinearError(tensor: "qweight", rule: .unknownFormat("no g_idx (so not GPTQ), and qweight \(qweight) is not [in, out/8] for scales \(scales) (so not AWQ)"))
        }
        guard groups > 1 else { return (format, bits, nil) }
        guard n > 0 else { return (format, bits, 1) }
        let size = (n + groups - 1) / groups
        guard (n + size - 1) / size == groups, format != .awq || n % groups == 0 else {
            throw PackedLinearError(tensor: "scales", rule: .unknownFormat("\(groups) groups of in = \(n) inputs match no group size"))
        }
        return (format, bits, size)
    }
}

/// What a checkpoint's packed layer is: how it is stored and what it presents.
public struct PackedLayerInfo: Sendable, Equatable, Codable {
    /// The stored layout.
    public var format: PackedFormat
    /// Bits per code.
    public var bits: Int
    /// Inputs per group; nil for one group of all inputs.
    public var groupSize: Int?
    /// Act-order (GPTQ `desc_act`): the layer's `g_idx` is not `k / groupSize`.
    public var descAct: Bool
    /// Rows of the weight (out).
    public var outFeatures: Int
    /// Columns of the weight (in).
    public var inFeatures: Int
    /// The number of groups G.
    public var groupCount: Int
    /// The dtype of the presented `P.weight`: the stored scales' dtype (F16 as GPTQ and AWQ write them).
    public var dtype: DType
    /// Data bytes of the packed parts as stored (`qweight`, `qzeros`, `scales`, `g_idx`; a bias not included).
    public var storedBytes: Int
    /// True when format, bits and group size were inferred from the shapes, there being no quantization config.
    public var inferred: Bool

    /// Data bytes of the dequantized weight: out · in · `dtype.size`.
    public var dequantizedBytes: Int { outFeatures * inFeatures * dtype.size }

    /// JSON keys in snake case, as the config files spell them (`group_size`, `desc_act`); `group_size` is absent
    /// for one group.
    enum CodingKeys: String, CodingKey {
        case format, bits, groupSize = "group_size", descAct = "desc_act", outFeatures = "out_features", inFeatures = "in_features"
        case groupCount = "group_count", dtype, storedBytes = "stored_bytes", inferred
    }

    /// A description of a packed layer (as `Checkpoint` builds it).
    public init(format: PackedFormat, bits: Int, groupSize: Int?, descAct: Bool, outFeatures: Int, inFeatures: Int, groupCount: Int,
                dtype: DType, storedBytes: Int, inferred: Bool) {
        self.format = format
        self.bits = bits
        self.groupSize = groupSize
        self.descAct = descAct
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.groupCount = groupCount
        self.dtype = dtype
        self.storedBytes = storedBytes
        self.inferred = inferred
    }
}

/// A checkpoint path that does not lead to a usable set of tensors.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing exists at the path (and, for a `.safetensors` path, no `.index.json` beside it either).
    case notFound(String)
    /// The folder holds no `.safetensors` file, no index and no `.gguf` file.
    case noSafetensors(String)
    /// The folder holds several indexes, or no index and several `.safetensors` files, or none of those and several
    /// `.gguf` files (the candidates, sorted).
    case ambiguous(String, [String])
    /// The index (path) is not a JSON object with a non-empty `weight_map` of tensor name to shard file (why).
    case badIndex(String, String)
    /// The index (path) maps tensors to a shard file (name) that does not exist in its folder.
    case missingShard(String, String)
    /// The index (path) maps the tensor (name) to a shard (file name) that does not hold it.
    case tensorNotInShard(String, String, String)
    /// The shard (third) holds a tensor (second) that the index (path) does not list: a stale or edited index.
    case tensorNotInIndex(String, String, String)
    /// The index (path) names a shard (as written) by an absolute path, with `..` or an empty component: refused,
    /// since shards must be files of the index's folder.
    case shardOutsideFolder(String, String)

    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no such file or folder"
        case .noSafetensors(let p): return "\(p): no .safetensors file, index or .gguf file in this folder"
        case .ambiguous(let p, let names): return "\(p): several candidates (\(names.prefix(4).joined(separator: ", "))); name the file or the index"
        case .badIndex(let p, let why): return "\(p): not a usable safetensors index: \(why)"
        case .missingShard(let p, let shard): return "\(p): shard '\(shard)' named in the index does not exist"
        case .tensorNotInShard(let p, let t, let shard): return "\(p): tensor '\(t)' is mapped to '\(shard)' but that shard does not hold it"
        case .tensorNotInIndex(let p, let t, let shard): return "\(p): shard '\(shard)' holds tensor '\(t)', which the weight_map does not list (a stale or edited index?)"
        case .shardOutsideFolder(let p, let shard): return "\(p): shard '\(shard)' is not a file of the index's folder; refusing to read it"
        }
    }
}

/// Natural order of tensor names: runs of digits compare as numbers, so
/// `layers.2.` comes before `layers.10.` (plain string order puts 10 and 11
/// between 1 and 2). Ties in value (`01` vs `1`) fall back to string order.
public func naturalOrder(_ a: String, _ b: String) -> Bool {
    var i = a.utf8.startIndex, j = b.utf8.startIndex
    let x = a.utf8, y = b.utf8
    func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
    while i < x.endIndex && j < y.endIndex {
        let c = x[i], d = y[j]
        if isDigit(c) && isDigit(d) {
            var ei = i, ej = j
            while ei < x.endIndex && isDigit(x[ei]) { ei = x.index(after: ei) }
            while ej < y.endIndex && isDigit(y[ej]) { ej = y.index(after: ej) }
            // Compare the digit runs as numbers without converting (any length): strip leading zeros, then length, then digits.
            var si = i, sj = j
            while si < ei && x[si] == 48 && x.index(after: si) < ei { si = x.index(after: si) }
            while sj < ej && y[sj] == 48 && y.index(after: sj) < ej { sj = y.index(after: sj) }
            let li = x.distance(from: si, to: ei), lj = y.distance(from: sj, to: ej)
            if li != lj { return li < lj }
            if !x[si..<ei].elementsEqual(y[sj..<ej]) { return x[si..<ei].lexicographicallyPrecedes(y[sj..<ej]) }
            i = ei
            j = ej
        } else {
            if c != d { return c < d }
            i = x.index(after: i)
            j = y.index(after: j)
        }
    }
    if (i < x.endIndex) != (j < y.endIndex) { return j < y.endIndex }
    return a < b
}
