import Foundation
import LinearAlgebra

#if canImport(Glibc)
import Glibc
#endif

/// A tensor's name, dtype and shape: what a safetensors header says of it.
public struct TensorLayout: Sendable, Equatable {
    /// The tensor's name in the header, its stored dtype and its shape (outermost first, `[out, in]` for a weight).
    public var name: String, dtype: DType, shape: [Int]
    /// A layout entry; nothing is checked until a writer takes it.
    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }
    /// Bytes the tensor's data takes: element count × `dtype.size` (1 element for the scalar shape `[]`).
    public var byteCount: Int { shape.reduce(1, *) * dtype.size }
}

/// Writes a safetensors file (or shards of one), streaming, one tensor in
/// memory at a time. The file has the 8-byte length, the JSON header padded
/// with spaces to a multiple of 8, and the tensors sorted by dtype size,
/// largest first, then by name, packed with no gaps. Output is written under
/// temporary names, fsynced and renamed into place by `finish`; until then
/// nothing exists at the destination, and `cancel()`, an error or deinit
/// before `finish` removes every temporary file.
///
/// Two modes:
/// - **Direct**, when every tensor is known in advance
///   (`init(url:protecting:layout:metadata:maxShardSize:)`): the headers are
///   written first and each `add` writes its bytes straight to their final
///   place. Tensors may come in any order. Nothing is written twice.
/// - **Spooled** (`init(url:protecting:)`): each added tensor goes to a spool
///   file beside the destination; `finish` writes the header and copies the
///   data into the final file.
///
/// Both modes produce the same bytes for the same tensors and metadata.
public final class SafetensorsWriter {
    private struct Entry {
        var name: String, dtype: DType, shape: [Int], byteCount: Int
        /// Spooled: offset in the spool. Direct: the shard and the offset in its file.
        var offset: Int, shard: Int = 0
    }

    /// The destination as passed to `init`: the single file written, or, when the output is sharded, the name the
    /// shards (`stem-0000K-of-0000N.safetensors`) and the index (`url.index.json`) are derived from.
    public let url: URL
    /// Spooled mode.
    private let spool: AtomicFile?
    private var entries: [Entry] = []
    private var names = Set<String>()
    /// Direct mode: the output files (one per shard), each tensor's place, and the layout's metadata.
    private var directFiles: [AtomicFile] = []
    private var slots: [String: Entry] = [:]
    private var directShards: [[Entry]] = []
    private var directMetadata: [String: String] = [:]
    private var finished = false, committed = false
    /// The outermost folder of the destination's path that this writer created, if any.
    private var createdFolder: URL?

    /// A spooled writer.
    ///
    /// - Parameters:
    ///   - url: the destination file (shards go beside it).
    ///   - inputs: files this run reads; writing over any of them is refused.
    public init(url: URL, protecting inputs: [URL] = []) throws {
        try Self.refuseOverwrite(url, inputs)
        createdFolder = try Self.makeFolder(for: url)
        self.url = url
        spool = try AtomicFile(destination: url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).spool"))
    }

    /// A direct writer for exactly the tensors of `layout`: each must then be
    /// added once, with this dtype and shape, in any order. `metadata` joins
    /// `{"format": "pt"}` and `rankwise.version` in `__metadata__`. Shards
    /// as described at `maxShardSize`.
    public init(url: URL, protecting inputs: [URL] = [], layout: [TensorLayout], metadata: [String: String] = [:], maxShardSize: Int? = nil) throws {
        try Self.refuseOverwrite(url, inputs)
        createdFolder = try Self.makeFolder(for: url)
        self.url = url
        self.maxShardSize = maxShardSize
        spool = nil
        var all: [Entry] = []
        for t in layout {
            guard names.insert(t.name).inserted else { throw SafetensorsError(file: url.path, tensor: t.name, rule: .duplicateTensor) }
            all.append(Entry(name: t.name, dtype: t.dtype, shape: t.shape, byteCount: t.byteCount, offset: 0))
        }
        names.removeAll()
        directMetadata = metadata
        let meta = Self.headerMetadata(metadata)
        directShards = Self.shards(Self.ordered(all), limit: maxShardSize)
        for (k, shard) in directShards.enumerated() {
            let header = Self.header(shard, meta)
            let file = try Self.startFile(shardURL(k, of: directShards.count), header: header)
            var position = 8 + header.count
            for var e in shard {
                e.offset = position
                e.shard = k
                slots[e.name] = e
                position += e.byteCount
            }
            directFiles.append(file)
        }
    }

