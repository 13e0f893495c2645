import Foundation

/// Token ids with their type ids (segment ids: 0 for the first sequence, usually 1 for the
/// second of a pair), as BERT-style models take them.
public struct TokenEncoding: Equatable, Sendable {
    /// The token ids.
    public var ids: [Int]
    /// One type id per token id.
    public var typeIDs: [Int]

    /// An encoding of `ids` with `typeIDs` (one per id).
    public init(ids: [Int], typeIDs: [Int]) {
        self.ids = ids
        self.typeIDs = typeIDs
    }
}

/// A text tokenizer read from a Hugging Face `tokenizer.json` (or built from GGUF tokenizer
/// metadata): text → token ids and back, matching the `tokenizers` library.
///
/// Encoding runs tokenizers' pipeline: the text is cut around added tokens whose
/// `normalized` is false (special tokens; longest match first); each remaining piece is
/// normalized on its own and cut again around added tokens with `normalized: true`; the
/// pre-tokenizer splits the pieces into words; the model (WordPiece, BPE, WordLevel) turns
/// each word into ids; the post-processor adds special tokens when asked. The file's own
/// `truncation` and `padding` settings are not applied: callers choose their policy
/// (`fileMaxLength` reports the file's value). Encoding is linear in the text length apart
/// from the model's per-word cost (a 1 MB text encodes in well under a second); words of a
/// BPE model are cached, so the same instance can be used from many threads at once.
///
/// Supported components — normalizers: BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase,
/// StripAccents, Strip, Replace (string or regex), Prepend, Nmt, ByteLevel, Sequence;
/// pre-tokenizers: BertPreTokenizer, ByteLevel, Split, Metaspace, Digits, Whitespace,
/// WhitespaceSplit, Punctuation, CharDelimiterSplit, Sequence; models: BPE (string or pair
/// merges, byte fallback, unknown-token fusing, ignore_merges, continuing-subword prefix and
/// end-of-word suffix), WordPiece, WordLevel; post-processors: TemplateProcessing,
/// BertProcessing, RobertaProcessing, ByteLevel, Sequence; decoders: ByteLevel, WordPiece,
/// Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, CTC, Sequence. Anything else
/// (Unigram, Precompiled, …) is a `TokenizerError` naming the type and its place.
public final class Tokenizer: @unchecked Sendable {
    private let core: Core

