import Synchronization

/// Byte-pair encoding (tokenizers' `BPE` model, and llama.cpp's SentencePiece-style merging).
///
/// A word starts as its characters (each looked up in the vocabulary, with
/// `continuingSubwordPrefix` on all but the first and `endOfWordSuffix` on the last); a
/// character missing from the vocabulary becomes its UTF-8 bytes as `<0xHH>` tokens when
/// `byteFallback` is on and all of them exist, else the unknown token (runs fused into one
/// when `fuseUnknown`), else it is dropped. Then the adjacent pair of lowest merge rank is
/// merged, leftmost first among equal ranks, until no adjacent pair has a rank: a min-heap
/// of candidate merges over a doubly linked list of symbols, O(n log n) for an n-character
/// word (stale heap entries are skipped when the pair's merge result no longer matches, as
/// tokenizers does). With `ignoreMerges`, a word that is itself a vocabulary entry is
/// emitted whole. Results of words shorter than 256 bytes are cached (10,000 words at most,
/// shared by all threads).
final class BPEModel: @unchecked Sendable {
    let vocabulary: Vocabulary
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]
    let unknownTokenID: Int?
    let unknownToken: String?
    private let continuingSubwordPrefix: [UInt8]?
    private let endOfWordSuffix: [UInt8]?
    let fuseUnknown: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    /// The id of `<0xHH>` for each byte, when present.
    private let byteTokenIDs: [Int?]
    private let cache = Mutex<[ByteString: [Int32]]>([:])
    private static let cacheCapacity = 10_000
    private static let cacheableBytes = 256

    /// A BPE model over `vocabulary` with `merges` given as (left id, right id, merged id) in
    /// rank order (rank = position; a repeated pair keeps its last rank).
    init(vocabulary: Vocabulary, merges: [(left: Int, right: Int, merged: Int)], ranks: [Int]? = nil,
         unknownToken: String?, continuingSubwordPrefix: String?, endOfWordSuffix: String?,
         fuseUnknown: Bool, byteFallback: Bool, ignoreMerges: Bool) {
        self.vocabulary = vocabulary
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let r = UInt64(ranks?[rank] ?? rank)
            table[UInt64(merge.left) << 32 | UInt64(merge.right)] = r << 32 | UInt64(merge.merged)
        }
        self.merges = table
        self.unknownToken = unknownToken
        unknownTokenID = unknownToken.flatMap { vocabulary.id($0) }
        self.continuingSubwordPrefix = continuingSubwordPrefix.map { Array($0.utf8) }
        self.endOfWordSuffix = endOfWordSuffix.map { Array($0.utf8) }
        self.fuseUnknown = fuseUnknown
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        byteTokenIDs = (0..<256).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return vocabulary.id("<0x\(hex.count == 1 ? "0" + hex : hex)>")
        }
    }

    /// Reads a `{"type": "BPE", …}` model.
    static func read(_ node: JSONNode) throws -> BPEModel {
        let vocabulary = try Vocabulary(json: try node.required("vocab"))
        if let dropout = try node.optional("dropout") {
            let p = try dropout.double()
            guard p >= 0, p <= 1 else { throw dropout.error("dropout must be in [0, 1], got \(p)") }
            // Dropout is a training-time regularizer: encoding is deterministic here (as with 0).
        }
        let prefix = try node.optionalString("continuing_subword_prefix")
        let unknown = try node.optionalString("unk_token")
        if let unknown, vocabulary.id(unknown) == nil {
            throw try node.required("unk_token").error("the unknown token \(quoted(unknown)) is not in the vocabulary")
        }
        let mergesNode = try node.required("merges")
        guard case .array(let entries) = mergesNode.value else { throw mergesNode.error("expected an array, found \(mergesNode.value.typeName)") }
        var merges: [(left: Int, right: Int, merged: Int)] = []
        merges.reserveCapacity(entries.count)
        let prefixBytes = prefix.map { Array($0.utf8) } ?? []
        for (index, entry) in entries.enumerated() {
            // Paths are built only for an error: a model has up to hundreds of thousands of merges.
            func failure(_ reason: String) -> TokenizerError {
                TokenizerError(file: node.file, place: mergesNode.pathOf(index), reason: reason)
            }
            let left: String, right: String
            switch entry {
            case .string(let line):
                if line.hasPrefix("#version") { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw failure("a merge must be two tokens separated by one space, got \(quoted(line))") }
                left = String(parts[0]); right = String(parts[1])
            case .array(let pair):
                guard pair.count == 2, case .string(let a) = pair[0], case .string(let b) = pair[1] else {
                    throw failure("a merge must be a pair of two strings")
                }
                left = a; right = b
            default:
                throw failure("a merge must be a string \"a b\" or a pair [\"a\", \"b\"], found \(entry.typeName)")
            }
            guard let leftID = vocabulary.id(left) else { throw failure("the merge's left token \(quoted(left)) is not in the vocabulary") }
            guard let rightID = vocabulary.id(right) else { throw failure("the merge's right token \(quoted(right)) is not in the vocabulary") }
            // The merged token is left + right without the right part's continuing prefix.
            var mergedBytes = Array(left.utf8)
            let rightBytes = Array(right.utf8)
            mergedBytes.append(contentsOf: rightBytes.dropFirst(min(prefixBytes.count, rightBytes.count)))
            guard let mergedID = vocabulary.id(mergedBytes) else {
                throw failure("the merge's result \(quoted(String(decoding: mergedBytes, as: UTF8.self))) is not in the vocabulary")
            }
            merges.append((leftID, rightID, mergedID))
        }
        return BPEModel(vocabulary: vocabulary, merges: merges, unknownToken: unknown,
                        continuingSubwordPrefix: prefix, endOfWordSuffix: try node.optionalString("end_of_word_suffix"),
                        fuseUnknown: try node.bool("fuse_unk", default: false),
                        byteFallback: try node.bool("byte_fallback", default: false),
                        ignoreMerges: try node.bool("ignore_merges", default: false))
    }

    /// Appends the ids of `word` to `ids`.
    func tokenize(_ word: Scalars, into ids: inout [Int]) {
        if word.isEmpty { return }
        let key = ByteString(word)
        if ignoreMerges, let id = vocabulary.id(key) {
            ids.append(id)
            return
        }
        let cacheable = key.bytes.count < Self.cacheableBytes
        if cacheable, let hit = cache.withLock({ $0[key] }) {
            for id in hit { ids.append(Int(id)) }
            return
        }
        let result = merge(word)
        if cacheable {
            cache.withLock { table in
                if table.count < Self.cacheCapacity { table[key] = result }
            }
        }
        for id in result { ids.append(Int(id)) }
    }

    private struct Symbol {
        var id: Int32
        var previous: Int32
        var next: Int32
        var alive: Bool
    }

    /// The initial symbols of `word`, then merged.
    private func merge(_ word: Scalars) -> [Int32] {
        var symbols: [Symbol] = []
        symbols.reserveCapacity(word.count)
        func add(_ id: Int) {
            let index = Int32(symbols.count)
            symbols.append(Symbol(id: Int32(id), previous: index - 1, next: index + 1, alive: true))
        }
        var pendingUnknown = false
        let plain = continuingSubwordPrefix == nil && endOfWordSuffix == nil
        for (i, scalar) in word.enumerated() {
            var id: Int?
            var bytes: [UInt8] = []
            if plain {
                id = vocabulary.singleScalarIDs[scalar.value]
            }
            if id == nil {
                if i > 0, let prefix = continuingSubwordPrefix { bytes.append(contentsOf: prefix) }
                bytes.append(contentsOf: scalar.utf8)
                if i == word.count - 1, let suffix = endOfWordSuffix { bytes.append(contentsOf: suffix) }
                if !plain { id = vocabulary.id(bytes) }
            }
            if let id {
                if pendingUnknown, let unknown = unknownTokenID { add(unknown); pendingUnknown = false }
                add(id)
                continue
            }
            if byteFallback {
                let fallback = bytes.compactMap { byteTokenIDs[Int($0)] }
                if fallback.count == bytes.count {
                    for id in fallback { add(id) }
                    continue
                }
            }
            if let unknown = unknownTokenID {
                if pendingUnknown && !fuseUnknown { add(unknown) }
                pendingUnknown = true
            }
        }
        if pendingUnknown, let unknown = unknownTokenID { add(unknown) }
        if symbols.isEmpty { return [] }
        symbols[symbols.count - 1].next = -1
        applyMerges(&symbols)
        var out: [Int32] = []
        out.reserveCapacity(symbols.count)
        for symbol in symbols where symbol.alive { out.append(symbol.id) }
        return out
    }

    private func lookup(_ left: Int32, _ right: Int32) -> (rank: UInt32, merged: Int32)? {
        guard let value = merges[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))] else { return nil }
        return (UInt32(truncatingIfNeeded: value >> 32), Int32(truncatingIfNeeded: value & 0xFFFF_FFFF))
    }

    private func applyMerges(_ symbols: inout [Symbol]) {
        guard symbols.count > 1 else { return }
        var heap = MergeHeap()
        heap.reserve(symbols.count)
        for i in 0..<symbols.count - 1 {
            if let merge = lookup(symbols[i].id, symbols[i + 1].id) {
                heap.push(rank: merge.rank, position: UInt32(i), merged: merge.merged)
            }
        }
        while let top = heap.pop() {
            let position = Int(top.position)
            guard symbols[position].alive, symbols[position].next >= 0 else { continue }
            let nextPosition = Int(symbols[position].next)
            let right = symbols[nextPosition]
            // An outdated entry: the pair at this position no longer merges into the same token.
            guard let current = lookup(symbols[position].id, right.id), current.merged == top.merged else { continue }
            symbols[position].id = top.merged
            symbols[position].next = right.next
            symbols[nextPosition].alive = false
            if right.next >= 0 { symbols[Int(right.next)].previous = Int32(position) }
            let previous = symbols[position].previous
            if previous >= 0, let merge = lookup(symbols[Int(previous)].id, top.merged) {
                heap.push(rank: merge.rank, position: UInt32(previous), merged: merge.merged)
            }
            let next = symbols[position].next
            if next >= 0, let merge = lookup(top.merged, symbols[Int(next)].id) {
                heap.push(rank: merge.rank, position: UInt32(position), merged: merge.merged)
            }
        }
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
private struct MergeHeap {
    private var keys: [UInt64] = []
    private var merged: [Int32] = []

    mutating func reserve(_ n: Int) {
        keys.reserveCapacity(n)
        merged.reserveCapacity(n)
    }

    mutating func push(rank: UInt32, position: UInt32, merged id: Int32) {
        keys.append(UInt64(rank) << 32 | UInt64(position))
        merged.append(id)
        var child = keys.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if keys[parent] <= keys[child] { break }
            keys.swapAt(parent, child)
            merged.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> (position: UInt32, merged: Int32)? {
        guard let first = keys.first else { return nil }
        let result = (UInt32(truncatingIfNeeded: first), merged[0])
        let lastKey = keys.removeLast(), lastMerged = merged.removeLast()
        if !keys.isEmpty {
            keys[0] = lastKey
            merged[0] = lastMerged
            var parent = 0
            let n = keys.count
            while true {
                let left = 2 * parent + 1
                if left >= n { break }
                var smallest = left
                if left + 1 < n, keys[left + 1] < keys[left] { smallest = left + 1 }
                if keys[parent] <= keys[smallest] { break }
                keys.swapAt(parent, smallest)
                merged.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return result
    }
}
