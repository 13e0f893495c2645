import Foundation
import Testing
import LinearAlgebra
import Compression
import ModelSurgery
import TestSupport
import WeightFiles

/// A small Llama-shaped model folder (one block, hidden 64, MLP 128) with a
/// config.json, tokenizer files and a README, and its calibration file
/// (q/k/v and gate/up share their input through `same_as`).
private func makeModelFolder(_ dir: URL, dtype: DType = .f16) throws -> (model: URL, calibration: URL, synthetic: SyntheticModel) {
    let synthetic = SyntheticModel(blocks: 1, hidden: 64, intermediate: 128, tokens: 512, seed: 7)
    let folder = dir.appendingPathComponent("model")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let writer = try SafetensorsWriter(url: folder.appendingPathComponent("model.safetensors"))
    for (i, layer) in synthetic.layers.enumerated() {
        try writer.add(name: "\(layer.name).weight", matrix: try synthetic.weight(i), dtype: dtype)
    }
    try writer.add(name: "model.layers.0.mlp.down_proj.bias", shape: [64], array: [Float](repeating: 0.5, count: 64), dtype: dtype)
    try writer.add(name: "model.norm.weight", shape: [64], array: [Float](repeating: 1, count: 64), dtype: .f32)
    try writer.finish()
    let config: [String: Any] = ["architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128, "model_type": "llama"]
    try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
    try Data("{\"model\": {}}".utf8).write(to: folder.appendingPathComponent("tokenizer.json"))
    try Data("{}".utf8).write(to: folder.appendingPathComponent("generation_config.json"))
    try Data("# a model card\n".utf8).write(to: folder.appendingPathComponent("README.md"))

    let calibration = dir.appendingPathComponent("calib.safetensors")
    let statistics = try SafetensorsWriter(url: calibration)
    var sameAs: [String: String] = [:]
    for (i, layer) in synthetic.layers.enumerated() {
        let source = layer.input == .hidden ? (layer.name.hasSuffix("o_proj") ? layer.name : "model.layers.0.self_attn.q_proj") : layer.name
        if source != layer.name { sameAs["\(layer.name).same_as"] = source; continue }
        try statistics.add(name: "\(layer.name).gram", matrix: synthetic.covariance(i), dtype: .f32)
        try statistics.add(name: "\(layer.name).tokens", shape: [], array: [Double(synthetic.tokens)], dtype: .f64)
    }
    try statistics.finish(metadata: sameAs)
    return (folder, calibration, synthetic)
}

@Suite("Quantize to packed GPTQ checkpoints")
struct PackedQuantizeTests {
    @Test("A packed checkpoint read back equals the dequantized output, for RTN and GPTQ, v1 and v2, with act-order and shards")
    func roundTrip() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (folder, calibrationURL, _) = try makeModelFolder(dir)
        let model = try Checkpoint(path: folder)
        let calibration = try CalibrationFile(path: calibrationURL)
        let methods: [(String, QuantizeJob.Method)] = [
            ("rtn-asym", .roundToNearest(RoundToNearest(bits: 4, groupSize: 32))),
            ("rtn-sym-3", .roundToNearest(RoundToNearest(bits: 3, groupSize: 64, symmetric: true))),
            ("gptq-asym", .gptq(GPTQ(bits: 4, groupSize: 32), calibration: calibration)),
            ("gptq-sym-act", .gptq(GPTQ(bits: 8, groupSize: 64, symmetric: true, actOrder: true), calibration: calibration)),
            ("gptq-2-row", .gptq(GPTQ(bits: 2, groupSize: nil), calibration: calibration)),
        ]
        for (label, method) in methods {
            let packedFolder = dir.appendingPathComponent(label)
            let flat = dir.appendingPathComponent("\(label).safetensors")
            let packed = try QuantizeJob(rewrite: ModelRewrite(model: model, output: packedFolder, maxShardSize: label == "gptq-asym" ? 20_000 : nil),
                                         method: method, format: .gptq).run()
            // F32 output: the read-back weight is the exact Float s·(q − z), not rounded to the scales' F16.
            _ = try QuantizeJob(rewrite: ModelRewrite(model: model, output: flat, dtype: .f32), method: method).run()
            let readBack = try Checkpoint(path: packedFolder), dequantized = try Checkpoint(path: flat)
            #expect(readBack.packedLayers.count == 7, "\(label)")
            #expect(readBack.tensorNames == dequantized.tensorNames, "\(label)")
            for name in dequantized.tensorNames {
                let a: [Float] = try readBack.array(name), b: [Float] = try dequantized.array(name)
                #expect(a == b, "\(label): \(name) differs in \(zip(a, b).filter { $0 != $1 }.count) of \(a.count)")
            }
            if label == "gptq-asym" { #expect(packed.files.filter { $0.hasSuffix(".safetensors") }.count > 1, "sharded") }
            #expect(packed.inputBytes! > packed.bytes)
            let config = try QuantizationConfig(modelFolder: packedFolder)!
            let symmetric = label.contains("sym-")
            #expect(config.format == (symmetric ? .gptq : .gptqV2) && config.symmetric == symmetric)
            #expect(config.descAct == label.contains("act"))
        }
    }

    @Test("The folder is a model: config.json with quantization_config, quantize_config.json, tokenizer files; no model card")
    func folder() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (folder, calibrationURL, synthetic) = try makeModelFolder(dir)
        let out = dir.appendingPathComponent("gptq")
        let report = try QuantizeJob(rewrite: ModelRewrite(model: try Checkpoint(path: folder), output: out),
                                     method: .gptq(GPTQ(bits: 4, groupSize: 64, symmetric: true), calibration: try CalibrationFile(path: calibrationURL)),
                                     format: .gptq).run()
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: out.path))
        #expect(names == ["model.safetensors", "config.json", "quantize_config.json", "tokenizer.json", "generation_config.json"])
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
        let quantization = config["quantization_config"] as! [String: Any]
        #expect(quantization["bits"] as? Int == 4 && quantization["group_size"] as? Int == 64 && quantization["sym"] as? Bool == true)
        #expect(quantization["checkpoint_format"] as? String == "gptq" && quantization["quant_method"] as? String == "gptq")
        #expect(config["model_type"] as? String == "llama", "the rest of config.json is kept")
        let standalone = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("quantize_config.json"))) as! [String: Any]
        let canonical = { (object: [String: Any]) in try JSONSerialization.data(withJSONObject: object, options: .sortedKeys) }
        #expect(try canonical(standalone) == canonical(quantization))
        // Packed tensors as loaders expect them; the bias and the norm copied.
        let file = try SafetensorsFile(contentsOf: out.appendingPathComponent("model.safetensors"))
        let module = "model.layers.0.mlp.down_proj"
        #expect(file["\(module).qweight"]?.shape == [128 * 4 / 32, 64] && file["\(module).qweight"]?.dtype == .i32)
        #expect(file["\(module).qzeros"]?.shape == [2, 64 * 4 / 32] && file["\(module).scales"]?.shape == [2, 64])
        #expect(file["\(module).scales"]?.dtype == .f16 && file["\(module).g_idx"]?.shape == [128])
        #expect(file["\(module).weight"] == nil && file["\(module).bias"] != nil && file["model.norm.weight"] != nil)
        // Symmetric v1: every zero word is 0x77777777 (zero 8, stored minus one).
        let zeros = try file.rawBytes("\(module).qzeros").bindMemory(to: UInt32.self)
        #expect(zeros.allSatisfy { $0 == 0x7777_7777 })
        // The report: per layer bits, errors; 4-bit codes shrink F16 weights about 3.5×.
        #expect(report.layers.count == 7 && report.layers.allSatisfy { $0.bits == 4 && ($0.activationError ?? 1) < 0.2 })
        #expect(Double(report.inputBytes!) / Double(report.bytes) > 2.5)
        _ = synthetic
    }

    @Test("Refused before any file is written: unpackable shapes, bits no loader reads, missing statistics")
    func refusals() throws {
        let dir = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (folder, calibrationURL, _) = try makeModelFolder(dir)
        let model = try Checkpoint(path: folder)
        let out = dir.appendingPathComponent("out")
        // 3-bit codes need in to be a multiple of 32: 64 and 128 are; a group size of 48 divides neither.
        #expect(throws: ModelSurgeryError.self) {
            try QuantizeJob(rewrite: ModelRewrite(model: model, output: out), method: .roundToNearest(RoundToNearest(bits: 4, groupSize: 48)), format: .gptq).run()
        }
        #expect(throws: ModelSurgeryError.invalidParameter(parameter: "bits", value: "5", expected: "2, 3, 4 or 8 for a packed GPTQ checkpoint")) {
            try QuantizeJob(rewrite: ModelRewrite(model: model, output: out), method: .roundToNearest(RoundToNearest(bits: 5)), format: .gptq).run()
        }
        // Statistics for q_proj only: the first other layer fails, naming it, and nothing is left behind.
        let partial = dir.appendingPathComponent("partial.safetensors")
        let writer = try SafetensorsWriter(url: partial)
        let full = try CalibrationFile(path: calibrationURL)
        try writer.add(name: "model.layers.0.self_attn.q_proj.gram", matrix: try full.covariance(layer: "model.layers.0.self_attn.q_proj")!.gram, dtype: .f32)
        try writer.finish()
        #expect(throws: CalibrationError.self) {
            try QuantizeJob(rewrite: ModelRewrite(model: model, output: out), method: .gptq(GPTQ(bits: 4, groupSize: 64), calibration: try CalibrationFile(path: partial)),
                            format: .gptq).run()
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        #expect(left.isEmpty, "left behind: \(left)")
    }
}
