/// A model vocabulary: token ↔ id, with tokens compared by their exact bytes.
struct Vocabulary {
    private(set) var ids: [ByteString: Int] = [:]
    private(set) var tokens: [Int: String] = [:]
    /// Ids of the tokens that are a single Unicode scalar (the BPE fast path).
    private(set) var singleScalarIDs: [UInt32: Int] = [:]
    /// The longest token, in UTF-8 bytes.
    private(set) var maximumTokenBytes = 0
    /// The largest id, or -1 when empty.
    private(set) var maximumID = -1

    /// The largest id the reader accepts; larger ids would make `vocabularySize` (and any
    /// embedding table built from it) absurd.
    static let idLimit = 1 << 26

    init() {}

    /// Reads `{"token": id, …}`; repeated tokens, repeated ids and ids out of range are errors.
    init(json node: JSONNode) throws {
        guard case .object(let members) = node.value else { throw node.error("expected an object, found \(node.value.typeName)") }
        ids.reserveCapacity(members.count)
        tokens.reserveCapacity(members.count)
        for (token, value) in members {
            // Paths are built only for an error: a vocabulary has up to hundreds of thousands of entries.
            guard case .number(_, let integer) = value, let id = integer else {
                throw TokenizerError(file: node.file, place: node.pathOf(token), reason: "expected an integer id, found \(value.typeName)")
            }
            try insert(token, id: id) { TokenizerError(file: node.file, place: node.pathOf(token), reason: $0) }
        }
    }

    /// Adds `token` with `id`; `fail` builds the error for a repeated token or id. With
    /// `repeatedTokens`, a token seen before keeps its new id for lookups (GGUF vocabularies
    /// may repeat a string; llama.cpp lets the last one win) and both ids decode to it.
    mutating func insert(_ token: String, id: Int, repeatedTokens: Bool = false, fail: (String) -> TokenizerError) throws {
        guard id >= 0, id < Self.idLimit else { throw fail("token id \(id) is out of range (0..<\(Self.idLimit))") }
        let key = ByteString(token)
        if !repeatedTokens, let previous = ids[key] { throw fail("the token \(quoted(token)) appears twice (ids \(previous) and \(id))") }
        if let previous = tokens[id] { throw fail("the id \(id) is given to two tokens (\(quoted(previous)) and \(quoted(token)))") }
        ids[key] = id
        tokens[id] = token
        let scalars = token.unicodeScalars
        if let first = scalars.first, scalars.index(after: scalars.startIndex) == scalars.endIndex {
            singleScalarIDs[first.value] = id
        }
        maximumTokenBytes = max(maximumTokenBytes, key.bytes.count)
        maximumID = max(maximumID, id)
    }

    var count: Int { ids.count }

    func id(_ token: String) -> Int? { ids[ByteString(token)] }
    func id(_ bytes: [UInt8]) -> Int? { ids[ByteString(bytes)] }
    func id(_ key: ByteString) -> Int? { ids[key] }
    func token(_ id: Int) -> String? { tokens[id] }
}
