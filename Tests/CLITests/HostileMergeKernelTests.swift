import Foundation
import Testing
import LinearAlgebra
import WeightFiles

/// Issue 12, the merge and kernel commands and the .npy/CSV readers: every
/// hostile input ends with exit 1 or 2, one line naming the file, flag,
/// tensor or key, and nothing left in the scratch folder.
enum Hostile {
    /// Checks a refused run: its status, a one-line message (the first line for
    /// usage errors, which add the usage text) containing every `mention`, and
    /// no output and no hidden temporary left in `dir` beyond `keep`.
    static func expectRefused(_ run: Run, status: Int32, mentions: [String], in dir: URL, keep: Set<String>,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == status, "exit \(run.status), stderr: \(run.stderr)", sourceLocation: sourceLocation)
        let lines = run.stderr.split(separator: "\n")
        let first: String
        if status == 1 {
            // Progress lines (merge) may come first; the error is one line, the last.
            let errors = lines.filter { $0.hasPrefix("rankwise: error: ") }
            #expect(errors.count == 1 && lines.last?.hasPrefix("rankwise: error: ") == true, "one error line: \(run.stderr)", sourceLocation: sourceLocation)
            first = String(lines.last ?? "")
        } else {
            #expect(lines.first?.hasPrefix("Error: ") == true, "usage error: \(run.stderr)", sourceLocation: sourceLocation)
            first = String(lines.first ?? "")
        }
        for m in mentions { #expect(first.contains(m), "'\(m)' not in: \(first)", sourceLocation: sourceLocation) }
        let left = Set((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).subtracting(keep)
        #expect(left.isEmpty, "left behind: \(left.sorted())", sourceLocation: sourceLocation)
    }

    static func files(_ dir: URL) -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []) }

    /// A `.npy` (version 1.0, `<f8`) with a hand-written shape and `payload` data bytes.
    static func npy(shape: String, payload: Int) -> Data {
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let n = header.utf8.count
        return Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8) + [UInt8](repeating: 0, count: payload))
    }
}

@Suite("hostile input: kernel fit/predict, .npy, CSV", .serialized)
struct HostileMergeKernelKernelTests {
    let csv = fixture("regression.csv")

    /// Rewrites a fitted model with some metadata and tensors replaced (nil removes).
    func rewrite(_ source: URL, to url: URL, metadata: [String: String?] = [:], tensors: [String: Matrix<Double>?] = [:]) throws {
        let file = try SafetensorsFile(contentsOf: source)
        var meta = file.metadata
        meta["__metadata__"] = nil
        for (k, v) in metadata { meta[k] = v }
        var all: [String: Matrix<Double>] = [:]
        for name in file.tensorNames { all[name] = try file.matrix(name) }
        for (k, v) in tensors { all[k] = v }
        let writer = try SafetensorsWriter(url: url)
        for (name, m) in all.sorted(by: { $0.key < $1.key }) { try writer.add(name: name, matrix: m, dtype: .f64) }
        try writer.finish(metadata: meta)
    }

    @Test("kernel fit: non-finite or out-of-range flags are usage errors naming the flag; negative values parse")
    func fitFlags() throws {
        let dir = scratch()
        let base = ["kernel", "fit", "--data", csv, "--target", "y", "-o", "m.safetensors"]
        for (flag, value) in [("--gamma", "nan"), ("--gamma", "0"), ("--gamma", "-1"), ("--alpha", "inf"), ("--alpha", "-0.5"),
                              ("--degree", "-1"), ("--degree", "nan"), ("--coef0", "nan"), ("--alphas", "1,nan"), ("--alphas", "1,-2"),
                              ("--nystroem", "0"), ("--nystroem", "9223372036854775807"), ("--nystroem", "-3")] {
            let run = try Run(base + [flag, value], in: dir)
            Hostile.expectRefused(run, status: 2, mentions: [flag], in: dir, keep: [])
        }
        // Negative coef0 is a legitimate value.
        let negative = try Run(base + ["--kernel", "sigmoid", "--coef0", "-0.5", "--gamma", "0.1"], in: dir)
        #expect(negative.status == 0, "\(negative.stderr)")
        let model = try SafetensorsFile(contentsOf: dir.appendingPathComponent("m.safetensors"))
        #expect(model.metadata["coef0"] == "-0.5")
        // --nystroem above the sample count: capped with a warning.
        let capped = try Run(["kernel", "fit", "--data", csv, "--target", "y", "--nystroem", "500", "-o", "n.safetensors"], in: dir)
        #expect(capped.status == 0 && capped.stderr.contains("using 30"))
        #expect(try SafetensorsFile(contentsOf: dir.appendingPathComponent("n.safetensors"))["landmarks"]?.shape == [30, 4])
    }