    /// Reads a tokenizer.json: a regular file of at most 512 MiB. Errors name the file and
    /// the JSON path of a bad field.
    public convenience init(contentsOf url: URL) throws {
        let path = url.path
        let resolved = url.resolvingSymlinksInPath()  // the Hugging Face cache links snapshots to blobs
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved.path, isDirectory: &isDirectory) else {
            throw TokenizerError(file: path, place: "", reason: "no such file")
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: resolved.path)
        guard !isDirectory.boolValue, attributes?[.type] as? FileAttributeType == .typeRegular else {
            throw TokenizerError(file: path, place: "", reason: "not a regular file")
        }
        let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
        guard size <= Self.maximumFileSize else {
            throw TokenizerError(file: path, place: "", reason: "the file has \(size) bytes, more than the \(Self.maximumFileSize) a tokenizer.json may have")
        }
        let data: Data
        do { data = try Data(contentsOf: resolved) } catch {
            throw TokenizerError(file: path, place: "", reason: "cannot be read: \(error.localizedDescription)")
        }
        try self.init(json: data, source: path)
    }

    /// The largest tokenizer.json `init(contentsOf:)` reads (the largest real ones are tens of MB).
    public static let maximumFileSize = 512 << 20

    /// Parses tokenizer.json content; `source` names it in errors.
    public init(json: Data, source: String) throws {
        core = try Core(json: json, source: source)
    }

    /// A byte-level BPE (GGUF `tokenizer.ggml.model` = "gpt2") or a SentencePiece-style BPE
    /// with byte fallback ("llama") built from GGUF tokenizer metadata.
    ///
    /// - "gpt2": `tokens` are byte-level strings, `merges` are "a b" lines in rank order;
    ///   `preType` (`tokenizer.ggml.pre`) chooses the split regexes exactly as llama.cpp does:
    ///   "gpt-2" (and phi-2, mpt, olmo, jais, …), "smollm" (and starcoder, refact, command-r,
    ///   codeshell, exaone, minerva-7b: digits split one by one, then the GPT-2 regex),
    ///   "llama-bpe"/"llama3" (Llama-3 regex, whole-word vocabulary hits skip merging), "dbrx",
    ///   "smaug-bpe", "qwen2" (and deepseek-r1-qwen, stablelm2, …), "qwen35", "falcon", and
    ///   "default" or nil (llama.cpp's default regexes). Other names are an error.
    /// - "llama": pieces get a "▁" prefix (when `addSpacePrefix`) and spaces become "▁";
    ///   characters merge by the highest `scores` of the merged token (leftmost first among
    ///   equal scores, as llama.cpp's SentencePiece tokenizer); characters not in the
    ///   vocabulary become `<0xHH>` byte tokens (the unknown token when one is missing).
    ///   `merges` is ignored. `addSpacePrefix` is `tokenizer.ggml.add_space_prefix` (default true).
    ///
    /// `tokenTypes` (`tokenizer.ggml.token_type`): 3 (control) and 2 (unknown) become special
    /// added tokens, 4 (user-defined) non-special added tokens; all are matched in the text
    /// before tokenization. The post-processor puts `bosTokenID` first when `addBOS` and
    /// `eosTokenID` last when `addEOS`.
    public init(ggufModel: String, preType: String?, tokens: [String], merges: [String], tokenTypes: [Int32]?, scores: [Float]?,
                bosTokenID: Int?, eosTokenID: Int?, unknownTokenID: Int?, paddingTokenID: Int?, addBOS: Bool, addEOS: Bool,
                addSpacePrefix: Bool = true) throws {
        core = try Core(ggufModel: ggufModel, preType: preType, tokens: tokens, merges: merges, tokenTypes: tokenTypes, scores: scores,
                        bosTokenID: bosTokenID, eosTokenID: eosTokenID, unknownTokenID: unknownTokenID, paddingTokenID: paddingTokenID,
                        addBOS: addBOS, addEOS: addEOS, addSpacePrefix: addSpacePrefix)
    }

    /// Token ids of `text`: added/special tokens split first, then the normalizer, the
    /// pre-tokenizer, the model, and (when `addSpecialTokens`) the post-processor.
    /// The file's truncation and padding are not applied.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        core.process([core.tokenize(text, typeID: 0)], addSpecialTokens: addSpecialTokens).ids
    }

    /// Ids and type ids of `text`, or of the pair (`text`, `pair`) when `pair` is given
    /// (BERT: `[CLS] A [SEP] B [SEP]` with type ids 0 for `[CLS] A [SEP]` and 1 for `B [SEP]`).
    public func encoding(_ text: String, pair: String? = nil, addSpecialTokens: Bool = true) -> TokenEncoding {
        var sequences = [core.tokenize(text, typeID: 0)]
        if let pair { sequences.append(core.tokenize(pair, typeID: 1)) }
        let merged = core.process(sequences, addSpecialTokens: addSpecialTokens)
        return TokenEncoding(ids: merged.ids, typeIDs: merged.typeIDs)
    }

    /// The text of `ids`: each id's token (ids that are neither in the vocabulary nor added
    /// tokens are skipped; special tokens too when `skipSpecialTokens`), through the file's
    /// decoder (tokens joined with spaces when it has none). Invalid UTF-8 from byte-level or
    /// byte-fallback tokens becomes U+FFFD.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        core.decode(ids, skipSpecialTokens: skipSpecialTokens)
    }

    /// The number of ids: the largest id of the model vocabulary and the added tokens, plus one.
    public var vocabularySize: Int { core.vocabularySize }

    /// The id of `token` (an added token's content or a vocabulary entry, compared byte for byte).
    public func id(of token: String) -> Int? {
        core.addedIDs[ByteString(token)] ?? core.model.vocabulary.id(token)
    }

    /// The token string of `id` (an added token's content, or the vocabulary entry).
    public func token(of id: Int) -> String? {
        core.addedByID[id]?.content ?? core.model.vocabulary.token(id)
    }

    /// The beginning-of-sequence token: from GGUF metadata, or for a tokenizer.json the first
    /// added token among `<s>`, `<|begin_of_text|>`, `<bos>`, `<|startoftext|>` (tokenizer.json
    /// does not record it; tokenizer_config.json does). Nil when none.
    public var bosTokenID: Int? { core.bosTokenID }
    /// The end-of-sequence token: from GGUF metadata, or the first added token among `</s>`,
    /// `<|end_of_text|>`, `<|endoftext|>`, `<eos>`. Nil when none.
    public var eosTokenID: Int? { core.eosTokenID }
    /// The padding token: from GGUF metadata, or the file's `padding.pad_id`, or the first
    /// added token among `[PAD]`, `<pad>`, `<|pad|>`, `<|finetune_right_pad_id|>`. Nil when none.
    public var paddingTokenID: Int? { core.paddingTokenID }
    /// The ids of the special added tokens (the ones `decode(_:skipSpecialTokens:)` drops).
    public var specialTokenIDs: Set<Int> { core.specialTokenIDs }
    /// The truncation `max_length` written in the file, if any (informational; not applied).
    public var fileMaxLength: Int? { core.fileMaxLength }
}

