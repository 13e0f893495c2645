import Foundation

/// The files around a model's weights that make a folder loadable —
/// config.json, generation_config.json, the tokenizer files — staged beside
/// a written checkpoint and committed together with it.
///
/// A job that writes a model folder (quantize to a packed checkpoint, merge)
/// stages the companions from the input model's folder (with config.json
/// edited, e.g. to add `quantization_config`) and any new JSON files, writes
/// its tensors, finishes the tensors, then commits the companions. Each file
/// is written under a temporary name and renamed into place, so an
/// interrupted or failed job leaves no half-written file; a companion never
/// replaces an input file.
public final class ModelFolderCompanions {
    /// The file names copied from a model's folder when present: the
    /// configuration, the generation defaults, every tokenizer file
    /// transformers reads, and sentence-transformers' top-level configs.
    /// Weight files and model cards are not copied.
    public static let companionFileNames = [
        "config.json", "generation_config.json",
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
        "chat_template.jinja", "chat_template.json", "preprocessor_config.json",
        // sentence-transformers' own (the pooling module's folder is not copied; its default is mean pooling).
        "sentence_bert_config.json", "modules.json", "config_sentence_transformers.json",
    ]

    /// The largest companion file copied or written (64 MiB; a tokenizer.json is a few MB).
    public static let sizeLimit = 64 << 20

    /// The folder written into.
    public let directory: URL
    private var staged: [AtomicFile] = []
    private let inputs: [URL]

    /// Companions for a model folder at `directory` (created by the caller's
    /// tensor writer, or existing); files in `inputs` are never overwritten.
    public init(directory: URL, protecting inputs: [URL] = []) {
        self.directory = directory
        self.inputs = inputs
    }

    /// The folder a checkpoint's files live in: the folder given, or the
    /// folder of the file or index given.
    public static func sourceFolder(of checkpoint: Checkpoint) -> URL {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: checkpoint.url.path, isDirectory: &isFolder), isFolder.boolValue { return checkpoint.url }
        return checkpoint.url.deletingLastPathComponent()
    }

    /// Stages a copy of each companion file present in `source` (regular
    /// files only, each at most `sizeLimit`); config.json, when present, is
    /// parsed and passed through `editConfig` first. Returns the names staged.
    ///
    /// - Throws: `FileAccessError` for a companion that cannot be read or is
    ///   too large, `ModelFolderError.badConfig` for a config.json that is
    ///   not a JSON object, `SafetensorsError.cannotWrite` for the staging.
    @discardableResult
    public func stageCompanions(from source: URL, editConfig: ((inout [String: Any]) -> Void)? = nil) throws -> [String] {
        var names: [String] = []
        for name in Self.companionFileNames {
            let url = source.appendingPathComponent(name)
            var st = stat()
            guard stat(url.path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            var data = try readRegularFile(url, limit: Self.sizeLimit)
            if name == "config.json", let editConfig {
                guard var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                    throw ModelFolderError.badConfig(file: url.path)
                }
                editConfig(&object)
                data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) + Data([0x0A])
            }
            try stage(Array(data), as: name)
            names.append(name)
        }
        return names
    }

    /// Stages `object` as pretty-printed JSON (sorted keys) named `name`.
    public func stageJSON(_ object: Any, as name: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try stage(Array(data) + [0x0A], as: name)
    }

    /// Stages `bytes` as the file `name` of the folder.
    public func stage(_ bytes: [UInt8], as name: String) throws {
        let destination = directory.appendingPathComponent(name)
        for input in inputs where sameFile(input, destination) {
            throw SafetensorsError(file: destination.path, rule: .wouldOverwriteInput)
        }
        staged.removeAll { $0.destination.lastPathComponent == name }
        let file = try AtomicFile(destination: destination)
        try file.write(bytes)
        staged.append(file)
    }

    /// The names staged so far, in staging order.
    public var stagedNames: [String] { staged.map(\.destination.lastPathComponent) }

    /// Renames every staged file into place.
    public func commit() throws {
        for file in staged {
            try file.commit()
            committedNames.append(file.destination.lastPathComponent)
        }
        staged.removeAll()
    }

    /// The names committed so far, in order.
    public private(set) var committedNames: [String] = []

    /// Removes every staged file (also done when the stager is released).
    public func discard() {
        for file in staged { file.discard() }
        staged.removeAll()
    }

    deinit { discard() }
}

/// A model folder's companion file that cannot be used.
public enum ModelFolderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// config.json is not a JSON object.
    case badConfig(file: String)

    /// One line naming the file.
    public var description: String {
        switch self {
        case .badConfig(let file): return "\(file): not a JSON object; cannot add to the model's configuration"
        }
    }
}