    @Test("kernel fit: overflowing kernel, FIFO output, no features: exit 1, nothing written")
    func fitData() throws {
        let dir = scratch()
        let overflow = try Run(["kernel", "fit", "--data", csv, "--target", "y", "--kernel", "poly", "--degree", "400", "--gamma", "1000", "-o", "m.safetensors"], in: dir)
        Hostile.expectRefused(overflow, status: 1, mentions: ["kernel matrix", "NaN or infinity"], in: dir, keep: [])
        let loo = try Run(["kernel", "fit", "--data", csv, "--target", "y", "--kernel", "poly", "--degree", "400", "--gamma", "1000", "--alphas", "1,2", "-o", "m.safetensors"], in: dir)
        Hostile.expectRefused(loo, status: 1, mentions: ["kernel matrix", "NaN or infinity"], in: dir, keep: [])
        let nys = try Run(["kernel", "fit", "--data", csv, "--target", "y", "--kernel", "poly", "--degree", "400", "--gamma", "1000", "--nystroem", "5", "-o", "m.safetensors"], in: dir)
        Hostile.expectRefused(nys, status: 1, mentions: ["kernel matrix", "NaN or infinity"], in: dir, keep: [])
        #expect(mkfifo(dir.appendingPathComponent("fifo").path, 0o600) == 0)
        let fifo = try Run(["kernel", "fit", "--data", csv, "--target", "y", "-o", "fifo"], in: dir)
        Hostile.expectRefused(fifo, status: 1, mentions: ["fifo", "FIFO"], in: dir, keep: ["fifo"])
        let under = try Run(["kernel", "fit", "--data", csv, "--target", "y", "-o", "fifo/m.safetensors"], in: dir)
        Hostile.expectRefused(under, status: 1, mentions: ["fifo/m.safetensors", "not a folder"], in: dir, keep: ["fifo"])
        let all = try Run(["kernel", "fit", "--data", csv, "--target", "x0", "--target", "x1", "--target", "x2", "--target", "x3", "--target", "y", "-o", "m.safetensors"], in: dir)
        Hostile.expectRefused(all, status: 1, mentions: ["no feature columns"], in: dir, keep: ["fifo"])
    }

