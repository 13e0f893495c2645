/// A piece of normalized text on its way to the model. `atStart` is true when the piece
/// begins at offset 0 of the original text (Metaspace's `prepend_scheme: "first"` needs it).
/// Offsets are not tracked through normalizers: a first piece whose leading characters a
/// normalizer deleted (Strip, or a Replace by "") still counts as starting at 0, where
/// tokenizers would look at the original offset of its first remaining character.
struct Piece {
    var text: Scalars
    var atStart: Bool
}

/// Metaspace's rule for prepending the replacement character.
enum PrependScheme: String {
    case always, first, never
}

/// A tokenizer.json pre-tokenizer: splits pieces into words (and may rewrite them).
indirect enum PreTokenizer {
    case bert
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(TextPattern, behavior: SplitBehavior, invert: Bool)
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    case digits(individual: Bool)
    case whitespace
    case whitespaceSplit
    case punctuation(SplitBehavior)
    case characterDelimiter(Unicode.Scalar)
    case sequence([PreTokenizer])

    static let supportedTypes = "BertPreTokenizer, ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, CharDelimiterSplit, Sequence"

    /// Reads a pre-tokenizer object (`{"type": …, …}`).
    static func read(_ node: JSONNode) throws -> PreTokenizer {
        let typeNode = try node.required("type")
        let type = try typeNode.string()
        switch type {
        case "BertPreTokenizer":
            return .bert
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try node.bool("add_prefix_space", default: true),
                              useRegex: try node.bool("use_regex", default: true))
        case "Split":
            return .split(try TextPattern.read(try node.required("pattern")),
                          behavior: try SplitBehavior.read(try node.required("behavior")),
                          invert: try node.bool("invert", default: false))
        case "Metaspace":
            let metaspace = try readMetaspace(node)
            return .metaspace(replacement: metaspace.replacement, prependScheme: metaspace.prependScheme, split: metaspace.split)
        case "Digits":
            return .digits(individual: try node.bool("individual_digits", default: false))
        case "Whitespace":
            return .whitespace
        case "WhitespaceSplit":
            return .whitespaceSplit
        case "Punctuation":
            if let behavior = try node.optional("behavior") { return .punctuation(try SplitBehavior.read(behavior)) }
            return .punctuation(.isolated)
        case "CharDelimiterSplit":
            let delimiterNode = try node.required("delimiter")
            let delimiter = try delimiterNode.string().unicodeScalars
            guard delimiter.count == 1, let scalar = delimiter.first else { throw delimiterNode.error("expected a single character") }
            return .characterDelimiter(scalar)
        case "Sequence":
            return .sequence(try node.required("pretokenizers").array().map(read))
        default:
            throw typeNode.error("unsupported pre-tokenizer type \(quoted(type)) (supported: \(supportedTypes))")
        }
    }

    /// The fields of a Metaspace pre-tokenizer or decoder.
    static func readMetaspace(_ node: JSONNode) throws -> (replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool) {
        let replacementNode = try node.required("replacement")
        let replacement = try replacementNode.string().unicodeScalars
        guard replacement.count == 1, let scalar = replacement.first else {
            throw replacementNode.error("expected a single character")
        }
        var scheme = PrependScheme.always
        let schemeNode = try node.optional("prepend_scheme")
        if let schemeNode {
            let name = try schemeNode.string()
            guard let parsed = PrependScheme(rawValue: name) else {
                throw schemeNode.error("unknown prepend_scheme \(quoted(name)) (expected always, first or never)")
            }
            scheme = parsed
        }
        // Older files: add_prefix_space false means "never".
        if let legacy = try node.optional("add_prefix_space"), try legacy.bool() == false {
            if schemeNode != nil, scheme != .never {
                throw legacy.error("add_prefix_space false contradicts prepend_scheme \(quoted(scheme.rawValue))")
            }
            scheme = .never
        }
        return (scalar, scheme, try node.bool("split", default: true))
    }

    /// Splits each piece; empty pieces are dropped.
    func apply(_ pieces: [Piece]) -> [Piece] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(pieces) { $1.apply($0) }
        default:
            var out: [Piece] = []
            out.reserveCapacity(pieces.count)
            for piece in pieces { split(piece, into: &out) }
            return out
        }
    }

    private static func append(_ piece: Piece, ranges: [Range<Int>], into out: inout [Piece]) {
        for range in ranges where !range.isEmpty {
            out.append(Piece(text: Array(piece.text[range]), atStart: piece.atStart && range.lowerBound == 0))
        }
    }

    private func split(_ piece: Piece, into out: inout [Piece]) {
        let text = piece.text
        switch self {
        case .bert:
            var words: [Piece] = []
            Self.append(piece, ranges: SplitBehavior.removed.apply(characterSegments(of: text, where: CharacterClass.isWhitespace)), into: &words)
            for word in words {
                Self.append(word, ranges: SplitBehavior.isolated.apply(characterSegments(of: word.text, where: CharacterClass.isPunctuation)), into: &out)
            }
        case .byteLevel(let addPrefixSpace, let useRegex):
            var piece = piece
            if addPrefixSpace, piece.text.first != " " { piece.text.insert(" ", at: 0) }
            var words: [Piece] = []
            if useRegex {
                let segments = TextPattern.regex(ByteLevel.gpt2Regex).segments(of: piece.text)
                Self.append(piece, ranges: SplitBehavior.isolated.apply(segments), into: &words)
            } else if !piece.text.isEmpty {
                words = [piece]
            }
            for word in words { out.append(Piece(text: ByteLevel.encode(word.text), atStart: word.atStart)) }
        case .split(let pattern, let behavior, let invert):
            var segments = pattern.segments(of: text)
            if invert { segments = segments.map { ($0.range, !$0.isMatch) } }
            Self.append(piece, ranges: behavior.apply(segments), into: &out)
        case .metaspace(let replacement, let scheme, let split):
            var replaced = text.map { $0 == " " ? replacement : $0 }
            let prepend: Bool
            switch scheme {
            case .always: prepend = replaced.first != replacement
            case .first: prepend = replaced.first != replacement && piece.atStart
            case .never: prepend = false
            }
            if prepend { replaced.insert(replacement, at: 0) }
            let rewritten = Piece(text: replaced, atStart: piece.atStart)
            if split {
                Self.append(rewritten, ranges: SplitBehavior.mergedWithNext.apply(characterSegments(of: replaced) { $0 == replacement }), into: &out)
            } else if !replaced.isEmpty {
                out.append(rewritten)
            }
        case .digits(let individual):
            let segments = characterSegments(of: text, where: CharacterClass.isNumeric)
            Self.append(piece, ranges: (individual ? SplitBehavior.isolated : .contiguous).apply(segments), into: &out)
        case .whitespace:
            // `\w+|[^\w\s]+`, keeping the matches: runs of word characters and runs of other
            // non-space characters; whitespace is dropped.
            var i = 0
            var ranges: [Range<Int>] = []
            while i < text.count {
                let scalar = text[i]
                if CharacterClass.isWordCharacter(scalar) {
                    let start = i
                    while i < text.count, CharacterClass.isWordCharacter(text[i]) { i += 1 }
                    ranges.append(start..<i)
                } else if !CharacterClass.isWhitespace(scalar) {
                    let start = i
                    while i < text.count, !CharacterClass.isWordCharacter(text[i]), !CharacterClass.isWhitespace(text[i]) { i += 1 }
                    ranges.append(start..<i)
                } else {
                    i += 1
                }
            }
            Self.append(piece, ranges: ranges, into: &out)
        case .whitespaceSplit:
            Self.append(piece, ranges: SplitBehavior.removed.apply(characterSegments(of: text, where: CharacterClass.isWhitespace)), into: &out)
        case .punctuation(let behavior):
            Self.append(piece, ranges: behavior.apply(characterSegments(of: text, where: CharacterClass.isPunctuation)), into: &out)
        case .characterDelimiter(let delimiter):
            Self.append(piece, ranges: SplitBehavior.removed.apply(characterSegments(of: text) { $0 == delimiter }), into: &out)
        case .sequence(let steps):
            out.append(contentsOf: steps.reduce([piece]) { $1.apply($0) })
        }
    }
}
