import Foundation
import Testing
import LinearAlgebra
import Merging
import ModelSurgery
import TestSupport
import WeightFiles

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// A base model folder (tiny_model's tensors as F32, config.json, tokenizer.json) and two fine-tunes of it.
private func makeModels(_ dir: URL) throws -> (base: Checkpoint, a: Checkpoint, b: Checkpoint) {
    let source = try Checkpoint(path: fixtures.appendingPathComponent("tiny_model.safetensors"))
    let baseFolder = dir.appendingPathComponent("base")
    for (name, seed) in [("base/model.safetensors", UInt64(0)), ("a.safetensors", 1), ("b.safetensors", 2)] {
        let writer = try SafetensorsWriter(url: dir.appendingPathComponent(name))
        for tensor in source.tensorNames {
            let info = source[tensor]!
            if info.dtype.isFloatingPoint {
                var values: [Float] = try source.array(tensor)
                if seed > 0 {
                    let noise = Matrix<Float>.random(rows: 1, columns: values.count, seed: seed * 1000 + UInt64(tensor.count)).elements
                    for i in values.indices { values[i] += 0.05 * noise[i] }
                }
                try writer.add(name: tensor, shape: info.shape, array: values, dtype: .f32)
            } else {
                try writer.add(name: tensor, shape: info.shape, dtype: info.dtype, rawBytes: try source.rawBytes(tensor))
            }
        }
        try writer.finish()
    }
    try #"{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}"#.write(to: baseFolder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
    try "{}".write(to: baseFolder.appendingPathComponent("tokenizer.json"), atomically: true, encoding: .utf8)
    return (try Checkpoint(path: baseFolder), try Checkpoint(path: dir.appendingPathComponent("a.safetensors")),
            try Checkpoint(path: dir.appendingPathComponent("b.safetensors")))
}