    @Test(".npy of shape (2^62, 4) or (−2, −4), truncated: one error naming the file, to fit and predict")
    func npyShapes() throws {
        let dir = scratch()
        try Hostile.npy(shape: "(4611686018427387904, 4)", payload: 64).write(to: dir.appendingPathComponent("huge.npy"))
        try Hostile.npy(shape: "(-2, -4)", payload: 64).write(to: dir.appendingPathComponent("negative.npy"))
        try Hostile.npy(shape: "(3, 4)", payload: 64).write(to: dir.appendingPathComponent("short.npy"))
        #expect(try Run(["kernel", "fit", "--data", csv, "--target", "y", "-o", "m.safetensors"], in: dir).status == 0)
        let keep: Set<String> = ["huge.npy", "negative.npy", "short.npy", "m.safetensors"]
        for (file, words) in [("huge.npy", "overflows"), ("negative.npy", "negative dimension"), ("short.npy", "needs 96")] {
            let fit = try Run(["kernel", "fit", "--data", file, "--target", "0", "-o", "x.safetensors"], in: dir)
            Hostile.expectRefused(fit, status: 1, mentions: [file, words], in: dir, keep: keep)
            let predict = try Run(["kernel", "predict", "--model", "m.safetensors", "--data", file, "-o", "p.csv"], in: dir)
            Hostile.expectRefused(predict, status: 1, mentions: [file, words], in: dir, keep: keep)
        }
        // A legitimate .npy with a negative target index.
        try NPY.write(Matrix(rows: 6, columns: 3) { i, j in Double(i * 3 + j) / 10 }, to: dir.appendingPathComponent("ok.npy"))
        let ok = try Run(["kernel", "fit", "--data", "ok.npy", "--target", "-1", "-o", "npy.safetensors"], in: dir)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try SafetensorsFile(contentsOf: dir.appendingPathComponent("npy.safetensors")).metadata["features"] == "column0,column1")
    }

    @Test("kernel predict: unknown kernel, NaN parameters or tensors, inconsistent or missing tensors refused by name")
    func predictModels() throws {
        let dir = scratch()
        #expect(try Run(["kernel", "fit", "--data", csv, "--target", "y", "-o", "m.safetensors"], in: dir).status == 0)
        #expect(try Run(["kernel", "fit", "--data", csv, "--target", "y", "--nystroem", "8", "-o", "n.safetensors"], in: dir).status == 0)
        let m = dir.appendingPathComponent("m.safetensors"), n = dir.appendingPathComponent("n.safetensors")
        var nanDual = try SafetensorsFile(contentsOf: m).matrix("dual_coefficients", as: Double.self)
        nanDual[3, 0] = .nan
        let cases: [(String, URL, [String: String?], [String: Matrix<Double>?], [String])] = [
            ("unknown.safetensors", m, ["kernel": "foo"], [:], ["unknown kernel 'foo'"]),
            ("kind.safetensors", m, ["rankwise.kind": "svm"], [:], ["unknown model kind 'svm'"]),
            ("gamma.safetensors", m, ["gamma": "nan"], [:], ["'gamma'", "finite"]),
            ("gamma0.safetensors", m, ["gamma": "-1"], [:], ["'gamma'", "> 0"]),
            ("degree.safetensors", m, ["degree": "abc"], [:], ["'degree'"]),
            ("coef0.safetensors", m, ["coef0": "inf"], [:], ["'coef0'"]),
            ("nandual.safetensors", m, [:], ["dual_coefficients": nanDual], ["'dual_coefficients'", "NaN"]),
            ("rows.safetensors", m, [:], ["dual_coefficients": Matrix(rows: 10, columns: 1, repeating: 0.5)], ["'dual_coefficients'", "10×1", "30 rows"]),
            ("targets.safetensors", m, [:], ["dual_coefficients": Matrix(rows: 30, columns: 2, repeating: 0.5)], ["'dual_coefficients'", "30×2", "1 columns"]),
            ("features.safetensors", m, ["features": "x0,x1,x2"], [:], ["'training_inputs'", "30×4", "3 columns"]),
            ("missing.safetensors", m, [:], ["dual_coefficients": nil], ["missing tensor 'dual_coefficients'"]),
            ("landmarks.safetensors", n, [:], ["landmarks": Matrix(rows: 8, columns: 3, repeating: 0.5)], ["'landmarks'", "8×3", "4 columns"]),
            ("norm.safetensors", n, [:], ["normalization": Matrix(rows: 8, columns: 7, repeating: 0.5)], ["'normalization'", "8×7", "8×8"]),
            ("coef.safetensors", n, [:], ["coefficients": Matrix(rows: 5, columns: 1, repeating: 0.5)], ["'coefficients'", "5×1", "8 rows"]),
            ("ncoef.safetensors", n, ["targets": "y,z"], [:], ["'coefficients'", "8×1", "2 columns"]),
            ("nmissing.safetensors", n, [:], ["normalization": nil], ["missing tensor 'normalization'"]),
        ]
        var keep: Set<String> = ["m.safetensors", "n.safetensors"]
        for (file, source, metadata, tensors, _) in cases {
            try rewrite(source, to: dir.appendingPathComponent(file), metadata: metadata, tensors: tensors)
            keep.insert(file)
        }
        for (file, _, _, _, mentions) in cases {
            let run = try Run(["kernel", "predict", "--model", file, "--data", csv, "-o", "p.csv"], in: dir)
            Hostile.expectRefused(run, status: 1, mentions: [file] + mentions, in: dir, keep: keep)
        }
        // The same model rewritten unchanged predicts as the original.
        try rewrite(m, to: dir.appendingPathComponent("same.safetensors"))
        #expect(try Run(["kernel", "predict", "--model", "m.safetensors", "--data", csv, "-o", "a.csv"], in: dir).status == 0)
        #expect(try Run(["kernel", "predict", "--model", "same.safetensors", "--data", csv, "-o", "b.csv"], in: dir).status == 0)
        #expect(try String(contentsOf: dir.appendingPathComponent("a.csv"), encoding: .utf8) == String(contentsOf: dir.appendingPathComponent("b.csv"), encoding: .utf8))
        #expect(Hostile.files(dir).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test("kernel predict: -o checked before work (FIFO, under a file, an input); written atomically, no fixed temporary")
    func predictOutput() throws {
        let dir = scratch()
        #expect(try Run(["kernel", "fit", "--data", csv, "--target", "y", "-o", "m.safetensors"], in: dir).status == 0)
        #expect(mkfifo(dir.appendingPathComponent("fifo").path, 0o600) == 0)
        let keep: Set<String> = ["m.safetensors", "fifo"]
        Hostile.expectRefused(try Run(["kernel", "predict", "--model", "m.safetensors", "--data", csv, "-o", "fifo"], in: dir),
                              status: 1, mentions: ["fifo", "FIFO"], in: dir, keep: keep)
        Hostile.expectRefused(try Run(["kernel", "predict", "--model", "m.safetensors", "--data", csv, "-o", "m.safetensors/p.csv"], in: dir),
                              status: 1, mentions: ["m.safetensors/p.csv", "not a folder"], in: dir, keep: keep)
        Hostile.expectRefused(try Run(["kernel", "predict", "--model", "m.safetensors", "--data", csv, "-o", "m.safetensors"], in: dir),
                              status: 1, mentions: ["refusing to overwrite an input"], in: dir, keep: keep)
        // Refused before the model is even read: a missing model is not reported.
        Hostile.expectRefused(try Run(["kernel", "predict", "--model", "nope.safetensors", "--data", csv, "-o", "fifo"], in: dir),
                              status: 1, mentions: ["FIFO"], in: dir, keep: keep)
        // A fixed `.p.csv.tmp` left by someone else is neither used nor removed; the result lands.
        try Data("stale".utf8).write(to: dir.appendingPathComponent(".p.csv.tmp"))
        let ok = try Run(["kernel", "predict", "--model", "m.safetensors", "--data", csv, "-o", "p.csv"], in: dir)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(Hostile.files(dir) == keep.union(["p.csv", ".p.csv.tmp"]))
        #expect(try String(contentsOf: dir.appendingPathComponent("p.csv"), encoding: .utf8).split(separator: "\n").count == 31)
    }

    @Test("CSV input that is a FIFO or a folder: refused at once, naming it")
    func csvInputs() throws {
        let dir = scratch()
        #expect(mkfifo(dir.appendingPathComponent("data.csv").path, 0o600) == 0)
        Hostile.expectRefused(try Run(["kernel", "fit", "--data", "data.csv", "--target", "y", "-o", "m.safetensors"], in: dir),
                              status: 1, mentions: ["data.csv", "FIFO"], in: dir, keep: ["data.csv"])
    }
}

