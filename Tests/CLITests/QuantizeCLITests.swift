import Foundation
import Testing
import TestSupport
import WeightFiles
import LinearAlgebra

@Suite("quantize and prune on the command line")
struct QuantizeCLITests {
    @Test("quantize --method gptq --format gptq writes a packed folder that reads back as the dequantized output")
    func gptqFolder() throws {
        let dir = scratch()
        let packed = try Run(["quantize", fixture("tiny_model.safetensors"), "--method", "gptq", "--calib", fixture("tiny_calib.safetensors"),
                              "--bits", "4", "--group-size", "8", "--sym", "--act-order", "--format", "gptq", "-o", "packed", "--json"], in: dir)
        #expect(packed.status == 0, "\(packed.stderr)")
        #expect(packed.stderr.contains("act err") && packed.stderr.contains("smaller"), "\(packed.stderr)")
        let flat = try Run(["quantize", fixture("tiny_model.safetensors"), "--method", "gptq", "--calib", fixture("tiny_calib.safetensors"),
                            "--bits", "4", "--group-size", "8", "--sym", "--act-order", "--dtype", "f32", "-o", "flat.safetensors"], in: dir)
        #expect(flat.status == 0, "\(flat.stderr)")
        let a = try Checkpoint(path: dir.appendingPathComponent("packed")), b = try Checkpoint(path: dir.appendingPathComponent("flat.safetensors"))
        #expect(a.packedLayers.count == 14 && a.quantizationConfig?.descAct == true && a.quantizationConfig?.format == .gptq)
        for name in b.tensorNames where name.hasSuffix("proj.weight") {
            let x: [Float] = try a.array(name), y: [Float] = try b.array(name)
            #expect(x == y, "\(name)")
        }
        let json = try JSONSerialization.jsonObject(with: Data(packed.stdout.utf8)) as! [String: Any]
        #expect((json["input_bytes"] as? Int ?? 0) > 0 && (json["layers"] as? [[String: Any]])?.first?["activation_error"] != nil)
    }

    @Test("Usage errors exit 2 naming the flag; unpackable layers exit 1 naming the layer; nothing is written")
    func refusals() throws {
        let dir = scratch()
        let model = fixture("tiny_model.safetensors"), calib = fixture("tiny_calib.safetensors")
        let cases: [([String], Int32, String)] = [
            (["quantize", model, "--method", "gptq", "-o", "o.safetensors"], 2, "--calib"),
            (["quantize", model, "--bits", "5", "--format", "gptq", "-o", "o"], 2, "--bits"),
            (["quantize", model, "--damp", "1", "--method", "gptq", "--calib", calib, "-o", "o.safetensors"], 2, "--damp"),
            (["quantize", model, "--act-order", "-o", "o.safetensors"], 2, "--act-order"),
            (["quantize", model, "--sym", "--asym", "-o", "o.safetensors"], 2, "--sym"),
            (["quantize", model, "--group-size", "-7", "-o", "o.safetensors"], 2, "--group-size"),
            // 3-bit codes need in to be a multiple of 32; the tiny model's layers have 16 and 24 inputs.
            (["quantize", model, "--bits", "3", "--group-size", "8", "--format", "gptq", "-o", "o"], 1, "cannot be packed"),
            (["prune", model, "--method", "sparsegpt", "--sparsity", "0.5", "-o", "o.safetensors"], 2, "--calib"),
            (["prune", model, "--bits", "4", "--sparsity", "0.5", "-o", "o.safetensors"], 2, "--bits"),
        ]
        for (arguments, status, text) in cases {
            let run = try Run(arguments, in: dir)
            #expect(run.status == status && run.stderr.contains(text), "\(arguments): \(run.status) \(run.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("prune --method sparsegpt: 2:4 with 4-bit quantization, reported per layer")
    func sparseGPT() throws {
        let dir = scratch()
        let run = try Run(["prune", fixture("tiny_model.safetensors"), "--method", "sparsegpt", "--pattern", "2:4", "--bits", "4",
                           "--calib", fixture("tiny_calib.safetensors"), "-o", "s.safetensors", "--json"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let model = try Checkpoint(path: dir.appendingPathComponent("s.safetensors"))
        let w: Matrix<Float> = try model.matrix("model.layers.0.self_attn.q_proj.weight")
        for i in 0..<w.rows {
            for start in stride(from: 0, to: w.columns, by: 4) { #expect((start..<(start + 4)).filter { w[i, $0] == 0 }.count >= 2) }
        }
        let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        #expect((json["layers"] as? [[String: Any]])?.allSatisfy { ($0["zero_fraction"] as? Double ?? 0) >= 0.5 } == true)
    }
}

@Suite("merge CONFIG.yml OUT_DIR")
struct MergeFolderCLITests {
    @Test("mergekit-yaml's form writes a model folder; -o NAME.safetensors still writes one file")
    func folder() throws {
        let dir = scratch()
        let model = fixture("tiny_model.safetensors")
        try "merge_method: ties\nbase_model: \(model)\nmodels:\n  - model: \(fixture("tiny_sharded"))\n    parameters: {weight: [1, 0.5], density: 0.5}\n"
            .write(to: dir.appendingPathComponent("m.yml"), atomically: true, encoding: .utf8)
        let run = try Run(["merge", "m.yml", "out"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("out").path))
        #expect(files.isSuperset(of: ["model.safetensors", "mergekit_config.yml", "README.md"]), "\(files)")
        let file = try Run(["merge", "--config", "m.yml", "-o", "one.safetensors"], in: dir)
        #expect(file.status == 0 && FileManager.default.fileExists(atPath: dir.appendingPathComponent("one.safetensors").path), "\(file.stderr)")
        let twice = try Run(["merge", "m.yml", "out2", "-o", "x"], in: dir)
        #expect(twice.status == 2, "\(twice.stderr)")
    }
}
