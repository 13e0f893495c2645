/// A tokenizer file (or GGUF tokenizer metadata) that cannot be used as written.
///
/// `file` names the source (the path of a tokenizer.json, or the `source` given to
/// `Tokenizer.init(json:source:)`, or "GGUF tokenizer metadata"), `place` the JSON path of
/// the offending field (`model.merges[12]`, `normalizer.normalizers[1].type`; empty when the
/// whole file is at fault) and `reason` the broken rule in words.
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file or source the tokenizer came from.
    public var file: String
    /// The JSON path (or GGUF key) of the field at fault; empty for the whole file.
    public var place: String
    /// What is wrong, in words.
    public var reason: String

    /// An error naming `file`, `place` and `reason`.
    public init(file: String, place: String, reason: String) {
        self.file = file
        self.place = place
        self.reason = reason
    }

    /// `file: place: reason` (without `place: ` when the place is empty).
    public var description: String {
        place.isEmpty ? "\(file): \(reason)" : "\(file): \(place): \(reason)"
    }
}