@Suite("hostile input: merge flags and YAML configs", .serialized)
struct HostileMergeKernelMergeTests {
    let model = fixture("tiny_model.safetensors")
    let name = "model.layers.0.mlp.up_proj.weight"

    /// A folder with the tiny model as a.safetensors and a 3-bit quantised copy as b.safetensors.
    func setUp() throws -> URL {
        let dir = scratch()
        try FileManager.default.copyItem(atPath: model, toPath: dir.appendingPathComponent("a.safetensors").path)
        #expect(try Run(["quantize", "a.safetensors", "--bits", "3", "-o", "b.safetensors"], in: dir).status == 0)
        return dir
    }

    func write(_ text: String, _ file: String, in dir: URL) throws {
        try text.write(to: dir.appendingPathComponent(file), atomically: false, encoding: .utf8)
    }

    @Test("flags: NaN/Inf refused naming the flag (exit 2); --lambda 1e300 overflows: exit 1 naming the tensor, no file; negatives parse")
    func flags() throws {
        let dir = try setUp()
        let keep: Set<String> = ["a.safetensors", "b.safetensors"]
        let ta = ["merge", "--method", "task-arithmetic", "--base", "a.safetensors", "b.safetensors", "-o", "o.safetensors"]
        let lin = ["merge", "--method", "linear", "a.safetensors", "b.safetensors", "-o", "o.safetensors"]
        for (args, flag) in [(ta + ["--lambda", "nan"], "--lambda"), (ta + ["--lambda", "inf"], "--lambda"), (ta + ["--lambda", "-inf"], "--lambda"),
                             (lin + ["--weights", "1,nan"], "--weights"), (lin + ["--weights", "1,abc"], "--weights"),
                             (lin + ["--fisher-floor", "nan"], "--fisher-floor"), (lin + ["--fisher-floor", "-1"], "--fisher-floor"),
                             (lin + ["--omega", "nan"], "--omega"), (lin + ["--nondiag-alpha", "inf"], "--nondiag-alpha")] {
            Hostile.expectRefused(try Run(args, in: dir), status: 2, mentions: [flag], in: dir, keep: keep)
        }
        let overflow = try Run(ta + ["--lambda", "1e300"], in: dir)
        Hostile.expectRefused(overflow, status: 1, mentions: ["tensor 'model.layers.0.mlp.down_proj.weight'", "NaN or infinity"], in: dir, keep: keep)
        let zero = try Run(lin + ["--weights", "0,0"], in: dir)
        Hostile.expectRefused(zero, status: 1, mentions: ["sum to zero"], in: dir, keep: keep)
        // -o checked before any model is read: the missing model is not what is reported.
        let under = try Run(["merge", "--method", "linear", "a.safetensors", "nope.safetensors", "-o", "a.safetensors/o.safetensors"], in: dir)
        Hostile.expectRefused(under, status: 1, mentions: ["a.safetensors/o.safetensors", "not a folder"], in: dir, keep: keep)
        #expect(mkfifo(dir.appendingPathComponent("fifo").path, 0o600) == 0)
        let fifo = try Run(["merge", "--method", "linear", "a.safetensors", "nope.safetensors", "-o", "fifo"], in: dir)
        Hostile.expectRefused(fifo, status: 1, mentions: ["fifo", "FIFO"], in: dir, keep: keep.union(["fifo"]))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("fifo"))

