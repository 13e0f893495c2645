import Foundation
import Testing
import LinearAlgebra
import WeightFiles

#if canImport(Glibc)
import Glibc
#endif

/// A run of the built `rankwise` that is killed after `timeout` seconds (a
/// hang is a failure, not a stuck test), optionally signalled once `ready`
/// holds.
struct TimedRun {
    var status: Int32, stdout: String, stderr: String, timedOut: Bool, signalled: Bool

    init(_ arguments: [String], in folder: URL, timeout: Double = 60,
         signal: Int32? = nil, when ready: (() -> Bool)? = nil, then action: (() -> Void)? = nil) throws {
        let process = Process()
        process.executableURL = Run.binary
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let outFile = folder.appendingPathComponent("..stdout-\(UUID().uuidString)")
        let errFile = folder.appendingPathComponent("..stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outFile); try? FileManager.default.removeItem(at: errFile) }
        process.standardOutput = try FileHandle(forWritingTo: outFile)
        process.standardError = try FileHandle(forWritingTo: errFile)
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var sent = false
        while process.isRunning && Date() < deadline {
            if !sent, let ready, ready() {
                if let signal { kill(process.processIdentifier, signal) }
                action?()
                sent = true
            }
            usleep(2_000)
        }
        timedOut = process.isRunning
        if timedOut { process.terminate() }
        process.waitUntilExit()
        status = process.terminationStatus
        signalled = sent
        stdout = (try? String(contentsOf: outFile, encoding: .utf8)) ?? ""
        stderr = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
    }
}

/// Hidden files a run may have left in `folder` (temporaries, spools).
func leftovers(in folder: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasPrefix(".") && !$0.hasPrefix("..std") }
}

let isRoot = getuid() == 0

/// A model of `layers` Llama-shaped blocks (16-wide) with extra tensors, F32.
func writeModel(_ url: URL, layers: Int = 2, extra: [(String, [Int], Float)] = [], scale: Float = 1) throws {
    let writer = try SafetensorsWriter(url: url)
    var generator = SeededGenerator(seed: 7)
    for l in 0..<layers {
        for (name, shape) in [("self_attn.q_proj", [16, 16]), ("mlp.down_proj", [16, 24])] {
            let m = Matrix<Float>.random(rows: shape[0], columns: shape[1], using: &generator)
            try writer.add(name: "model.layers.\(l).\(name).weight", matrix: scale * m)
        }
    }
    for (name, shape, value) in extra {
        try writer.add(name: name, shape: shape, array: [Float](repeating: value, count: shape.reduce(1, *)))
    }
    try writer.finish()
}

@Suite("rankwise against careless and hostile input", .serialized)
struct HostileInputTests {
    // MARK: Help

