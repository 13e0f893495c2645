/// A tokenizer.json normalizer, applied to each piece of text between added tokens.
indirect enum Normalizer {
    case bert(cleanText: Bool, handleChineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    case unicode(NormalizationForm)
    case lowercase
    case stripAccents
    case strip(left: Bool, right: Bool)
    case replace(TextPattern, content: Scalars)
    case prepend(Scalars)
    case nmt
    case byteLevel
    case sequence([Normalizer])

    static let supportedTypes = "BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Replace, Prepend, Nmt, ByteLevel, Sequence"

    /// Reads a normalizer object (`{"type": …, …}`).
    static func read(_ node: JSONNode) throws -> Normalizer {
        let typeNode = try node.required("type")
        let type = try typeNode.string()
        switch type {
        case "BertNormalizer", "Bert":
            let lowercase = try node.bool("lowercase", default: true)
            // strip_accents: null means "the same as lowercase".
            let stripAccents = try node.optional("strip_accents")?.bool() ?? lowercase
            return .bert(cleanText: try node.bool("clean_text", default: true),
                         handleChineseChars: try node.bool("handle_chinese_chars", default: true),
                         stripAccents: stripAccents, lowercase: lowercase)
        case "NFC": return .unicode(.nfc)
        case "NFD": return .unicode(.nfd)
        case "NFKC": return .unicode(.nfkc)
        case "NFKD": return .unicode(.nfkd)
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "Strip":
            return .strip(left: try node.bool("strip_left", default: true), right: try node.bool("strip_right", default: true))
        case "Replace":
            return .replace(try TextPattern.read(try node.required("pattern")), content: Array(try node.string("content").unicodeScalars))
        case "Prepend":
            return .prepend(Array(try node.string("prepend").unicodeScalars))
        case "Nmt": return .nmt
        case "ByteLevel": return .byteLevel
        case "Sequence":
            return .sequence(try node.required("normalizers").array().map(read))
        default:
            throw typeNode.error("unsupported normalizer type \(quoted(type)) (supported: \(supportedTypes))")
        }
    }

    /// The normalized text.
    func apply(_ text: Scalars) -> Scalars {
        switch self {
        case .bert(let cleanText, let handleChineseChars, let stripAccents, let lowercase):
            var out = text
            if cleanText {
                out = out.compactMap { scalar in
                    if scalar.value == 0 || scalar.value == 0xFFFD || CharacterClass.isControl(scalar) { return nil }
                    return CharacterClass.isWhitespace(scalar) ? " " : scalar
                }
            }
            if handleChineseChars, out.contains(where: CharacterClass.isChinese) {
                var spaced = Scalars()
                spaced.reserveCapacity(out.count + 16)
                for scalar in out {
                    if CharacterClass.isChinese(scalar) {
                        spaced.append(" "); spaced.append(scalar); spaced.append(" ")
                    } else {
                        spaced.append(scalar)
                    }
                }
                out = spaced
            }
            if stripAccents {
                out = NormalizationForm.nfd.apply(out).filter { !CharacterClass.isNonspacingMark($0) }
            }
            if lowercase { out = lowercased(out) }
            return out
        case .unicode(let form):
            return form.apply(text)
        case .lowercase:
            return lowercased(text)
        case .stripAccents:
            return text.filter { !CharacterClass.isCombiningMark($0) }
        case .strip(let left, let right):
            var start = 0, end = text.count
            if left { while start < end, CharacterClass.isWhitespace(text[start]) { start += 1 } }
            if right { while end > start, CharacterClass.isWhitespace(text[end - 1]) { end -= 1 } }
            return Array(text[start..<end])
        case .replace(let pattern, let content):
            let matches = pattern.matches(in: text)
            if matches.isEmpty { return text }
            var out = Scalars()
            out.reserveCapacity(text.count)
            var last = 0
            for match in matches {
                out.append(contentsOf: text[last..<match.lowerBound])
                out.append(contentsOf: content)
                last = match.upperBound
            }
            out.append(contentsOf: text[last...])
            return out
        case .prepend(let prefix):
            return text.isEmpty ? text : prefix + text
        case .nmt:
            return text.compactMap { scalar in
                switch scalar.value {
                case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x8F, 0x9F: return nil
                case 0x09, 0x0A, 0x0C, 0x0D, 0x1680, 0x200B...0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD: return " "
                default: return scalar
                }
            }
        case .byteLevel:
            return ByteLevel.encode(text)
        case .sequence(let normalizers):
            return normalizers.reduce(text) { $1.apply($0) }
        }
    }
}
