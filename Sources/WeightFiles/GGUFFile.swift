import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where one GGUF tensor lives and what it holds.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name in the file (llama.cpp's naming, e.g. `blk.0.attn_q.weight`).
    public var name: String
    /// The stored element type (block format).
    public var type: GGUFTensorType
    /// The dimensions as stored, ggml order: `ne0` (the contiguous dimension, a weight's input dimension) first.
    public var dimensions: [Int]
    /// Byte range relative to the start of the data section (`GGUFFile.dataStart`).
    public var dataOffsets: Range<Int>
    /// Byte range in the file (`dataOffsets` shifted by `GGUFFile.dataStart`).
    public var byteRange: Range<Int>
    /// Number of elements (the product of the dimensions; 1 for no dimensions).
    public var elementCount: Int

    /// The dimensions in PyTorch order, outermost first: `dimensions` reversed, so a weight stored as
    /// `(in, out)` is `[out, in]`, row-major, as in a safetensors checkpoint.
    public var shape: [Int] { dimensions.reversed() }
    /// Bytes of data.
    public var byteCount: Int { byteRange.count }
    /// Elements per row: `ne0` (1 for a tensor with no dimensions).
    public var rowLength: Int { dimensions.first ?? 1 }
    /// Rows: the product of the dimensions after `ne0` (a weight's out dimension).
    public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }
    /// Bytes per row: `ne0 / blockSize · blockBytes`.
    public var rowBytes: Int { rowLength / type.blockSize * type.blockBytes }
}

/// A memory-mapped GGUF file (llama.cpp's model format), versions 2 and 3, validated on open.
///
/// `init` maps the file and parses the header, every metadata pair and every tensor info; tensor data is read on
/// demand. Every count, length, dimension and offset read from the file is range-checked with checked arithmetic
/// before it is used or anything is allocated for it (a count is refused when the rest of the file could not hold
/// that many items), so a truncated or hostile file is one `GGUFError` naming the file, the key or tensor and the
/// rule, never a crash or a huge allocation. Tensors must lie inside the data section, at offsets that are multiples
/// of the alignment, without overlapping.
///
/// Layout (little-endian): magic `GGUF`, u32 version, u64 tensor count, u64 metadata count, the metadata pairs
/// (key: u64 length + UTF-8 bytes; u32 value type; value), the tensor infos (name; u32 dimension count ≤ 4; u64
/// dimensions, `ne0` first; u32 type; u64 offset in the data section), then the data section at the next multiple
/// of `general.alignment` (default 32).
///
/// Names stay llama.cpp's here; `huggingFaceTensors()` maps them to Hugging Face's, and `Checkpoint` reads a GGUF
/// model through that view.
public final class GGUFFile: @unchecked Sendable {
    /// The file's location, as passed to `init(contentsOf:)`.
    public let url: URL
    /// The format version: 2 or 3.
    public let version: Int
    /// Every metadata pair, by key.
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order.
    public let metadataKeys: [String]
    /// The tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data alignment: `general.alignment`, or 32 when absent.
    public let alignment: Int
    /// The file offset where the data section starts (after the tensor infos, rounded up to `alignment`).
    public let dataStart: Int
    /// Total size of the file in bytes.
    public let fileSize: Int
    /// Keys whose string values (or some of their array's strings) were not valid UTF-8 and were decoded with
    /// U+FFFD replacing the bad bytes; empty for a well-formed file.
    public let lossyStringKeys: [String]
    private let index: [String: Int]
    private let base: UnsafeRawPointer?

    /// The supported format versions.
    public static let supportedVersions = 2...3
    /// Arrays may nest at most this deep (deeper nesting is refused instead of recursing without bound).
    public static let maximumNesting = 16

