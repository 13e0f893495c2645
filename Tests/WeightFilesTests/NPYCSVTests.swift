import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import WeightFiles

@Suite(".npy and CSV")
struct NPYCSVTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    @Test("numpy-written v1 (<f4), v2 (<f8) and 1-D arrays; our writer round-trips")
    func npy() throws {
        let f32 = try NPY.read(Self.fixtures.appendingPathComponent("values_f32.npy"))
        let f64 = try NPY.read(Self.fixtures.appendingPathComponent("values_f64_v2.npy"))
        #expect(f32.rows == 5 && f32.columns == 3 && f64.rows == 5)
        #expect((f32 - f64).maxAbs() < 1e-6, "the same values, stored as float32 and float64")
        #expect(try NPY.read(Self.fixtures.appendingPathComponent("vector.npy")).elements == [0, 1, 2, 3])
        let folder = temporaryFolder()
        let url = folder.appendingPathComponent("m.npy")
        try NPY.write(f64, to: url)
        #expect(try NPY.read(url) == f64)
        try Data("not numpy".utf8).write(to: folder.appendingPathComponent("bad.npy"))
        #expect(throws: NPYError.self) { try NPY.read(folder.appendingPathComponent("bad.npy")) }
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("CSV: header, numbers, and clear errors for ragged rows, text cells, unknown columns")
    func csv() throws {
        let table = try CSVTable.read(Self.fixtures.appendingPathComponent("regression.csv"))
        #expect(table.columns == ["x0", "x1", "x2", "x3", "y"] && table.values.rows == 30)
        let split = try table.split(targets: ["y"])
        #expect(split.x.columns == 4 && split.y.columns == 1 && split.features == ["x0", "x1", "x2", "x3"])
        #expect(throws: CSVError.self) { try table.split(targets: ["nope"]) }
        let folder = temporaryFolder()
        try Data("a,b\n1,2\n3\n".utf8).write(to: folder.appendingPathComponent("ragged.csv"))
        #expect(throws: CSVError(file: folder.appendingPathComponent("ragged.csv").path, reason: "row 3 has 1 cells, the header has 2")) {
            try CSVTable.read(folder.appendingPathComponent("ragged.csv"))
        }
        try Data("a,b\n1,x\n".utf8).write(to: folder.appendingPathComponent("text.csv"))
        #expect(throws: CSVError(file: folder.appendingPathComponent("text.csv").path, reason: "row 2, column 'b': 'x' is not a number")) {
            try CSVTable.read(folder.appendingPathComponent("text.csv"))
        }
        try? FileManager.default.removeItem(at: folder)
    }
}
