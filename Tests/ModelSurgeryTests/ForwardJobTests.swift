import Foundation
import Testing
import LinearAlgebra
import Compression
import Models
import ModelSurgery
import TestSupport
import WeightFiles

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/models")

@Suite("Calibration and evaluation jobs")
struct ForwardJobTests {
    struct MiniLMFixture: Decodable {
        struct Gram: Decodable { var trace: Double; var row0: [Double]; var sum: Double }
        var ids: [[Int]]
        var tokens: Int
        var block0_grams: [String: Gram]
    }

    @Test("calibrate on all-MiniLM-L6-v2: one Gram per shared input, same_as for key/value, block 0 equal to the numpy reference; EoRA reads the file",
          .enabled(if: TestModels.miniLM != nil, TestModels.missing("minilm")))
    func calibrateMiniLM() throws {
        let fixture = try JSONDecoder().decode(MiniLMFixture.self, from: Data(contentsOf: fixtures.appendingPathComponent("minilm.json")))
        let folder = TestModels.miniLM!
        guard case .bert(let configuration) = try ModelConfiguration(folder: folder) else { Issue.record("not BERT"); return }
        let checkpoint = try Checkpoint(path: folder.appendingPathComponent("model.safetensors"))
        let encoder = try BertEncoder(weights: checkpoint, configuration: configuration)
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("calib.safetensors")
        var blocks = 0
        // Small chunks: the sums across chunks must equal one pass.
        let report = try CalibrateJob(model: encoder, sequences: fixture.ids, output: output, dtype: .f64, chunkTokens: 20).run { event in
            if case .layer = event { blocks += 1 }
        }
        #expect(blocks == 6 && report.groups.count == 24 && report.tokens == fixture.tokens)
        let calibration = try CalibrationFile(path: output)
        #expect(calibration.source(of: "encoder.layer.3.attention.self.value") == "encoder.layer.3.attention.self.query")
        let names = ["qkv": "encoder.layer.0.attention.self.key", "attention_output": "encoder.layer.0.attention.output.dense",
                     "intermediate": "encoder.layer.0.intermediate.dense", "output": "encoder.layer.0.output.dense"]
        for (key, layer) in names {
            let (gram, tokens) = try #require(try calibration.covariance(layer: layer, requireTokens: true))
            let expected = fixture.block0_grams[key]!
            #expect(tokens == Double(fixture.tokens))
            #expect(abs(gram.trace() - expected.trace) <= 1e-4 * expected.trace, "\(key)")
            #expect(abs(gram.elements.reduce(0, +) - expected.sum) <= 1e-4 * abs(gram.elements.map(abs).reduce(0, +)), "\(key)")
        }
        #expect(try calibration.absMean(layer: "encoder.layer.5.output.dense")?.count == 1536)
    }

    @Test("perplexity over windows equals exp of the reference's mean NLL; windows and samples as the GPTQ protocol",
          arguments: ["llama", "qwen3"])
    func perplexity(variant: String) throws {
        let folder = fixtures.appendingPathComponent("tiny-\(variant)")
        guard case .llama(let configuration) = try ModelConfiguration(folder: folder) else { Issue.record("not Llama"); return }
        let decoder = try LlamaDecoder(weights: try Checkpoint(path: folder.appendingPathComponent("model.safetensors")), configuration: configuration)
        struct Expected: Decodable { var sequences: [[Int]]; var mean_nll: Double }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        let report = try PerplexityJob(model: decoder, windows: expected.sequences, chunkTokens: 4).run()
        #expect(abs(report.meanNLL! - expected.mean_nll) < 1e-5 && abs(report.perplexity! - exp(expected.mean_nll)) < 1e-4)
        #expect(report.scoredTokens == 11)

        let tokens = Array(0..<10_000).map { $0 % 61 }
        #expect(TokenSequences.consecutiveWindows(of: tokens, length: 2048).count == 4)
        #expect(TokenSequences.consecutiveWindows(of: Array(tokens.prefix(100)), length: 2048) == [Array(tokens.prefix(100))])
        let windows = TokenSequences.randomWindows(of: tokens, count: 5, length: 128, seed: 3)
        #expect(windows.count == 5 && windows.allSatisfy { $0.count == 128 } && windows == TokenSequences.randomWindows(of: tokens, count: 5, length: 128, seed: 3))
        #expect(windows != TokenSequences.randomWindows(of: tokens, count: 5, length: 128, seed: 4))
        #expect(TokenSequences.truncated([[101, 1, 2, 3, 102]], maxLength: 3) == [[101, 1, 102]])
    }

