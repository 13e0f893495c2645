import Foundation
import Testing
import LinearAlgebra
import TestSupport
import LowRank
import WeightFiles

/// Runs the built `rankwise` (next to this test bundle) and captures its output.
struct Run {
    var status: Int32, stdout: String, stderr: String

    static let binary: URL = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("rankwise")
    }()

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    init(_ arguments: [String], in folder: URL) throws {
        let process = Process()
        process.executableURL = Run.binary
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile(), errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        status = process.terminationStatus
        stdout = String(decoding: outData, as: UTF8.self)
        stderr = String(decoding: errData, as: UTF8.self)
    }
}

func fixture(_ name: String) -> String { Run.fixtures.appendingPathComponent(name).path }

/// A fresh temporary folder for one run.
func scratch() -> URL { temporaryFolder(prefix: "rankwise-cli") }

@Suite("rankwise end to end", .serialized)
struct CLITests {
    @Test("inspect: table, totals, --json; sharded folders")
    func inspect() throws {
        let dir = scratch()
        let table = try Run(["inspect", fixture("tiny_model.safetensors")], in: dir)
        #expect(table.status == 0)
        #expect(table.stdout.contains("model.layers.0.mlp.up_proj.weight") && table.stdout.contains("BF16  16 tensors"))
        let json = try Run(["inspect", fixture("tiny_sharded"), "--json"], in: dir)
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(object["parameters"] as? Int == 5688 && (object["files"] as! [String]).count == 2)
    }

    @Test("convert to bf16 reads back; numpy-written values are exact")
    func convert() throws {
        let dir = scratch()
        let run = try Run(["convert", fixture("tiny_model.safetensors"), "--dtype", "f32", "-o", "f32.safetensors"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let original = try Checkpoint(path: fixture("tiny_model.safetensors")), converted = try SafetensorsFile(contentsOf: dir.appendingPathComponent("f32.safetensors"))
        #expect(converted["model.layers.0.mlp.up_proj.weight"]?.dtype == .f32 && converted["model.position_ids"]?.dtype == .i64)
        // BF16 → F32 is exact.
        #expect(try converted.matrix("model.layers.1.mlp.down_proj.weight", as: Float.self) == original.matrix("model.layers.1.mlp.down_proj.weight", as: Float.self))
        #expect(Array(try converted.rawBytes("model.position_ids").bindMemory(to: Int64.self)) == Array(0..<8))
    }

    @Test("convert --max-shard-size writes shards and an index that read back as the same model")
    func sharded() throws {
        let dir = scratch()
        let run = try Run(["convert", fixture("tiny_model.safetensors"), "--dtype", "f32", "--max-shard-size", "8kB", "-o", "model.safetensors"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files.contains("model.safetensors.index.json") && files.contains("model-00001-of-00004.safetensors") && !files.contains("model.safetensors"))
        let sharded = try Checkpoint(path: dir), original = try Checkpoint(path: fixture("tiny_model.safetensors"))
        #expect(sharded.tensorNames == original.tensorNames && sharded.files.count == 4)
        for name in original.tensorNames where original[name]!.dtype.isFloatingPoint {
            #expect(try sharded.array(name, as: Float.self) == original.array(name, as: Float.self))
            let shard = sharded.file(holding: name)!
            let data = shard.tensorNames.map { shard[$0]!.byteCount }.reduce(0, +)
            #expect(data <= 8000 || shard.tensorNames.count == 1, "tensor data per shard stays under the limit")
        }
        #expect(try Run(["convert", fixture("tiny_model.safetensors"), "--dtype", "f32", "--max-shard-size", "lots", "-o", "x.safetensors"], in: dir).status == 2)
    }

    @Test("compensate: PEFT layout, config, report; Ŵ + BA reduces the activation error as reported")
    func compensate() throws {
        let dir = scratch()
        #expect(try Run(["quantize", fixture("tiny_model.safetensors"), "--bits", "3", "--group-size", "8", "-o", "q.safetensors"], in: dir).status == 0)
        let run = try Run(["compensate", "--original", fixture("tiny_model.safetensors"), "--compressed", "q.safetensors",
                           "--calib", fixture("tiny_calib.safetensors"), "--rank", "4", "-o", "adapter"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("[  1/14]") && run.stderr.contains("wrote"))
        let adapter = try PEFTAdapter(directory: dir.appendingPathComponent("adapter"))
        #expect(adapter.config["peft_type"] as? String == "LORA" && adapter.config["r"] as? Int == 4 && adapter.config["lora_alpha"] as? Int == 4)
        #expect(adapter.config["bias"] as? String == "none" && adapter.config["fan_in_fan_out"] as? Bool == false && adapter.config["use_rslora"] as? Bool == false)
        #expect((adapter.config["target_modules"] as! [String]).count == 14 && adapter.modules.count == 14)
        #expect(adapter.file.tensorNames.contains("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"))
        let layer = "model.layers.0.mlp.down_proj"
        let (a, b) = try adapter.factors(layer, as: Float.self)
        #expect(a.rows == 4 && a.columns == 24 && b.rows == 16 && b.columns == 4)
        // Recompute the activation error from the files.
        let w: Matrix<Float> = try Checkpoint(path: fixture("tiny_model.safetensors")).matrix(layer + ".weight")
        let q: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("q.safetensors")).matrix(layer + ".weight")
        let c = try CalibrationFile(path: Run.fixtures.appendingPathComponent("tiny_calib.safetensors")).covariance(layer: layer)!.gram
        let delta = w - q
        let error = LowRankMetrics.relativeActivationError(delta: delta, factors: LowRankFactors(a: a, b: b), covariance: c)
        #expect(error < 0.5, "EoRA at r = 4 of 16 removes most of the activation error")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("adapter/report.json"))) as! [String: Any]
        let row = (report["layers"] as! [[String: Any]]).first { $0["layer"] as? String == layer }!
        #expect(abs((row["relative_error"] as! Double) - error) < 1e-3)
        #expect((row["error_after"] as! Double) < (row["error_before"] as! Double))
        // --dtype bf16: the same factors, rounded.
        #expect(try Run(["compensate", "--original", fixture("tiny_model.safetensors"), "--compressed", "q.safetensors",
                         "--calib", fixture("tiny_calib.safetensors"), "--rank", "4", "--dtype", "bf16", "-o", "half"], in: dir).status == 0)
        let half = try PEFTAdapter(directory: dir.appendingPathComponent("half"))
        #expect(half.file[half.file.tensorNames[0]]?.dtype == .bf16)
        let (ah, bh) = try half.factors(layer, as: Float.self)
        #expect((ah - a).maxAbs() <= 0x1p-8 * a.maxAbs() && (bh - b).maxAbs() <= 0x1p-8 * b.maxAbs())
    }