    deinit { cancel() }

    private var isDirect: Bool { spool == nil }

    /// The number of tensors added so far.
    public var count: Int { names.count }
    /// Bytes of tensor data added so far.
    public private(set) var dataSize = 0

    /// Adds a floating tensor from a matrix, stored as `dtype` (rounded to
    /// nearest even when narrowing). Shape `[rows, columns]`.
    public func add<T: Scalar>(name: String, matrix: Matrix<T>, dtype: DType = .f32) throws {
        try matrix.withUnsafeBufferPointer { try add(name: name, shape: [matrix.rows, matrix.columns], values: $0, dtype: dtype) }
    }

    /// Adds a floating tensor of any shape from its row-major values.
    public func add<T: Scalar>(name: String, shape: [Int], array: [T], dtype: DType = .f32) throws {
        try array.withUnsafeBufferPointer { try add(name: name, shape: shape, values: $0, dtype: dtype) }
    }

    /// Adds a floating tensor of any shape from row-major values in memory.
    /// Values already in the stored form (Float as F32, Double as F64) are
    /// written as they are; others are converted a chunk at a time, so no
    /// second full-size copy is made.
    public func add<T: Scalar>(name: String, shape: [Int], values: UnsafeBufferPointer<T>, dtype: DType = .f32) throws {
        guard dtype.isFloatingPoint else { throw SafetensorsError(file: url.path, tensor: name, rule: .notFloatingPoint(dtype)) }
        precondition(shape.reduce(1, *) == values.count, "SafetensorsWriter: shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        if ElementConversion.isIdentity(T.self, dtype) {
            try add(name: name, shape: shape, dtype: dtype, rawBytes: UnsafeRawBufferPointer(values))
            return
        }
        try appendEncoded(name: name, shape: shape, dtype: dtype, count: values.count) { first, n in
            UnsafeBufferPointer(rebasing: values[first..<(first + n)])
        }
    }

    /// Adds a floating tensor stored as `sourceDType` in `bytes` (a tensor of
    /// another file, say), converted to `dtype` a chunk at a time through
    /// Float (Double when either side is F64): memory stays at the chunk,
    /// whatever the tensor's size. Narrowing rounds to nearest even.
    public func add(name: String, shape: [Int], dtype: DType, converting bytes: UnsafeRawBufferPointer, from sourceDType: DType) throws {
        guard dtype.isFloatingPoint else { throw SafetensorsError(file: url.path, tensor: name, rule: .notFloatingPoint(dtype)) }
        guard sourceDType.isFloatingPoint else { throw SafetensorsError(file: url.path, tensor: name, rule: .notFloatingPoint(sourceDType)) }
        let count = shape.reduce(1, *)
        precondition(count * sourceDType.size == bytes.count, "SafetensorsWriter: \(name): byte count does not match shape and source dtype")
        if dtype == sourceDType {
            try add(name: name, shape: shape, dtype: dtype, rawBytes: bytes)
        } else if dtype == .f64 || sourceDType == .f64 {
            try transcode(name, shape, dtype, bytes, sourceDType, count, through: Double.self)
        } else {
            try transcode(name, shape, dtype, bytes, sourceDType, count, through: Float.self)
        }
    }

    private func transcode<T: Scalar>(_ name: String, _ shape: [Int], _ dtype: DType, _ bytes: UnsafeRawBufferPointer, _ sourceDType: DType,
                                      _ count: Int, through: T.Type) throws {
        let values = UnsafeMutablePointer<T>.allocate(capacity: Self.chunk)
        defer { values.deallocate() }
        try appendEncoded(name: name, shape: shape, dtype: dtype, count: count) { first, n in
            ElementConversion.decode(bytes.baseAddress! + first * sourceDType.size, dtype: sourceDType, count: n, into: values)
            return UnsafeBufferPointer(start: values, count: n)
        }
    }