@Suite("mergekit methods through MergeJob and its YAML")
struct MergekitJobTests {
    @Test("ties from mergekit's YAML: gradient and per-model parameters evaluated per tensor as the Merging library; a model folder comes out")
    func ties() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (base, a, b) = try makeModels(dir)
        let yaml = """
            merge_method: ties
            base_model: base
            models:
              - model: base
              - model: a.safetensors
                parameters: {weight: [1.0, 0.5], density: 0.5}
              - model: b.safetensors
                parameters:
                  weight: [{filter: mlp, value: 0.25}, {value: 1.0}]
                  density: 0.7
            parameters: {normalize: true}
            dtype: float32
            """
        try yaml.write(to: dir.appendingPathComponent("ties.yml"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("merged")
        let job = try MergeConfig.job(fromYAML: dir.appendingPathComponent("ties.yml").path, output: out)
        #expect(job.models.count == 2 && job.base != nil, "the base listed among the models is the base")
        let report = try job.run()
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: out.path))
        #expect(files == ["model.safetensors", "config.json", "tokenizer.json", "mergekit_config.yml", "README.md"], "\(files)")
        #expect(try String(contentsOf: out.appendingPathComponent("mergekit_config.yml"), encoding: .utf8) == yaml)
        #expect(report.method == "ties")
        let merged = try Checkpoint(path: out)
        // Layer 1 of 2: t = 1, so a's weight is 0.5; b's is 0.25 in the MLP, 1 elsewhere.
        for (name, wb) in [("model.layers.1.mlp.up_proj.weight", 0.25), ("model.layers.1.self_attn.q_proj.weight", 1.0),
                           ("model.layers.0.self_attn.k_proj.weight", 1.0)] {
            let wa = name.contains("layers.1") ? 0.5 : 1.0
            let expected = try GeneralizedTaskArithmetic(.ties, weight: [wa, wb], density: [0.5, 0.7])
                .merge([try a.array(name, as: Float.self), try b.array(name, as: Float.self)], base: try base.array(name, as: Float.self),
                       shape: a[name]!.shape, name: name)
            let got: [Float] = try merged.array(name)
            #expect(got == expected, "\(name)")
        }
    }

    @Test("slerp with a filtered gradient t; nearswap, model_stock, karcher, sce, dare_linear and passthrough run; bad configs are refused")
    func others() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (base, a, _) = try makeModels(dir)
        let yaml = """
            merge_method: slerp
            base_model: base
            models: [{model: base}, {model: a.safetensors}]
            parameters:
              t: [{filter: self_attn, value: 0.3}, {value: [0.0, 1.0]}]
            """
        try yaml.write(to: dir.appendingPathComponent("s.yml"), atomically: true, encoding: .utf8)
        _ = try MergeConfig.job(fromYAML: dir.appendingPathComponent("s.yml").path, output: dir.appendingPathComponent("s.safetensors")).run()
        let merged = try Checkpoint(path: dir.appendingPathComponent("s.safetensors"))
        let attention = "model.layers.1.self_attn.v_proj.weight", mlp = "model.layers.0.mlp.down_proj.weight"
        #expect(try merged.array(attention, as: Float.self) == Slerp(t: 0.3).merge(try a.array(attention, as: Float.self), base: try base.array(attention, as: Float.self)))
        #expect(try merged.array(mlp, as: Float.self) == (try base.array(mlp, as: Float.self)), "t = 0 at layer 0 is the base")

        for (method, extra) in [("nearswap", "parameters: {t: 0.01}"), ("model_stock", ""), ("karcher", ""), ("sce", "parameters: {select_topk: 0.5}"),
                                ("dare_linear", "parameters: {density: 0.5, weight: 0.5}"), ("passthrough", "")] {
            let models = method == "nearswap" || method == "passthrough" ? "[{model: a.safetensors}]" : "[{model: a.safetensors}, {model: b.safetensors}]"
            let text = "merge_method: \(method)\nbase_model: base\nmodels: \(models)\n\(extra)\n"
            try text.write(to: dir.appendingPathComponent("\(method).yml"), atomically: true, encoding: .utf8)
            let report = try MergeConfig.job(fromYAML: dir.appendingPathComponent("\(method).yml").path,
                                             output: dir.appendingPathComponent("\(method).safetensors")).run()
            #expect(report.tensors == base.tensorNames.count, "\(method)")
        }
        for (text, words) in [("merge_method: slerp\nbase_model: base\nmodels: [{model: a.safetensors}]\n", "t"),
                              ("merge_method: ties\nmodels: [{model: a.safetensors}]\n", "base"),
                              ("merge_method: ties\nbase_model: base\nmodels: [{model: a.safetensors, parameters: {weight: {x: 1}}}]\n", "mapping"),
                              ("merge_method: multislerp\nmodels: [{model: a.safetensors}]\n", "not supported yet")] {
            try text.write(to: dir.appendingPathComponent("bad.yml"), atomically: true, encoding: .utf8)
            do {
                _ = try MergeConfig.job(fromYAML: dir.appendingPathComponent("bad.yml").path, output: dir.appendingPathComponent("bad.safetensors")).run()
                Issue.record("accepted: \(text)")
            } catch {
                #expect("\(error)".contains(words), "\(error)")
            }
        }
    }

    @Test("passthrough slices stack layers (a frankenmerge): renumbered tensors from their source layer, head from the last slice, num_hidden_layers updated")
    func slices() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (base, _, b) = try makeModels(dir)
        let yaml = """
            merge_method: passthrough
            slices:
              - sources: [{model: base, layer_range: [0, 2]}]
              - sources: [{model: b.safetensors, layer_range: [1, 2]}]
            """
        try yaml.write(to: dir.appendingPathComponent("stack.yml"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("stacked")
        let report = try MergeConfig.job(fromYAML: dir.appendingPathComponent("stack.yml").path, output: out).run()
        let stacked = try Checkpoint(path: out)
        #expect(stacked.tensorNames.contains("model.layers.2.mlp.up_proj.weight") && !stacked.tensorNames.contains("model.layers.3.mlp.up_proj.weight"))
        #expect(report.tensors == stacked.tensorNames.count)
        #expect(try stacked.array("model.layers.2.self_attn.q_proj.weight", as: Float.self) == (try b.array("model.layers.1.self_attn.q_proj.weight", as: Float.self)))
        #expect(try stacked.array("model.layers.1.self_attn.q_proj.weight", as: Float.self) == (try base.array("model.layers.1.self_attn.q_proj.weight", as: Float.self)))
        // As mergekit's planner: embeddings from the first slice's model, final norm and head from the last slice's.
        #expect(try stacked.array("model.embed_tokens.weight", as: Float.self) == (try base.array("model.embed_tokens.weight", as: Float.self)))
        #expect(try stacked.array("model.norm.weight", as: Float.self) == (try b.array("model.norm.weight", as: Float.self)))
        #expect(try stacked.array("lm_head.weight", as: Float.self) == (try b.array("lm_head.weight", as: Float.self)))
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["num_hidden_layers"] as? Int == 3 && config["model_type"] as? String == "llama")
    }
}
