import Foundation
import LinearAlgebra
import Models
import WeightFiles

extension RankwiseBench {
    /// The real models of the forward suite (fetched by `make test-models`): all-MiniLM-L6-v2.
    static var testModels: URL {
        if let path = ProcessInfo.processInfo.environment["RANKWISE_TEST_MODELS"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/rankwise/test-models")
    }

    /// Deterministic token ids both sides generate: sentence s, position t.
    /// `Benchmarks/reference/forward.py` uses the same formula.
    static func benchIDs(sentences: Int, length: Int, vocabulary: Int) -> [[Int]] {
        (0..<sentences).map { s in [101] + (1..<(length - 1)).map { t in 1000 + (s * 7919 + t * 104_729) % (vocabulary - 1000) } + [102] }
    }

    /// all-MiniLM-L6-v2 forward (sentence embeddings) over 256 sequences of
    /// 64 tokens, tokens per second on every backend; skipped with a note
    /// when the model is not in the cache.
    mutating func forward() throws {
        let folder = Self.testModels.appendingPathComponent("minilm")
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path),
              case .bert(let configuration) = try ModelConfiguration(folder: folder) else {
            FileHandle.standardError.write(Data("forward: all-MiniLM-L6-v2 is not in \(folder.path) (make test-models); skipped\n".utf8))
            return
        }
        let encoder = try BertEncoder(weights: try Checkpoint(path: folder.appendingPathComponent("model.safetensors")), configuration: configuration)
        let (count, length) = quick ? (64, 64) : (256, 64)
        let batch = try TokenBatch(Self.benchIDs(sentences: count, length: length, vocabulary: configuration.vocabularySize))
        try harness.compare(suite: "forward", operation: "minilm embeddings", dtype: "float32", size: "\(count)x\(length) tokens",
                            backends.map { backend in (backend.rawValue, {
                                _ = try Backend.withCurrent(backend) { try encoder.sentenceEmbeddings(batch) }
                            }) })
    }
}