    /// Values converted to `dtype` per chunk, so no full-size copy is made.
    private static let chunk = 1 << 16

    /// Registers a floating tensor of `count` values and writes them encoded
    /// as `dtype`, `chunk` at a time: `values(first, n)` gives values
    /// first..<first+n.
    private func appendEncoded<T: Scalar>(name: String, shape: [Int], dtype: DType, count: Int,
                                          _ values: (_ first: Int, _ n: Int) -> UnsafeBufferPointer<T>) throws {
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: Self.chunk * dtype.size, alignment: 16)
        defer { scratch.deallocate() }
        // F16 and BF16 have a narrower range: count finite values that became ±∞.
        let infinity: UInt16? = dtype == .f16 ? 0x7C00 : dtype == .bf16 ? 0x7F80 : nil
        var overflowed = 0
        try append(name: name, shape: shape, dtype: dtype, byteCount: count * dtype.size) { write in
            for first in stride(from: 0, to: count, by: Self.chunk) {
                let n = Swift.min(Self.chunk, count - first)
                let chunk = values(first, n)
                ElementConversion.encode(chunk, as: dtype, into: scratch)
                if let infinity {
                    let bits = scratch.assumingMemoryBound(to: UInt16.self)
                    for i in 0..<n where bits[i] & 0x7FFF == infinity && chunk[i].isFinite { overflowed += 1 }
                }
                try write(UnsafeRawBufferPointer(start: scratch, count: n * dtype.size))
            }
        }
        if overflowed > 0 { overflows[name] = overflowed }
    }

    /// Per tensor, how many finite values were too large for the stored
    /// dtype (F16 above 65504, BF16 near Float's limit) and were written as
    /// ±∞. Callers report them; the values are written as IEEE rounding says.
    public private(set) var overflows: [String: Int] = [:]

    /// Adds a tensor from its raw little-endian bytes (any dtype: integer and
    /// bool tensors are carried through unchanged this way).
    public func add(name: String, shape: [Int], dtype: DType, rawBytes: UnsafeRawBufferPointer) throws {
        try append(name: name, shape: shape, dtype: dtype, byteCount: rawBytes.count) { write in try write(rawBytes) }
    }

    /// Adds tensor `tensor` of `file` under `name`, its stored bytes copied
    /// file to file by the kernel where the file system allows
    /// (`copy_file_range`), never mapped into this process.
    public func add(name: String, copying tensor: String, from file: SafetensorsFile) throws {
        guard let info = file[tensor] else { throw SafetensorsError(file: file.url.path, tensor: tensor, rule: .noSuchTensor) }
        let start = try file.fileOffset(of: tensor)
        try append(name: name, shape: info.shape, dtype: info.dtype, byteCount: info.byteCount) { target, offset in
            try target.copy(from: file.url, at: start, count: info.byteCount, to: offset)
        }
    }

    /// Adds tensor `tensor` of `model` (whichever shard holds it) under `name` (default: the same), copied as stored,
    /// or — for a floating tensor whose dtype differs from `dtype` — converted to `dtype` (round to nearest even when
    /// narrowing). Stored tensors are copied file to file; dequantized ones (packed GPTQ/AWQ layers, GGUF tensors)
    /// are written from their decoded bytes, whose pages are then let go.
    public func add(copying tensor: String, from model: Checkpoint, as name: String? = nil, dtype: DType? = nil) throws {
        guard let info = model[tensor] else { throw SafetensorsError(file: model.url.path, tensor: tensor, rule: .noSuchTensor) }
        let name = name ?? tensor
        if let dtype, info.dtype.isFloatingPoint, info.dtype != dtype {
            defer { model.evict(tensor) }
            try add(name: name, shape: info.shape, dtype: dtype, converting: try model.rawBytes(tensor), from: info.dtype)
        } else if let file = model.file(holding: tensor) {
            try add(name: name, copying: tensor, from: file)
        } else {
            defer { model.evict(tensor) }
            try add(name: name, shape: info.shape, dtype: info.dtype, rawBytes: try model.rawBytes(tensor))
        }
    }

    /// Registers a tensor of `byteCount` bytes and lets `produce` hand its
    /// bytes, in order, to the given sink (to the spool, or to the tensor's
    /// place in its file).
    private func append(name: String, shape: [Int], dtype: DType, byteCount: Int,
                        _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        var written = 0
        try append(name: name, shape: shape, dtype: dtype, byteCount: byteCount) { target, offset in
            try produce { bytes in
                if let offset { try target.write(bytes, at: offset + written) } else { try target.write(bytes) }
                written += bytes.count
            }
        }
        precondition(written == byteCount, "SafetensorsWriter: \(name): \(written) bytes written of \(byteCount)")
    }

    /// Registers a tensor of `byteCount` bytes and lets `fill` write them to
    /// `target`: at `offset`, the tensor's place in its file, or (spooled) at
    /// the spool's end when `offset` is nil. A failed write abandons the
    /// whole output.
    private func append(name: String, shape: [Int], dtype: DType, byteCount: Int,
                        fill: (_ target: AtomicFile, _ offset: Int?) throws -> Void) throws {
        precondition(!finished, "SafetensorsWriter: add after finish")
        precondition(shape.reduce(1, *) * dtype.size == byteCount, "SafetensorsWriter: \(name): byte count does not match shape and dtype")
        let target: AtomicFile, offset: Int?
        if let spool {
            (target, offset) = (spool, nil)
        } else {
            guard let slot = slots[name] else { preconditionFailure("SafetensorsWriter: \(name) is not in the layout given at init") }
            precondition(slot.dtype == dtype && slot.shape == shape,
                         "SafetensorsWriter: \(name) is \(dtype.rawValue) \(shape) but the layout says \(slot.dtype.rawValue) \(slot.shape)")
            (target, offset) = (directFiles[slot.shard], slot.offset)
        }
        guard names.insert(name).inserted else { throw SafetensorsError(file: url.path, tensor: name, rule: .duplicateTensor) }
        do { try fill(target, offset) } catch { cancel(); throw error }
        if spool != nil { entries.append(Entry(name: name, dtype: dtype, shape: shape, byteCount: byteCount, offset: dataSize)) }
        dataSize += byteCount
    }

    /// When set, and the tensors add up to more than this many bytes, the
    /// output is shards instead of one file: for a destination
    /// `dir/name.safetensors`, `dir/name-0000K-of-0000N.safetensors` (each at
    /// most this size, or one tensor if that alone is larger) and
    /// `dir/name.safetensors.index.json` with `metadata.total_size` and
    /// `weight_map`, as Hugging Face checkpoints are laid out. (Direct mode
    /// takes it at init.)
    public var maxShardSize: Int? {
        willSet { precondition(!isDirect || newValue == maxShardSize, "SafetensorsWriter: a direct writer takes maxShardSize at init") }
    }

    /// The files `finish` wrote (one, or the shards followed by the index).
    public private(set) var writtenFiles: [URL] = []

    /// Writes the file (or shards). Spooled: `metadata` joins
    /// `{"format": "pt"}` and the provenance key `rankwise.version` in
    /// `__metadata__`. Direct: the metadata was given at init, and every
    /// tensor of the layout must have been added.
    public func finish(metadata: [String: String] = [:]) throws {
        precondition(!finished, "SafetensorsWriter: finish called twice")
        finished = true
        let shards: [[Entry]]
        if let spool {
            defer { spool.discard() }
            shards = Self.shards(Self.ordered(entries), limit: maxShardSize)
            let meta = Self.headerMetadata(metadata)
            for (k, shard) in shards.enumerated() { try writeFromSpool(spool, shardURL(k, of: shards.count), shard, meta) }
        } else {
            precondition(metadata.isEmpty || metadata == directMetadata, "SafetensorsWriter: a direct writer takes its metadata at init")
            let missing = slots.keys.filter { !names.contains($0) }.sorted()
            precondition(missing.isEmpty, "SafetensorsWriter: finish before adding \(missing.prefix(3).joined(separator: ", "))\(missing.count > 3 ? ", …" : "")")
            shards = directShards
            for file in directFiles { try file.commit() }
        }
        committed = true
        releaseCreatedFolders()
        writtenFiles = shards.indices.map { shardURL($0, of: shards.count) }
        guard shards.count > 1 else { removeReplacedLayout(); return }
        var weightMap: [String: String] = [:]
        for (k, shard) in shards.enumerated() { for e in shard { weightMap[e.name] = writtenFiles[k].lastPathComponent } }
        let index: [String: Any] = ["metadata": ["total_size": dataSize], "weight_map": weightMap]
        let json = try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
        let indexURL = url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".index.json")
        let file = try AtomicFile(destination: indexURL)
        try file.write(Array(json) + [0x0A])
        try file.commit()
        writtenFiles.append(indexURL)
        removeReplacedLayout()
    }

    /// Abandons the output: removes the spool or the temporary files, and
    /// the folders this writer created for them; nothing is written.
    public func cancel() {
        finished = true
        spool?.discard()
        for file in directFiles { file.discard() }
        guard !committed, let top = createdFolder else { return }
        // Innermost first; rmdir leaves any folder that is not empty.
        var folder = url.deletingLastPathComponent().standardizedFileURL
        while rmdir(folder.path) == 0 && folder.path != top.path { folder = folder.deletingLastPathComponent() }
        releaseCreatedFolders()
    }

    /// The created folders are no longer this writer's to remove on a signal.
    private func releaseCreatedFolders() {
        guard let top = createdFolder else { return }
        var folder = url.deletingLastPathComponent().standardizedFileURL
        while folder.path.count >= top.path.count {
            TemporaryFiles.unregister(folder: folder.path)
            folder = folder.deletingLastPathComponent()
        }
        createdFolder = nil
    }

    // MARK: - Layout

    /// Refuses an output that would replace or remove an input: the file
    /// itself, or any file of the layout it replaces (an index and its
    /// shards, or a single file, of the same name).
    private static func refuseOverwrite(_ url: URL, _ inputs: [URL]) throws {
        try OutputPath.check(url, as: .file)
        for candidate in [url] + layoutFiles(of: url) where inputs.contains(where: { sameFile($0, candidate) }) {
            throw SafetensorsError(file: candidate.path, rule: .wouldOverwriteInput)
        }
    }

    /// The files that make up a model written at `url` in either layout:
    /// `url` itself, `url.index.json`, and `stem-NNNNN-of-NNNNN.safetensors`
    /// beside it.
    static func layoutFiles(of url: URL) -> [URL] {
        let folder = url.deletingLastPathComponent()
        let stem = url.deletingPathExtension().lastPathComponent
        var files = [url, folder.appendingPathComponent(url.lastPathComponent + ".index.json")]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let shardPattern = /(.+)-\d{5}-of-\d{5}\.safetensors/
        for name in names.sorted() {
            if let match = name.wholeMatch(of: shardPattern), match.1 == stem { files.append(folder.appendingPathComponent(name)) }
        }
        return files
    }

    /// After the new files are in place: removes what is left of a model of
    /// the same name in another layout (or with another shard count), so
    /// that reading the path gives the new model. The index goes first: until
    /// then a folder read still finds the old, complete model; after it, the
    /// new one.
    private func removeReplacedLayout() {
        let kept = Set(writtenFiles.map { $0.standardizedFileURL.path })
        let stale = Self.layoutFiles(of: url).filter { !kept.contains($0.standardizedFileURL.path) }
        let isIndex = { (u: URL) in u.lastPathComponent.hasSuffix(".index.json") }
        var st = stat()
        for file in stale.filter(isIndex) + stale.filter({ !isIndex($0) })
        where lstat(file.path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG {
            unlink(file.path)
        }
    }

    /// The destination's folder, created (with its parents) when missing;
    /// returns the outermost folder it created.
    private static func makeFolder(for url: URL) throws -> URL? {
        let folder = url.deletingLastPathComponent().standardizedFileURL
        var outermost: URL?
        var probe = folder
        while !FileManager.default.fileExists(atPath: probe.path) && probe.path != "/" {
            outermost = probe
            probe = probe.deletingLastPathComponent()
        }
        guard outermost != nil else { return nil }
        var created: [URL] = []
        var step = folder
        while step.path.count >= outermost!.path.count {
            created.insert(step, at: 0)
            step = step.deletingLastPathComponent()
        }
        for f in created {
            TemporaryFiles.register(folder: f.path)
            guard mkdir(f.path, 0o755) == 0 || errno == EEXIST else {
                let why = String(cString: strerror(errno))
                for g in created.reversed() { rmdir(g.path); TemporaryFiles.unregister(folder: g.path) }
                throw SafetensorsError(file: url.path, rule: .cannotWrite("cannot create the folder \(f.path): \(why)"))
            }
        }
        return outermost
    }

    private static func headerMetadata(_ metadata: [String: String]) -> [String: String] {
        var meta = metadata
        meta["format"] = "pt"
        meta["rankwise.version"] = meta["rankwise.version"] ?? rankwiseVersion
        return meta
    }

    /// File order: dtype size descending, then name.
    private static func ordered(_ entries: [Entry]) -> [Entry] {
        entries.sorted { ($0.dtype.size, $1.name) > ($1.dtype.size, $0.name) }
    }

    /// One group per output file: all of them, or consecutive runs of at most
    /// `limit` bytes (a larger tensor alone) when they add up to more.
    private static func shards(_ ordered: [Entry], limit: Int?) -> [[Entry]] {
        guard let limit, ordered.reduce(0, { $0 + $1.byteCount }) > limit, ordered.count > 1 else { return [ordered] }
        var shards: [[Entry]] = [[]]
        var size = 0
        for e in ordered {
            if !shards[shards.count - 1].isEmpty && size + e.byteCount > limit {
                shards.append([])
                size = 0
            }
            shards[shards.count - 1].append(e)
            size += e.byteCount
        }
        return shards
    }

    /// `url` itself, or `name-0000K-of-0000N.safetensors` beside it.
    private func shardURL(_ k: Int, of count: Int) -> URL {
        guard count > 1 else { return url }
        let stem = url.deletingPathExtension().lastPathComponent
        return url.deletingLastPathComponent().appendingPathComponent(String(format: "%@-%05d-of-%05d.safetensors", stem, k + 1, count))
    }

    /// The JSON header of a file holding `ordered`, packed in that order,
    /// padded with spaces to a multiple of 8 bytes.
    private static func header(_ ordered: [Entry], _ meta: [String: String]) -> [UInt8] {
        var header = "{\"__metadata__\":{" + meta.keys.sorted().map { "\(jsonString($0)):\(jsonString(meta[$0]!))" }.joined(separator: ",") + "}"
        var offset = 0
        for e in ordered {
            header += ",\(jsonString(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + e.byteCount)]}"
            offset += e.byteCount
        }
        header += "}"
        var bytes = Array(header.utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        return bytes
    }

    /// A new temporary file for `destination` holding the 8-byte header length and the header.
    private static func startFile(_ destination: URL, header: [UInt8]) throws -> AtomicFile {
        let file = try AtomicFile(destination: destination)
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try file.write($0) }
        try file.write(header)
        return file
    }

    /// One file of `ordered` tensors, copied from the spool in bounded chunks.
    private func writeFromSpool(_ spool: AtomicFile, _ destination: URL, _ ordered: [Entry], _ meta: [String: String]) throws {
        let out = try Self.startFile(destination, header: Self.header(ordered, meta))
        let source = open(spool.temporary.path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw SafetensorsError(file: destination.path, rule: .cannotWrite("spool: \(String(cString: strerror(errno)))")) }
        defer { close(source) }
        let chunk = 8 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        for e in ordered {
            var done = 0
            while done < e.byteCount {
                let want = Swift.min(chunk, e.byteCount - done)
                let got = pread(source, buffer.baseAddress!, want, off_t(e.offset + done))
                guard got > 0 else { throw SafetensorsError(file: destination.path, tensor: e.name, rule: .cannotWrite("reading the spool failed")) }
                try out.write(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
                done += got
            }
        }
        try out.commit()
    }
}

/// A JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}
