import Foundation

/// A compiled regular expression applied to scalar arrays (ICU through
/// `NSRegularExpression`; its `\s`, `\p{L}`, `\p{N}`, `(?i:…)` and `(?!\S)` agree with the
/// Oniguruma engine tokenizers uses for the patterns found in tokenizer.json files).
final class ScalarRegex: @unchecked Sendable {
    let source: String
    private let regex: NSRegularExpression

    init(_ source: String) throws {
        self.source = source
        regex = try NSRegularExpression(pattern: source, options: [])
    }

    /// The matches in `text`, left to right, as scalar offset ranges (possibly empty).
    func matches(in text: Scalars) -> [Range<Int>] {
        if text.isEmpty { return [] }
        let string = text.string
        let length = string.utf16.count
        var ranges: [Range<Int>] = []
        // Convert UTF-16 offsets to scalar offsets with one forward walk (matches come in order).
        var scalarIndex = 0, utf16Offset = 0
        func scalarOffset(_ target: Int) -> Int {
            while utf16Offset < target, scalarIndex < text.count {
                utf16Offset += text[scalarIndex].value > 0xFFFF ? 2 : 1
                scalarIndex += 1
            }
            return scalarIndex
        }
        regex.enumerateMatches(in: string, options: [], range: NSRange(location: 0, length: length)) { result, _, _ in
            guard let range = result?.range, range.location != NSNotFound else { return }
            let start = scalarOffset(range.location)
            let end = scalarOffset(range.location + range.length)
            ranges.append(start..<end)
        }
        return ranges
    }
}

/// A Split/Replace pattern of tokenizer.json: `{"String": s}` (a literal) or `{"Regex": r}`.
enum TextPattern {
    case literal(Scalars)
    case regex(ScalarRegex)

    /// Reads `{"String": …}` or `{"Regex": …}`.
    static func read(_ node: JSONNode) throws -> TextPattern {
        if let literal = try node.optional("String") { return .literal(Array(try literal.string().unicodeScalars)) }
        if let regex = try node.optional("Regex") {
            let source = try regex.string()
            do { return .regex(try ScalarRegex(source)) } catch {
                throw regex.error("the regular expression \(quoted(source)) does not compile: \(error.localizedDescription)")
            }
        }
        throw node.error("expected {\"String\": …} or {\"Regex\": …}")
    }

    /// Non-overlapping matches left to right, as scalar ranges; an empty literal matches the
    /// empty string at every position (as the escaped empty regex does in tokenizers).
    func matches(in text: Scalars) -> [Range<Int>] {
        switch self {
        case .regex(let regex):
            return regex.matches(in: text)
        case .literal(let needle):
            if needle.isEmpty { return (0...text.count).map { $0..<$0 } }
            guard text.count >= needle.count else { return [] }
            var ranges: [Range<Int>] = []
            var i = 0
            let first = needle[0]
            while i + needle.count <= text.count {
                if text[i] == first, text[i..<i + needle.count].elementsEqual(needle) {
                    ranges.append(i..<i + needle.count)
                    i += needle.count
                } else {
                    i += 1
                }
            }
            return ranges
        }
    }

    /// The whole text cut into matches and the gaps between them, as tokenizers'
    /// `Pattern::find_matches` does: `(range, isMatch)` covering `0..<text.count`.
    func segments(of text: Scalars) -> [(range: Range<Int>, isMatch: Bool)] {
        if text.isEmpty { return [(0..<0, false)] }
        var out: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = 0
        for match in matches(in: text) {
            if previous != match.lowerBound { out.append((previous..<match.lowerBound, false)) }
            out.append((match, true))
            previous = match.upperBound
        }
        if previous != text.count { out.append((previous..<text.count, false)) }
        return out
    }
}

/// `(range, isMatch)` segments for a per-character predicate: every matching character is
/// a match of its own; the runs between them are gaps.
func characterSegments(of text: Scalars, where predicate: (Unicode.Scalar) -> Bool) -> [(range: Range<Int>, isMatch: Bool)] {
    if text.isEmpty { return [(0..<0, false)] }
    var out: [(range: Range<Int>, isMatch: Bool)] = []
    var last = 0
    for (i, scalar) in text.enumerated() where predicate(scalar) {
        if last < i { out.append((last..<i, false)) }
        out.append((i..<i + 1, true))
        last = i + 1
    }
    if last < text.count { out.append((last..<text.count, false)) }
    return out
}

/// What a split does with the delimiters it finds (tokenizers' `SplitDelimiterBehavior`).
enum SplitBehavior: String {
    case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous

    /// Reads `"Removed"`, `"isolated"`, `"merged_with_next"`, … (any case, with or without underscores).
    static func read(_ node: JSONNode) throws -> SplitBehavior {
        let name = try node.string()
        let key = name.lowercased().replacingOccurrences(of: "_", with: "")
        for behavior in [SplitBehavior.removed, .isolated, .mergedWithPrevious, .mergedWithNext, .contiguous]
        where behavior.rawValue.lowercased() == key {
            return behavior
        }
        throw node.error("unknown split behavior \(quoted(name)) (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)")
    }

    /// The ranges to keep, from `(range, isMatch)` segments covering the text.
    func apply(_ segments: [(range: Range<Int>, isMatch: Bool)]) -> [Range<Int>] {
        switch self {
        case .isolated:
            return segments.map(\.range)
        case .removed:
            return segments.filter { !$0.isMatch }.map(\.range)
        case .contiguous:
            var out: [Range<Int>] = []
            var previousMatch = false
            for segment in segments {
                if segment.isMatch == previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<segment.range.upperBound
                } else {
                    out.append(segment.range)
                }
                previousMatch = segment.isMatch
            }
            return out
        case .mergedWithPrevious:
            var out: [Range<Int>] = []
            var previousMatch = false
            for segment in segments {
                if segment.isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<segment.range.upperBound
                } else {
                    out.append(segment.range)
                }
                previousMatch = segment.isMatch
            }
            return out
        case .mergedWithNext:
            var out: [Range<Int>] = []
            var previousMatch = false
            for segment in segments.reversed() {
                if segment.isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = segment.range.lowerBound..<last.upperBound
                } else {
                    out.append(segment.range)
                }
                previousMatch = segment.isMatch
            }
            return out.reversed()
        }
    }
}