    @Test("lora-ga: base + s·BA equals the original model to BF16 rounding")
    func loraGA() throws {
        let dir = scratch()
        let run = try Run(["lora-ga", "--model", fixture("tiny_model.safetensors"), "--gradients", fixture("tiny_grads.safetensors"),
                           "--rank", "2", "-o", "ga"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let adapter = try PEFTAdapter(directory: dir.appendingPathComponent("ga"))
        let residual = try Checkpoint(path: dir.appendingPathComponent("ga/model.safetensors"))
        let layer = "model.layers.1.self_attn.q_proj"
        let (a, b) = try adapter.factors(layer, as: Float.self)
        let s = Float(16.0 / 2)
        let restored = try residual.matrix(layer + ".weight", as: Float.self) + s * (b * a)
        let w: Matrix<Float> = try Checkpoint(path: fixture("tiny_model.safetensors")).matrix(layer + ".weight")
        #expect((restored - w).maxAbs() <= 0x1p-7 * w.maxAbs())
        #expect(residual["model.position_ids"]?.dtype == .i64 && residual[layer + ".weight"]?.dtype == .bf16)
    }

    @Test("bad input: one line, non-zero exit, no output left behind")
    func errors() throws {
        let dir = scratch()
        let missing = try Run(["inspect", "nope.safetensors"], in: dir)
        #expect(missing.status == 1 && missing.stderr.hasPrefix("rankwise: error:") && missing.stderr.contains("nope.safetensors"))
        #expect(missing.stderr.split(separator: "\n").count == 1)
        let usage = try Run(["compensate", "--original", "x", "--compressed", "y", "--rank", "0", "-o", "out"], in: dir)
        #expect(usage.status == 2)
        let overwrite = try Run(["convert", fixture("tiny_model.safetensors"), "--dtype", "bf16", "-o", fixture("tiny_model.safetensors")], in: dir)
        #expect(overwrite.status == 1 && overwrite.stderr.contains("refusing to overwrite"))
        // Calibration without the MLP layers' statistics: refused up front, nothing written.
        #expect(try Run(["quantize", fixture("tiny_model.safetensors"), "--bits", "4", "-o", "q.safetensors"], in: dir).status == 0)
        let partial = try Run(["compensate", "--original", fixture("tiny_model.safetensors"), "--compressed", "q.safetensors",
                               "--calib", fixture("tiny_grads.safetensors"), "--rank", "2", "-o", "adapter"], in: dir)
        #expect(partial.status == 1 && partial.stderr.contains("--allow-missing-calib"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("adapter").path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "no temporary files: \(leftovers)")
        let rank = try Run(["lora-ga", "--model", fixture("tiny_model.safetensors"), "--gradients", fixture("tiny_grads.safetensors"),
                            "--rank", "9", "-o", "ga"], in: dir)
        #expect(rank.status == 1 && rank.stderr.contains("2r = 18"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("ga").path))
    }

    @Test("kernel fit with LOO-CV, predict to CSV; Nyström; errors")
    func kernel() throws {
        let dir = scratch()
        let fit = try Run(["kernel", "fit", "--data", fixture("regression.csv"), "--target", "y", "--alphas", "0.001,0.1,10", "--json", "-o", "m.safetensors"], in: dir)
        #expect(fit.status == 0, "\(fit.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(fit.stdout.utf8)) as! [String: Any]
        #expect([0.001, 0.1, 10].contains(summary["alpha"] as! Double) && summary["loo_mse"] != nil)
        let predict = try Run(["kernel", "predict", "--model", "m.safetensors", "--data", fixture("regression.csv"), "-o", "p.csv"], in: dir)
        #expect(predict.status == 0, "\(predict.stderr)")
        let lines = try String(contentsOf: dir.appendingPathComponent("p.csv"), encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "prediction" && lines.count == 31)
        let nys = try Run(["kernel", "fit", "--data", fixture("regression.csv"), "--target", "y", "--nystroem", "1000", "-o", "n.safetensors"], in: dir)
        #expect(nys.status == 0 && nys.stderr.contains("warning") && nys.stderr.contains("n_components"))
        let bad = try Run(["kernel", "fit", "--data", fixture("regression.csv"), "--target", "nope", "-o", "x.safetensors"], in: dir)
        #expect(bad.status == 1 && bad.stderr.contains("unknown target column 'nope'"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.safetensors").path))
        #expect(try Run(["kernel", "fit", "--data", fixture("regression.csv"), "--target", "y", "--alpha", "-1", "-o", "x.safetensors"], in: dir).status == 2)
    }

    /// A Fisher file with the model's floating tensors: constant `value` (or a negative entry).
    func writeFisher(_ url: URL, value: Float, negative: Bool = false) throws {
        let model = try Checkpoint(path: fixture("tiny_model.safetensors"))
        let writer = try SafetensorsWriter(url: url)
        for name in model.tensorNames where model[name]!.dtype.isFloatingPoint {
            let info = model[name]!
            var values = [Float](repeating: value, count: info.elementCount)
            if negative { values[0] = -1 }
            try writer.add(name: name, shape: info.shape, array: values, dtype: .f32)
        }
        try writer.finish()
    }

    @Test("merge: linear mean, Fisher with equal Fishers, YAML equals flags, errors")
    func merge() throws {
        let dir = scratch()
        let model = fixture("tiny_model.safetensors")
        #expect(try Run(["quantize", model, "--bits", "3", "-o", "q.safetensors"], in: dir).status == 0)
        let linear = try Run(["merge", "--method", "linear", model, "q.safetensors", "--dtype", "f32", "-o", "lin.safetensors"], in: dir)
        #expect(linear.status == 0, "\(linear.stderr)")
        let name = "model.layers.0.mlp.up_proj.weight"
        let a: Matrix<Float> = try Checkpoint(path: model).matrix(name)
        let b: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("q.safetensors")).matrix(name)
        let merged: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("lin.safetensors")).matrix(name)
        #expect((merged - 0.5 * (a + b)).maxAbs() < 1e-6)
        try writeFisher(dir.appendingPathComponent("f1.safetensors"), value: 2)
        try writeFisher(dir.appendingPathComponent("f2.safetensors"), value: 5)
        let fisher = try Run(["merge", "--method", "fisher", model, "q.safetensors", "--fisher", "f1.safetensors", "f2.safetensors",
                              "--dtype", "f32", "-o", "fisher.safetensors"], in: dir)
        #expect(fisher.status == 0, "\(fisher.stderr)")
        // Constant Fishers, normalised by their norms: equal effective weights, the plain mean.
        let fm: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("fisher.safetensors")).matrix(name)
        #expect((fm - merged).maxAbs() < 1e-5)
        try "merge_method: linear\nmodels:\n  - model: \(model)\n    parameters: {weight: 1}\n  - model: q.safetensors\n    parameters: {weight: 1}\ndtype: float32\n"
            .write(to: dir.appendingPathComponent("m.yml"), atomically: true, encoding: .utf8)
        #expect(try Run(["merge", "--config", "m.yml", "-o", "yaml.safetensors"], in: dir).status == 0)
        #expect(try Data(contentsOf: dir.appendingPathComponent("yaml.safetensors")).count == Data(contentsOf: dir.appendingPathComponent("lin.safetensors")).count)
        let ym: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("yaml.safetensors")).matrix(name)
        #expect(ym == merged)
        try writeFisher(dir.appendingPathComponent("bad.safetensors"), value: 1, negative: true)
        let negative = try Run(["merge", "--method", "fisher", model, "q.safetensors", "--fisher", "f1.safetensors", "bad.safetensors", "-o", "x.safetensors"], in: dir)
        #expect(negative.status == 1 && negative.stderr.contains("negative"))
        let mismatch = try Run(["merge", "--method", "linear", model, fixture("tiny_grads.safetensors"), "-o", "x.safetensors"], in: dir)
        #expect(mismatch.status == 1 && mismatch.stderr.contains("differs from model 1"))
        let count = try Run(["merge", "--method", "linear", model, "q.safetensors", "--weights", "1,2,3", "-o", "x.safetensors"], in: dir)
        #expect(count.status == 1 && count.stderr.contains("expected 2 weights"))
        #expect(try Run(["merge", "--method", "linear", model, "-o", "x.safetensors"], in: dir).status == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.safetensors").path))
    }

    @Test("demo runs and writes the model, its statistics, a packed GPTQ checkpoint and adapters that the other commands read")
    func demo() throws {
        let dir = scratch()
        let run = try Run(["demo", "--blocks", "1", "--ranks", "4,8", "-o", "demo"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("EoRA") && run.stdout.contains("RTN ") && run.stdout.contains("GPTQ ") && run.stdout.contains("quantized only"))
        for file in ["rtn-eora-r8/adapter_model.safetensors", "gptq-eora-r4/adapter_config.json", "model/model.safetensors", "model/config.json",
                     "calibration.safetensors", "gptq-4bit/model.safetensors", "gptq-4bit/quantize_config.json", "gptq-4bit/config.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("demo/\(file)").path), "\(file)")
        }
        // The suggested next step works on what the demo wrote: EoRA on the packed checkpoint.
        let eora = try Run(["compensate", "--original", "demo/model", "--compressed", "demo/gptq-4bit", "--calib", "demo/calibration.safetensors",
                            "--rank", "8", "-o", "demo/my-eora"], in: dir)
        #expect(eora.status == 0, "\(eora.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("demo/my-eora/adapter_config.json"))) as! [String: Any]
        #expect((config["base_model_name_or_path"] as? String)?.hasSuffix("demo/gptq-4bit") == true && config["lora_alpha"] as? Int == 8)
        let inspect = try Run(["inspect", "demo/gptq-4bit"], in: dir)
        #expect(inspect.status == 0 && inspect.stdout.contains("gptq_v2 4-bit"), "\(inspect.stdout)")
    }
}
