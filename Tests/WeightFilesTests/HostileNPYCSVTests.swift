import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import WeightFiles

/// A `.npy` file with a hand-written header (version 1.0) and `payload` bytes of data.
func npyFile(header: String, payload: Int, version: UInt8 = 1) -> Data {
    var text = header
    let prefix = version == 1 ? 10 : 12
    while (prefix + text.utf8.count + 1) % 64 != 0 { text += " " }
    text += "\n"
    let n = text.utf8.count
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    bytes += version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)]
    bytes += Array(text.utf8)
    bytes += [UInt8](repeating: 0, count: payload)
    return Data(bytes)
}

@Suite("hostile .npy and CSV")
struct HostileNPYCSVTests {
    func reason(_ data: Data, _ name: String = "x.npy") throws -> String {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent(name)
        try data.write(to: url)
        do {
            _ = try NPY.read(url)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test("huge, negative, non-integer and overflowing shapes give one error, no crash")
    func shapes() throws {
        #expect(try reason(npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", payload: 64)).contains("overflows"))
        #expect(try reason(npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (-2, -4), }", payload: 64)).contains("negative dimension"))
        #expect(try reason(npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", payload: 8)).contains("negative dimension"))
        #expect(try reason(npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999, 1), }", payload: 8)).contains("not an integer"))
        #expect(try reason(npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (2, x), }", payload: 8)).contains("not an integer"))
        #expect(try reason(npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 3), }", payload: 64)).contains("needs 72"))
        // (2^61, 2): the element count fits, the byte count does not.
        #expect(try reason(npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952, 2), }", payload: 8)).contains("overflows"))
    }

    @Test("header length beyond the file or the limit; FIFOs and folders refused")
    func headers() throws {
        var truncated = npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", payload: 8, version: 2)
        truncated[8] = 0xFF; truncated[9] = 0xFF; truncated[10] = 0xFF; truncated[11] = 0x7F
        #expect(try reason(truncated).contains("exceeds"))
        truncated[10] = 0x00; truncated[11] = 0x00   // 65,535 bytes: under the limit, beyond the file
        #expect(try reason(truncated).contains("truncated header"))
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("f.npy")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        #expect(throws: FileAccessError.self) { try NPY.read(fifo) }
        #expect(throws: FileAccessError.self) { try CSVTable.read(fifo) }
        #expect(throws: FileAccessError.self) { try CSVTable.read(folder) }
    }

    @Test("legitimate arrays still read: 2-D, 1-D, empty, version 2")
    func legitimate() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("ok.npy")
        try npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", payload: 48).write(to: url)
        let m = try NPY.read(url)
        #expect(m.rows == 2 && m.columns == 3 && m.elements == [0, 0, 0, 0, 0, 0])
        try npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", payload: 20, version: 2).write(to: url)
        #expect(try NPY.read(url).rows == 5)
        try npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", payload: 0).write(to: url)
        #expect(try NPY.read(url).rows == 0)
    }
}