    /// Opens, maps (read-only, private) and validates `url`. O(header bytes + t log t) for t tensors; tensor data
    /// is not touched.
    ///
    /// - Throws: `GGUFError` naming the file: `cannotOpen` for a path that cannot be opened or is not a regular file
    ///   (a FIFO is refused at once, not waited on), and otherwise the first rule the file breaks.
    public init(contentsOf url: URL) throws {
        self.url = url
        let path = url.path
        let fd: Int32, size: Int
        do { (fd, size) = try openRegularFile(url) } catch let error as FileAccessError {
            throw GGUFError(file: path, rule: .cannotOpen(error.reason.replacingOccurrences(of: "cannot open: ", with: "")))
        }
        defer { close(fd) }
        fileSize = size
        guard size > 0 else { throw GGUFError(file: path, rule: .truncated(what: "the magic", needed: 4, offset: 0, fileSize: 0)) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw GGUFError(file: path, rule: .cannotOpen("mmap failed: \(osReason())"))
        }
        let pointer = UnsafeRawPointer(mapped)
        do {
            let parsed = try Self.parse(pointer, size: size, file: path)
            version = parsed.version
            metadata = parsed.metadata
            metadataKeys = parsed.keys
            tensors = parsed.tensors
            alignment = parsed.alignment
            dataStart = parsed.dataStart
            lossyStringKeys = parsed.lossy
            index = Dictionary(uniqueKeysWithValues: parsed.tensors.enumerated().map { ($1.name, $0) })
            base = pointer
            MappedFiles.register(pointer, size: size, path: path)
        } catch {
            munmap(mapped, size)
            throw error
        }
    }

    /// Opens the GGUF file at a file-system path; see `init(contentsOf:)`.
    public convenience init(path: String) throws { try self.init(contentsOf: URL(fileURLWithPath: path)) }

    deinit {
        if let base {
            MappedFiles.unregister(base)
            munmap(UnsafeMutableRawPointer(mutating: base), fileSize)
        }
    }

    /// The tensor of that (GGUF) name, or nil.
    public subscript(name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// `general.architecture` (`llama`, `qwen2`, …), or nil when absent or not a string.
    public var architecture: String? { metadata["general.architecture"]?.string }

    /// The tensor's stored bytes in the mapping, valid while this object lives. Throws `GGUFError.noSuchTensor`.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try tensor(name)
        return UnsafeRawBufferPointer(start: base! + info.byteRange.lowerBound, count: info.byteCount)
    }

    /// The tensor's values as Float, in stored order (row-major in PyTorch order: `shape`), O(elements).
    /// F32 and F16/BF16 are exact, F64 is rounded to nearest; block formats are dequantized with ggml's arithmetic
    /// (`GGUFTensorType.isDequantizable` lists them). The tensor's pages are evicted afterwards.
    /// Throws `GGUFError`: `noSuchTensor`, or `notDequantizable` naming the type.
    public func floats(_ name: String) throws -> [Float] {
        let info = try tensor(name)
        guard info.type.isDequantizable else { throw GGUFError(file: url.path, tensor: name, rule: .notDequantizable(info.type)) }
        defer { evict(name) }
        return [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, initialized in
            if let out = buffer.baseAddress {
                adviseHugePages(out, byteCount: 4 * info.elementCount)
                decode(info, rows: 0..<info.rowCount, into: out)
            }
            initialized = info.elementCount
        }
    }

    /// Decodes rows `rows` (each `rowLength` elements; rows are the tensor's outer elements in PyTorch order) into
    /// `out` (`rows.count · rowLength` Floats), for reading a large tensor a block of rows at a time.
    /// Throws `GGUFError`: `noSuchTensor`, or `notDequantizable`. `rows` must lie in `0..<rowCount`.
    public func dequantize(_ name: String, rows: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
        let info = try tensor(name)
        guard info.type.isDequantizable else { throw GGUFError(file: url.path, tensor: name, rule: .notDequantizable(info.type)) }
        precondition(rows.lowerBound >= 0 && rows.upperBound <= info.rowCount, "GGUFFile.dequantize: rows \(rows) out of 0..<\(info.rowCount)")
        decode(info, rows: rows, into: out)
    }

