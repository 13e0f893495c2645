import Foundation

/// A parsed JSON value. Objects keep their members in file order as (key, value) pairs, so
/// keys are compared by their exact Unicode scalars (Swift `String` equality and hashing use
/// canonical equivalence, which would merge the vocabulary entries "é" and "e\u{301}").
enum JSON {
    case null
    case bool(Bool)
    /// A number; `integer` is its value when it is written as an integer that fits an `Int`.
    case number(Double, integer: Int?)
    case string(String)
    case array([JSON])
    case object([(key: String, value: JSON)])

    /// The JSON type name, for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A strict RFC 8259 parser over UTF-8 bytes (no trailing commas, comments, NaN, or lone
/// surrogate escapes; nesting limited to 256 levels so hostile input cannot exhaust the stack).
struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0
    private static let maximumDepth = 256

    /// Parses `data` as one JSON document; a failure names the line and column.
    static func parse(_ data: Data, file: String) throws -> JSON {
        try data.withUnsafeBytes { raw -> JSON in
            let buffer = raw.bindMemory(to: UInt8.self)
            guard String(validating: buffer, as: UTF8.self) != nil else {
                throw TokenizerError(file: file, place: "", reason: "the file is not valid UTF-8 text")
            }
            var parser = JSONParser(bytes: buffer)
            do {
                parser.skipWhitespace()
                let value = try parser.parseValue()
                parser.skipWhitespace()
                if parser.position != buffer.count { throw ParseFailure(message: "unexpected text after the JSON value", offset: parser.position) }
                return value
            } catch let failure as ParseFailure {
                let (line, column) = Self.lineAndColumn(of: failure.offset, in: buffer)
                throw TokenizerError(file: file, place: "line \(line), column \(column)", reason: "malformed JSON: \(failure.message)")
            }
        }
    }

    private struct ParseFailure: Error {
        var message: String
        var offset: Int
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private static func lineAndColumn(of offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (Int, Int) {
        var line = 1, column = 1
        for i in 0..<min(offset, bytes.count) {
            if bytes[i] == 0x0A { line += 1; column = 1 } else if bytes[i] & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }

    private func failure(_ message: String) -> ParseFailure {
        ParseFailure(message: message, offset: position)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws -> JSON {
        guard position < bytes.count else { throw failure("unexpected end of the file") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure("unexpected character '\(Unicode.Scalar(bytes[position]))'")
        }
    }

    private mutating func expectWord(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw failure("unexpected end of the file") }
        for i in 0..<count where bytes[position + i] != word.utf8Start[i] {
            throw failure("unexpected character '\(Unicode.Scalar(bytes[position + i]))'")
        }
        position += count
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Self.maximumDepth { throw failure("nesting deeper than \(Self.maximumDepth) levels") }
    }

    private mutating func parseObject() throws -> JSON {
        try enter()
        defer { depth -= 1 }
        position += 1
        var members: [(key: String, value: JSON)] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw failure("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw failure("expected ':' after a key") }
            position += 1
            skipWhitespace()
            members.append((key, try parseValue()))
            skipWhitespace()
            guard position < bytes.count else { throw failure("unexpected end of the file inside an object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            throw failure("expected ',' or '}' in an object")
        }
    }

    private mutating func parseArray() throws -> JSON {
        try enter()
        defer { depth -= 1 }
        position += 1
        var elements: [JSON] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else { throw failure("unexpected end of the file inside an array") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
            throw failure("expected ',' or ']' in an array")
        }
    }

    private mutating func parseString() throws -> String {
        position += 1
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw failure("a control character inside a string (it must be escaped)") }
            position += 1
        }
        var utf8 = Array(UnsafeBufferPointer(rebasing: bytes[start..<position]))
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return String(decoding: utf8, as: UTF8.self)
            }
            if byte < 0x20 { throw failure("a control character inside a string (it must be escaped)") }
            if byte != UInt8(ascii: "\\") { utf8.append(byte); position += 1; continue }
            position += 1
            guard position < bytes.count else { break }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""): utf8.append(0x22)
            case UInt8(ascii: "\\"): utf8.append(0x5C)
            case UInt8(ascii: "/"): utf8.append(0x2F)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var value = try parseHex4()
                if (0xD800...0xDBFF).contains(value) {
                    guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                        throw failure("a lone UTF-16 surrogate escape")
                    }
                    position += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw failure("a lone UTF-16 surrogate escape") }
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(value) {
                    throw failure("a lone UTF-16 surrogate escape")
                }
                utf8.append(contentsOf: Unicode.Scalar(value)!.utf8)
            default:
                throw failure("an unknown escape '\\\(Unicode.Scalar(escape))'")
            }
        }
        throw failure("unexpected end of the file inside a string")
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw failure("unexpected end of the file in a \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("a \\u escape needs four hex digits")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private mutating func parseNumber() throws -> JSON {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, isDigit(bytes[position]) else { throw failure("a number needs digits") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        var integral = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else { throw failure("a number needs digits after '.'") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            integral = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count, isDigit(bytes[position]) else { throw failure("a number needs digits in its exponent") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        let integer = integral ? Int(text) : nil
        guard let double = Double(text), double.isFinite else { throw failure("a number out of range") }
        return .number(double, integer: integer)
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}

