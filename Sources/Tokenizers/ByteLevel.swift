import Foundation

/// GPT-2's byte-level alphabet: every byte gets a printable stand-in character, so that any
/// UTF-8 text becomes a string over 256 characters.
///
/// Bytes 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF stand for themselves (as code points); the
/// other 68 bytes, in increasing order (0x00–0x20, 0x7F–0xA0, 0xAD), map to U+0100, U+0101, …
/// U+0143. So space → `Ġ` (U+0120), `\n` → `Ċ` (U+010A), `\t` → `ĉ` (U+0109).
enum ByteLevel {
    /// The stand-in character of each byte.
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 0x100
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte of each stand-in character (inverse of `byteToScalar`).
    static let scalarToByte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (byte, scalar) in byteToScalar.enumerated() { map[scalar.value] = UInt8(byte) }
        return map
    }()

    /// The GPT-2 split pattern (ByteLevel pre-tokenizer with `use_regex`).
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// The compiled GPT-2 pattern.
    static let gpt2Regex: ScalarRegex = try! ScalarRegex(gpt2Pattern)

    /// Each UTF-8 byte of `text` replaced by its stand-in character.
    static func encode(_ text: Scalars) -> Scalars {
        var out = Scalars()
        out.reserveCapacity(text.count)
        for scalar in text {
            if scalar.value < 0x80 {
                out.append(byteToScalar[Int(scalar.value)])
            } else {
                for byte in scalar.utf8 { out.append(byteToScalar[Int(byte)]) }
            }
        }
        return out
    }

    /// The bytes a token stands for: each character mapped back to its byte, or, when any
    /// character is outside the alphabet, the token's own UTF-8 bytes (as tokenizers does).
    static func decode(_ token: String, into bytes: inout [UInt8]) {
        let start = bytes.count
        for scalar in token.unicodeScalars {
            guard let byte = scalarToByte[scalar.value] else {
                bytes.removeSubrange(start...)
                bytes.append(contentsOf: token.utf8)
                return
            }
            bytes.append(byte)
        }
    }
}
