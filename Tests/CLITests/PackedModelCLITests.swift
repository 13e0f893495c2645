import Foundation
import Testing
import LinearAlgebra
import TestSupport
import WeightFiles

/// A float model (`original.safetensors`, F32) and its GPTQ 4-bit symmetric round-to-nearest counterpart (folder
/// `gptq/`: `model.safetensors` with packed q_proj and down_proj, config.json and quantize_config.json); the other
/// tensors are the same in both. Returns the packed layers by module.
@discardableResult
func writeGPTQPair(in dir: URL, format: PackedFormat = .gptq) throws -> [String: PackedLinear] {
    let modules = [("model.layers.0.self_attn.q_proj", 32, 64), ("model.layers.0.mlp.down_proj", 16, 96)]
    let original = try SafetensorsWriter(url: dir.appendingPathComponent("original.safetensors"))
    let folder = dir.appendingPathComponent("gptq")
    let packed = try SafetensorsWriter(url: folder.appendingPathComponent("model.safetensors"))
    var layers: [String: PackedLinear] = [:]
    for (i, (module, out, n)) in modules.enumerated() {
        let w = Matrix<Float>.random(rows: out, columns: n, seed: 10 + UInt64(i))
        try original.add(name: module + ".weight", matrix: w, dtype: .f32)
        // Symmetric 4-bit, groups of 32 inputs: scale = 2·max|w|/15 (as F16), zero 8, q = clamp(round(w/s) + 8, 0, 15).
        let groups = n / 32
        var scales = [Float](repeating: 0, count: groups * out), codes = [UInt8](repeating: 0, count: out * n)
        for g in 0..<groups {
            for o in 0..<out {
                let peak = (32 * g..<32 * g + 32).map { abs(w[o, $0]) }.max()!
                let s = HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(2 * peak / 15))
                scales[g * out + o] = s
                for k in 32 * g..<32 * g + 32 { codes[o * n + k] = UInt8(Swift.min(Swift.max((w[o, k] / s).rounded(.toNearestOrEven) + 8, 0), 15)) }
            }
        }
        let layer = try PackedLinear(format: format, bits: 4, outFeatures: out, inFeatures: n, groupCount: groups, codes: codes,
                                     zeros: [UInt8](repeating: 8, count: groups * out), scales: scales, groupIndex: (0..<n).map { Int32($0 / 32) })
        layers[module] = layer
        for t in try layer.storedTensors() {
            try t.bytes.withUnsafeBytes { try packed.add(name: module + "." + t.suffix, shape: t.shape, dtype: t.dtype, rawBytes: $0) }
        }
    }
    let embedding = Matrix<Float>.random(rows: 8, columns: 64, seed: 3)
    try original.add(name: "model.embed_tokens.weight", matrix: embedding, dtype: .f16)
    try packed.add(name: "model.embed_tokens.weight", matrix: embedding, dtype: .f16)
    let ids: [Int64] = Array(0..<8)
    try ids.withUnsafeBytes { try packed.add(name: "model.position_ids", shape: [8], dtype: .i64, rawBytes: $0) }
    try ids.withUnsafeBytes { try original.add(name: "model.position_ids", shape: [8], dtype: .i64, rawBytes: $0) }
    try original.finish()
    try packed.finish()
    let config = QuantizationConfig(format: format, bits: 4, groupSize: 32, symmetric: format == .gptq, damp: 0.01)
    let object = config.jsonObject(quantizer: "rankwise:test")
    try JSONSerialization.data(withJSONObject: ["architectures": ["LlamaForCausalLM"], "quantization_config": object] as [String: Any])
        .write(to: folder.appendingPathComponent("config.json"))
    try JSONSerialization.data(withJSONObject: object).write(to: folder.appendingPathComponent("quantize_config.json"))
    return layers
}