    /// Drops the tensor's pages from this process's resident memory (they are read from the file again if touched).
    public func evict(_ name: String) {
        guard let info = self[name], let base, info.byteCount > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let alignedStart = (info.byteRange.lowerBound + page - 1) / page * page, alignedEnd = info.byteRange.upperBound / page * page
        guard alignedEnd > alignedStart else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + alignedStart), alignedEnd - alignedStart, Int32(MADV_DONTNEED))
    }

    /// Decodes stored rows into `out`; `source(r)` gives the stored row presented as row r (identity when nil).
    /// The type must be dequantizable and the rows in range.
    func decode(_ info: GGUFTensorInfo, rows: Range<Int>, source: ((Int) -> Int)? = nil, into out: UnsafeMutablePointer<Float>) {
        let n = info.rowLength, stride = info.rowBytes
        guard n > 0, let base else { return }
        let start = base + info.byteRange.lowerBound
        for (i, r) in rows.enumerated() {
            GGUFDequantization.decodeRow(info.type, start + (source?(r) ?? r) * stride, count: n, into: out + i * n)
        }
    }

    private func tensor(_ name: String) throws -> GGUFTensorInfo {
        guard let info = self[name] else { throw GGUFError(file: url.path, tensor: name, rule: .noSuchTensor) }
        return info
    }

    // MARK: Validation

    /// Validates a whole GGUF file held in memory, returning its tensors in file order; throws `GGUFError` (named
    /// `file`) otherwise. The parser's entry point for fuzzing.
    public static func validate(_ bytes: UnsafeRawBufferPointer, file: String = "<memory>") throws -> [GGUFTensorInfo] {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw GGUFError(file: file, rule: .truncated(what: "the magic", needed: 4, offset: 0, fileSize: 0))
        }
        return try parse(base, size: bytes.count, file: file).tensors
    }

    private struct Parsed {
        var version: Int
        var metadata: [String: GGUFValue]
        var keys: [String]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataStart: Int
        var lossy: [String]
    }

    private static func parse(_ p: UnsafeRawPointer, size: Int, file: String) throws -> Parsed {
        var reader = GGUFReader(base: p, size: size, file: file)
        let magic = Array(UnsafeRawBufferPointer(start: p, count: Swift.min(size, 4)))
        guard magic == Array("GGUF".utf8) else {
            let head = Data(bytes: p, count: Swift.min(size, 64))
            let text = String(decoding: head, as: UTF8.self).lowercased()
            if text.hasPrefix("version https://git-lfs") { throw reader.fail(.gitLFSPointer) }
            let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
            if trimmed.hasPrefix("<!doctype html") || trimmed.hasPrefix("<html") { throw reader.fail(.htmlPage) }
            if size < 4 { throw reader.fail(.truncated(what: "the magic", needed: 4, offset: 0, fileSize: size)) }
            let shown = magic.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
            throw reader.fail(.badMagic("\"\(shown)\""))
        }
        reader.position = 4
        let version = try reader.u32("the version")
        guard supportedVersions.contains(Int(version)) else {
            if supportedVersions.contains(Int(version.byteSwapped)) { throw reader.fail(.bigEndian) }
            throw reader.fail(.unsupportedVersion(version))
        }
        let tensorCount = try reader.u64("the tensor count")
        let pairCount = try reader.u64("the metadata count")
        // Each pair needs at least a key length (8), a type (4) and a one-byte value; each tensor info at least a
        // name length (8), a dimension count (4), a type (4) and an offset (8).
        try reader.checkCount(pairCount, minimumBytes: 13, what: "the metadata pair")
        try reader.checkCount(tensorCount, minimumBytes: 24, what: "the tensor")

        var metadata: [String: GGUFValue] = [:], keys: [String] = []
        for i in 0..<Int(pairCount) {
            let key = try reader.name("the key of metadata pair \(i)")
            reader.key = key
            guard metadata[key] == nil else { throw reader.fail(.duplicateKey) }
            let type = try reader.u32("the value type")
            metadata[key] = try reader.value(type: type, depth: 0)
            keys.append(key)
            reader.key = nil
        }

        var alignment = 32
        if let value = metadata["general.alignment"] {
            reader.key = "general.alignment"
            guard let a = value.int else {
                if case .array = value { throw reader.fail(.wrongMetadataType(expected: "u32", found: value.typeName)) }
                throw reader.fail(.badAlignment(value.double.map { "\($0)" } ?? value.typeName))
            }
            guard a > 0, a <= 1 << 31, a & (a - 1) == 0 else { throw reader.fail(.badAlignment("\(a)")) }
            alignment = a
            reader.key = nil
        }

        struct Raw { var name: String, dimensions: [Int], type: GGUFTensorType, offset: UInt64 }
        var raws: [Raw] = [], names = Set<String>()
        for i in 0..<Int(tensorCount) {
            let name = try reader.name("the name of tensor \(i)")
            reader.tensor = name
            guard names.insert(name).inserted else { throw reader.fail(.duplicateTensor) }
            let rank = try reader.u32("the dimension count")
            guard rank <= 4 else { throw reader.fail(.tooManyDimensions(rank)) }
            var dimensions: [Int] = []
            for _ in 0..<Int(rank) {
                let d = try reader.u64("a dimension")
                guard let value = Int(exactly: d) else { throw reader.fail(.sizeOverflow) }
                dimensions.append(value)
            }
            let typeID = try reader.u32("the type")
            guard let type = GGUFTensorType(rawValue: typeID) else { throw reader.fail(.unknownTensorType(typeID)) }
            let offset = try reader.u64("the data offset")
            raws.append(Raw(name: name, dimensions: dimensions, type: type, offset: offset))
            reader.tensor = nil
        }

        let (padded, overflow) = reader.position.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw reader.fail(.sizeOverflow) }
        let dataStart = padded / alignment * alignment
        let dataSize = Swift.max(0, size - dataStart)

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(raws.count)
        for raw in raws {
            reader.tensor = raw.name
            // The row count and the element count, each checked (a zero ne0 must not hide an overflowing rest).
            var rows = 1
            for d in raw.dimensions.dropFirst() {
                let (product, overflow) = rows.multipliedReportingOverflow(by: d)
                guard !overflow else { throw reader.fail(.sizeOverflow) }
                rows = product
            }
            let ne0 = raw.dimensions.first ?? 1
            let (elements, elementOverflow) = rows.multipliedReportingOverflow(by: ne0)
            guard !elementOverflow else { throw reader.fail(.sizeOverflow) }
            guard ne0 % raw.type.blockSize == 0 else { throw reader.fail(.partialBlock(ne0: ne0, type: raw.type)) }
            let (bytes, byteOverflow) = (elements / raw.type.blockSize).multipliedReportingOverflow(by: raw.type.blockBytes)
            guard !byteOverflow else { throw reader.fail(.sizeOverflow) }
            guard raw.offset % UInt64(alignment) == 0 else { throw reader.fail(.misalignedOffset(offset: raw.offset, alignment: alignment)) }
            let (end, endOverflow) = raw.offset.addingReportingOverflow(UInt64(bytes))
            guard !endOverflow, end <= UInt64(dataSize) else {
                throw reader.fail(.pastEnd(end: endOverflow ? UInt64.max : end, dataSize: dataSize))
            }
            let begin = Int(raw.offset)
            tensors.append(GGUFTensorInfo(name: raw.name, type: raw.type, dimensions: raw.dimensions,
                                          dataOffsets: begin..<(begin + bytes),
                                          byteRange: (dataStart + begin)..<(dataStart + begin + bytes), elementCount: elements))
        }
        reader.tensor = nil
        // No two tensors may share bytes (empty tensors share none).
        var previous: GGUFTensorInfo?
        for info in tensors.filter({ $0.byteCount > 0 }).sorted(by: { ($0.dataOffsets.lowerBound, $0.name) < ($1.dataOffsets.lowerBound, $1.name) }) {
            if let previous, info.dataOffsets.lowerBound < previous.dataOffsets.upperBound {
                throw GGUFError(file: file, tensor: info.name, rule: .overlap(previous.name))
            }
            previous = info
        }
        return Parsed(version: Int(version), metadata: metadata, keys: keys, tensors: tensors, alignment: alignment,
                      dataStart: dataStart, lossy: reader.lossyKeys)
    }
}

