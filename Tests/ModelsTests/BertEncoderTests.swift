import Foundation
import Testing
import LinearAlgebra
import TestSupport
import WeightFiles
@testable import Models

/// all-MiniLM-L6-v2 against `scripts/make_model_fixtures.py`, a plain numpy
/// forward pass (float64) whose cosines equal the sentence-transformers
/// README's for this model (0.6660, 0.1046, 0.1411).
@Suite("BERT encoder: all-MiniLM-L6-v2")
struct BertEncoderTests {
    struct Fixture: Decodable {
        struct Gram: Decodable { var trace: Double; var row0: [Double]; var sum: Double }
        var sentences: [String]
        var ids: [[Int]]
        var embeddings: [[Double]]
        var cosines: [[Double]]
        var tokens: Int
        var block0_grams: [String: Gram]
    }

    static let fixture: Fixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/models/minilm.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    static func encoder() throws -> BertEncoder {
        let folder = TestModels.miniLM!
        guard case .bert(let configuration) = try ModelConfiguration(folder: folder) else { throw ModelError.badInput(reason: "not BERT") }
        return try BertEncoder(weights: try Checkpoint(path: folder.appendingPathComponent("model.safetensors")), configuration: configuration)
    }

    @Test("Sentence embeddings equal the numpy reference to 1e-5 on both backends, batched or one at a time",
          .enabled(if: TestModels.miniLM != nil, TestModels.missing("minilm")), arguments: testBackends)
    func embeddings(backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let encoder = try Self.encoder()
            let f = Self.fixture
            let batched = try encoder.sentenceEmbeddings(try TokenBatch(f.ids))
            for (i, expected) in f.embeddings.enumerated() {
                let difference = zip(batched[i], expected).map { abs(Double($0) - $1) }.max()!
                #expect(difference < 1e-5, "sentence \(i): \(difference)")
                let alone = try encoder.sentenceEmbeddings(try TokenBatch([f.ids[i]]))[0]
                #expect(zip(alone, batched[i]).map { abs($0 - $1) }.max()! < 1e-6, "batching changes nothing")
            }
            // The README's cosine matrix.
            let cosine = { (a: [Float], b: [Float]) in zip(a, b).map { Double($0 * $1) }.reduce(0, +) }
            #expect(abs(cosine(batched[0], batched[1]) - 0.6660) < 5e-5 && abs(cosine(batched[0], batched[2]) - 0.1046) < 5e-5
                    && abs(cosine(batched[1], batched[2]) - 0.1411) < 5e-5)
        }
    }

    @Test("The hooks see every Linear input: block 0's Grams equal the reference's",
          .enabled(if: TestModels.miniLM != nil, TestModels.missing("minilm")))
    func hooks() throws {
        let encoder = try Self.encoder()
        let f = Self.fixture
        var grams: [String: Matrix<Double>] = [:]
        var seen: [String] = []
        let names = ["qkv", "attention_output", "intermediate", "output"]
        let batch = try TokenBatch(f.ids)
        _ = try encoder.hiddenStates(batch) { input, x in
            seen.append(input.modules[0])
            guard input.block == 0 else { return }
            let key = names[encoder.linearInputs(block: 0).firstIndex(of: input)!]
            grams[key] = x.converted(to: Double.self).gram()
        }
        #expect(seen.count == 4 * 6 && seen[0] == "encoder.layer.0.attention.self.query" && seen[3] == "encoder.layer.0.output.dense")
        for name in names {
            let g = grams[name]!, expected = f.block0_grams[name]!
            #expect(abs(g.trace() - expected.trace) <= 1e-4 * expected.trace, "\(name) trace \(g.trace()) vs \(expected.trace)")
            let row = g.row(0)
            let scale = expected.row0.map(abs).max()!
            #expect(zip(row, expected.row0).map { abs($0 - $1) }.max()! <= 1e-4 * scale, "\(name) row 0")
        }
    }

    @Test("Bad input is refused naming the cause", .enabled(if: TestModels.miniLM != nil, TestModels.missing("minilm")))
    func badInput() throws {
        let encoder = try Self.encoder()
        #expect(throws: ModelError.self) { try encoder.sentenceEmbeddings(try TokenBatch([[101, 99_999, 102]])) }
        #expect(throws: ModelError.self) { try encoder.sentenceEmbeddings(try TokenBatch([Array(repeating: 1000, count: 513)])) }
        #expect(throws: ModelError.self) { try TokenBatch([[]]) }
    }

    @Test("config.json: BERT and Llama fields, defaults, and refusals naming the key")
    func configuration() throws {
        let bert: [String: Any] = ["model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
                                   "intermediate_size": 1536, "vocab_size": 30522, "hidden_act": "gelu"]
        guard case .bert(let b) = try ModelConfiguration(json: bert, file: "c") else { Issue.record("not BERT"); return }
        #expect(b.layerNormEpsilon == 1e-12 && b.maxPositions == 512 && b.activation == .gelu)
        let llama: [String: Any] = ["model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9,
                                    "num_key_value_heads": 3, "intermediate_size": 1536, "vocab_size": 49152, "rope_theta": 100000,
                                    "rms_norm_eps": 1e-5, "tie_word_embeddings": true,
                                    "rope_scaling": ["rope_type": "llama3", "factor": 32, "low_freq_factor": 1, "high_freq_factor": 4,
                                                     "original_max_position_embeddings": 8192]]
        guard case .llama(let l) = try ModelConfiguration(json: llama, file: "c") else { Issue.record("not Llama"); return }
        #expect(l.headDimension == 64 && l.keyValueHeads == 3 && l.tiedEmbeddings && l.ropeTheta == 100000 && !l.attentionBias)
        #expect(l.ropeScaling == .llama3(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192))
        var bad = llama
        bad["num_key_value_heads"] = 4
        #expect(throws: ModelError.self) { try ModelConfiguration(json: bad, file: "c") }
        #expect(throws: ModelError.unsupportedArchitecture(file: "c", modelType: "gpt2")) { try ModelConfiguration(json: ["model_type": "gpt2"], file: "c") }
        var missing = bert
        missing["hidden_size"] = nil
        #expect(throws: ModelError.badConfiguration(file: "c", key: "hidden_size", reason: "missing")) { try ModelConfiguration(json: missing, file: "c") }
    }
}
