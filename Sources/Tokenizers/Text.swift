import Foundation

/// Text inside the pipeline: an array of Unicode scalars, so that positions are scalar
/// offsets (O(1) slicing) and nothing is merged by canonical equivalence.
typealias Scalars = [Unicode.Scalar]

/// A token's exact UTF-8 bytes as a dictionary key. Swift `String` equality and hashing use
/// canonical equivalence, so two vocabulary entries that differ only in normalization (NFC
/// "é" and NFD "e\u{301}") would collide as `String` keys; tokenizers compares bytes.
struct ByteString: Hashable {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ text: String) { bytes = Array(text.utf8) }
    init(_ scalars: some Sequence<Unicode.Scalar>) {
        bytes = []
        for scalar in scalars { bytes.append(contentsOf: scalar.utf8) }
    }

    static func == (a: ByteString, b: ByteString) -> Bool { a.bytes == b.bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }
}

extension Array where Element == Unicode.Scalar {
    init(_ text: String) { self = Array(text.unicodeScalars) }

    /// The scalars as a `String` (exactly these scalars; no normalization).
    var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: self)
        return String(view)
    }

    /// UTF-8 bytes of the scalars.
    var utf8: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for scalar in self { out.append(contentsOf: scalar.utf8) }
        return out
    }
}

extension ArraySlice where Element == Unicode.Scalar {
    var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: self)
        return String(view)
    }
}

/// Character classes as the `tokenizers` library (Rust) computes them.
///
/// Its punctuation and mark tests come from crates with tables of older Unicode versions
/// (`unicode_categories`: Unicode 8.0; `unicode-normalization-alignments`: 9.0), so a
/// character assigned later is not punctuation or a mark there even when it is today; the
/// checks below use the scalar's age to give the same answers (verified over all code
/// points against tokenizers 0.23), plus the few characters whose category changed.
enum CharacterClass {
    /// Rust `char::is_whitespace` (the Unicode White_Space property).
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar == " " || (0x09...0x0D).contains(scalar.value) }
        return scalar.properties.isWhitespace
    }

    /// Rust `char::is_numeric`: general category Nd, Nl or No.
    static func isNumeric(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return (0x30...0x39).contains(scalar.value) }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    private static func assigned(before major: Int, _ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return age.major < major
    }

    /// BERT punctuation: ASCII punctuation (which includes `$ + < = > ^ \` | ~`) or a Unicode
    /// P* character (as of Unicode 8.0).
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 {
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v)
        }
        if v == 0x166D || v == 0x111C9 { return true }  // Po in Unicode 8.0, since recategorised
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return assigned(before: 9, scalar)
        default:
            return false
        }
    }

    /// BertNormalizer's "control" test: general category Cc, Cf, Co or Cs, except tab, newline
    /// and carriage return (the library's unassigned-character test never fires, so Cn
    /// characters are kept).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
        if scalar.isASCII { return scalar.value < 0x20 || scalar.value == 0x7F }
        switch scalar.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// BertNormalizer's accent test: general category Mn (as of Unicode 8.0).
    static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return false }
        switch scalar.value {
        case 0x1734: return true  // Mn in Unicode 8.0, Mc since
        case 0x1885, 0x1886, 0xA9BD, 0x111C9: return false  // not Mn in Unicode 8.0
        default: break
        }
        return scalar.properties.generalCategory == .nonspacingMark && assigned(before: 9, scalar)
    }

    /// StripAccents' combining-mark test: general category M* (as of Unicode 9.0).
    static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return false }
        switch scalar.value {
        case 0x1CF2, 0x1CF3: return true  // Mc in Unicode 9.0, Lo since
        case 0x111C9: return false
        default: break
        }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return assigned(before: 10, scalar)
        default: return false
        }
    }

    /// CJK ideographs that BertNormalizer surrounds with spaces (Hangul and Kana are not included).
    static func isChinese(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// A regex word character (`\w` in Rust's regex crate): alphabetic, mark, decimal digit,
    /// connector punctuation or join control.
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) || v == 0x5F
        }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}

/// Per-scalar full lowercase mapping (Rust `char::to_lowercase`; no final-sigma context).
func lowercased(_ scalars: Scalars) -> Scalars {
    var out = Scalars()
    out.reserveCapacity(scalars.count)
    for scalar in scalars {
        if scalar.isASCII {
            out.append(scalar.value >= 0x41 && scalar.value <= 0x5A ? Unicode.Scalar(scalar.value + 32)! : scalar)
        } else {
            out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
    }
    return out
}

/// The four Unicode normalization forms, through Foundation.
enum NormalizationForm: String {
    case nfc = "NFC", nfd = "NFD", nfkc = "NFKC", nfkd = "NFKD"

    func apply(_ scalars: Scalars) -> Scalars {
        if scalars.allSatisfy(\.isASCII) { return scalars }
        let text = scalars.string
        let result: String
        switch self {
        case .nfc: result = text.precomposedStringWithCanonicalMapping
        case .nfd: result = text.decomposedStringWithCanonicalMapping
        case .nfkc: result = text.precomposedStringWithCompatibilityMapping
        case .nfkd: result = text.decomposedStringWithCompatibilityMapping
        }
        return Array(result.unicodeScalars)
    }
}

/// Replaces every occurrence of `needle` in `haystack` (non-overlapping, left to right).
func replacingAll(_ needle: [UInt8], with replacement: [UInt8], in haystack: [UInt8]) -> [UInt8] {
    guard !needle.isEmpty, haystack.count >= needle.count else { return haystack }
    var out: [UInt8] = []
    out.reserveCapacity(haystack.count)
    var i = 0
    let first = needle[0]
    while i < haystack.count {
        if haystack[i] == first, i + needle.count <= haystack.count, haystack[i..<i + needle.count].elementsEqual(needle) {
            out.append(contentsOf: replacement)
            i += needle.count
        } else {
            out.append(haystack[i])
            i += 1
        }
    }
    return out
}