/// A bounds-checked cursor over a GGUF header; errors carry the key or tensor being read.
struct GGUFReader {
    let base: UnsafeRawPointer
    let size: Int
    let file: String
    var position = 0
    var key: String?
    var tensor: String?
    var lossyKeys: [String] = []

    init(base: UnsafeRawPointer, size: Int, file: String) {
        self.base = base
        self.size = size
        self.file = file
    }

    func fail(_ rule: GGUFError.Rule) -> GGUFError { GGUFError(file: file, key: key, tensor: tensor, rule: rule) }

    var remaining: Int { size - position }

    /// Claims `count` bytes at the cursor (checked against the end of the file) and advances past them.
    mutating func take(_ count: UInt64, _ what: String) throws -> UnsafeRawPointer {
        guard count <= UInt64(remaining) else {
            throw fail(.truncated(what: what, needed: count, offset: position, fileSize: size))
        }
        let p = base + position
        position += Int(count)
        return p
    }

    mutating func u32(_ what: String) throws -> UInt32 {
        UInt32(littleEndian: try take(4, what).loadUnaligned(as: UInt32.self))
    }

    mutating func u64(_ what: String) throws -> UInt64 {
        UInt64(littleEndian: try take(8, what).loadUnaligned(as: UInt64.self))
    }

    /// Refuses a count of items needing at least `minimumBytes` each that the rest of the file cannot hold.
    func checkCount(_ count: UInt64, minimumBytes: Int, what: String) throws {
        guard count <= UInt64(remaining / minimumBytes) else {
            throw fail(.countTooLarge(what: what, count: count, minimumBytes: minimumBytes, available: remaining))
        }
    }

