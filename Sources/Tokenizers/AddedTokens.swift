/// A token of tokenizer.json's `added_tokens` (special tokens and user additions).
struct AddedToken {
    var id: Int
    var content: String
    var singleWord = false
    var leftStrip = false
    var rightStrip = false
    var normalized = false
    var special = false
}

/// A piece of the input after added tokens were taken out: text still to tokenize, or one
/// added token's id.
enum Segment {
    case text(Piece)
    case token(Int)
}

/// Finds added tokens in text: leftmost match first, the longest one at that position
/// (tokenizers' Aho–Corasick "leftmost longest"), through a trie over Unicode scalars.
struct AddedTokenMatcher {
    private var children: [[UInt32: Int32]] = [[:]]
    private var tokenAt: [Int32] = [-1]
    private let tokens: [AddedToken]

    /// A matcher for `tokens`, each matched by `pattern(token)` (its content, or its
    /// normalized content for tokens with `normalized`). Empty patterns never match.
    init(_ tokens: [AddedToken], pattern: (AddedToken) -> Scalars) {
        self.tokens = tokens
        for (index, token) in tokens.enumerated() {
            let scalars = pattern(token)
            if scalars.isEmpty { continue }
            var node = 0
            for scalar in scalars {
                if let next = children[node][scalar.value] {
                    node = Int(next)
                } else {
                    children.append([:])
                    tokenAt.append(-1)
                    children[node][scalar.value] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            tokenAt[node] = Int32(index)
        }
    }

    var isEmpty: Bool { children[0].isEmpty }

    /// The longest token starting at `start`, as (token index, end).
    private func longestMatch(in text: Scalars, at start: Int) -> (Int, Int)? {
        var node = 0
        var best: (Int, Int)?
        var i = start
        while i < text.count, let next = children[node][text[i].value] {
            node = Int(next)
            i += 1
            if tokenAt[node] >= 0 { best = (Int(tokenAt[node]), i) }
        }
        return best
    }

    /// `piece` cut around the added tokens it contains, with lstrip/rstrip swallowing the
    /// whitespace beside a token and single_word tokens matched only between non-word
    /// characters. Empty text segments are dropped.
    func split(_ piece: Piece) -> [Segment] {
        let text = piece.text
        if isEmpty || text.isEmpty { return text.isEmpty ? [] : [.text(piece)] }
        var segments: [Segment] = []
        var consumed = 0  // end of the previous token (tokenizers' start_offset)
        var i = 0
        func emitText(_ range: Range<Int>) {
            if !range.isEmpty {
                segments.append(.text(Piece(text: Array(text[range]), atStart: piece.atStart && range.lowerBound == 0)))
            }
        }
        while i < text.count {
            guard children[0][text[i].value] != nil, let (index, matchEnd) = longestMatch(in: text, at: i) else {
                i += 1
                continue
            }
            let token = tokens[index]
            var start = i, end = matchEnd
            if token.singleWord {
                let startsWord = start == 0 || !CharacterClass.isWordCharacter(text[start - 1])
                let endsWord = end == text.count || !CharacterClass.isWordCharacter(text[end])
                if !startsWord || !endsWord {
                    i = matchEnd  // the search resumes after the discarded match
                    continue
                }
            }
            if token.leftStrip {
                var newStart = start
                while newStart > 0, CharacterClass.isWhitespace(text[newStart - 1]) { newStart -= 1 }
                start = max(newStart, consumed)
            }
            if token.rightStrip {
                while end < text.count, CharacterClass.isWhitespace(text[end]) { end += 1 }
            }
            emitText(consumed..<start)
            segments.append(.token(token.id))
            consumed = end
            i = max(end, matchEnd)
        }
        emitText(consumed..<text.count)
        return segments
    }
}
