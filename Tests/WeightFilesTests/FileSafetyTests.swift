import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import WeightFiles

#if canImport(Glibc)
import Glibc
#endif

@Suite("file safety: outputs, inputs, temporaries, order, Gram checks")
struct FileSafetyTests {
    @Test("natural order: digit runs compare as numbers, of any length; a strict weak order")
    func natural() {
        let names = ["layers.10.w", "layers.2.w", "layers.1.w", "layers.02.w", "layers.100.w", "a", "layers.2", "layers.99999999999999999999999.w",
                     "layers.1.w.10", "layers.1.w.9", "b0", "b00", "b"]
        let sorted = names.sorted(by: naturalOrder)
        #expect(sorted == ["a", "b", "b0", "b00", "layers.1.w", "layers.1.w.9", "layers.1.w.10", "layers.2", "layers.02.w", "layers.2.w",
                           "layers.10.w", "layers.100.w", "layers.99999999999999999999999.w"], "\(sorted)")
        for x in names {
            #expect(!naturalOrder(x, x))
            for y in names where naturalOrder(x, y) { #expect(!naturalOrder(y, x), "\(x) \(y)") }
        }
    }

    @Test("OutputPath: regular files and folders pass; devices, FIFOs, paths under files do not")
    func outputPath() throws {
        let dir = temporaryFolder(prefix: "rankwise-safety")
        try OutputPath.check(dir.appendingPathComponent("new/deeper/x.safetensors"), as: .file)
        try OutputPath.check(dir.appendingPathComponent("adapter"), as: .folder)
        try OutputPath.check(dir, as: .folder)
        let file = dir.appendingPathComponent("f")
        _ = FileManager.default.createFile(atPath: file.path, contents: Data())
        try OutputPath.check(file, as: .file)
        #expect(throws: FileAccessError.self) { try OutputPath.check(file, as: .folder) }
        #expect(throws: FileAccessError.self) { try OutputPath.check(dir, as: .file) }
        #expect(throws: FileAccessError.self) { try OutputPath.check(file.appendingPathComponent("x"), as: .file) }
        #expect(throws: FileAccessError.self) { try OutputPath.check(file.appendingPathComponent("x/y"), as: .folder) }
        mkfifo(dir.appendingPathComponent("p").path, 0o644)
        #expect(throws: FileAccessError.self) { try OutputPath.check(dir.appendingPathComponent("p"), as: .file) }
        #expect(throws: FileAccessError.self) { try OutputPath.check(URL(fileURLWithPath: "/dev/null"), as: .file) }
        #expect(throws: FileAccessError.self) { _ = try readRegularFile(dir.appendingPathComponent("p"), limit: 10) }
        #expect(throws: FileAccessError.self) { _ = try readRegularFile(URL(fileURLWithPath: "/dev/zero"), limit: 10) }
        try Data(count: 11).write(to: file)
        #expect(throws: FileAccessError.self) { _ = try readRegularFile(file, limit: 10) }
        #expect(try readRegularFile(file, limit: 11).count == 11)
    }

    @Test("temporaries: named with the pid; stale ones of dead processes swept, live ones and others kept")
    func staleTemporaries() throws {
        let dir = temporaryFolder(prefix: "rankwise-safety")
        // A pid that is certainly not running: a child that has exited and been reaped.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let dead = child.processIdentifier
        let names = [".m.safetensors.rankwise-\(dead)-12345.tmp", ".x.rankwise-\(getpid())-1.tmp", ".m.safetensors.rankwise-1-7.tmp",
                     ".notours.tmp", "m.safetensors", ".m.rankwise-abc-1.tmp"]
        for name in names { _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: Data()) }
        #expect(TemporaryFiles.removeStale(in: dir) == 1)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        #expect(left == Set(names.dropFirst()), "pid 1 is alive; ours is ours; others are not ours: \(left)")
        let name = TemporaryFiles.temporaryName(for: "out.safetensors")
        #expect(name.hasPrefix(".out.safetensors.rankwise-\(getpid())-") && name.hasSuffix(".tmp"))
    }

    @Test("removeAllNow unlinks registered temporaries and removes registered empty folders only")
    func removeAll() throws {
        let dir = temporaryFolder(prefix: "rankwise-safety")
        let made = dir.appendingPathComponent("made"), kept = dir.appendingPathComponent("kept")
        try FileManager.default.createDirectory(at: made.appendingPathComponent("inner"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: kept, withIntermediateDirectories: true)
        let temp = made.appendingPathComponent("inner/.t.tmp"), other = kept.appendingPathComponent("keep")
        _ = FileManager.default.createFile(atPath: temp.path, contents: Data())
        _ = FileManager.default.createFile(atPath: other.path, contents: Data())
        TemporaryFiles.register(folder: made.appendingPathComponent("inner").path)
        TemporaryFiles.register(folder: made.path)
        TemporaryFiles.register(folder: kept.path)
        TemporaryFiles.register(file: temp.path)
        // Only this test's paths: removeAllNow itself would also unlink the temporaries of tests running beside this one.
        dir.path.withCString { TemporaryFiles.removeAll(under: $0) }
        #expect(!FileManager.default.fileExists(atPath: made.path) && FileManager.default.fileExists(atPath: other.path))
        for path in [made.appendingPathComponent("inner").path, made.path, kept.path] { TemporaryFiles.unregister(folder: path) }
        TemporaryFiles.unregister(file: temp.path)
    }

    @Test("Gram checks: symmetric within the dtype's rounding, no negative diagonal; asymmetry found across tiles")
    func gramChecks() throws {
        let n = 130
        var generator = SeededGenerator(seed: 3)
        let x = Matrix<Double>.random(rows: 200, columns: n, using: &generator)
        var c = x.gram()
        try CalibrationFile.checkGram(c, tensor: "g", tolerance: CalibrationFile.roundingTolerance(.f32))
        c[70, 129] += 1e-3 * c.maxAbs()
        #expect(throws: CalibrationError.self) { try CalibrationFile.checkGram(c, tensor: "g", tolerance: CalibrationFile.roundingTolerance(.f32)) }
        // The same perturbation is within BF16's rounding.
        try CalibrationFile.checkGram(c, tensor: "g", tolerance: CalibrationFile.roundingTolerance(.bf16))
        var negative = x.gram()
        negative[5, 5] = -0.5 * negative[5, 5]
        do {
            try CalibrationFile.checkGram(negative, tensor: "g", tolerance: 1e-6)
            Issue.record("a negative diagonal entry passed")
        } catch CalibrationError.indefinite(let tensor, let detail) {
            #expect(tensor == "g" && detail.contains("diagonal entry 5"))
        }
        try CalibrationFile.checkGram(Matrix<Double>(rows: 0, columns: 0, elements: []), tensor: "empty", tolerance: 1e-6)
        try CalibrationFile.checkGram(Matrix<Double>(rows: 3, columns: 3, elements: [Double](repeating: 0, count: 9)), tensor: "zero", tolerance: 1e-6)
    }
}