/// A JSON value with its path in the file, for reading a tokenizer.json with errors that
/// name the field (`model.merges[3]`).
struct JSONNode {
    let value: JSON
    let path: String
    let file: String

    /// A `TokenizerError` at this node.
    func error(_ reason: String) -> TokenizerError {
        TokenizerError(file: file, place: path, reason: reason)
    }

    var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    private func childPath(_ key: String) -> String {
        let simple = !key.isEmpty && key.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" }
        if simple { return path.isEmpty ? key : "\(path).\(key)" }
        return "\(path)[\(quoted(key))]"
    }

    /// The member `key` of this object (the last one when repeated), or nil when absent.
    func member(_ key: String) throws -> JSONNode? {
        guard case .object(let members) = value else { throw error("expected an object, found \(value.typeName)") }
        guard let found = members.last(where: { $0.key.unicodeScalars.elementsEqual(key.unicodeScalars) }) else { return nil }
        return JSONNode(value: found.value, path: childPath(key), file: file)
    }

    /// The member `key`; absent or null is an error.
    func required(_ key: String) throws -> JSONNode {
        guard let node = try member(key), !node.isNull else {
            throw TokenizerError(file: file, place: childPath(key), reason: "missing (required here)")
        }
        return node
    }

    /// The member `key` unless it is absent or null.
    func optional(_ key: String) throws -> JSONNode? {
        guard let node = try member(key), !node.isNull else { return nil }
        return node
    }

    func string() throws -> String {
        guard case .string(let text) = value else { throw error("expected a string, found \(value.typeName)") }
        return text
    }

    func bool() throws -> Bool {
        guard case .bool(let flag) = value else { throw error("expected true or false, found \(value.typeName)") }
        return flag
    }

    func int() throws -> Int {
        guard case .number(_, let integer) = value, let integer else { throw error("expected an integer, found \(value.typeName)") }
        return integer
    }

    func double() throws -> Double {
        guard case .number(let number, _) = value else { throw error("expected a number, found \(value.typeName)") }
        return number
    }

    /// The elements of this array.
    func array() throws -> [JSONNode] {
        guard case .array(let elements) = value else { throw error("expected an array, found \(value.typeName)") }
        return elements.enumerated().map { JSONNode(value: $0.element, path: "\(path)[\($0.offset)]", file: file) }
    }

    /// The members of this object, in file order.
    func members() throws -> [(key: String, node: JSONNode)] {
        guard case .object(let members) = value else { throw error("expected an object, found \(value.typeName)") }
        return members.map { ($0.key, JSONNode(value: $0.value, path: childPath($0.key), file: file)) }
    }

    /// The path of member `key` of this node, for errors about values read without a node.
    func pathOf(_ key: String) -> String { childPath(key) }

    /// The path of element `index` of this node.
    func pathOf(_ index: Int) -> String { "\(path)[\(index)]" }

    func string(_ key: String) throws -> String { try required(key).string() }
    func int(_ key: String) throws -> Int { try required(key).int() }
    func bool(_ key: String, default fallback: Bool) throws -> Bool { try optional(key)?.bool() ?? fallback }
    func optionalString(_ key: String) throws -> String? { try optional(key)?.string() }
    func optionalInt(_ key: String) throws -> Int? { try optional(key)?.int() }
}

/// `text` in double quotes with control characters escaped, short enough for a message.
func quoted(_ text: String, limit: Int = 60) -> String {
    var out = "\""
    for (i, scalar) in text.unicodeScalars.enumerated() {
        if i == limit { out += "…"; break }
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