    @Test("calibrate on a decoder: four groups per block with GPTQModel's same_as; a LoRA adapter merged on the fly changes the model as W + s·BA")
    func calibrateDecoderAndAdapter() throws {
        let folder = fixtures.appendingPathComponent("tiny-llama")
        guard case .llama(let configuration) = try ModelConfiguration(folder: folder) else { Issue.record("not Llama"); return }
        let checkpoint = try Checkpoint(path: folder.appendingPathComponent("model.safetensors"))
        let decoder = try LlamaDecoder(weights: checkpoint, configuration: configuration)
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = try CalibrateJob(model: decoder, sequences: [[1, 2, 3, 4, 5], [9, 8, 7]], output: dir.appendingPathComponent("c.safetensors")).run()
        #expect(report.groups.map(\.name) == (0..<2).flatMap { b in ["self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.down_proj"].map { "model.layers.\(b).\($0)" } })
        let calibration = try CalibrationFile(path: dir.appendingPathComponent("c.safetensors"))
        #expect(calibration.source(of: "model.layers.1.mlp.up_proj") == "model.layers.1.mlp.gate_proj")
        #expect(try calibration.covariance(layer: "model.layers.0.mlp.down_proj")?.gram.rows == 48)

        // An adapter on q_proj of block 0 with B = 0 leaves the logits; a non-zero B changes them, as W + s·BA would.
        let adapterFolder = dir.appendingPathComponent("adapter")
        let writer = try PEFTAdapterWriter(directory: adapterFolder, configuration: .init(rank: 2, alpha: 4, baseModel: "tiny"), base: checkpoint)
        let a = Matrix<Float>.random(rows: 2, columns: 32, seed: 1), b = Matrix<Float>.random(rows: 32, columns: 2, seed: 2) * 0.1
        try writer.add(module: "model.layers.0.self_attn.q_proj", a: a, b: b)
        try writer.finish()
        let merged = try LoRAMergedWeights(base: checkpoint, adapter: try PEFTAdapter(directory: adapterFolder))
        let w: Matrix<Float> = try merged.matrix("model.layers.0.self_attn.q_proj.weight")
        let w0: Matrix<Float> = try checkpoint.matrix("model.layers.0.self_attn.q_proj.weight")
        #expect(maxDifference(w, w0 + 2 * (b * a)) < 1e-6)
        let batch = try TokenBatch([[1, 2, 3, 4]])
        let adapted = try LlamaDecoder(weights: merged, configuration: configuration).logits(batch)
        #expect(maxDifference(adapted, try decoder.logits(batch)) > 1e-4)
    }
}

@Suite("Sequential GPTQ")
struct SequentialGPTQTests {
    @Test("block 0's first group equals GPTQ on the original model's Gram; later groups see quantized inputs; packed output reads back")
    func sequential() throws {
        let folder = fixtures.appendingPathComponent("tiny-llama")
        guard case .llama(let configuration) = try ModelConfiguration(folder: folder) else { Issue.record("not Llama"); return }
        let checkpoint = try Checkpoint(path: folder.appendingPathComponent("model.safetensors"))
        let sequences = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [20, 21, 22, 23, 24, 25, 26, 27], [40, 41, 42, 43, 44, 45, 46, 47, 48]]
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // One-shot: Grams of the original model.
        let decoder = try LlamaDecoder(weights: checkpoint, configuration: configuration)
        _ = try CalibrateJob(model: decoder, sequences: sequences, output: dir.appendingPathComponent("c.safetensors")).run()
        let gptq = GPTQ(bits: 4, groupSize: 16)
        _ = try QuantizeJob(rewrite: ModelRewrite(model: checkpoint, output: dir.appendingPathComponent("oneshot.safetensors"), dtype: .f32),
                            method: .gptq(gptq, calibration: try CalibrationFile(path: dir.appendingPathComponent("c.safetensors")))).run()
        let report = try QuantizeJob(rewrite: ModelRewrite(model: checkpoint, output: dir.appendingPathComponent("sequential"), dtype: .f32),
                                     method: .sequentialGPTQ(gptq, model: { try LlamaDecoder(weights: $0, configuration: configuration) }, sequences: sequences),
                                     format: .gptq).run()
        #expect(report.layers.count == 14 && report.layers.allSatisfy { ($0.notes ?? []).first?.hasPrefix("sequential") == true })
        let oneShot = try Checkpoint(path: dir.appendingPathComponent("oneshot.safetensors"))
        let sequential = try Checkpoint(path: dir.appendingPathComponent("sequential"))
        func same(_ name: String) throws -> Bool {
            let a: [Float] = try oneShot.array(name), b: [Float] = try sequential.array(name)
            return zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 * Swift.max(abs($0), 1) }
        }
        // F16 scales on both sides; the first group sees the same inputs.
        let q0 = try same("model.layers.0.self_attn.q_proj.weight"), v0 = try same("model.layers.0.self_attn.v_proj.weight")
        #expect(q0 && v0)
        #expect(try !same("model.layers.1.mlp.down_proj.weight"), "block 1 reads the quantized block 0's output")
        // The quantized model runs.
        let quantized = try LlamaDecoder(weights: sequential, configuration: configuration)
        let nll = try PerplexityJob(model: quantized, windows: sequences).run()
        #expect(nll.perplexity!.isFinite)
    }
}

