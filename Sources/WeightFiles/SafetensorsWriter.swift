import Foundation
import LinearAlgebra

#if canImport(Glibc)
import Glibc
#endif

/// Writes a safetensors file, streaming: each added tensor's bytes go straight
/// to a spool file beside the destination, so at most one tensor is in memory.
/// `finish` writes the final file (8-byte length, JSON header padded with
/// spaces to a multiple of 8, tensors sorted by dtype size, largest first,
/// then by name, packed with no gaps), fsyncs it and renames it into place.
/// Until then nothing exists at the destination; `cancel()`, an error or
/// deinit before `finish` removes every temporary file.
public final class SafetensorsWriter {
    private struct Entry {
        var name: String, dtype: DType, shape: [Int], spoolOffset: Int, byteCount: Int
    }

    public let url: URL
    private let spool: AtomicFile
    private var spoolSize = 0
    private var entries: [Entry] = []
    private var names = Set<String>()
    private var finished = false

    /// - Parameter inputs: files this run reads; writing over any of them is refused.
    public init(url: URL, protecting inputs: [URL] = []) throws {
        if inputs.contains(where: { sameFile($0, url) }) {
            throw SafetensorsError(file: url.path, rule: .wouldOverwriteInput)
        }
        self.url = url
        spool = try AtomicFile(destination: url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).spool"))
    }

    deinit { cancel() }

    /// The number of tensors added so far.
    public var count: Int { entries.count }
    /// Bytes of tensor data added so far.
    public var dataSize: Int { spoolSize }

    /// Adds a floating tensor from a matrix, stored as `dtype` (rounded to
    /// nearest even when narrowing). Shape `[rows, columns]`.
    public func add<T: Scalar>(name: String, matrix: Matrix<T>, dtype: DType = .f32) throws {
        try add(name: name, shape: [matrix.rows, matrix.columns], array: matrix.elements, dtype: dtype)
    }

    /// Adds a floating tensor of any shape from its row-major values.
    public func add<T: Scalar>(name: String, shape: [Int], array: [T], dtype: DType = .f32) throws {
        guard dtype.isFloatingPoint else { throw SafetensorsError(file: url.path, tensor: name, rule: .notFloatingPoint(dtype)) }
        precondition(shape.reduce(1, *) == array.count, "SafetensorsWriter: shape \(shape) needs \(shape.reduce(1, *)) values, got \(array.count)")
        let bytes = array.withUnsafeBufferPointer { ElementConversion.encode($0, as: dtype) }
        try bytes.withUnsafeBytes { try add(name: name, shape: shape, dtype: dtype, rawBytes: $0) }
    }

    /// Adds a tensor from its raw little-endian bytes (any dtype: integer and
    /// bool tensors are carried through unchanged this way).
    public func add(name: String, shape: [Int], dtype: DType, rawBytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "SafetensorsWriter: add after finish")
        guard names.insert(name).inserted else { throw SafetensorsError(file: url.path, tensor: name, rule: .duplicateTensor) }
        precondition(shape.reduce(1, *) * dtype.size == rawBytes.count, "SafetensorsWriter: \(name): byte count does not match shape and dtype")
        try spool.write(rawBytes)
        entries.append(Entry(name: name, dtype: dtype, shape: shape, spoolOffset: spoolSize, byteCount: rawBytes.count))
        spoolSize += rawBytes.count
    }

    /// When set, and the tensors add up to more than this many bytes,
    /// `finish` writes shards instead of one file: for a destination
    /// `dir/name.safetensors`, `dir/name-0000K-of-0000N.safetensors` (each at
    /// most this size, or one tensor if that alone is larger) and
    /// `dir/name.safetensors.index.json` with `metadata.total_size` and
    /// `weight_map`, as Hugging Face checkpoints are laid out.
    public var maxShardSize: Int?

    /// The files `finish` wrote (one, or the shards followed by the index).
    public private(set) var writtenFiles: [URL] = []

    /// Writes the file (or shards). `metadata` joins `{"format": "pt"}` and
    /// the provenance key `rankwise.version` in `__metadata__`.
    public func finish(metadata: [String: String] = [:]) throws {
        precondition(!finished, "SafetensorsWriter: finish called twice")
        finished = true
        defer { spool.discard() }
        let ordered = entries.sorted { ($0.dtype.size, $1.name) > ($1.dtype.size, $0.name) }
        var meta = metadata
        meta["format"] = "pt"
        meta["rankwise.version"] = meta["rankwise.version"] ?? rankwiseVersion
        guard let limit = maxShardSize, spoolSize > limit, ordered.count > 1 else {
            try writeFile(url, ordered, meta)
            writtenFiles = [url]
            return
        }
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
        let stem = url.deletingPathExtension().lastPathComponent
        let folder = url.deletingLastPathComponent()
        var weightMap: [String: String] = [:]
        for (k, shard) in shards.enumerated() {
            let name = String(format: "%@-%05d-of-%05d.safetensors", stem, k + 1, shards.count)
            try writeFile(folder.appendingPathComponent(name), shard, meta)
            writtenFiles.append(folder.appendingPathComponent(name))
            for e in shard { weightMap[e.name] = name }
        }
        let index: [String: Any] = ["metadata": ["total_size": spoolSize], "weight_map": weightMap]
        let json = try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
        let indexURL = folder.appendingPathComponent(url.lastPathComponent + ".index.json")
        let file = try AtomicFile(destination: indexURL)
        try file.write(Array(json) + [0x0A])
        try file.commit()
        writtenFiles.append(indexURL)
    }

    /// One safetensors file of `ordered` tensors, copied from the spool.
    private func writeFile(_ destination: URL, _ ordered: [Entry], _ meta: [String: String]) throws {
        var header = "{\"__metadata__\":{" + meta.keys.sorted().map { "\(jsonString($0)):\(jsonString(meta[$0]!))" }.joined(separator: ",") + "}"
        var offset = 0
        for e in ordered {
            header += ",\(jsonString(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + e.byteCount)]}"
            offset += e.byteCount
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        let out = try AtomicFile(destination: destination)
        var length = UInt64(headerBytes.count).littleEndian
        try withUnsafeBytes(of: &length) { try out.write($0) }
        try out.write(headerBytes)
        // Copy from the spool in the sorted order, in bounded chunks.
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
                let got = pread(source, buffer.baseAddress!, want, off_t(e.spoolOffset + done))
                guard got > 0 else { throw SafetensorsError(file: destination.path, tensor: e.name, rule: .cannotWrite("reading the spool failed")) }
                try out.write(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
                done += got
            }
        }
        try out.commit()
    }

    /// Abandons the file: removes the spool; nothing is written.
    public func cancel() {
        finished = true
        spool.discard()
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