    /// A string's bytes (u64 length, then the bytes).
    mutating func stringBytes(_ what: String) throws -> UnsafeRawBufferPointer {
        let length = try u64("the length of \(what)")
        return UnsafeRawBufferPointer(start: try take(length, what), count: Int(length))
    }

    /// A key or tensor name: must be valid UTF-8.
    mutating func name(_ what: String) throws -> String {
        let bytes = try stringBytes(what)
        guard let s = String(validating: bytes, as: UTF8.self) else { throw fail(.notUTF8) }
        return s
    }

    /// A string value: invalid UTF-8 is decoded with U+FFFD, and the key recorded.
    mutating func text(_ what: String) throws -> String {
        let bytes = try stringBytes(what)
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        if let key, lossyKeys.last != key { lossyKeys.append(key) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The smallest encoding of one element of a value type: fixed sizes, 8 for a string (its length), 12 for an
    /// array (element type and count); nil for an unknown type.
    static func minimumBytes(_ type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 10, 11, 12: return 8
        case 8: return 8
        case 9: return 12
        default: return nil
        }
    }

    mutating func value(type: UInt32, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try take(1, "a u8 value").load(as: UInt8.self))
        case 1: return .int8(Int8(bitPattern: try take(1, "an i8 value").load(as: UInt8.self)))
        case 2: return .uint16(UInt16(littleEndian: try take(2, "a u16 value").loadUnaligned(as: UInt16.self)))
        case 3: return .int16(Int16(littleEndian: try take(2, "an i16 value").loadUnaligned(as: Int16.self)))
        case 4: return .uint32(try u32("a u32 value"))
        case 5: return .int32(Int32(bitPattern: try u32("an i32 value")))
        case 6: return .float32(Float(bitPattern: try u32("an f32 value")))
        case 7: return .bool(try take(1, "a bool value").load(as: UInt8.self) != 0)
        case 8: return .string(try text("the string"))
        case 9: return .array(try array(depth: depth + 1))
        case 10: return .uint64(try u64("a u64 value"))
        case 11: return .int64(Int64(bitPattern: try u64("an i64 value")))
        case 12: return .float64(Double(bitPattern: try u64("an f64 value")))
        default: throw fail(.unknownValueType(type))
        }
    }

    /// Reads `count` fixed-size elements in one checked claim.
    mutating func elements<T>(_ count: Int, size: Int, _ load: (UnsafeRawPointer) -> T) throws -> [T] {
        let p = try take(UInt64(count * size), "the array's \(count) elements")
        return (0..<count).map { load(p + $0 * size) }
    }

    mutating func array(depth: Int) throws -> GGUFArray {
        guard depth <= GGUFFile.maximumNesting else { throw fail(.nestingTooDeep(limit: GGUFFile.maximumNesting)) }
        let type = try u32("the array's element type")
        guard let minimum = Self.minimumBytes(type) else { throw fail(.unknownValueType(type)) }
        let count64 = try u64("the array's length")
        try checkCount(count64, minimumBytes: minimum, what: "the array element")
        let count = Int(count64)
        switch type {
        case 0: return .uint8(try elements(count, size: 1) { $0.load(as: UInt8.self) })
        case 1: return .int8(try elements(count, size: 1) { Int8(bitPattern: $0.load(as: UInt8.self)) })
        case 2: return .uint16(try elements(count, size: 2) { UInt16(littleEndian: $0.loadUnaligned(as: UInt16.self)) })
        case 3: return .int16(try elements(count, size: 2) { Int16(littleEndian: $0.loadUnaligned(as: Int16.self)) })
        case 4: return .uint32(try elements(count, size: 4) { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
        case 5: return .int32(try elements(count, size: 4) { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) })
        case 6: return .float32(try elements(count, size: 4) { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) })
        case 7: return .bool(try elements(count, size: 1) { $0.load(as: UInt8.self) != 0 })
        case 10: return .uint64(try elements(count, size: 8) { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        case 11: return .int64(try elements(count, size: 8) { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) })
        case 12: return .float64(try elements(count, size: 8) { Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) })
        case 8:
            var strings: [String] = []
            strings.reserveCapacity(count)
            for _ in 0..<count { strings.append(try text("a string element")) }
            return .string(strings)
        default:
            var arrays: [GGUFArray] = []
            arrays.reserveCapacity(count)
            for _ in 0..<count { arrays.append(try array(depth: depth + 1)) }
            return .array(arrays)
        }
    }
}
