import Foundation
import Testing
import Compression
import KernelRegression
import LinearAlgebra
import LowRank
import Merging
import ModelSurgery
import Models
import TestSupport
import Tokenizers
import WeightFiles

/// The examples of docs/library.md, as written there (file paths point into a
/// scratch folder, and the tiny test model takes rank 4 where the text says
/// 32), with checks of what the text says they return.
@Suite("docs/library.md examples")
struct LibraryExamplesTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func scratch() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rankwise-examples-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("LinearAlgebra")
    func linearAlgebra() throws {
        let a = Matrix<Double>.random(rows: 300, columns: 80, seed: 1)     // row-major, like numpy
        let svd = try a.svd()                          // u [300, 80], singularValues (descending), vt [80, 80]
        let top = try a.randomizedSVD(rank: 10)        // Halko–Martinsson–Tropp, seeded
        let c = a.gram()                               // AᵀA [80, 80]
        let eig = try c.symmetricEigen()               // values ascending, vectors in columns
        let l = try (c + 1e-3 * Matrix.identity(80)).cholesky()    // lower triangular, L Lᵀ = C + δI
        let x = try c.solve(Matrix<Double>.random(rows: 80, columns: 2, seed: 2))
        let native = try Backend.withCurrent(.native) { try a.svd() }  // the same call in pure Swift

        #expect(svd.u.rows == 300 && svd.u.columns == 80 && svd.vt.rows == 80 && svd.singularValues == svd.singularValues.sorted(by: >))
        #expect(top.singularValues.count == 10 && abs(top.singularValues[0] - svd.singularValues[0]) < 0.02 * svd.singularValues[0])
        #expect(eig.values == eig.values.sorted() && abs(eig.values.last! - svd.singularValues[0] * svd.singularValues[0]) < 1e-8 * eig.values.last!)
        #expect(l.rows == 80 && l[0, 1] == 0 && x.rows == 80 && x.columns == 2)
        #expect(zip(native.singularValues, svd.singularValues).allSatisfy { abs($0 - $1) < 1e-9 * svd.singularValues[0] })
    }

    @Test("WeightFiles")
    func weightFiles() throws {
        let folder = Self.scratch()
        let url = folder.appendingPathComponent("layer.safetensors")
        let writer = try SafetensorsWriter(url: url)                        // atomic: a temporary, then rename
        try writer.add(name: "model.layers.0.mlp.up_proj.weight", matrix: Matrix<Float>.random(rows: 64, columns: 32, seed: 0), dtype: .bf16)
        try writer.finish(metadata: ["source": "example"])

        let model = try Checkpoint(path: url)           // a file, a sharded index, or a folder
        let info = model["model.layers.0.mlp.up_proj.weight"]!              // dtype BF16, shape [64, 32]
        let w: Matrix<Float> = try model.matrix("model.layers.0.mlp.up_proj.weight")   // converted on load

        #expect(info.dtype == .bf16 && info.shape == [64, 32] && w.rows == 64 && model.metadata["source"] == "example")
    }

    @Test("Compression")
    func compression() throws {
        let w = Matrix<Float>.random(rows: 256, columns: 128, seed: 0)
        let q = try RoundToNearest(bits: 4, groupSize: 64).quantize(w)     // stored dequantised
        let sparse = try Pruning.nOfM(n: 2, m: 4).prune(w)                  // 2 of every 4 inputs kept

        // GPTQ and SparseGPT use the layer's input statistics H = XᵀX (X: calibration inputs [tokens, in]).
        let x = Matrix<Float>.random(rows: 512, columns: 128, seed: 1)
        let h = x.gram().converted(to: Double.self)
        let gptq = try GPTQ(bits: 4, groupSize: 64, actOrder: true).quantize(w, hessian: h)
        let packedCodes = gptq.quantized.codes          // [out, in] codes; .scales, .zeros, .groupIndex (g_idx) beside them
        let pruned = try SparseGPT(pattern: .unstructured(sparsity: 0.5)).prune(w, hessian: h).weight

        #expect(q.rows == 256 && (w - q).frobeniusNorm() < 0.2 * w.frobeniusNorm())
        #expect(sparse.elements.filter { $0 == 0 }.count == w.count / 2)
        #expect(packedCodes.count == 256 * 128 && packedCodes.allSatisfy { $0 < 16 } && gptq.quantized.groupIndex.count == 128)
        #expect(abs(pruned.elements.filter { $0 == 0 }.count - w.count / 2) <= 2)
    }

    @Test("LowRank")
    func lowRank() throws {
        let w = Matrix<Float>.random(rows: 256, columns: 128, seed: 0)
        let compressed = try RoundToNearest(bits: 3, groupSize: 32).quantize(w)
        let x = Matrix<Double>.random(rows: 128, columns: 1000, seed: 1)    // calibration inputs as columns
        let covariance = Matrix.product(x, .none, x, .transposed)           // C = X Xᵀ [in, in]
        let eora = try EoRA(rank: 16).compensate(original: w, compressed: compressed, covariance: covariance)
        let plain = try SVDCompensation(rank: 16).compensate(original: w, compressed: compressed)
        // eora.factors.a [16, in], eora.factors.b [out, 16]; W ≈ Ŵ + B·A where the inputs live

        #expect(eora.factors.a.rows == 16 && eora.factors.a.columns == 128 && eora.factors.b.rows == 256)
        #expect(eora.residualEnergy < eora.deltaEnergy && plain.residualEnergy < plain.deltaEnergy)
    }

    @Test("Merging")
    func merging() throws {
        let a: [Float] = [1, 2, 3], b: [Float] = [3, 2, 1]
        let mean = try LinearMerge().merge([a, b])                           // [2, 2, 2]
        let fisher = try FisherMerge(normalize: false).merge([a, b], fishers: [[1, 1, 1], [3, 3, 3]], fisherNorms: nil)
        let task = try TaskArithmetic(lambda: 0.5).merge([a], base: [0, 0, 0])

        #expect(mean == [2, 2, 2] && fisher == [2.5, 2, 1.5] && task == [0.5, 1, 1.5])
    }

    @Test("KernelRegression")
    func kernelRegression() throws {
        let x = Matrix<Double>.random(rows: 200, columns: 3, seed: 0)
        let y = Matrix<Double>(rows: 200, columns: 1) { i, _ in sin(x[i, 0]) + x[i, 1] * x[i, 2] }
        let model = try KernelRidge(kernel: .rbf(gamma: 0.5), alpha: 1e-2).fit(x, y)
        let predictions = try model.predict(x)
        let search = try LeaveOneOutSearch(kernel: .rbf(gamma: 0.5), alphas: [1e-3, 1e-2, 1e-1]).search(x, y)
        let nystroem = try NystroemRidge(nystroem: Nystroem(kernel: .rbf(gamma: 0.5), components: 100), alpha: 1e-2).fit(x, y)

        #expect((predictions - y).frobeniusNorm() < 0.1 * y.frobeniusNorm())
        #expect([1e-3, 1e-2, 1e-1].contains(search.bestAlpha))
        let nystroemError = try (nystroem.predict(x) - y).frobeniusNorm() / y.frobeniusNorm()
        #expect(nystroemError < 0.2, "relative error \(nystroemError)")
    }

    @Test("Tokenizers")
    func tokenizers() throws {
        let folder = Self.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("tokenizers/wordpiece_bert.json"),
                                         to: folder.appendingPathComponent("tokenizer.json"))
        let tokenizer = try Tokenizer(contentsOf: folder.appendingPathComponent("tokenizer.json"))   // a Hugging Face tokenizer.json
        let ids = tokenizer.encode("Héllo, WORLD!")                      // with the file's special tokens: [CLS] … [SEP]
        let pair = tokenizer.encoding("a question", pair: "a passage")  // ids and type ids (0 for the first, 1 for the second)
        let text = tokenizer.decode(ids, skipSpecialTokens: true)        // "hello, world!" for an uncased BERT

        #expect(ids.first == tokenizer.id(of: "[CLS]") && ids.last == tokenizer.id(of: "[SEP]"))
        #expect(pair.typeIDs.first == 0 && pair.typeIDs.last == 1 && pair.ids.count == pair.typeIDs.count)
        #expect(text == "hello, world!")
        #expect(tokenizer.fileMaxLength == 128)
    }

    @Test("ModelSurgery")
    func modelSurgery() throws {
        let folder = Self.scratch()
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("tiny_model.safetensors"), to: folder.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("tiny_calib.safetensors"), to: folder.appendingPathComponent("calib.safetensors"))
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        var lines: [String] = []

        let model = try Checkpoint(path: path("model.safetensors"))
        let report = try QuantizeJob(
            rewrite: ModelRewrite(model: model, output: URL(fileURLWithPath: path("q.safetensors"))),   // default layer selection
            quantizer: RoundToNearest(bits: 4)
        ).run { event in
            if case .layer(let index, let count, let layer) = event { lines.append("\(index + 1)/\(count) \(layer.layer) \(layer.relativeError!)") }
        }
        let packed = try QuantizeJob(                                        // a GPTQ model folder transformers and vLLM load
            rewrite: ModelRewrite(model: model, output: URL(fileURLWithPath: path("model-gptq"))),
            method: .gptq(GPTQ(bits: 4, groupSize: 8), calibration: try CalibrationFile(path: URL(fileURLWithPath: path("calib.safetensors")))),
            format: .gptq
        ).run()
        lines.append("\(packed.bytes) \(packed.inputBytes!)")                  // the packed size and the model's
        let adapter = try CompensationJob(
            minuend: model, subtrahend: try Checkpoint(path: path("q.safetensors")),
            calibration: try CalibrationFile(path: URL(fileURLWithPath: path("calib.safetensors"))),
            rank: 4, output: URL(fileURLWithPath: path("eora-adapter")),
            base: AdapterBase(modelPath: path("q.safetensors"), baseName: nil, taskType: nil),
            skipUnchanged: false, command: "compensate"
        ).run()                                                              // a PEFT adapter + report.json

        #expect(report.layers.count == 14 && lines.count == 15 && adapter.written == 14)
        #expect(packed.layers.count == 14 && FileManager.default.fileExists(atPath: path("model-gptq/quantize_config.json")))
        #expect(FileManager.default.fileExists(atPath: path("eora-adapter/adapter_model.safetensors")))
    }

    @Test("Models", .enabled(if: TestModels.miniLM != nil, TestModels.missing("minilm")))
    func models() throws {
        let folder = TestModels.miniLM!                                    // config.json + model.safetensors
        guard case .bert(let configuration) = try ModelConfiguration(folder: folder) else { fatalError("not a BERT encoder") }
        let encoder = try BertEncoder(weights: try Checkpoint(path: folder), configuration: configuration)
        let batch = try TokenBatch([[101, 1996, 4633, 2003, 8403, 2651, 1012, 102]])   // "The weather is lovely today."
        let embedding = try encoder.sentenceEmbeddings(batch)[0]                      // 384 values, L2 norm 1
        var inputs: [String: Int] = [:]
        _ = try encoder.hiddenStates(batch) { input, x in inputs[input.modules[0]] = x.rows }   // every Linear input, [tokens, in]

        #expect(embedding.count == 384 && abs(embedding.map { $0 * $0 }.reduce(0, +) - 1) < 1e-5)
        #expect(inputs.count == 24 && inputs.values.allSatisfy { $0 == 8 })
    }
}
