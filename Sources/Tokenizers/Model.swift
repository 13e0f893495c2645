/// WordPiece (BERT): each word is cut greedily into the longest vocabulary entries from the
/// left, pieces after the first looked up with `continuingSubwordPrefix` ("##"); a word longer
/// than `maximumCharactersPerWord` characters, or with any position that no entry matches,
/// becomes the single unknown token. O(L²) lookups for an L-character word (L ≤ 100 by default).
struct WordPieceModel {
    let vocabulary: Vocabulary
    let unknownTokenID: Int
    let continuingSubwordPrefix: [UInt8]
    let maximumCharactersPerWord: Int

    static func read(_ node: JSONNode) throws -> WordPieceModel {
        let vocabulary = try Vocabulary(json: try node.required("vocab"))
        let unknownNode = try node.required("unk_token")
        let unknown = try unknownNode.string()
        guard let unknownID = vocabulary.id(unknown) else {
            throw unknownNode.error("the unknown token \(quoted(unknown)) is not in the vocabulary")
        }
        let maximum = try node.optionalInt("max_input_chars_per_word") ?? 100
        guard maximum >= 0 else { throw try node.required("max_input_chars_per_word").error("must be ≥ 0, got \(maximum)") }
        return WordPieceModel(vocabulary: vocabulary, unknownTokenID: unknownID,
                              continuingSubwordPrefix: Array((try node.optionalString("continuing_subword_prefix") ?? "##").utf8),
                              maximumCharactersPerWord: maximum)
    }

    func tokenize(_ word: Scalars, into ids: inout [Int]) {
        if word.isEmpty { return }
        if word.count > maximumCharactersPerWord {
            ids.append(unknownTokenID)
            return
        }
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        for scalar in word {
            bytes.append(contentsOf: scalar.utf8)
            offsets.append(bytes.count)
        }
        var pieces: [Int] = []
        var start = 0
        while start < word.count {
            // Only candidates no longer than the longest vocabulary entry are looked up, so a
            // long word costs O(length × longest entry), not O(length²).
            let prefixLength = start > 0 ? continuingSubwordPrefix.count : 0
            var end = start
            while end < word.count, offsets[end + 1] - offsets[start] + prefixLength <= vocabulary.maximumTokenBytes { end += 1 }
            var found: Int?
            while start < end {
                var candidate = start > 0 ? continuingSubwordPrefix : []
                candidate.append(contentsOf: bytes[offsets[start]..<offsets[end]])
                if let id = vocabulary.id(candidate) { found = id; break }
                end -= 1
            }
            guard let id = found else {
                ids.append(unknownTokenID)
                return
            }
            pieces.append(id)
            start = end
        }
        ids.append(contentsOf: pieces)
    }
}

/// WordLevel: each word is one vocabulary entry, or the unknown token.
struct WordLevelModel {
    let vocabulary: Vocabulary
    let unknownTokenID: Int

    static func read(_ node: JSONNode) throws -> WordLevelModel {
        let vocabulary = try Vocabulary(json: try node.required("vocab"))
        let unknownNode = try node.required("unk_token")
        let unknown = try unknownNode.string()
        guard let unknownID = vocabulary.id(unknown) else {
            throw unknownNode.error("the unknown token \(quoted(unknown)) is not in the vocabulary")
        }
        return WordLevelModel(vocabulary: vocabulary, unknownTokenID: unknownID)
    }

    func tokenize(_ word: Scalars, into ids: inout [Int]) {
        if word.isEmpty { return }
        ids.append(vocabulary.id(ByteString(word)) ?? unknownTokenID)
    }
}

/// The model of a tokenizer.json: turns one pre-tokenized word into ids.
enum Model {
    case wordPiece(WordPieceModel)
    case bpe(BPEModel)
    case wordLevel(WordLevelModel)

    static func read(_ node: JSONNode) throws -> Model {
        let type: String
        if let typeNode = try node.optional("type") {
            type = try typeNode.string()
        } else if try node.member("merges") != nil {
            type = "BPE"
        } else if case .array = try node.required("vocab").value {
            type = "Unigram"
        } else if try node.member("continuing_subword_prefix") != nil || node.member("max_input_chars_per_word") != nil {
            type = "WordPiece"
        } else {
            type = "WordLevel"
        }
        switch type {
        case "BPE": return .bpe(try BPEModel.read(node))
        case "WordPiece": return .wordPiece(try WordPieceModel.read(node))
        case "WordLevel": return .wordLevel(try WordLevelModel.read(node))
        default:
            throw TokenizerError(file: node.file, place: node.pathOf("type"),
                                 reason: "unsupported model type \(quoted(type)) (supported: BPE, WordPiece, WordLevel)")
        }
    }

    var vocabulary: Vocabulary {
        switch self {
        case .wordPiece(let model): return model.vocabulary
        case .bpe(let model): return model.vocabulary
        case .wordLevel(let model): return model.vocabulary
        }
    }

    func tokenize(_ word: Scalars, into ids: inout [Int]) {
        switch self {
        case .wordPiece(let model): model.tokenize(word, into: &ids)
        case .bpe(let model): model.tokenize(word, into: &ids)
        case .wordLevel(let model): model.tokenize(word, into: &ids)
        }
    }
}
