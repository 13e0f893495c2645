import Foundation
import LinearAlgebra

/// A model stored as one safetensors file or as shards: `path` may be a
/// `.safetensors` file, a `*.safetensors.index.json` (with `weight_map`), or
/// a folder holding either. All shards read as one set of tensors.
public final class Checkpoint: @unchecked Sendable {
    /// What the caller named.
    public let url: URL
    /// The shard files, in name order.
    public let files: [SafetensorsFile]
    /// Tensor names across all shards, in natural order (layer 2 before layer 10).
    public let tensorNames: [String]
    private let owner: [String: SafetensorsFile]

    /// Opens the model at `url` and every shard it names; tensor data is mapped, not read.
    ///
    /// `url` may be a `.safetensors` file; a `.json` index whose `weight_map` maps each tensor to a shard file in the
    /// index's folder; a folder holding exactly one `*.safetensors.index.json`, or else exactly one `.safetensors`
    /// file (hidden files ignored); or a `model.safetensors` that does not exist but has `model.safetensors.index.json`
    /// beside it (a model written as shards). The index and the shards must agree exactly: each mapped tensor is in
    /// its shard, each shard tensor is in the map.
    ///
    /// - Throws: `CheckpointError` for a path that leads to no single set of tensors or an inconsistent index,
    ///   `FileAccessError` for an index that cannot be read (or is over 256 MiB), and `SafetensorsError` for a shard
    ///   that breaks the format.
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
            if indexes.count == 1 {
                indexURL = url.appendingPathComponent(indexes[0])
            } else if indexes.count > 1 {
                throw CheckpointError.ambiguous(url.path, indexes)
            } else if tensors.count == 1 {
                single = url.appendingPathComponent(tensors[0])
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
        tensorNames = owner.keys.sorted(by: naturalOrder)
    }

    /// An index is JSON text of a few MB even for the largest models.
    static let indexSizeLimit = 256 << 20

    /// Opens the checkpoint at a file-system path; see `init(path:)` taking a URL.
    public convenience init(path: String) throws { try self.init(path: URL(fileURLWithPath: path)) }

    /// The tensor's dtype, shape and byte range in the shard that holds it, or nil when no shard does.
    public subscript(name: String) -> TensorInfo? { owner[name]?[name] }

    /// The shard holding a tensor.
    public func file(holding name: String) -> SafetensorsFile? { owner[name] }

    /// `__metadata__` of the first shard.
    public var metadata: [String: String] { files.first?.metadata ?? [:] }

    /// A 1-D or 2-D floating tensor as a matrix converted to `T` (`[out, in]` for a weight; 1-D becomes a 1×n row),
    /// read from the shard that holds it. Throws `SafetensorsError`: `noSuchTensor` (naming this checkpoint's path),
    /// `wrongRank` or `notFloatingPoint`.
    public func matrix<T: Scalar>(_ name: String, as type: T.Type = T.self) throws -> Matrix<T> {
        guard let file = owner[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        return try file.matrix(name)
    }

    /// A floating tensor of any rank, flattened in row-major order and converted to `T` (exact when widening).
    /// Throws `SafetensorsError`: `noSuchTensor` (naming this checkpoint's path) or `notFloatingPoint`.
    public func array<T: Scalar>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        guard let file = owner[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        return try file.array(name)
    }

    /// The tensor's stored little-endian bytes in its shard's mapping, valid while this checkpoint lives; any dtype.
    /// Throws `SafetensorsError.noSuchTensor` naming this checkpoint's path.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let file = owner[name] else { throw SafetensorsError(file: url.path, tensor: name, rule: .noSuchTensor) }
        return try file.rawBytes(name)
    }

    /// Drops a tensor's pages from resident memory (see `SafetensorsFile.evict`).
    public func evict(_ name: String) { owner[name]?.evict(name) }

    /// Every file path this checkpoint reads (for refusing to overwrite inputs).
    public var inputURLs: [URL] { files.map(\.url) + [url] }
}

/// A checkpoint path that does not lead to a usable set of tensors.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing exists at the path (and, for a `.safetensors` path, no `.index.json` beside it either).
    case notFound(String)
    /// The folder holds no `.safetensors` file and no index.
    case noSafetensors(String)
    /// The folder holds several indexes, or no index and several `.safetensors` files (the candidates, sorted).
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
        case .noSafetensors(let p): return "\(p): no .safetensors file or index in this folder"
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
