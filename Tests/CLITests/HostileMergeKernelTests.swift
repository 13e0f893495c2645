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
        if status == 1 {
            #expect(lines.count == 1 && run.stderr.hasPrefix("rankwise: error: "), "one line: \(run.stderr)", sourceLocation: sourceLocation)
        } else {
            #expect(lines.first?.hasPrefix("Error: ") == true, "usage error: \(run.stderr)", sourceLocation: sourceLocation)
        }
        let first = String(lines.first ?? "")
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
