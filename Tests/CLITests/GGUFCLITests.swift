import Foundation
import Testing
import LinearAlgebra
import TestSupport
import WeightFiles

/// Writes the tiny llama GGUF (TestSupport's `TinyGGUFModel`) as `tiny.gguf` in `dir`.
@discardableResult
func writeTinyGGUF(in dir: URL) throws -> TinyGGUFModel {
    let model = TinyGGUFModel()
    try model.builder.write(to: dir.appendingPathComponent("tiny.gguf"))
    return model
}

/// Hugging Face rows of a llama q/k from stored rows (llama.cpp stores HF row h·d + j·d/2 + i at h·d + 2i + j).
func unpermutedRows(_ stored: [Float], rows: Int, columns: Int, heads: Int) -> [Float] {
    let d = rows / heads
    var out = stored
    for h in 0..<heads {
        for i in 0..<(d / 2) {
            for j in 0..<2 {
                let hf = h * d + j * (d / 2) + i, gguf = h * d + 2 * i + j
                out.replaceSubrange(hf * columns..<(hf + 1) * columns, with: stored[gguf * columns..<(gguf + 1) * columns])
            }
        }
    }
    return out
}

let smolLM2GGUF: URL? = TestModels.smolLM2?.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf")

@Suite("rankwise on GGUF models", .serialized)
struct GGUFCLITests {
    @Test("inspect: Hugging Face names with each tensor's GGUF type and stored size; the file's architecture, types, sizes; --json")
    func inspect() throws {
        let dir = scratch()
        try writeTinyGGUF(in: dir)
        let table = try Run(["inspect", "tiny.gguf"], in: dir)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("gguf Q4_0 blk.0.attn_q.weight, 576 B stored, rows un-permuted (4 heads)"), "\(table.stdout)")
        #expect(table.stdout.contains("gguf Q8_0 token_embd.weight, 204 B stored"))
        #expect(table.stdout.contains("gguf v3: llama (LlamaForCausalLM) 'tiny', 12 tensors (BF16 1, F16 2, F32 4, Q4_0 1, Q4_1 2, Q8_0 2)"), "\(table.stdout)")
        #expect(table.stdout.contains("q/k rows un-permuted in 2 tensors; tied embeddings (no output.weight); tokenizer gpt2, 6 tokens"))
        let json = try Run(["inspect", "tiny.gguf", "--json"], in: dir)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let g = try #require(object["gguf"] as? [String: Any])
        #expect(g["version"] as? Int == 3 && g["architecture"] as? String == "llama" && g["hugging_face_architecture"] as? String == "LlamaForCausalLM")
        #expect(g["tensors"] as? Int == 12 && (g["types"] as? [String: Int])?["Q4_1"] == 2 && g["unpermuted"] as? Int == 2)
        #expect(g["tied_embeddings"] as? Bool == true && g["dequantized_bytes"] as? Int == object["bytes"] as? Int)
        #expect((object["files"] as? [String])?.first?.hasSuffix("tiny.gguf") == true && object["quantization"] == nil)
        let tensors = object["tensors"] as! [[String: Any]]
        let q = try #require(tensors.first { $0["name"] as? String == "model.layers.0.self_attn.q_proj.weight" })
        #expect(q["dtype"] as? String == "F32" && q["shape"] as? [Int] == [32, 32])
        let stored = q["gguf"] as? [String: Any]
        #expect(stored?["name"] as? String == "blk.0.attn_q.weight" && stored?["type"] as? String == "Q4_0" && stored?["unpermuted_heads"] as? Int == 4)
        #expect(stored?["stored_bytes"] as? Int == 32 * 18)
        // A folder holding the one .gguf works too.
        #expect(try Run(["inspect", "."], in: dir).stdout.contains("gguf v3"))
    }

    @Test("convert writes the GGUF model as safetensors: Hugging Face names and row order, block formats dequantized")
    func convert() throws {
        let dir = scratch()
        let model = try writeTinyGGUF(in: dir)
        for dtype in [DType.f32, .f16, .bf16] {
            let out = "tiny-\(dtype.rawValue).safetensors"
            let run = try Run(["convert", "tiny.gguf", "--dtype", dtype.rawValue.lowercased(), "-o", out, "--verbose"], in: dir)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("only its tensors are written"))
            let file = try SafetensorsFile(contentsOf: dir.appendingPathComponent(out))
            #expect(file.tensorNames.count == 12 && file.tensorNames.contains("model.embed_tokens.weight") && !file.tensorNames.contains("lm_head.weight"))
            #expect(file.metadata["rankwise.converted_from"]?.hasSuffix("tiny.gguf") == true)
            for t in model.tensors {
                let name = GGUFFile.huggingFaceName(forGGUFName: t.name) ?? t.name
                let rows = t.dimensions.count == 2 ? t.dimensions[1] : 1, columns = t.dimensions[0]
                var expected = t.values
                if t.name.hasSuffix("attn_q.weight") { expected = unpermutedRows(expected, rows: rows, columns: columns, heads: 4) }
                if t.name.hasSuffix("attn_k.weight") { expected = unpermutedRows(expected, rows: rows, columns: columns, heads: 2) }
                let rounded = expected.map { x -> Float in
                    switch dtype {
                    case .f16: return HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(x))
                    case .bf16: return HalfPrecision.float(bfloat16Bits: HalfPrecision.bfloat16Bits(x))
                    default: return x
                    }
                }
                #expect(file[name]?.dtype == dtype && file[name]?.shape == t.dimensions.reversed())
                #expect(try file.array(name, as: Float.self) == rounded, "\(dtype) \(name)")
            }
        }
    }

    @Test("merge, quantize and compensate take a GGUF model like any other")
    func otherCommands() throws {
        let dir = scratch()
        try writeTinyGGUF(in: dir)
        let quantize = try Run(["quantize", "tiny.gguf", "--bits", "3", "-o", "q.safetensors"], in: dir)
        #expect(quantize.status == 0, "\(quantize.stderr)")
        let merge = try Run(["merge", "--method", "linear", "tiny.gguf", "q.safetensors", "--dtype", "f32", "-o", "lin.safetensors"], in: dir)
        #expect(merge.status == 0, "\(merge.stderr)")
        let name = "model.layers.0.self_attn.q_proj.weight"
        let a: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("tiny.gguf")).matrix(name)
        let b: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("q.safetensors")).matrix(name)
        let merged: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("lin.safetensors")).matrix(name)
        #expect((merged - 0.5 * (a + b)).maxAbs() < 1e-6 && (a - b).maxAbs() > 0)
        // A plain-SVD adapter of the GGUF weights minus their 3-bit version: B·A approximates W − Q.
        let compensate = try Run(["compensate", "--original", "tiny.gguf", "--compressed", "q.safetensors", "--rank", "8", "-o", "adapter"], in: dir)
        #expect(compensate.status == 0, "\(compensate.stderr)")
        let adapter = try PEFTAdapter(directory: dir.appendingPathComponent("adapter"))
        let (down, up) = try adapter.factors("model.layers.0.self_attn.q_proj", as: Float.self)
        let residual = (a - b) - up * down
        #expect(down.rows == 8 && down.columns == 32 && residual.frobeniusNorm() < (a - b).frobeniusNorm())
    }

    @Test("a truncated or hostile GGUF is one line naming the file and the rule, exit status 1")
    func hostile() throws {
        let dir = scratch()
        let bytes = TinyGGUFModel().builder.bytes()
        try Data(bytes.prefix(bytes.count - 100)).write(to: dir.appendingPathComponent("cut.gguf"))
        let cut = try Run(["inspect", "cut.gguf"], in: dir)
        #expect(cut.status == 1 && cut.stderr.contains("cut.gguf: tensor '") && cut.stderr.contains("past its end"), "\(cut.stderr)")
        var v1 = Array("GGUF".utf8) + [1, 0, 0, 0]
        v1 += [UInt8](repeating: 0, count: 16)
        try Data(v1).write(to: dir.appendingPathComponent("old.gguf"))
        let old = try Run(["convert", "old.gguf", "--dtype", "f16", "-o", "x.safetensors"], in: dir)
        #expect(old.status == 1 && old.stderr.contains("GGUF version 1 is not supported"), "\(old.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.safetensors").path))
        let json = try Run(["inspect", "cut.gguf", "--json"], in: dir)
        #expect(json.status == 1 && json.stdout.contains("cut.gguf"), "\(json.stdout) \(json.stderr)")
    }

    @Test("SmolLM2-135M Q4_1: inspect shows 272 tensors, llama, Q8_0/Q4_1/F32; convert --dtype f16 writes its q rows in Hugging Face order",
          .enabled(if: smolLM2GGUF != nil, TestModels.missing("smollm2")))
    func smolLM2() throws {
        let dir = scratch()
        let model = smolLM2GGUF!.path
        let json = try Run(["inspect", model, "--json"], in: dir)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let g = try #require(object["gguf"] as? [String: Any])
        #expect(g["tensors"] as? Int == 272 && g["architecture"] as? String == "llama" && g["types"] as? [String: Int] == ["Q8_0": 1, "Q4_1": 210, "F32": 61])
        #expect(g["tied_embeddings"] as? Bool == true && g["unpermuted"] as? Int == 60 && g["vocabulary"] as? Int == 49152)
        #expect((object["tensors"] as! [[String: Any]]).count == 272 && object["parameters"] as? Int == 134_515_008)
        let run = try Run(["convert", model, "--dtype", "f16", "-o", "smol.safetensors"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let file = try SafetensorsFile(contentsOf: dir.appendingPathComponent("smol.safetensors"))
        #expect(file.tensorNames.count == 272 && file["model.embed_tokens.weight"]?.dtype == .f16 && file["model.embed_tokens.weight"]?.shape == [49152, 576])
        // gguf-py's values (Tests/Fixtures/gguf_reference.json): stored q row 1 is Hugging Face row 32.
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("gguf_reference.json")))) as! [String: Any]
        let smol = reference["smollm2"] as! [String: Any]
        let expected = (smol["stored_q_row_1_first"] as! [Double]).map { HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(Float($0))) }
        let q = try file.array("model.layers.0.self_attn.q_proj.weight", as: Float.self)
        #expect(Array(q[32 * 576..<(32 * 576 + 4)]) == expected)
        for row in smol["rows"] as! [[String: Any]] where row["gguf"] as? String == "token_embd.weight" {
            let r = row["row"] as! Int
            let first = (row["first"] as! [Double]).map { HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(Float($0))) }
            let embedding = try file.array("model.embed_tokens.weight", as: Float.self)
            #expect(Array(embedding[r * 576..<(r * 576 + 16)]) == first, "row \(r)")
        }
    }
}
