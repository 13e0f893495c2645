import Foundation
import Testing
import LinearAlgebra
import Compression
import LowRank
import ModelSurgery
import WeightFiles

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

private func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

private func scratch() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("rankwise-jobs-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Collects a job's events.
private final class Events: @unchecked Sendable {
    var layers: [(Int, Int, LayerReport)] = []
    var warnings: [String] = []
    var observer: JobObserver {
        { event in
            switch event {
            case .layer(let i, let n, let r): self.layers.append((i, n, r))
            case .warning(let w): self.warnings.append(w)
            case .note: break
            }
        }
    }
}

@Suite("ModelSurgery jobs, called as a library")
struct JobTests {
    @Test("layer selection: default skips embeddings, heads and non-matrices; include/exclude; bad patterns are typed errors")
    func selection() throws {
        let model = try Checkpoint(path: fixture("tiny_model.safetensors"))
        let layers = LayerSelection.default.layers(of: model)
        #expect(layers.count == 14 && !layers.contains("lm_head.weight") && !layers.contains("model.embed_tokens.weight"))
        #expect(layers.first == "model.layers.0.mlp.down_proj.weight" && layers.last == "model.layers.1.self_attn.v_proj.weight")
        #expect(try LayerSelection(include: ["q_proj"]).layers(of: model) == ["model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.q_proj.weight"])
        #expect(try LayerSelection(exclude: ["mlp", "layers\\.1\\."]).layers(of: model).count == 4)
        #expect(throws: ModelSurgeryError.self) { _ = try LayerSelection(include: ["("]) }
        for head in ["bert.pooler.dense.weight", "classifier.weight", "score.weight", "qa_outputs.weight", "model.embed_tokens.weight", "lm_head.weight"] {
            #expect(LayerSelection.isHead(head), "\(head)")
            #expect(!LayerSelection.default.selects(name: head, isMatrix: true))
        }
        #expect(!LayerSelection.isHead("model.layers.0.mlp.scores_proj.weight"), "a component, not a substring")
        #expect(moduleName("a.b.weight") == "a.b" && moduleName("a.b.bias") == "a.b.bias")
    }

    @Test("QuantizeJob: report per layer in order, errors as computed from the files, progress events for every layer")
    func quantize() throws {
        let dir = scratch()
        let model = try Checkpoint(path: fixture("tiny_model.safetensors"))
        let events = Events()
        let output = dir.appendingPathComponent("q.safetensors")
        // F32 output: the stored weights are exactly the quantised ones the report measured.
        let report = try QuantizeJob(rewrite: ModelRewrite(model: model, output: output, dtype: .f32), quantizer: RoundToNearest(bits: 3, groupSize: 8))
            .run(observer: events.observer)
        #expect(report.layers.count == 14 && events.layers.count == 14)
        #expect(events.layers.map(\.0) == Array(0..<14) && events.layers.allSatisfy { $0.1 == 14 })
        #expect(report.files == [output.path] && report.tensors == model.tensorNames.count && report.bytes > 0)
        let q = try Checkpoint(path: output)
        for layer in report.layers {
            let w: Matrix<Float> = try model.matrix(layer.layer), wq: Matrix<Float> = try q.matrix(layer.layer)
            let error = Double((w - wq).frobeniusNorm() / w.frobeniusNorm())
            #expect(abs(error - layer.relativeError!) < 1e-6 && layer.bits == 3 && layer.shape == model[layer.layer]!.shape)
        }
        #expect(try q.array("lm_head.weight", as: Float.self) == model.array("lm_head.weight", as: Float.self), "heads kept (BF16 → F32 is exact)")
        // The report is Codable with snake_case keys.
        let json = try JSONSerialization.jsonObject(with: encodeJSON(report)) as! [String: Any]
        let first = (json["layers"] as! [[String: Any]])[0]
        #expect(first["relative_error"] != nil && first["bits"] as? Int == 3 && first["rank"] == nil)
    }

    @Test("CompensationJob: EoRA reduces the activation error; report.json equals the returned report; rank checked per layer")
    func compensation() throws {
        let dir = scratch()
        let model = try Checkpoint(path: fixture("tiny_model.safetensors"))
        _ = try QuantizeJob(rewrite: ModelRewrite(model: model, output: dir.appendingPathComponent("q.safetensors")),
                            quantizer: RoundToNearest(bits: 3, groupSize: 8)).run()
        let q = try Checkpoint(path: dir.appendingPathComponent("q.safetensors"))
        let calibration = try CalibrationFile(path: fixture("tiny_calib.safetensors"))
        let output = dir.appendingPathComponent("adapter")
        let job = CompensationJob(minuend: model, subtrahend: q, calibration: calibration, rank: 4, output: output,
                                  base: AdapterBase(name: "base", taskType: "CAUSAL_LM"), skipUnchanged: false, command: "compensate")
        let report = try job.run()
        #expect(report.written == 14 && report.whitening == "eigen" && report.svd == "exact")
        for layer in report.layers { #expect(layer.errorAfter! < layer.errorBefore! && layer.metric == "activation" && layer.rank == 4) }
        let saved = try JSONDecoder().decode(CompensationReport.self, from: Data(contentsOf: output.appendingPathComponent("report.json")))
        #expect(saved.layers == report.layers && saved.written == report.written)
        let adapter = try PEFTAdapter(directory: output)
        #expect(adapter.config["task_type"] as? String == "CAUSAL_LM" && adapter.config["base_model_name_or_path"] as? String == "base")
        var tooLarge = job
        tooLarge.rank = 17
        tooLarge.output = dir.appendingPathComponent("x")
        #expect(throws: ModelSurgeryError.rankTooLarge(layer: "model.layers.0.mlp.down_proj.weight", shape: [16, 24], rank: 17, maximum: 16)) {
            _ = try tooLarge.run()
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x").path))
    }

    @Test("MergeJob: the linear mean; MergeConfig reads mergekit's shape and refuses what it does not support")
    func merge() throws {
        let dir = scratch()
        let a = try Checkpoint(path: fixture("tiny_model.safetensors"))
        _ = try QuantizeJob(rewrite: ModelRewrite(model: a, output: dir.appendingPathComponent("b.safetensors")),
                            quantizer: RoundToNearest(bits: 3)).run()
        let b = try Checkpoint(path: dir.appendingPathComponent("b.safetensors"))
        let events = Events()
        let report = try MergeJob(method: .linear, models: [a, b], dtype: .f32, output: dir.appendingPathComponent("m.safetensors")).run(observer: events.observer)
        #expect(report.models == 2 && report.tensors == a.tensorNames.count && events.layers.count == a.tensorNames.count)
        let name = "model.layers.1.mlp.up_proj.weight"
        let merged: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("m.safetensors")).matrix(name)
        let expected = 0.5 * (try a.matrix(name, as: Float.self) + b.matrix(name, as: Float.self))
        #expect((merged - expected).maxAbs() < 1e-6)
        let config = dir.appendingPathComponent("m.yml")
        try "merge_method: linear\nmodels:\n  - model: \(a.url.path)\n  - model: b.safetensors\n    parameters: {weight: 3}\n".write(to: config, atomically: true, encoding: .utf8)
        let job = try MergeConfig.job(fromYAML: config.path, output: dir.appendingPathComponent("y.safetensors"))
        #expect(job.method == .linear && job.weights == [1, 3] && job.models.count == 2)
        try "merge_method: ties\nmodels:\n  - model: b.safetensors\n".write(to: config, atomically: true, encoding: .utf8)
        // ties needs a base: refused before anything is written.
        #expect(throws: ModelSurgeryError.self) { _ = try MergeConfig.job(fromYAML: config.path, output: dir.appendingPathComponent("y.safetensors")).run() }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("y.safetensors").path))
    }

    @Test("kernel models round-trip through the file; inconsistent files are refused naming the tensor")
    func kernelModel() throws {
        let dir = scratch()
        let output = dir.appendingPathComponent("k.safetensors")
        let report = try KernelFitJob(data: fixture("regression.csv").path, targets: ["y"], kernel: .rbf(), alphas: [0.01, 0.1, 1], output: output).run()
        #expect(report.samples == 30 && report.features == ["x0", "x1", "x2", "x3"] && [0.01, 0.1, 1].contains(report.alpha) && report.looMSE != nil)
        let saved = try KernelModelFile(contentsOf: output)
        #expect(saved.kind == .kernelRidge && saved.alpha == report.alpha && saved.tensors["training_inputs"]!.rows == 30)
        let predictions = dir.appendingPathComponent("p.csv")
        let predicted = try KernelPredictJob(model: output, data: fixture("regression.csv").path, output: predictions).run()
        #expect(predicted.rows == 30 && predicted.targets == ["y"])
        var broken = saved
        broken.tensors["dual_coefficients"] = Matrix(rows: 10, columns: 1, elements: [Double](repeating: 1, count: 10))
        try broken.write(to: dir.appendingPathComponent("broken.safetensors"))
        do {
            _ = try KernelModelFile(contentsOf: dir.appendingPathComponent("broken.safetensors"))
            Issue.record("a model with 10 coefficient rows for 30 training rows was accepted")
        } catch let error as ModelSurgeryError {
            #expect(error.description.contains("dual_coefficients") && error.description.contains("expected 30 rows"))
        }
    }
}