/// The parts of a tokenizer and the pipeline over them.
struct Core {
    var model: Model
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizer?
    var postProcessor: PostProcessor?
    var decoder: Decoder?
    var addedByID: [Int: AddedToken] = [:]
    var addedIDs: [ByteString: Int] = [:]
    var rawMatcher = AddedTokenMatcher([], pattern: { _ in [] })
    var normalizedMatcher = AddedTokenMatcher([], pattern: { _ in [] })
    /// The token string decode uses for added tokens whose normalized form differs.
    var decodeForms: [Int: String] = [:]
    var specialContents: Set<ByteString> = []
    var specialTokenIDs: Set<Int> = []
    var vocabularySize = 0
    var bosTokenID: Int?
    var eosTokenID: Int?
    var paddingTokenID: Int?
    var fileMaxLength: Int?

    init(model: Model, normalizer: Normalizer?, preTokenizer: PreTokenizer?, postProcessor: PostProcessor?, decoder: Decoder?) {
        self.model = model
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.postProcessor = postProcessor
        self.decoder = decoder
    }

    /// Reads tokenizer.json content.
    init(json data: Data, source: String) throws {
        let root = JSONNode(value: try JSONParser.parse(data, file: source), path: "", file: source)
        guard case .object = root.value else { throw root.error("a tokenizer.json must be a JSON object, found \(root.value.typeName)") }
        if let version = try root.optional("version") {
            let text = try version.string()
            guard text == "1.0" else { throw version.error("unknown tokenizer.json version \(quoted(text)) (expected \"1.0\")") }
        }
        self.init(model: try Model.read(try root.required("model")),
                  normalizer: try root.optional("normalizer").map(Normalizer.read),
                  preTokenizer: try root.optional("pre_tokenizer").map(PreTokenizer.read),
                  postProcessor: try root.optional("post_processor").map(PostProcessor.read),
                  decoder: try root.optional("decoder").map(Decoder.read))
        var added: [AddedToken] = []
        for entry in try root.optional("added_tokens")?.array() ?? [] {
            let special = try entry.bool("special", default: false)
            let id = try entry.int("id")
            guard id >= 0, id < Vocabulary.idLimit else { throw try entry.required("id").error("token id \(id) is out of range") }
            added.append(AddedToken(id: id, content: try entry.string("content"),
                                    singleWord: try entry.bool("single_word", default: false),
                                    leftStrip: try entry.bool("lstrip", default: false),
                                    rightStrip: try entry.bool("rstrip", default: false),
                                    normalized: try entry.bool("normalized", default: !special),
                                    special: special))
        }
        addTokens(added, idsFromFile: false)
        if let truncation = try root.optional("truncation") {
            fileMaxLength = try truncation.optionalInt("max_length")
        }
        let padID = try root.optional("padding")?.optionalInt("pad_id")
        bosTokenID = firstAdded(["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"])
        eosTokenID = firstAdded(["</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"])
        paddingTokenID = padID ?? firstAdded(["[PAD]", "<pad>", "<|pad|>", "<|finetune_right_pad_id|>"])
    }

