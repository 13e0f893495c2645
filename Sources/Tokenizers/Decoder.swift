/// A tokenizer.json decoder: turns the token strings of ids back into text.
indirect enum Decoder {
    case byteLevel
    case wordPiece(prefix: String, cleanup: Bool)
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case replace(TextPattern, content: String)
    case bpe(suffix: String)
    case ctc(padToken: String, wordDelimiterToken: String, cleanup: Bool)
    case sequence([Decoder])

    static let supportedTypes = "ByteLevel, WordPiece, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, CTC, Sequence"

    static func read(_ node: JSONNode) throws -> Decoder {
        let typeNode = try node.required("type")
        let type = try typeNode.string()
        switch type {
        case "ByteLevel":
            return .byteLevel
        case "WordPiece":
            return .wordPiece(prefix: try node.optionalString("prefix") ?? "##", cleanup: try node.bool("cleanup", default: true))
        case "Metaspace":
            let metaspace = try PreTokenizer.readMetaspace(node)
            return .metaspace(replacement: metaspace.replacement, prependScheme: metaspace.prependScheme)
        case "ByteFallback":
            return .byteFallback
        case "Fuse":
            return .fuse
        case "Strip":
            let contentNode = try node.required("content")
            let content = try contentNode.string().unicodeScalars
            guard content.count == 1, let scalar = content.first else { throw contentNode.error("expected a single character") }
            let start = try node.optionalInt("start") ?? 0, stop = try node.optionalInt("stop") ?? 0
            guard start >= 0, stop >= 0 else { throw node.error("start and stop must be ≥ 0") }
            return .strip(content: scalar, start: start, stop: stop)
        case "Replace":
            return .replace(try TextPattern.read(try node.required("pattern")), content: try node.string("content"))
        case "BPEDecoder":
            return .bpe(suffix: try node.optionalString("suffix") ?? "</w>")
        case "CTC":
            return .ctc(padToken: try node.optionalString("pad_token") ?? "<pad>",
                        wordDelimiterToken: try node.optionalString("word_delimiter_token") ?? "|",
                        cleanup: try node.bool("cleanup", default: true))
        case "Sequence":
            return .sequence(try node.required("decoders").array().map(read))
        default:
            throw typeNode.error("unsupported decoder type \(quoted(type)) (supported: \(supportedTypes))")
        }
    }

    /// The text of `tokens` (tokenizers' `decode`: the chain, then joined).
    func decode(_ tokens: [String]) -> String {
        chain(tokens).joined()
    }

    /// tokenizers' `decode_chain`: tokens in, tokens out.
    func chain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens { ByteLevel.decode(token, into: &bytes) }
            return [String(decoding: bytes, as: UTF8.self)]
        case .wordPiece(let prefix, let cleanup):
            let prefixBytes = Array(prefix.utf8)
            return tokens.enumerated().map { index, token in
                var bytes = Array(token.utf8)
                if index != 0 {
                    if bytes.starts(with: prefixBytes) { bytes.removeFirst(prefixBytes.count) } else { bytes.insert(0x20, at: 0) }
                }
                if cleanup { bytes = Decoder.cleanup(bytes) }
                return String(decoding: bytes, as: UTF8.self)
            }
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { index, token in
                var view = String.UnicodeScalarView()
                for scalar in token.unicodeScalars {
                    if scalar == replacement {
                        if index == 0 && scheme != .never { continue }
                        view.append(" ")
                    } else {
                        view.append(scalar)
                    }
                }
                return String(view)
            }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let text = String(validating: pending, as: UTF8.self) {
                    out.append(text)
                } else {
                    out.append(contentsOf: Array(repeating: "\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for token in tokens {
                if let byte = Decoder.byteToken(token) {
                    pending.append(byte)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let scalars = Array(token.unicodeScalars)
                var startCut = 0
                for i in 0..<min(start, scalars.count) {
                    if scalars[i] == content { startCut = i + 1 } else { break }
                }
                var stopCut = scalars.count
                for i in 0..<min(stop, scalars.count) {
                    let index = scalars.count - i - 1
                    if scalars[index] == content { stopCut = index } else { break }
                }
                return stopCut > startCut ? scalars[startCut..<stopCut].string : ""
            }
        case .replace(let pattern, let content):
            let replacement = Array(content.unicodeScalars)
            return tokens.map { token in
                let scalars = Array(token.unicodeScalars)
                var out = Scalars()
                for segment in pattern.segments(of: scalars) {
                    if segment.isMatch { out.append(contentsOf: replacement) } else { out.append(contentsOf: scalars[segment.range]) }
                }
                return out.string
            }
        case .bpe(let suffix):
            let suffixBytes = Array(suffix.utf8)
            return tokens.enumerated().map { index, token in
                let replacement: [UInt8] = index == tokens.count - 1 ? [] : [0x20]
                return String(decoding: replacingAll(suffixBytes, with: replacement, in: Array(token.utf8)), as: UTF8.self)
            }
        case .ctc(let pad, let delimiter, let cleanup):
            var out: [String] = []
            var previous: [UInt8]?
            for token in tokens {
                let bytes = Array(token.utf8)
                if bytes == previous { continue }
                previous = bytes
                var replaced = replacingAll(Array(pad.utf8), with: [], in: bytes)
                if cleanup {
                    replaced = replacingAll(Array(delimiter.utf8), with: [0x20], in: Decoder.cleanup(replaced))
                }
                if !replaced.isEmpty { out.append(String(decoding: replaced, as: UTF8.self)) }
            }
            return out
        case .sequence(let decoders):
            return decoders.reduce(tokens) { $1.chain($0) }
        }
    }

    /// The byte of a `<0xHH>` token.
    static func byteToken(_ token: String) -> UInt8? {
        let bytes = Array(token.utf8)
        guard bytes.count == 6, bytes[0] == UInt8(ascii: "<"), bytes[1] == UInt8(ascii: "0"), bytes[2] == UInt8(ascii: "x"),
              bytes[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: bytes[3..<5], as: UTF8.self), radix: 16)
    }

    /// WordPiece's clean-up of spaces before punctuation and contractions.
    static func cleanup(_ text: [UInt8]) -> [UInt8] {
        guard text.contains(0x20) else { return text }  // every pattern starts with a space
        var out = text
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                           (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            out = replacingAll(Array(from.utf8), with: Array(to.utf8), in: out)
        }
        return out
    }
}