@Suite("rankwise on GPTQ models", .serialized)
struct PackedModelCLITests {
    @Test("inspect shows the packing: format, bits, group size, act-order, layers, stored and dequantized sizes; --json too")
    func inspect() throws {
        let dir = scratch()
        let layers = try writeGPTQPair(in: dir)
        let table = try Run(["inspect", "gptq"], in: dir)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("packed: 2 layers, gptq 4-bit, group size 32, act-order no;"), "\(table.stdout)")
        #expect(table.stdout.contains("model.layers.0.mlp.down_proj.weight") && !table.stdout.contains("qweight"))
        let json = try Run(["inspect", "gptq", "--json"], in: dir)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let q = object["quantization"] as! [String: Any]
        #expect(q["format"] as? String == "gptq" && q["bits"] as? Int == 4 && q["group_size"] as? Int == 32)
        #expect(q["act_order"] as? Bool == false && q["layers"] as? Int == 2 && q["uniform"] as? Bool == true && q["inferred"] as? Bool == false)
        let stored = layers.values.map(\.storedByteCount).reduce(0, +) + 8 * 64 * 2 + 8 * 8
        let dequantized = layers.values.map { 2 * $0.outFeatures * $0.inFeatures }.reduce(0, +) + 8 * 64 * 2 + 8 * 8
        #expect(q["stored_bytes"] as? Int == stored && q["dequantized_bytes"] as? Int == dequantized && object["bytes"] as? Int == dequantized)
        let tensors = object["tensors"] as! [[String: Any]]
        let down = tensors.first { $0["name"] as? String == "model.layers.0.mlp.down_proj.weight" }!
        #expect(down["dtype"] as? String == "F16" && down["shape"] as? [Int] == [16, 96])
        #expect((down["packed"] as? [String: Any])?["bits"] as? Int == 4 && (down["packed"] as? [String: Any])?["desc_act"] as? Bool == false)
        #expect(tensors.first { $0["name"] as? String == "model.position_ids" }?["packed"] == nil)
        // A float model has no quantization entry.
        let plain = try JSONSerialization.jsonObject(with: Data(try Run(["inspect", "original.safetensors", "--json"], in: dir).stdout.utf8)) as! [String: Any]
        #expect(plain["quantization"] == nil)
    }

    @Test("convert of a GPTQ folder writes the dequantized weights (F16, and F32 from them); other tensors copied")
    func convert() throws {
        let dir = scratch()
        let layers = try writeGPTQPair(in: dir)
        let run = try Run(["convert", "gptq", "--dtype", "f16", "-o", "f16.safetensors"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let out = try SafetensorsFile(contentsOf: dir.appendingPathComponent("f16.safetensors"))
        #expect(out.tensorNames == ["model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight", "model.layers.0.self_attn.q_proj.weight", "model.position_ids"])
        for (module, layer) in layers {
            #expect(out[module + ".weight"]?.dtype == .f16)
            let expected = layer.dequantized(as: Float.self).elements.map { HalfPrecision.float(float16Bits: HalfPrecision.float16Bits($0)) }
            #expect(try out.array(module + ".weight", as: Float.self) == expected)
        }
        #expect(Array(try out.rawBytes("model.position_ids").bindMemory(to: Int64.self)) == Array(0..<8))
        let wide = try Run(["convert", "gptq", "--dtype", "f32", "-o", "f32.safetensors"], in: dir)
        #expect(wide.status == 0, "\(wide.stderr)")
        let f32 = try SafetensorsFile(contentsOf: dir.appendingPathComponent("f32.safetensors"))
        #expect(try f32.array("model.layers.0.mlp.down_proj.weight", as: Float.self) == out.array("model.layers.0.mlp.down_proj.weight", as: Float.self))
    }

    @Test("compensate --compressed takes a GPTQ folder: W − Ŵ with Ŵ the dequantized weight")
    func compensate() throws {
        let dir = scratch()
        let layers = try writeGPTQPair(in: dir, format: .gptqV2)
        let run = try Run(["compensate", "--original", "original.safetensors", "--compressed", "gptq", "--rank", "4", "-o", "adapter"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let adapter = try PEFTAdapter(directory: dir.appendingPathComponent("adapter"))
        #expect(adapter.modules.count == 2)
        let original = try Checkpoint(path: dir.appendingPathComponent("original.safetensors"))
        for (module, layer) in layers {
            let (a, b) = try adapter.factors(module, as: Float.self)
            let delta = try original.matrix(module + ".weight", as: Float.self) - layer.dequantized(as: Float.self)
            // Plain SVD of ΔW: the rank-4 residual is smaller than ΔW itself.
            #expect((delta - b * a).frobeniusNorm() < 0.95 * delta.frobeniusNorm())
        }
    }

    @Test("a packed part missing: one line naming the file and tensor, exit 1; --json carries them")
    func missingPart() throws {
        let dir = scratch()
        try writeGPTQPair(in: dir)
        let url = dir.appendingPathComponent("gptq/model.safetensors")
        let file = try SafetensorsFile(contentsOf: url)
        let writer = try SafetensorsWriter(url: dir.appendingPathComponent("broken/model.safetensors"))
        for name in file.tensorNames where name != "model.layers.0.self_attn.q_proj.qzeros" {
            try writer.add(name: name, shape: file[name]!.shape, dtype: file[name]!.dtype, rawBytes: try file.rawBytes(name))
        }
        try writer.finish()
        let run = try Run(["inspect", "broken"], in: dir)
        #expect(run.status == 1 && run.stderr.split(separator: "\n").count == 1)
        #expect(run.stderr.contains("model.layers.0.self_attn.q_proj.qzeros") && run.stderr.contains("missing"), "\(run.stderr)")
        let json = try Run(["inspect", "broken", "--json"], in: dir)
        let error = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(error?["tensor"] as? String == "model.layers.0.self_attn.q_proj.qzeros" && (error?["file"] as? String)?.hasSuffix("broken/model.safetensors") == true,
                "\(json.stdout) \(json.stderr)")
    }
}
