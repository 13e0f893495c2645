import Foundation
import WeightFiles

/// What an adapter's config says of the model it attaches to:
/// `base_model_name_or_path` and PEFT's `task_type`.
public struct AdapterBase: Sendable, Equatable {
    /// `base_model_name_or_path`: a hub id or a path, written as given (PEFT loads the base model from it).
    public var name: String
    /// PEFT's `task_type` (one of `taskTypes`), or nil to write JSON null.
    public var taskType: String?

    /// PEFT's task types.
    public static let taskTypes = ["CAUSAL_LM", "SEQ_CLS", "SEQ_2_SEQ_LM", "TOKEN_CLS", "QUESTION_ANS", "FEATURE_EXTRACTION"]

    /// A base named `name` with `taskType`, both as given (not checked against `taskTypes`).
    public init(name: String, taskType: String?) {
        self.name = name
        self.taskType = taskType
    }

    /// For a base model at `modelPath` (a file or a folder): the name is
    /// `baseName`, else the model's folder as an absolute path; the task type
    /// is `taskType`, else derived from the folder's config.json
    /// `architectures` (nil when unknown).
    public init(modelPath: String, baseName: String?, taskType: String?) {
        var isFolder: ObjCBool = false
        let url = URL(fileURLWithPath: modelPath).standardizedFileURL
        let folder = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
            ? url : url.deletingLastPathComponent()
        name = baseName ?? folder.resolvingSymlinksInPath().path
        self.taskType = taskType ?? Self.taskType(configIn: folder)
    }

    /// PEFT's task type for the first of config.json's `architectures` in
    /// `folder`: `*ForCausalLM` and `*LMHeadModel` → CAUSAL_LM,
    /// `*ForSequenceClassification` → SEQ_CLS, `*ForTokenClassification` →
    /// TOKEN_CLS, `*ForQuestionAnswering` → QUESTION_ANS,
    /// `*ForConditionalGeneration` → SEQ_2_SEQ_LM; nil otherwise.
    public static func taskType(configIn folder: URL) -> String? {
        guard let data = try? readRegularFile(folder.appendingPathComponent("config.json"), limit: 16 << 20),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let architecture = (json["architectures"] as? [String])?.first else { return nil }
        let suffixes = [("ForCausalLM", "CAUSAL_LM"), ("LMHeadModel", "CAUSAL_LM"), ("ForSequenceClassification", "SEQ_CLS"),
                        ("ForTokenClassification", "TOKEN_CLS"), ("ForQuestionAnswering", "QUESTION_ANS"),
                        ("ForConditionalGeneration", "SEQ_2_SEQ_LM")]
        return suffixes.first { architecture.hasSuffix($0.0) }?.1
    }
}
