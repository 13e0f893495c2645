/// Building a tokenizer from GGUF tokenizer metadata (`tokenizer.ggml.*`), as llama.cpp does.
extension Core {
    private static let source = "GGUF tokenizer metadata"

    private static func failure(_ place: String, _ reason: String) -> TokenizerError {
        TokenizerError(file: source, place: place, reason: reason)
    }

    // llama.cpp's split regexes (src/llama-vocab.cpp), with its case-explicit contractions.
    private static let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#
    private static let llama3 = #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    private static let qwen2 = #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    private static let qwen35 = #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The split regexes llama.cpp applies for a `tokenizer.ggml.pre` name (each one splits
    /// every piece further, keeping matches and the gaps between them), and whether it turns
    /// on `ignore_merges`.
    static func ggufSplits(preType: String?) throws -> (patterns: [String], ignoreMerges: Bool) {
        switch preType ?? "default" {
        case "", "default":
            return ([#"[\p{P}\$\+<=>\^~\|]+"#, gpt2, #"\p{N}+"#, "[0-9][0-9][0-9]"], false)
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
            return ([llama3], true)
        case "dbrx", "smaug-bpe":
            return ([llama3], false)
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
             "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4":
            return ([gpt2], false)
        case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2":
            return ([#"\p{N}"#, gpt2], false)
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open":
            return ([qwen2], false)
        case "qwen35":
            return ([qwen35], false)
        case "falcon":
            return ([#"[\p{P}\$\+<=>\^~\|`]+"#, gpt2, "[0-9][0-9][0-9]"], false)
        case let name:
            throw failure("tokenizer.ggml.pre", "unsupported pre-tokenizer type \(quoted(name)) (supported: default, gpt-2, smollm, llama-bpe, qwen2, qwen35, falcon and their llama.cpp aliases)")
        }
    }

    init(ggufModel: String, preType: String?, tokens: [String], merges: [String], tokenTypes: [Int32]?, scores: [Float]?,
         bosTokenID: Int?, eosTokenID: Int?, unknownTokenID: Int?, paddingTokenID: Int?, addBOS: Bool, addEOS: Bool,
         addSpacePrefix: Bool) throws {
        guard !tokens.isEmpty else { throw Self.failure("tokenizer.ggml.tokens", "the vocabulary is empty") }
        guard tokens.count < Vocabulary.idLimit else { throw Self.failure("tokenizer.ggml.tokens", "\(tokens.count) tokens is more than this reader accepts") }
        if let tokenTypes, tokenTypes.count != tokens.count {
            throw Self.failure("tokenizer.ggml.token_type", "\(tokenTypes.count) token types for \(tokens.count) tokens")
        }
        for (name, id) in [("tokenizer.ggml.bos_token_id", bosTokenID), ("tokenizer.ggml.eos_token_id", eosTokenID),
                           ("tokenizer.ggml.unknown_token_id", unknownTokenID), ("tokenizer.ggml.padding_token_id", paddingTokenID)] {
            if let id, !(0..<tokens.count).contains(id) { throw Self.failure(name, "token id \(id) is not in 0..<\(tokens.count)") }
        }
        if addBOS && bosTokenID == nil { throw Self.failure("tokenizer.ggml.add_bos_token", "is true, but there is no bos_token_id") }
        if addEOS && eosTokenID == nil { throw Self.failure("tokenizer.ggml.add_eos_token", "is true, but there is no eos_token_id") }

        var vocabulary = Vocabulary()
        for (id, token) in tokens.enumerated() {
            try vocabulary.insert(token, id: id, repeatedTokens: true) { Self.failure("tokenizer.ggml.tokens[\(id)]", $0) }
        }
        let model: BPEModel
        let normalizer: Normalizer?
        let preTokenizer: PreTokenizer?
        let decoder: Decoder
        switch ggufModel {
        case "gpt2":
            var parsed: [(left: Int, right: Int, merged: Int)] = []
            parsed.reserveCapacity(merges.count)
            for (index, line) in merges.enumerated() {
                let place = "tokenizer.ggml.merges[\(index)]"
                // As llama.cpp: the first space after the first byte separates the two tokens.
                let bytes = Array(line.utf8)
                guard bytes.count > 1, let space = bytes[1...].firstIndex(of: 0x20) else {
                    throw Self.failure(place, "a merge must be two tokens separated by a space, got \(quoted(line))")
                }
                let leftBytes = Array(bytes[..<space]), rightBytes = Array(bytes[(space + 1)...])
                let leftText = String(decoding: leftBytes, as: UTF8.self), rightText = String(decoding: rightBytes, as: UTF8.self)
                guard let left = vocabulary.id(leftBytes) else { throw Self.failure(place, "the merge's left token \(quoted(leftText)) is not in the vocabulary") }
                guard let right = vocabulary.id(rightBytes) else { throw Self.failure(place, "the merge's right token \(quoted(rightText)) is not in the vocabulary") }
                guard let merged = vocabulary.id(leftBytes + rightBytes) else {
                    throw Self.failure(place, "the merge's result \(quoted(leftText + rightText)) is not in the vocabulary")
                }
                parsed.append((left, right, merged))
            }
            let splits = try Self.ggufSplits(preType: preType)
            var steps: [PreTokenizer] = []
            for pattern in splits.patterns {
                steps.append(.split(.regex(try ScalarRegex(pattern)), behavior: .isolated, invert: false))
            }
            steps.append(.byteLevel(addPrefixSpace: false, useRegex: false))
            model = BPEModel(vocabulary: vocabulary, merges: parsed, unknownToken: unknownTokenID.map { tokens[$0] },
                             continuingSubwordPrefix: nil, endOfWordSuffix: nil, fuseUnknown: false, byteFallback: false,
                             ignoreMerges: splits.ignoreMerges)
            normalizer = nil
            preTokenizer = .sequence(steps)
            decoder = .byteLevel
        case "llama":
            guard let scores else { throw Self.failure("tokenizer.ggml.scores", "missing; a \"llama\" (SentencePiece) vocabulary needs scores") }
            guard scores.count == tokens.count else {
                throw Self.failure("tokenizer.ggml.scores", "\(scores.count) scores for \(tokens.count) tokens")
            }
            if let bad = scores.firstIndex(where: { !$0.isFinite }) {
                throw Self.failure("tokenizer.ggml.scores[\(bad)]", "the score \(scores[bad]) is not finite")
            }
            // Every split of a token into two vocabulary entries is a merge; the merged token's
            // score orders the merges (highest first, equal scores leftmost first). Tokens over
            // 1 KiB (none in real SentencePiece vocabularies, whose pieces are a few characters)
            // are not split, so a hostile vocabulary cannot make this quadratic.
            var candidates: [(left: Int, right: Int, merged: Int, score: Float)] = []
            for (id, token) in tokens.enumerated() {
                let type = tokenTypes?[id] ?? 1
                guard type == 1 || type == 4, vocabulary.id(token) == id else { continue }
                let bytes = Array(token.utf8)
                guard bytes.count <= 1024 else { continue }
                var cut = 1
                while cut < bytes.count {
                    if bytes[cut] & 0xC0 != 0x80, let left = vocabulary.id(Array(bytes[..<cut])), let right = vocabulary.id(Array(bytes[cut...])) {
                        candidates.append((left, right, id, scores[id]))
                    }
                    cut += 1
                }
            }
            let distinct = Array(Set(candidates.map(\.score))).sorted(by: >)
            var rankOf: [Float: Int] = [:]
            for (rank, score) in distinct.enumerated() { rankOf[score] = rank }
            model = BPEModel(vocabulary: vocabulary, merges: candidates.map { ($0.left, $0.right, $0.merged) },
                             ranks: candidates.map { rankOf[$0.score]! }, unknownToken: unknownTokenID.map { tokens[$0] },
                             continuingSubwordPrefix: nil, endOfWordSuffix: nil, fuseUnknown: true, byteFallback: true,
                             ignoreMerges: false)
            let space = Scalars(" "), metaspace = Scalars("\u{2581}")
            normalizer = .sequence((addSpacePrefix ? [.prepend(metaspace)] : []) + [.replace(.literal(space), content: metaspace)])
            preTokenizer = nil
            decoder = .sequence([.replace(.literal(metaspace), content: " "), .byteFallback, .fuse] + (addSpacePrefix ? [.strip(content: " ", start: 1, stop: 0)] : []))
        default:
            throw Self.failure("tokenizer.ggml.model", "unsupported tokenizer model \(quoted(ggufModel)) (supported: gpt2, llama)")
        }
        var template: [TemplatePiece] = []
        var specials: [String: [Int]] = [:]
        if addBOS, let bosTokenID { template.append(.special(name: "bos", typeID: 0)); specials["bos"] = [bosTokenID] }
        template.append(.sequence(second: false, typeID: 0))
        if addEOS, let eosTokenID { template.append(.special(name: "eos", typeID: 0)); specials["eos"] = [eosTokenID] }
        var pair = template
        pair.append(contentsOf: template.map {
            if case .sequence = $0 { return .sequence(second: true, typeID: 1) }
            if case .special(let name, _) = $0 { return .special(name: name, typeID: 1) }
            return $0
        })
        self.init(model: .bpe(model), normalizer: normalizer, preTokenizer: preTokenizer,
                  postProcessor: .template(single: template, pair: pair, specialTokens: specials), decoder: decoder)
        var added: [AddedToken] = []
        for (id, token) in tokens.enumerated() {
            switch tokenTypes?[id] ?? 1 {
            case 2, 3: added.append(AddedToken(id: id, content: token, normalized: false, special: true))
            case 4: added.append(AddedToken(id: id, content: token, normalized: false, special: false))
            default: break
            }
        }
        addTokens(added, idsFromFile: true)
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.paddingTokenID = paddingTokenID
    }
}