    /// Subcommand names listed under SUBCOMMANDS in a help text.
    static func subcommands(_ help: String) -> [String] {
        guard let start = help.range(of: "SUBCOMMANDS:") else { return [] }
        return help[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropFirst()
            .prefix { !$0.isEmpty && $0.hasPrefix("  ") }
            .filter { !$0.hasPrefix("   ") }   // wrapped descriptions
            .compactMap { line in line.split(separator: " ").first.map(String.init) }
            .filter { !$0.hasPrefix("-") }
    }

    @Test("every command and subcommand prints help on stdout and exits 0, in every spelling")
    func helpEverywhere() throws {
        let dir = scratch()
        let bare = try Run([], in: dir)
        #expect(bare.status == 0 && bare.stdout.contains("USAGE:") && bare.stderr.isEmpty, "\(bare.stderr)")
        var queue: [[String]] = Self.subcommands(bare.stdout).filter { $0 != "help" }.map { [$0] }
        #expect(queue.count >= 10, "the top-level help lists the commands: \(queue)")
        var walked = 0
        while let path = queue.popLast() {
            for arguments in [path + ["--help"], path + ["-h"], ["help"] + path] {
                let run = try Run(arguments, in: dir)
                #expect(run.status == 0, "\(arguments): exit \(run.status), \(run.stderr)")
                #expect(run.stdout.contains("USAGE: rankwise \(path.joined(separator: " "))"), "\(arguments): \(run.stdout.prefix(200))")
                #expect(run.stderr.isEmpty, "\(arguments): \(run.stderr)")
            }
            let help = try Run(path + ["--help"], in: dir).stdout
            let children = Self.subcommands(help).filter { $0 != "help" }
            if !children.isEmpty {
                let group = try Run(path, in: dir)   // bare `rankwise kernel`
                #expect(group.status == 0 && group.stdout.contains("USAGE:"), "\(path): \(group.stderr)")
            }
            queue += children.map { path + [$0] }
            walked += 1
        }
        #expect(walked >= 12, "walked \(walked) commands")
        #expect(try Run(["--version"], in: dir).status == 0)
        let env = try Run(["env", "--json"], in: dir)
        let facts = try JSONSerialization.jsonObject(with: Data(env.stdout.utf8)) as? [String: Any]
        #expect(env.status == 0 && facts?["native_kernel"] is String && facts?["cpu_model"] is String, "\(env.stdout)")
    }

    // MARK: Outputs and inputs

    @Test("-o never replaces a device, FIFO or socket, nor writes under a file; folders must be folders")
    func outputs() throws {
        let dir = scratch()
        let model = fixture("tiny_model.safetensors")
        mkfifo(dir.appendingPathComponent("fifo").path, 0o644)
        let fifo = try TimedRun(["convert", model, "--dtype", "bf16", "-o", "fifo"], in: dir, timeout: 20)
        #expect(!fifo.timedOut && fifo.status == 1 && fifo.stderr.contains("FIFO"), "\(fifo.stderr)")
        var st = stat()
        #expect(stat(dir.appendingPathComponent("fifo").path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
        if isRoot {
            #expect(mknod(dir.appendingPathComponent("dn").path, S_IFCHR | 0o644, dev_t((1 << 8) | 3)) == 0)
            for arguments in [["convert", model, "--dtype", "bf16", "-o", "dn"],
                              ["kernel", "fit", "--data", fixture("regression.csv"), "--target", "y", "-o", "dn"]] {
                let run = try Run(arguments, in: dir)
                #expect(run.status == 1 && run.stderr.contains("character device"), "\(arguments): \(run.stderr)")
            }
            #expect(stat(dir.appendingPathComponent("dn").path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "the device is still a device")
        } else {
            print("skipped the mknod case: creating a device node needs root")
        }
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("plain").path, contents: Data("x".utf8))
        let under = try Run(["convert", model, "--dtype", "bf16", "-o", "plain/out.safetensors"], in: dir)
        #expect(under.status == 1 && under.stderr.contains("not a folder"), "\(under.stderr)")
        let adapter = try Run(["compensate", "--original", model, "--compressed", model, "--rank", "2", "-o", "plain"], in: dir)
        #expect(adapter.status == 1 && adapter.stderr.contains("is a file") && !adapter.stderr.contains("Domain="), "\(adapter.stderr)")
        #expect(adapter.stderr.split(separator: "\n").count == 1)
        let demo = try Run(["demo", "-o", "plain"], in: dir)
        #expect(demo.status == 1 && demo.stderr.contains("is a file"), "demo checks its folder before computing: \(demo.stderr)")
        if !isRoot {
            let locked = dir.appendingPathComponent("locked")
            try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: false)
            chmod(locked.path, 0o555)
            let run = try Run(["convert", model, "--dtype", "bf16", "-o", "locked/x.safetensors"], in: dir)
            #expect(run.status == 1 && run.stderr.contains("Permission denied"), "\(run.stderr)")
        }
        #expect(leftovers(in: dir).isEmpty, "\(leftovers(in: dir))")
    }

    @Test("inputs that are not regular files are refused at once, not read (FIFO as model, as shard)")
    func nonRegularInputs() throws {
        let dir = scratch()
        mkfifo(dir.appendingPathComponent("f.safetensors").path, 0o644)
        let run = try TimedRun(["inspect", "f.safetensors"], in: dir, timeout: 20)
        #expect(!run.timedOut && run.status == 1 && run.stderr.contains("FIFO"), "\(run.stderr)")
        let sharded = dir.appendingPathComponent("s")
        try FileManager.default.createDirectory(at: sharded, withIntermediateDirectories: true)
        mkfifo(sharded.appendingPathComponent("a.safetensors").path, 0o644)
        try #"{"weight_map": {"x": "a.safetensors"}}"#.write(to: sharded.appendingPathComponent("m.safetensors.index.json"), atomically: true, encoding: .utf8)
        let shard = try TimedRun(["convert", "s", "--dtype", "bf16", "-o", "out.safetensors"], in: dir, timeout: 20)
        #expect(!shard.timedOut && shard.status == 1 && shard.stderr.contains("FIFO"), "\(shard.stderr)")
        mkfifo(dir.appendingPathComponent("calib").path, 0o644)
        let calib = try TimedRun(["compensate", "--original", fixture("tiny_model.safetensors"), "--compressed", fixture("tiny_model.safetensors"),
                                  "--calib", "calib", "--rank", "2", "-o", "ad"], in: dir, timeout: 20)
        #expect(!calib.timedOut && calib.status == 1, "\(calib.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.safetensors").path))
    }

    // MARK: Shards

    @Test("a shard index cannot read outside its folder, and errors never quote a foreign file's bytes")
    func shardEscape() throws {
        let dir = scratch()
        let secret = dir.appendingPathComponent("secret")
        try FileManager.default.createDirectory(at: secret, withIntermediateDirectories: true)
        try writeModel(secret.appendingPathComponent("x.safetensors"))
        try "root:x:0:0:root:/root:/bin/bash\n".write(to: secret.appendingPathComponent("passwd"), atomically: true, encoding: .utf8)
        let evil = dir.appendingPathComponent("evil")
        try FileManager.default.createDirectory(at: evil, withIntermediateDirectories: true)
        for target in ["../secret/x.safetensors", "../secret/passwd", "/etc/passwd", "a/../../secret/x.safetensors"] {
            try #"{"weight_map": {"model.layers.0.self_attn.q_proj.weight": "\#(target)"}}"#
                .write(to: evil.appendingPathComponent("m.safetensors.index.json"), atomically: true, encoding: .utf8)
            let run = try Run(["convert", "evil", "--dtype", "f32", "-o", "out.safetensors"], in: dir)
            #expect(run.status == 1 && run.stderr.contains("not a file of the index's folder"), "\(target): \(run.stderr)")
        }
        // The first 8 bytes of a file that is not safetensors, read as a length, are not printed.
        let leak = try Run(["inspect", "secret/passwd"], in: dir)
        let asLength = Data("root:x:0".utf8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }
        #expect(leak.status == 1 && !leak.stderr.contains("\(asLength)") && leak.stderr.contains("not a safetensors file"), "\(leak.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.safetensors").path))
    }

    @Test("one layout replaces another of the same name; empty maps and unlisted tensors are errors")
    func staleLayouts() throws {
        let dir = scratch()
        try writeModel(dir.appendingPathComponent("a.safetensors"), scale: 1)
        try writeModel(dir.appendingPathComponent("b.safetensors"), scale: 2)
        let name = "model.layers.1.mlp.down_proj.weight"
        let a: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("a.safetensors")).matrix(name)
        let b: Matrix<Float> = try Checkpoint(path: dir.appendingPathComponent("b.safetensors")).matrix(name)
        #expect(try Run(["convert", "a.safetensors", "--dtype", "f32", "--max-shard-size", "2kB", "-o", "s/m.safetensors"], in: dir).status == 0)
        #expect(try Checkpoint(path: dir.appendingPathComponent("s")).files.count > 1)
        // Single over sharded: the folder and the named path both read model b.
        #expect(try Run(["convert", "b.safetensors", "--dtype", "f32", "-o", "s/m.safetensors"], in: dir).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("s").path) == ["m.safetensors"])
        #expect(try Checkpoint(path: dir.appendingPathComponent("s")).matrix(name, as: Float.self) == b)
        // Sharded over single: the index stands for the named path, the old file is gone.
        #expect(try Run(["convert", "a.safetensors", "--dtype", "f32", "--max-shard-size", "2kB", "-o", "s/m.safetensors"], in: dir).status == 0)
        #expect(try Checkpoint(path: dir.appendingPathComponent("s")).matrix(name, as: Float.self) == a)
        #expect(try Checkpoint(path: dir.appendingPathComponent("s/m.safetensors")).matrix(name, as: Float.self) == a)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("s/m.safetensors").path))
        // A fewer-shard rewrite leaves no shard of the older count behind.
        #expect(try Run(["convert", "b.safetensors", "--dtype", "f32", "--max-shard-size", "4kB", "-o", "s/m.safetensors"], in: dir).status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("s").path).sorted()
        let count = files.filter { $0.hasSuffix(".safetensors") }.count
        #expect(files.allSatisfy { $0.hasSuffix("-of-0000\(count).safetensors") || $0 == "m.safetensors.index.json" }, "\(files)")
        // Reading shards as input and writing the same name would delete the input: refused.
        let clobber = try Run(["convert", "s", "--dtype", "f32", "-o", "s/m.safetensors"], in: dir)
        #expect(clobber.status == 1 && clobber.stderr.contains("refusing to overwrite an input"), "\(clobber.stderr)")
        // Empty map, and a shard tensor the map does not list.
        let index = dir.appendingPathComponent("s/m.safetensors.index.json")
        let original = try Data(contentsOf: index)
        try #"{"weight_map": {}}"#.write(to: index, atomically: true, encoding: .utf8)
        let empty = try Run(["convert", "s", "--dtype", "f32", "-o", "x.safetensors"], in: dir)
        #expect(empty.status == 1 && empty.stderr.contains("weight_map is empty"), "\(empty.stderr)")
        var map = try JSONSerialization.jsonObject(with: original) as! [String: Any]
        var weights = map["weight_map"] as! [String: String]
        weights.removeValue(forKey: name)
        map["weight_map"] = weights
        try JSONSerialization.data(withJSONObject: map).write(to: index)
        let unlisted = try Run(["convert", "s", "--dtype", "f32", "-o", "x.safetensors"], in: dir)
        #expect(unlisted.status == 1 && unlisted.stderr.contains(name) && unlisted.stderr.contains("does not list"), "\(unlisted.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.safetensors").path))
    }

    // MARK: No crash, no hang

    @Test("huge or negative numbers: a usage error naming the flag, never a crash")
    func numericFlags() throws {
        let dir = scratch()
        let model = fixture("tiny_model.safetensors"), grads = fixture("tiny_grads.safetensors")
        let huge = "9223372036854775807"
        let cases: [[String]] = [
            ["compensate", "--original", model, "--compressed", model, "--rank", huge, "-o", "a"],
            ["extract", "--base", model, "--tuned", model, "--rank", huge, "-o", "a"],
            ["lora-ga", "--model", model, "--gradients", grads, "--rank", huge, "-o", "a"],
            ["inspect", model, "--threads", huge],
            ["convert", model, "--dtype", "bf16", "--max-shard-size", "infGB", "-o", "x.safetensors"],
            ["convert", model, "--dtype", "bf16", "--max-shard-size", "1e30GB", "-o", "x.safetensors"],
            ["convert", model, "--dtype", "bf16", "--max-shard-size", "nanMB", "-o", "x.safetensors"],
            ["compensate", "--original", model, "--compressed", model, "--rank", "2", "--svd", "randomized", "--power-iterations", "1000000000", "-o", "a"],
            ["compensate", "--original", model, "--compressed", model, "--rank", "-1", "-o", "a"],
            ["quantize", model, "--bits", "4", "--group-size", "-2", "-o", "x.safetensors"],   // -1 is "one group per row"
            ["prune", model, "--pattern", "2:99999999999999999999", "-o", "x.safetensors"],
            ["lora-ga", "--model", model, "--gradients", grads, "--alpha", "inf", "-o", "a"],
        ]
        for arguments in cases {
            let run = try TimedRun(arguments, in: dir, timeout: 30)
            #expect(!run.timedOut && run.status == 2, "\(arguments): exit \(run.status) \(run.stderr)")
            #expect(run.stderr.hasPrefix("Error: ") && !run.stderr.contains("Missing value"), "\(arguments): \(run.stderr)")
        }
        let negative = try Run(["compensate", "--original", model, "--compressed", model, "--rank", "-1", "-o", "a"], in: dir)
        #expect(negative.stderr.contains("--rank must be between 1"), "\(negative.stderr)")
        #expect(leftovers(in: dir).isEmpty && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("a").path))
    }

    @Test("a rank larger than a layer allows is an error naming the layer and its shape")
    func rankTooLarge() throws {
        let dir = scratch()
        let model = fixture("tiny_model.safetensors")
        #expect(try Run(["quantize", model, "--bits", "3", "-o", "q.safetensors"], in: dir).status == 0)
        let run = try Run(["compensate", "--original", model, "--compressed", "q.safetensors", "--rank", "17", "-o", "adapter"], in: dir)
        #expect(run.status == 1 && run.stderr.contains("layer 'model.layers.0.mlp.down_proj.weight' (16x24) allows a rank of at most 16"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("adapter").path))
        let fits = try Run(["compensate", "--original", model, "--compressed", "q.safetensors", "--rank", "16", "-q", "-o", "adapter"], in: dir)
        #expect(fits.status == 0 && fits.stderr.isEmpty, "\(fits.stderr)")
        let config = try PEFTAdapter(directory: dir.appendingPathComponent("adapter")).config
        #expect(config["r"] as? Int == 16 && (config["rank_pattern"] as? [String: Any])?.isEmpty == true)
    }

    // MARK: Interrupts

    /// A ~200 MB F32 model: 50 tensors of 1024×1024.
    static func bigModel(in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent("big.safetensors")
        let writer = try SafetensorsWriter(url: url)
        let values = (0..<(1 << 20)).map { Float($0 % 977) * 1e-3 }
        for k in 0..<50 { try writer.add(name: "model.layers.\(k).mlp.up_proj.weight", shape: [1024, 1024], array: values) }
        try writer.finish()
        return url
    }

    @Test("SIGINT, SIGTERM, SIGHUP mid-conversion: exit 130/143/129 and no temporary left; after kill -9 the next run sweeps")
    func interrupts() throws {
        let dir = scratch()
        _ = try Self.bigModel(in: dir)
        let out = dir.appendingPathComponent("out")
        let started = { !leftovers(in: out).isEmpty }
        for (signal, code) in [(SIGINT, Int32(130)), (SIGTERM, 143), (SIGHUP, 129)] {
            let run = try TimedRun(["convert", "big.safetensors", "--dtype", "bf16", "--max-shard-size", "50MB", "-o", "out/m.safetensors"],
                                   in: dir, timeout: 120, signal: signal, when: started)
            #expect(run.signalled && run.status == code, "signal \(signal): exit \(run.status) \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path) || leftovers(in: out).isEmpty, "\(leftovers(in: out))")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path), "the folder made for the output goes too")
        // kill -9 leaves the temporaries; the next writer in that folder removes them (their pid is dead).
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let killed = try TimedRun(["convert", "big.safetensors", "--dtype", "bf16", "-o", "out/m.safetensors"],
                                  in: dir, timeout: 120, signal: SIGKILL, when: started)
        #expect(killed.signalled && !leftovers(in: out).isEmpty)
        let next = try Run(["convert", fixture("tiny_model.safetensors"), "--dtype", "bf16", "-o", "out/tiny.safetensors"], in: dir)
        #expect(next.status == 0 && leftovers(in: out).isEmpty, "\(leftovers(in: out))")
    }

    @Test("an input truncated while it is read ends with one error line naming it, exit 1, no temporary")
    func truncatedInput() throws {
        let dir = scratch()
        let big = try Self.bigModel(in: dir)
        let run = try TimedRun(["convert", "big.safetensors", "--dtype", "bf16", "-o", "out.safetensors"], in: dir, timeout: 120,
                               when: { !leftovers(in: dir).isEmpty }, then: { truncate(big.path, 1 << 20) })
        #expect(run.signalled && run.status == 1, "exit \(run.status): \(run.stderr)")
        #expect(run.stderr.contains("big.safetensors") && run.stderr.contains("truncated"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
        #expect(leftovers(in: dir).isEmpty && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.safetensors").path))
    }

    // MARK: Numbers

    /// tiny_calib with `edit` applied to the Gram of `layer` (and its token count).
    static func editedCalibration(_ url: URL, layer: String, tokens: Int64?, _ edit: (inout Matrix<Float>) -> Void) throws {
        let source = try Checkpoint(path: fixture("tiny_calib.safetensors"))
        let writer = try SafetensorsWriter(url: url)
        for name in source.tensorNames where name != "\(layer).tokens" {
            if name == "\(layer).gram" {
                var g: Matrix<Float> = try source.matrix(name)
                edit(&g)
                try writer.add(name: name, matrix: g)
            } else {
                try writer.add(name: name, copying: name, from: source.file(holding: name)!)
            }
        }
        if let tokens { try withUnsafeBytes(of: tokens.littleEndian) { try writer.add(name: "\(layer).tokens", shape: [], dtype: .i64, rawBytes: $0) } }
        try writer.finish()
    }

    @Test("Grams that are negated, asymmetric, or with bad token counts are refused naming the tensor")
    func badGrams() throws {
        let dir = scratch()
        let model = fixture("tiny_model.safetensors")
        #expect(try Run(["quantize", model, "--bits", "3", "-o", "q.safetensors"], in: dir).status == 0)
        let layer = "model.layers.0.self_attn.k_proj"
        let cases: [(String, Int64?, (inout Matrix<Float>) -> Void, String)] = [
            ("negated", 64, { g in g = -1 * g }, "positive semi-definite"),
            ("asymmetric", 64, { g in g[0, 1] += 10 * g.maxAbs() }, "not symmetric"),
            ("zero-tokens", 0, { _ in }, "token count must be positive"),
            ("negative-tokens", -5, { _ in }, "token count must be positive"),
            // Indefinite with a positive diagonal: only the eigenvalues tell.
            ("indefinite", 64, { g in for i in 0..<g.rows { for j in 0..<g.columns where i != j { g[i, j] = 0 } }; g[0, 1] = 3 * Swift.max(g[0, 0], g[1, 1]); g[1, 0] = g[0, 1] }, "positive semi-definite"),
        ]
        for (label, tokens, edit, message) in cases {
            let calib = dir.appendingPathComponent("\(label).safetensors")
            try Self.editedCalibration(calib, layer: layer, tokens: tokens, edit)
            let run = try Run(["compensate", "--original", model, "--compressed", "q.safetensors", "--calib", calib.lastPathComponent,
                               "--rank", "2", "-o", "adapter-\(label)"], in: dir)
            #expect(run.status == 1 && run.stderr.contains(message) && run.stderr.contains(layer), "\(label): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("adapter-\(label)").path), "\(label)")
        }
        // Without M.tokens: accepted (EoRA is scale-free), with a warning.
        let calib = dir.appendingPathComponent("no-tokens.safetensors")
        try Self.editedCalibration(calib, layer: layer, tokens: nil) { _ in }
        let run = try Run(["compensate", "--original", model, "--compressed", "q.safetensors", "--calib", calib.lastPathComponent,
                           "--rank", "2", "-o", "adapter"], in: dir)
        #expect(run.status == 0 && run.stderr.contains("without M.tokens"), "\(run.stderr)")
        #expect(leftovers(in: dir).isEmpty)
    }

    @Test("values beyond F16's range: converted with a warning counting them per tensor")
    func overflowWarning() throws {
        let dir = scratch()
        try writeModel(dir.appendingPathComponent("m.safetensors"), extra: [("big.weight", [3, 4], 1e30), ("fine.weight", [2], 1)])
        let run = try Run(["convert", "m.safetensors", "--dtype", "f16", "-o", "h.safetensors"], in: dir)
        #expect(run.status == 0 && run.stderr.contains("tensor 'big.weight': 12 value(s) beyond the range"), "\(run.stderr)")
        #expect(!run.stderr.contains("tensor 'fine.weight'"))
        let q = try Run(["convert", "m.safetensors", "--dtype", "f16", "-q", "-o", "h2.safetensors"], in: dir)
        #expect(q.stderr.contains("warning"), "warnings survive --quiet")
    }

    // MARK: Messages

    @Test("messages: one line, control characters escaped, --json failures as JSON on stdout")
    func messages() throws {
        let dir = scratch()
        let hostile = "model.layers.0.\u{1B}[2J\u{7}evil.weight"
        try writeModel(dir.appendingPathComponent("m.safetensors"), layers: 1, extra: [(hostile, [2, 2], 1)])
        let inspect = try Run(["inspect", "m.safetensors"], in: dir)
        #expect(inspect.status == 0 && !inspect.stdout.contains("\u{1B}") && inspect.stdout.contains("\\x1b[2J\\x07evil"), "\(inspect.stdout)")
        let quantize = try Run(["quantize", "m.safetensors", "--bits", "4", "--include", "evil", "-o", "q.safetensors"], in: dir)
        #expect(quantize.status == 0 && !quantize.stderr.contains("\u{1B}"), "\(quantize.stderr)")
        let json = try Run(["inspect", "missing.safetensors", "--json"], in: dir)
        #expect(json.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["error"] as? String)?.contains("missing.safetensors") == true && (object?["file"] as? String)?.hasSuffix("missing.safetensors") == true)
        #expect(object?["tensor"] is NSNull)
        let usage = try Run(["convert", "m.safetensors", "--dtype", "f8", "-o", "x.safetensors", "--json"], in: dir)
        #expect(usage.status == 2 && (try? JSONSerialization.jsonObject(with: Data(usage.stdout.utf8))) != nil, "\(usage.stdout)")
    }

    // MARK: Adapters

    @Test("adapters: task_type from config.json, absolute base folder, lora-ga points at its residual")
    func adapterConfig() throws {
        let dir = scratch()
        let base = dir.appendingPathComponent("base")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture("tiny_model.safetensors"), toPath: base.appendingPathComponent("model.safetensors").path)
        try #"{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}"#.write(to: base.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        #expect(try Run(["quantize", "base", "--bits", "3", "-o", "q/model.safetensors"], in: dir).status == 0)
        try FileManager.default.copyItem(at: base.appendingPathComponent("config.json"), to: dir.appendingPathComponent("q/config.json"))
        #expect(try Run(["compensate", "--original", "base", "--compressed", "q", "--rank", "2", "-o", "ad"], in: dir).status == 0)
        let config = try PEFTAdapter(directory: dir.appendingPathComponent("ad")).config
        #expect(config["task_type"] as? String == "CAUSAL_LM")
        #expect(config["base_model_name_or_path"] as? String == dir.appendingPathComponent("q").resolvingSymlinksInPath().path)
        #expect(try Run(["extract", "--base", "base/model.safetensors", "--tuned", "q/model.safetensors", "--rank", "2",
                         "--task-type", "SEQ_CLS", "--base-name", "org/base", "-o", "ex"], in: dir).status == 0)
        let extracted = try PEFTAdapter(directory: dir.appendingPathComponent("ex")).config
        #expect(extracted["task_type"] as? String == "SEQ_CLS" && extracted["base_model_name_or_path"] as? String == "org/base")
        #expect(try Run(["extract", "--base", "base", "--tuned", "q", "--rank", "2", "--task-type", "NOPE", "-o", "x"], in: dir).status == 2)
        #expect(try Run(["lora-ga", "--model", "base", "--gradients", fixture("tiny_grads.safetensors"), "--rank", "2", "-o", "ga"], in: dir).status == 0)
        let ga = try PEFTAdapter(directory: dir.appendingPathComponent("ga")).config
        #expect(ga["base_model_name_or_path"] as? String == dir.appendingPathComponent("ga").standardizedFileURL.path && ga["task_type"] as? String == "CAUSAL_LM")
    }

    // MARK: Order and selection

    @Test("natural layer order; pooler, classifier and score heads out of the default selection")
    func orderAndHeads() throws {
        let dir = scratch()
        try writeModel(dir.appendingPathComponent("m.safetensors"), layers: 12,
                       extra: [("pooler.dense.weight", [16, 16], 0.5), ("classifier.weight", [3, 16], 0.25), ("score.weight", [3, 16], 0.75)])
        let run = try Run(["quantize", "m.safetensors", "--bits", "3", "-o", "q.safetensors"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let order = run.stderr.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("model.layers.") }.map { Int($0.split(separator: ".")[2])! }
        }
        #expect(order == order.sorted() && order.count == 24, "\(order)")
        #expect(!run.stderr.contains("pooler") && !run.stderr.contains("classifier") && !run.stderr.contains("score"))
        let q = try Checkpoint(path: dir.appendingPathComponent("q.safetensors"))
        #expect(try q.array("pooler.dense.weight", as: Float.self).allSatisfy { $0 == 0.5 })
        let inspect = try JSONSerialization.jsonObject(with: Data(try Run(["inspect", "q.safetensors", "--json"], in: dir).stdout.utf8)) as! [String: Any]
        let names = (inspect["tensors"] as! [[String: Any]]).map { $0["name"] as! String }
        #expect(names.firstIndex(of: "model.layers.2.mlp.down_proj.weight")! < names.firstIndex(of: "model.layers.10.mlp.down_proj.weight")!)
        #expect(try Run(["quantize", "m.safetensors", "--bits", "3", "-q", "-o", "q2.safetensors"], in: dir).stderr.isEmpty, "-q is silent")
    }
}