@Suite("Real models end to end")
struct RealModelTests {
    @Test("SmolLM2-135M (Q4_1 GGUF): first-position logits and the perplexity of the LICENSE's first 1024 tokens as the numpy reference",
          .enabled(if: TestModels.smolLM2 != nil, TestModels.missing("smollm2")))
    func smolLM2() throws {
        let folder = TestModels.smolLM2!
        let loaded = try LoadedModel(url: folder.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf"))
        #expect(loaded.isCausal)
        let text = try String(contentsOf: folder.appendingPathComponent("LICENSE.txt"), encoding: .utf8)
        let tokens = loaded.sequences(of: text).whole
        #expect(tokens.count > 1024 && loaded.tokenizer.encode("Hello world! 2024", addSpecialTokens: true) == [19556, 905, 17, 216, 34, 32, 34, 36])
        let decoder = try #require(try loaded.network() as? LlamaDecoder)
        let logits = try decoder.logits(try TokenBatch([Array(tokens.prefix(1))]))
        let expected: [Float] = [13.9553, 4.3801, 7.4583, 2.9722]
        #expect((0..<4).allSatisfy { abs(logits[0, $0] - expected[$0]) < 2e-3 }, "\((0..<4).map { logits[0, $0] })")
        #expect((0..<logits.columns).max { logits[0, $0] < logits[0, $1] } == 29)
        let report = try PerplexityJob(model: decoder, windows: [Array(tokens.prefix(1024))]).run()
        #expect(abs(report.perplexity! - 14.2026) < 0.01, "perplexity \(report.perplexity!)")
    }

    @Test("all-MiniLM-L6-v2 through the tokenizer: the README's cosines; eval of the model against itself is 1",
          .enabled(if: TestModels.miniLM != nil, TestModels.missing("minilm")))
    func miniLM() throws {
        let loaded = try LoadedModel(url: TestModels.miniLM!)
        #expect(loaded.maxSequenceLength == 256)
        let lines = loaded.sequences(of: "The weather is lovely today.\n\n  It's so sunny outside!\nHe drove to the stadium.\n").lines
        #expect(lines == [[101, 1996, 4633, 2003, 8403, 2651, 1012, 102], [101, 2009, 1005, 1055, 2061, 11559, 2648, 999, 102],
                          [101, 2002, 5225, 2000, 1996, 3346, 1012, 102]])
        let encoder = try #require(try loaded.network() as? BertEncoder)
        let e = try encoder.sentenceEmbeddings(try TokenBatch(lines))
        let cosine = { (a: [Float], b: [Float]) in zip(a, b).map { Double($0 * $1) }.reduce(0, +) }
        #expect(abs(cosine(e[0], e[1]) - 0.6660) < 5e-5 && abs(cosine(e[1], e[2]) - 0.1411) < 5e-5)
        let same = try EmbeddingAgreementJob(model: encoder, reference: encoder, sentences: lines).run()
        #expect(abs(same.meanCosine! - 1) < 1e-6)
        // A line longer than 256 tokens is cut, keeping [SEP].
        let long = loaded.sequences(of: String(repeating: "word ", count: 400)).lines[0]
        #expect(long.count == 256 && long.last == 102)
    }
}
