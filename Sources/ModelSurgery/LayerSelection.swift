import WeightFiles

/// Which tensors of a model a job acts on. With `include` patterns: the 2-D
/// floating tensors whose name matches one of them. Without: every 2-D
/// floating tensor named `*.weight` except embeddings and output heads
/// (`embed`, `lm_head`, `wte`, `wpe` in the name) and task heads (`pooler`,
/// `classifier`, `score`, `qa_outputs` as a name component). `exclude`
/// patterns always win. Patterns are regular expressions matched anywhere in
/// the name.
public struct LayerSelection: @unchecked Sendable {
    /// The include patterns as given (empty: the default selection).
    public let includePatterns: [String]
    /// The exclude patterns as given; a name matching any of them is never selected.
    public let excludePatterns: [String]
    private let include: [Regex<AnyRegexOutput>]
    private let exclude: [Regex<AnyRegexOutput>]

    /// Throws `ModelSurgeryError.invalidPattern` for a pattern that is not a regular expression.
    public init(include: [String] = [], exclude: [String] = []) throws {
        func compile(_ pattern: String) throws -> Regex<AnyRegexOutput> {
            do { return try Regex(pattern) } catch { throw ModelSurgeryError.invalidPattern(pattern: pattern, reason: "\(error)") }
        }
        includePatterns = include
        excludePatterns = exclude
        self.include = try include.map(compile)
        self.exclude = try exclude.map(compile)
    }

    /// The default selection.
    public static let `default` = try! LayerSelection()

    /// Substrings that mark embeddings and output heads.
    public static let headMarkers = ["embed", "lm_head", "wte", "wpe"]
    /// Name components that mark task heads on top of the backbone.
    public static let headComponents: Set<Substring> = ["pooler", "classifier", "score", "qa_outputs"]

    /// An embedding, output or task head.
    public static func isHead(_ name: String) -> Bool {
        headMarkers.contains { name.contains($0) } || name.split(separator: ".").contains { headComponents.contains($0) }
    }

    /// Whether a tensor takes part: `isMatrix` is "2-D and floating point".
    public func selects(name: String, isMatrix: Bool) -> Bool {
        guard isMatrix else { return false }
        if exclude.contains(where: { name.contains($0) }) { return false }
        if !include.isEmpty { return include.contains { name.contains($0) } }
        return name.hasSuffix(".weight") && !Self.isHead(name)
    }

    /// The selected tensors of `model`, in its (natural) order.
    public func layers(of model: Checkpoint) -> [String] {
        model.tensorNames.filter { selects(name: $0, isMatrix: model[$0]!.isMatrix) }
    }
}