@Suite("calibration files: same_as")
struct CalibrationSameAsTests {
    @Test("a layer with `M.same_as` reads the named layer's statistics; cycles end; unknown layers stay unknown")
    func sameAs() throws {
        let dir = temporaryFolder(prefix: "rankwise-calibration")
        let url = dir.appendingPathComponent("calib.safetensors")
        var generator = SeededGenerator(seed: 5)
        let x = Matrix<Double>.random(rows: 40, columns: 6, using: &generator)
        let writer = try SafetensorsWriter(url: url)
        try writer.add(name: "l.k_proj.gram", matrix: x.gram(), dtype: .f64)
        try withUnsafeBytes(of: Int64(40).littleEndian) { try writer.add(name: "l.k_proj.tokens", shape: [], dtype: .i64, rawBytes: $0) }
        try writer.finish(metadata: ["l.q_proj.same_as": "l.k_proj", "l.v_proj.same_as": "l.q_proj", "a.same_as": "b", "b.same_as": "a"])
        let calibration = try CalibrationFile(path: url)
        #expect(calibration.source(of: "l.v_proj") == "l.k_proj" && calibration.source(of: "l.o_proj") == "l.o_proj")
        #expect(calibration.contains(layer: "l.q_proj") && calibration.contains(layer: "l.v_proj") && !calibration.contains(layer: "l.o_proj"))
        let shared = try calibration.covariance(layer: "l.v_proj")!, own = try calibration.covariance(layer: "l.k_proj")!
        #expect(shared.gram == own.gram && shared.tokens == 40 && calibration.gramDType(layer: "l.q_proj") == .f64)
        #expect(!calibration.contains(layer: "a"), "a cycle leads nowhere")
    }
}
