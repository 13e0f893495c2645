import Foundation
import LinearAlgebra

#if canImport(Glibc)
import Glibc
#endif

/// Where one tensor lives and what it holds.
public struct TensorInfo: Sendable, Equatable {
    /// The tensor's key in the header, e.g. `model.layers.0.mlp.down_proj.weight`.
    public var name: String
    /// The stored element type.
    public var dtype: DType
    /// Dimensions as in the header, outermost first (row-major; a linear weight is `[out, in]`); `[]` for a scalar.
    public var shape: [Int]
    /// Byte range relative to the start of the data buffer.
    public var dataOffsets: Range<Int>

    /// Number of elements (1 for a scalar, 0 for an empty tensor).
    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes of data: the length of `dataOffsets`, equal to `elementCount × dtype.size` (checked on open).
    public var byteCount: Int { dataOffsets.count }
    /// 2-D floating point: a weight matrix.
    public var isMatrix: Bool { shape.count == 2 && dtype.isFloatingPoint }
}

/// A memory-mapped safetensors file, validated on open.
///
/// The file is never read whole: `init` maps it and parses only the header;
/// tensor data is read from the mapping on demand, so peak memory follows the
/// tensors actually converted. Every rule of docs/formats.md is checked on
/// open and a violation throws `SafetensorsError` naming the file, the tensor
/// and the rule.
public final class SafetensorsFile: @unchecked Sendable {
    /// The file's location, as passed to `init(contentsOf:)`.
    public let url: URL
    /// Tensor names in natural order (layer 2 before layer 10).
    public let tensorNames: [String]
    /// `__metadata__` (string to string).
    public let metadata: [String: String]
    /// Total size of the file in bytes.
    public let fileSize: Int
    private let infos: [String: TensorInfo]
    private let base: UnsafeRawPointer?
    private let dataStart: Int

    /// Opens, maps (read-only, private) and validates `url` against every rule of docs/formats.md. Reads the
    /// header only: O(header bytes + t log t) for t tensors; tensor data is not touched.
    ///
    /// - Throws: `SafetensorsError` naming the file (and the tensor, for per-tensor rules): `cannotOpen` for a path that
    ///   cannot be opened or is not a regular file, `gitLFSPointer`/`htmlPage` for a stand-in file, and otherwise the
    ///   first header, entry or coverage rule broken.
    public init(contentsOf url: URL) throws {
        self.url = url
        let path = url.path
        let fd: Int32, size: Int
        do { (fd, size) = try openRegularFile(url) } catch let error as FileAccessError {
            throw SafetensorsError(file: path, rule: .cannotOpen(error.reason.replacingOccurrences(of: "cannot open: ", with: "")))
        }
        defer { close(fd) }
        fileSize = size
        guard size >= 8 else {
            var head = [UInt8](repeating: 0, count: 8)
            let got = size > 0 ? Swift.max(read(fd, &head, size), 0) : 0
            throw SafetensorsError(file: path, rule: Self.hint(Data(head.prefix(got))) ?? .tooShort(bytes: size))
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw SafetensorsError(file: path, rule: .cannotOpen("mmap failed: \(String(cString: strerror(errno)))"))
        }
        let pointer = UnsafeRawPointer(mapped)
        do {
            let parsed = try Self.parseHeader(pointer, size: size, path: path)
            base = pointer
            MappedFiles.register(pointer, size: size, path: path)
            infos = parsed.infos
            metadata = parsed.metadata
            dataStart = parsed.dataStart
            tensorNames = parsed.infos.keys.sorted(by: naturalOrder)
        } catch {
            munmap(mapped, size)
            throw error
        }
    }

    deinit {
        if let base {
            MappedFiles.unregister(base)
            munmap(UnsafeMutableRawPointer(mutating: base), fileSize)
        }
    }

    /// The tensor's dtype, shape and byte range, or nil.
    public subscript(name: String) -> TensorInfo? { infos[name] }