        // Legitimate negative values: base + (−0.5)(b − a), and weights (−1, 2) normalised to (−1, 2).
        let negative = try Run(ta + ["--lambda", "-0.5", "--dtype", "f32"], in: dir)
        #expect(negative.status == 0, "\(negative.stderr)")
        let a: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("a.safetensors")).matrix(name)
        let b: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("b.safetensors")).matrix(name)
        let o: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("o.safetensors")).matrix(name)
        #expect((o - (a + (-0.5) * (b - a))).maxAbs() < 1e-5)
        let weighted = try Run(lin + ["--weights", "-1,2", "--dtype", "f32", "-o", "w.safetensors"], in: dir)
        #expect(weighted.status == 0, "\(weighted.stderr)")
        let w: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("w.safetensors")).matrix(name)
        #expect((w - ((-1) * a + 2 * b)).maxAbs() < 1e-5)
        #expect(Hostile.files(dir).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test("progress: one line per tensor on stderr, then the summary")
    func progress() throws {
        let dir = try setUp()
        let run = try Run(["merge", "--method", "linear", "a.safetensors", "b.safetensors", "-o", "o.safetensors"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        let count = try Checkpoint(path: dir.appendingPathComponent("a.safetensors")).tensorNames.count
        #expect(lines.count == count + 1)
        #expect(lines.first?.hasPrefix("[  1/\(count)] ") == true && lines.first?.hasSuffix(" s") == true)
        #expect(lines.contains { $0.hasPrefix("[") && $0.contains(name) && $0.contains("24x16") })
        #expect(lines.last?.hasPrefix("wrote ") == true)
        #expect(try Run(["merge", "--method", "linear", "a.safetensors", "b.safetensors", "-q", "-o", "q.safetensors"], in: dir).stderr.isEmpty)
    }

    @Test("YAML: unknown keys, unsupported methods and forms, bad values refused naming the key and place; nothing written")
    func yaml() throws {
        let dir = try setUp()
        let two = "models:\n  - model: a.safetensors\n  - model: b.safetensors\n"
        func entry(_ parameters: String) -> String {
            "merge_method: linear\nmodels:\n  - model: a.safetensors\n    parameters:\n      \(parameters)\n  - model: b.safetensors\n"
        }
        let cases: [(String, [String])] = [
            (entry("wieght: 0.5"), ["models[0].parameters", "unknown key 'wieght'"]),
            (entry("weight: abc"), ["models[0].parameters.weight", "must be a number", "'abc'"]),
            (entry("weight: '0.5'"), ["models[0].parameters.weight", "must be a number"]),
            (entry("weight: .nan"), ["models[0].parameters.weight", "finite"]),
            (entry("weight: [0, abc]"), ["weight", "abc", "a finite number"]),
            (entry("weight: [{filter: mlp}, {value: 0.2}]"), ["models[0].parameters.weight[0]", "has no 'value'"]),
            (entry("weight: [{filter: mlp, value: 0.8, extra: 1}]"), ["models[0].parameters.weight[0]", "unknown key 'extra'"]),
            (entry("weight: {filter: mlp}"), ["models[0].parameters.weight", "mapping"]),
            (entry("densty: 0.5"), ["models[0].parameters", "unknown key 'densty'"]),
            (entry("lambda: 0.5"), ["models[0].parameters", "unknown key 'lambda'", "global parameter"]),
            ("merge_method: linear\n" + two + "parameters:\n  normalize: \"no\"\n", ["parameters.normalize", "true or false"]),
            ("merge_method: linear\n" + two + "parameters:\n  normalize: 0\n", ["parameters.normalize", "true or false"]),
            ("merge_method: task_arithmetic\nbase_model: a.safetensors\n" + two + "parameters:\n  lambda: .inf\n", ["parameters.lambda", "finite"]),
            ("merge_method: task_arithmetic\nbase_model: a.safetensors\n" + two + "parameters:\n  lambda: 1e300\n", ["tensor '", "NaN or infinity"]),
            ("merge_method: linear\n" + two + "parameters:\n  weight: 0\n", ["sum to zero"]),
            ("merge_method: linear\n" + two + "parameters:\n  omega: 2\n", ["parameters.omega", "[0, 1]"]),
            ("merge_method: linear\n" + two + "parameters:\n  fisher: f.safetensors\n", ["parameters", "unknown key 'fisher'", "per-model"]),
            ("merge_method: linear\n" + two + "tokenizer: {source: union}\n", ["the top level", "unknown key 'tokenizer'"]),
            ("merge_method: linear\n" + two + "tokenizer_source: union\n", ["tokenizer_source", "not supported yet"]),
            ("merge_method: linear\n" + two + "dtype: float8\n", ["dtype", "float8"]),
            ("merge_method: linear\nslices:\n  - sources: [{model: a.safetensors, layer_range: [0, 2]}]\n", ["slices[0]", "linear merges at least 2 model(s), got 1"]),
            ("merge_method: fisher\nslices:\n  - sources: [{model: a.safetensors, layer_range: [0, 2]}]\n", ["slices", "use 'models'"]),
            ("merge_method: passthrough\nslices:\n  - sources: [{model: a.safetensors, layer_range: [0, 2]}]\n    residual_weight: 0.5\n",
             ["slices[0]", "unknown key 'residual_weight'", "never uses it"]),
            ("merge_method: slerp\nbase_model: a.safetensors\nparameters: {t: 0.5}\nslices:\n"
             + "  - sources: [{model: a.safetensors, layer_range: [0, 2]}, {model: b.safetensors, layer_range: [0, 1]}]\n",
             ["slices[0].sources[1].layer_range", "spans 1 layers", "spans 2"]),
            ("merge_method: ties\nbase_model: a.safetensors\nslices:\n  - sources: [{model: b.safetensors, layer_range: [0, 2]}]\n",
             ["slices[0]", "base model", "not among the sources"]),
            ("merge_method: ties\nbase_model: a.safetensors\nslices:\n  - sources: [{model: a.safetensors, layer_range: [0, 2]}, {model: b.safetensors, layer_range: [0, 2], parameters: {t: 1}}]\n",
             ["slices[0].sources[1].parameters", "unknown key 't'", "not per model"]),
            ("merge_method: passthrough\nslices:\n  - sources: [{model: a.safetensors, layer_range: [0, 9]}]\n", ["layer_range", "layer 2"]),
            ("merge_method: passthrough\nslices:\n  - sources: [{model: a.safetensors, layer_range: [2, 1]}]\n", ["layer_range", "0 ≤ start ≤ end"]),
            ("merge_method: slerp\n" + two, ["base"]),
            ("merge_method: ties\n" + two, ["base"]),
            ("merge_method: linear\nmodels:\n  - model: a.safetensors\n    extra: 1\n  - model: b.safetensors\n", ["models[0]", "unknown key 'extra'"]),
            ("merge_method: linear\nmodels: a.safetensors\n", ["models", "non-empty list"]),
            ("merge_method: frobnicate\n" + two, ["merge_method", "unknown method 'frobnicate'"]),
            ("merge_method: linear\nmodels: [\n", ["not valid YAML"]),
            ("merge_method: linear\nmerge_method: linear\n", ["not valid YAML", "merge_method"]),
            ("", ["empty"]),
        ] + ["arcee_fusion", "multislerp"].map { ("merge_method: \($0)\n" + two, ["merge_method", "'\($0)' is not supported yet"]) }
        let keep: Set<String> = ["a.safetensors", "b.safetensors", "c.yml"]
        for (text, mentions) in cases {
            try write(text, "c.yml", in: dir)
            let run = try Run(["merge", "--config", "c.yml", "-o", "o.safetensors"], in: dir)
            Hostile.expectRefused(run, status: 1, mentions: mentions, in: dir, keep: keep)
        }
    }

    @Test("YAML: a billion-laughs config and a config over 1 MiB are refused at once; the config is protected")
    func yamlBombs() throws {
        let dir = try setUp()
        var laughs = "merge_method: linear\nmodels:\n  - model: a.safetensors\n  - model: b.safetensors\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1..<10 { laughs += "x\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n" }
        var keyLaughs = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1..<10 { keyLaughs += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n" }
        keyLaughs += "? *a9\n: 1\n"
        let keep: Set<String> = ["a.safetensors", "b.safetensors", "c.yml"]
        for text in [laughs, keyLaughs] {
            try write(text, "c.yml", in: dir)
            let start = Date()
            let run = try Run(["merge", "--config", "c.yml", "-o", "o.safetensors"], in: dir)
            #expect(Date().timeIntervalSince(start) < 10)
            Hostile.expectRefused(run, status: 1, mentions: ["c.yml", "10000 YAML nodes"], in: dir, keep: keep)
        }
        try write("merge_method: linear\n" + String(repeating: "#", count: 1 << 20) + "\n", "c.yml", in: dir)
        Hostile.expectRefused(try Run(["merge", "--config", "c.yml", "-o", "o.safetensors"], in: dir), status: 1, mentions: ["c.yml", "limit"], in: dir, keep: keep)
        try write(String(repeating: "[", count: 100_000), "c.yml", in: dir)
        Hostile.expectRefused(try Run(["merge", "--config", "c.yml", "-o", "o.safetensors"], in: dir), status: 1, mentions: ["c.yml", "not valid YAML"], in: dir, keep: keep)
        try write("merge_method: linear\n" + "models:\n  - model: a.safetensors\n  - model: b.safetensors\n", "c.yml", in: dir)
        Hostile.expectRefused(try Run(["merge", "--config", "c.yml", "-o", "c.yml"], in: dir), status: 1, mentions: ["c.yml"], in: dir, keep: keep)
        #expect(try String(contentsOf: dir.appendingPathComponent("c.yml"), encoding: .utf8).hasPrefix("merge_method"))
    }

    @Test("YAML: legitimate configs still merge (aliases, unquoted no, out_dtype, tokenizer_source: base, global weight)")
    func yamlLegitimate() throws {
        let dir = try setUp()
        let text = """
            merge_method: linear
            models:
              - model: &first a.safetensors
                parameters: {weight: 1}
              - model: b.safetensors
                parameters: {weight: 3}
            parameters:
              normalize: yes
            tokenizer_source: base
            dtype: float32
            out_dtype: float32
            base_model: *first

            """
        try write(text, "c.yml", in: dir)
        let run = try Run(["merge", "--config", "c.yml", "-o", "o.safetensors"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let a: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("a.safetensors")).matrix(name)
        let b: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("b.safetensors")).matrix(name)
        let o: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("o.safetensors")).matrix(name)
        #expect((o - (0.25 * a + 0.75 * b)).maxAbs() < 1e-5)
        // normalize: no (an unquoted YAML 1.1 boolean) with a global weight of 0.5: 0.5a + 0.5b without normalising.
        try write("merge_method: linear\nmodels:\n  - model: a.safetensors\n  - model: b.safetensors\nparameters:\n  normalize: no\n  weight: 0.5\ndtype: float32\n", "d.yml", in: dir)
        let plain = try Run(["merge", "--config", "d.yml", "-o", "p.safetensors"], in: dir)
        #expect(plain.status == 0, "\(plain.stderr)")
        let p: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("p.safetensors")).matrix(name)
        #expect((p - 0.5 * (a + b)).maxAbs() < 1e-5)
        #expect(Hostile.files(dir).filter { $0.hasPrefix(".") }.isEmpty)
    }
}
