import Foundation
import Testing
import LinearAlgebra
import TestSupport
import WeightFiles
@testable import Models

/// Tiny random Llama, Qwen2 and Qwen3 checkpoints against
/// `scripts/make_llama_fixtures.py`, a plain numpy forward pass (float64)
/// written from Hugging Face's modeling code (GQA, rotate-half RoPE with
/// llama3 scaling, q/k/v biases, per-head q/k norms, tied and untied heads).
@Suite("Llama-family decoder")
struct LlamaDecoderTests {
    struct Expected: Decodable {
        var sequences: [[Int]]
        var logits: [[[Double]]]
        var mean_nll: Double
    }

    static func load(_ variant: String) throws -> (LlamaDecoder, Expected) {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/models/tiny-\(variant)")
        guard case .llama(let configuration) = try ModelConfiguration(folder: folder) else { throw ModelError.badInput(reason: "not Llama") }
        let decoder = try LlamaDecoder(weights: try Checkpoint(path: folder.appendingPathComponent("model.safetensors")), configuration: configuration)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        return (decoder, expected)
    }

    @Test("Logits and NLL equal the numpy reference, batched, on both backends", arguments: ["llama", "qwen2", "qwen3"], testBackends)
    func logits(variant: String, backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let (decoder, expected) = try Self.load(variant)
            let batch = try TokenBatch(expected.sequences)
            let logits = try decoder.logits(batch)
            var worst = 0.0
            for (s, rows) in expected.logits.enumerated() {
                for (t, row) in rows.enumerated() {
                    for (j, value) in row.enumerated() { worst = Swift.max(worst, abs(Double(logits[batch.offsets[s] + t, j]) - value)) }
                }
            }
            #expect(worst < 2e-5, "\(variant) \(backend): max |Δlogit| \(worst)")
            let nll = LlamaDecoder.negativeLogLikelihood(logits: logits, batch: batch)
            #expect(abs(nll.sum / Double(nll.count) - expected.mean_nll) < 1e-5)
            var x = try decoder.embed(batch)
            for i in 0..<decoder.blockCount { x = try decoder.block(i, x, batch: batch) }
            for step in [1, 3, 7, 1000] {
                let streamed = try decoder.negativeLogLikelihood(hidden: x, batch: batch, columnsPerStep: step)
                #expect(streamed.count == nll.count && abs(streamed.sum - nll.sum) < 1e-4, "vocabulary steps of \(step) change nothing")
            }
            // One sequence alone gives the same rows as in the batch (positions restart, no leakage).
            let alone = try decoder.logits(try TokenBatch([expected.sequences[1]]))
            #expect((0..<alone.rows).allSatisfy { t in (0..<alone.columns).allSatisfy { abs(alone[t, $0] - logits[batch.offsets[1] + t, $0]) < 1e-5 } })
        }
    }

    @Test("The hooks see the four shared inputs per block, in GPTQModel's order")
    func hooks() throws {
        let (decoder, expected) = try Self.load("llama")
        var seen: [[String]] = []
        _ = try decoder.logits(try TokenBatch(expected.sequences)) { input, x in
            seen.append(input.modules)
            #expect(x.rows == 13)
        }
        #expect(seen.count == 8 && seen[0] == ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj"])
        #expect(seen[3] == ["model.layers.0.mlp.down_proj"] && seen[2].count == 2)
    }
}