    /// The tensor's raw little-endian bytes, valid while this object lives.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let info = infos[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        return UnsafeRawBufferPointer(start: base! + dataStart + info.dataOffsets.lowerBound, count: info.byteCount)
    }

    /// Where the tensor's bytes start in the file.
    public func fileOffset(of name: String) throws -> Int {
        guard let info = infos[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        return dataStart + info.dataOffsets.lowerBound
    }

    /// Drops the tensor's pages from this process's resident memory (they are
    /// read from the file again if touched). Streaming commands call it after
    /// each tensor, so that peak memory follows the largest tensor rather than
    /// everything read so far.
    public func evict(_ name: String) {
        guard let info = infos[name], let base, info.byteCount > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = dataStart + info.dataOffsets.lowerBound, end = dataStart + info.dataOffsets.upperBound
        let alignedStart = (start + page - 1) / page * page, alignedEnd = end / page * page
        guard alignedEnd > alignedStart else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + alignedStart), alignedEnd - alignedStart, Int32(MADV_DONTNEED))
    }

    /// Any-rank floating tensor, flattened in row-major order and converted
    /// to `T` (F16/BF16/F32/F64 → Float or Double; exact when widening).
    public func array<T: Scalar>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        guard let info = infos[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        guard info.dtype.isFloatingPoint else { throw SafetensorsError(file: url.path, tensor: name, rule: .notFloatingPoint(info.dtype)) }
        defer { evict(name) }   // the decoded copy is what the caller keeps
        return ElementConversion.decode(try rawBytes(name), dtype: info.dtype, count: info.elementCount)
    }

    /// A 2-D floating tensor as a matrix (a 1-D tensor becomes a 1×n row).
    public func matrix<T: Scalar>(_ name: String, as type: T.Type = T.self) throws -> Matrix<T> {
        guard let info = infos[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        guard info.shape.count == 1 || info.shape.count == 2 else {
            throw SafetensorsError(file: url.path, tensor: name, rule: .wrongRank(info.shape.count))
        }
        let values: [T] = try array(name)
        let (rows, columns) = info.shape.count == 2 ? (info.shape[0], info.shape[1]) : (1, info.shape[0])
        return Matrix(rows: rows, columns: columns, elements: values)
    }

    // MARK: Validation

    /// Validates a whole safetensors file held in memory against every rule
    /// of the format, returning its tensors; throws `SafetensorsError` (named
    /// `file`) otherwise. The header parser's entry point for fuzzing.
    public static func validate(_ bytes: UnsafeRawBufferPointer, file: String = "<memory>") throws -> [TensorInfo] {
        guard bytes.count >= 8, let base = bytes.baseAddress else {
            throw SafetensorsError(file: file, rule: hint(Data(bytes)) ?? .tooShort(bytes: bytes.count))
        }
        return try parseHeader(base, size: bytes.count, path: file).infos.values.sorted { $0.name < $1.name }
    }

    private static func hint(_ head: Data) -> SafetensorsError.Rule? {
        let prefix = String(decoding: head.prefix(64), as: UTF8.self).lowercased()
        if prefix.hasPrefix("version https://git-lfs") { return .gitLFSPointer }
        let trimmed = prefix.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        if trimmed.hasPrefix("<!doctype html") || trimmed.hasPrefix("<html") { return .htmlPage }
        return nil
    }

    private static func parseHeader(_ p: UnsafeRawPointer, size: Int, path: String)
        throws -> (infos: [String: TensorInfo], metadata: [String: String], dataStart: Int) {
        let length = p.loadUnaligned(as: UInt64.self).littleEndian
        let headBytes = Data(bytes: p, count: Swift.min(size, 64))
        guard length <= 100_000_000 else {
            throw SafetensorsError(file: path, rule: hint(headBytes) ?? .headerTooLarge)
        }
        guard 8 + Int(length) <= size else {
            throw SafetensorsError(file: path, rule: hint(headBytes) ?? .headerPastEnd(fileSize: size))
        }
        let header = Array(UnsafeRawBufferPointer(start: p + 8, count: Int(length)))
        guard String(validating: header, as: UTF8.self) != nil else { throw SafetensorsError(file: path, rule: .notUTF8) }
        let json: JSONValue
        do { json = try HeaderJSONParser.parse(header) } catch HeaderJSONParser.Failure.duplicateKey(let key) {
            throw SafetensorsError(file: path, rule: .duplicateKey(key))
        } catch HeaderJSONParser.Failure.syntax(let why) {
            throw SafetensorsError(file: path, rule: .invalidJSON(why))
        }
        guard case .object(let members) = json else { throw SafetensorsError(file: path, rule: .notAnObject) }
        let dataStart = 8 + Int(length)
        let bufferSize = size - dataStart
        var infos: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in members {
            if key == "__metadata__" {
                guard case .object(let entries) = value else { throw SafetensorsError(file: path, rule: .invalidEntry("__metadata__ is not an object")) }
                for (k, v) in entries {
                    guard case .string(let s) = v else { throw SafetensorsError(file: path, rule: .metadataNotString(key: k)) }
                    metadata[k] = s
                }
                continue
            }
            infos[key] = try tensorInfo(key, value, path: path)
        }
        // Coverage: sorted by offset, the tensors must tile [0, bufferSize) exactly.
        var expected = 0
        for info in infos.values.sorted(by: { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }) {
            let range = info.dataOffsets
            guard range.upperBound <= bufferSize else {
                throw SafetensorsError(file: path, tensor: info.name, rule: .pastEnd(end: range.upperBound, bufferSize: bufferSize))
            }
            if range.isEmpty && range.lowerBound <= expected { continue }
            if range.lowerBound < expected { throw SafetensorsError(file: path, tensor: info.name, rule: .overlap) }
            if range.lowerBound > expected {
                throw SafetensorsError(file: path, tensor: info.name, rule: .gap(expected: expected, found: range.lowerBound))
            }
            expected = range.upperBound
        }
        if expected < bufferSize { throw SafetensorsError(file: path, rule: .trailingBytes(bufferSize - expected)) }
        return (infos, metadata, dataStart)
    }

    private static func tensorInfo(_ name: String, _ value: JSONValue, path: String) throws -> TensorInfo {
        func fail(_ rule: SafetensorsError.Rule) -> SafetensorsError { SafetensorsError(file: path, tensor: name, rule: rule) }
        guard case .object(let fields) = value else { throw fail(.invalidEntry("not an object")) }
        let lookup = Dictionary(fields.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard case .string(let dtypeName)? = lookup["dtype"] else { throw fail(.invalidEntry("missing or non-string \"dtype\"")) }
        guard let dtype = DType(rawValue: dtypeName) else { throw fail(.unknownDType(dtypeName)) }
        guard case .array(let dims)? = lookup["shape"] else { throw fail(.invalidShape("missing or not an array")) }
        var shape: [Int] = []
        for d in dims {
            guard case .integer(let v) = d else { throw fail(.invalidShape("dimension \(d) is not an integer")) }
            guard v >= 0 else { throw fail(.invalidShape("negative dimension \(v)")) }
            guard v <= Int64(Int.max) else { throw fail(.sizeOverflow) }
            shape.append(Int(v))
        }
        guard case .array(let offsets)? = lookup["data_offsets"], offsets.count == 2,
              case .integer(let begin) = offsets[0], case .integer(let end) = offsets[1], begin >= 0, end >= begin else {
            throw fail(.invalidEntry("data_offsets must be two integers [begin, end] with 0 ≤ begin ≤ end"))
        }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail(.sizeOverflow) }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow else { throw fail(.sizeOverflow) }
        guard Int(end - begin) == bytes else { throw fail(.sizeMismatch(expected: bytes, actual: Int(end - begin))) }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: Int(begin)..<Int(end))
    }
}
