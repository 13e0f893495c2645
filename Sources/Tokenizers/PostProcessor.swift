/// Ids and type ids of one sequence as it passes the post-processor.
struct TokenSequence {
    var ids: [Int]
    var typeIDs: [Int]
}

/// A template element: a special token (one or more ids) or one of the input sequences.
enum TemplatePiece {
    case special(name: String, typeID: Int)
    case sequence(second: Bool, typeID: Int)
}

/// A tokenizer.json post-processor: adds special tokens around the sequences and sets type ids.
indirect enum PostProcessor {
    case template(single: [TemplatePiece], pair: [TemplatePiece], specialTokens: [String: [Int]])
    case bert(cls: Int, sep: Int)
    case roberta(cls: Int, sep: Int)
    case byteLevel
    case sequence([PostProcessor])

    static let supportedTypes = "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence"

    static func read(_ node: JSONNode) throws -> PostProcessor {
        let typeNode = try node.required("type")
        let type = try typeNode.string()
        switch type {
        case "TemplateProcessing":
            var specials: [String: [Int]] = [:]
            if let table = try node.optional("special_tokens") {
                for (name, entry) in try table.members() {
                    let ids = try entry.required("ids").array().map { try $0.int() }
                    if let tokens = try entry.optional("tokens"), try tokens.array().count != ids.count {
                        throw tokens.error("ids and tokens must have the same length")
                    }
                    guard ids.allSatisfy({ $0 >= 0 && $0 < Vocabulary.idLimit }) else { throw entry.error("token ids out of range") }
                    specials[name] = ids
                }
            }
            func template(_ key: String, default fallback: [TemplatePiece]) throws -> [TemplatePiece] {
                guard let list = try node.optional(key) else { return fallback }
                return try list.array().map { element in
                    if let special = try element.optional("SpecialToken") {
                        let name = try special.string("id")
                        guard specials[name] != nil else {
                            throw special.error("the special token \(quoted(name)) is not in special_tokens")
                        }
                        return .special(name: name, typeID: try special.optionalInt("type_id") ?? 0)
                    }
                    if let sequence = try element.optional("Sequence") {
                        let idNode = try sequence.required("id")
                        let id = try idNode.string()
                        guard id == "A" || id == "B" else { throw idNode.error("expected \"A\" or \"B\", got \(quoted(id))") }
                        return .sequence(second: id == "B", typeID: try sequence.optionalInt("type_id") ?? 0)
                    }
                    throw element.error("expected {\"SpecialToken\": …} or {\"Sequence\": …}")
                }
            }
            return .template(single: try template("single", default: [.sequence(second: false, typeID: 0)]),
                             pair: try template("pair", default: [.sequence(second: false, typeID: 0), .sequence(second: true, typeID: 1)]),
                             specialTokens: specials)
        case "BertProcessing", "RobertaProcessing":
            func tokenID(_ key: String) throws -> Int {
                let entry = try node.required(key)
                let parts = try entry.array()
                guard parts.count == 2 else { throw entry.error("expected [token, id]") }
                _ = try parts[0].string()
                let id = try parts[1].int()
                guard id >= 0, id < Vocabulary.idLimit else { throw parts[1].error("token id \(id) is out of range") }
                return id
            }
            let cls = try tokenID("cls"), sep = try tokenID("sep")
            return type == "BertProcessing" ? .bert(cls: cls, sep: sep) : .roberta(cls: cls, sep: sep)
        case "ByteLevel":
            return .byteLevel
        case "Sequence":
            return .sequence(try node.required("processors").array().map(read))
        default:
            throw typeNode.error("unsupported post-processor type \(quoted(type)) (supported: \(supportedTypes))")
        }
    }

    /// The sequences after this processor (one or two in, possibly merged into one out).
    func process(_ sequences: [TokenSequence], addSpecialTokens: Bool) -> [TokenSequence] {
        switch self {
        case .template(let single, let pair, let specials):
            let template = sequences.count == 2 ? pair : single
            var out = TokenSequence(ids: [], typeIDs: [])
            for piece in template {
                switch piece {
                case .sequence(let second, let typeID):
                    let index = second ? 1 : 0
                    guard index < sequences.count else { continue }
                    out.ids += sequences[index].ids
                    out.typeIDs += Array(repeating: typeID, count: sequences[index].ids.count)
                case .special(let name, let typeID):
                    guard addSpecialTokens, let ids = specials[name] else { continue }
                    out.ids += ids
                    out.typeIDs += Array(repeating: typeID, count: ids.count)
                }
            }
            return [out]
        case .bert(let cls, let sep):
            guard addSpecialTokens else { return sequences }
            return sequences.enumerated().map { index, sequence in
                index == 0
                    ? TokenSequence(ids: [cls] + sequence.ids + [sep], typeIDs: [0] + sequence.typeIDs + [0])
                    : TokenSequence(ids: sequence.ids + [sep], typeIDs: sequence.typeIDs + [1])
            }
        case .roberta(let cls, let sep):
            let zeroed = sequences.map { TokenSequence(ids: $0.ids, typeIDs: Array(repeating: 0, count: $0.ids.count)) }
            guard addSpecialTokens else { return zeroed }
            return zeroed.enumerated().map { index, sequence in
                index == 0
                    ? TokenSequence(ids: [cls] + sequence.ids + [sep], typeIDs: Array(repeating: 0, count: sequence.ids.count + 2))
                    : TokenSequence(ids: [sep] + sequence.ids + [sep], typeIDs: Array(repeating: 0, count: sequence.ids.count + 2))
            }
        case .byteLevel:
            return sequences
        case .sequence(let processors):
            return processors.reduce(sequences) { $1.process($0, addSpecialTokens: addSpecialTokens) }
        }
    }
}
