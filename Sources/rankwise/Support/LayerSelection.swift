import ArgumentParser

/// `--include REGEX` / `--exclude REGEX` (repeatable), matched against tensor
/// names. Default (no --include): every 2-D floating tensor named `*.weight`
/// except embeddings and output heads (`embed`, `lm_head`, `wte`, `wpe` in the
/// name; `pooler`, `classifier`, `score`, `qa_outputs` as a name component).
struct LayerSelectionOptions: ParsableArguments {
    @Option(name: .customLong("include"), help: ArgumentHelp("Select tensors whose name matches this regular expression (repeatable).", valueName: "regex"))
    var includePatterns: [String] = []

    @Option(name: .customLong("exclude"), help: ArgumentHelp("Skip tensors whose name matches this regular expression (repeatable).", valueName: "regex"))
    var excludePatterns: [String] = []

    mutating func validate() throws {
        for pattern in includePatterns + excludePatterns {
            do { _ = try Regex(pattern) } catch {
                throw ValidationError("invalid regular expression '\(pattern)': \(error)")
            }
        }
    }

    var selection: LayerSelection {
        LayerSelection(include: includePatterns.compactMap { try? Regex($0) }, exclude: excludePatterns.compactMap { try? Regex($0) })
    }
}

struct LayerSelection {
    var include: [Regex<AnyRegexOutput>]
    var exclude: [Regex<AnyRegexOutput>]

    static let headMarkers = ["embed", "lm_head", "wte", "wpe"]
    /// Task heads on top of the backbone (BERT's pooler, classification and
    /// scoring heads): name components, not substrings.
    static let headComponents: Set<Substring> = ["pooler", "classifier", "score", "qa_outputs"]

    /// An embedding, output or task head.
    static func isHead(_ name: String) -> Bool {
        headMarkers.contains { name.contains($0) } || name.split(separator: ".").contains { headComponents.contains($0) }
    }

    /// Whether a tensor takes part: `isMatrix` is "2-D and floating point".
    func selects(name: String, isMatrix: Bool) -> Bool {
        guard isMatrix else { return false }
        if exclude.contains(where: { name.contains($0) }) { return false }
        if !include.isEmpty { return include.contains { name.contains($0) } }
        return name.hasSuffix(".weight") && !Self.isHead(name)
    }
}