    private func firstAdded(_ names: [String]) -> Int? {
        for name in names { if let id = addedIDs[ByteString(name)] { return id } }
        return nil
    }

    /// Registers added tokens. As tokenizers does when it reads a file, a token whose content
    /// is already a vocabulary entry (or an added token) keeps that id and a new one gets the
    /// next free id after the model vocabulary, in file order (`id` in the file is only
    /// checked by tokenizers, with a warning); with `idsFromFile`, the given ids are used as is.
    mutating func addTokens(_ tokens: [AddedToken], idsFromFile: Bool) {
        let vocabulary = model.vocabulary
        var nextID = vocabulary.count
        var registered: [AddedToken] = []
        for var token in tokens where !token.content.isEmpty {
            let key = ByteString(token.content)
            if !idsFromFile {
                if let existing = addedIDs[key] ?? vocabulary.id(key) {
                    token.id = existing
                } else {
                    token.id = nextID
                    nextID += 1
                }
            }
            if let previous = addedByID[token.id] { addedIDs[ByteString(previous.content)] = nil }
            addedIDs[key] = token.id
            addedByID[token.id] = token
            if token.special { specialContents.insert(key) }
            registered.append(token)
        }
        var normalizedForms: [Int: Scalars] = [:]
        for token in addedByID.values where token.normalized {
            let scalars = Array(token.content.unicodeScalars)
            let form = normalizer?.apply(scalars) ?? scalars
            if form != scalars {
                normalizedForms[token.id] = form
                decodeForms[token.id] = form.string
            }
        }
        let all = addedByID.values.sorted { $0.id < $1.id }
        rawMatcher = AddedTokenMatcher(all.filter { !$0.normalized }) { Array($0.content.unicodeScalars) }
        normalizedMatcher = AddedTokenMatcher(all.filter(\.normalized)) { normalizedForms[$0.id] ?? Array($0.content.unicodeScalars) }
        specialTokenIDs = Set(addedByID.values.filter(\.special).map(\.id))
        vocabularySize = max(vocabulary.maximumID, addedByID.keys.max() ?? -1) + 1
    }

    /// The model ids of one sequence (no special tokens), with its type id.
    func tokenize(_ text: String, typeID: Int) -> TokenSequence {
        var ids: [Int] = []
        for segment in rawMatcher.split(Piece(text: Array(text.unicodeScalars), atStart: true)) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let piece):
                let normalized = Piece(text: normalizer?.apply(piece.text) ?? piece.text, atStart: piece.atStart)
                for inner in normalizedMatcher.split(normalized) {
                    switch inner {
                    case .token(let id):
                        ids.append(id)
                    case .text(let piece):
                        for word in preTokenizer?.apply([piece]) ?? [piece] {
                            model.tokenize(word.text, into: &ids)
                        }
                    }
                }
            }
        }
        return TokenSequence(ids: ids, typeIDs: Array(repeating: typeID, count: ids.count))
    }

    /// The post-processed, merged sequence.
    func process(_ sequences: [TokenSequence], addSpecialTokens: Bool) -> TokenSequence {
        let processed = postProcessor?.process(sequences, addSpecialTokens: addSpecialTokens) ?? sequences
        return processed.reduce(TokenSequence(ids: [], typeIDs: [])) {
            TokenSequence(ids: $0.ids + $1.ids, typeIDs: $0.typeIDs + $1.typeIDs)
        }
    }

    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            let token: String
            if let added = addedByID[id] {
                token = decodeForms[id] ?? added.content
            } else if let entry = model.vocabulary.token(id) {
                token = entry
            } else {
                continue
            }
            if skipSpecialTokens, specialContents.contains(ByteString(token)) { continue }
            tokens.append(token)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decode(tokens)
    }
}
