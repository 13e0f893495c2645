import Foundation
import LinearAlgebra
import WeightFiles

extension RankwiseBench {
    /// The GGUF cases: an embedding-sized tensor (SmolLM2-135M's `[49152, 576]`; for the 256-element k-quants the
    /// same element count as `[18432, 1536]`) in each of these block formats;
    /// `Benchmarks/reference/gguf_dequant.py` times llama.cpp's gguf-py (numpy) on the same shapes.
    static let ggufTypes: [GGUFTensorType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q4_K, .q6_K]

    /// Per format, two rows (one thread): `GGUFFile.floats` (the whole tensor into a new array, as `Checkpoint`
    /// reads it: the time includes the page faults of a fresh 113 MB array and of re-reading the evicted input), and
    /// `dequantize(_:rows:into:)` into a buffer reused between runs (the decoding alone). The file is written to a
    /// temporary folder: seeded random blocks whose F16 scales are finite (`ggufBenchFile`).
    mutating func gguf() throws {
        let elements = (quick ? 8192 : 49152) * 576
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rankwise-bench-gguf-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var buffer = [Float](repeating: 0, count: elements)
        for type in Self.ggufTypes {
            let columns = type.blockSize == 256 ? 1536 : 576, rows = elements / columns
            let url = folder.appendingPathComponent("\(type.name).gguf")
            try ggufBenchFile(type: type, rows: rows, columns: columns).write(to: url)
            let file = try GGUFFile(contentsOf: url)
            var sum: Float = 0
            try harness.measure(suite: "gguf", operation: "dequantize \(type.name)", dtype: "float32", size: "\(rows)x\(columns)",
                                implementation: Backend.current.rawValue) {
                sum += try file.floats("t")[elements / 2]
            }
            try harness.measure(suite: "gguf", operation: "dequantize \(type.name) into a buffer", dtype: "float32", size: "\(rows)x\(columns)",
                                implementation: Backend.current.rawValue) {
                try buffer.withUnsafeMutableBufferPointer { try file.dequantize("t", rows: 0..<rows, into: $0.baseAddress!) }
                sum += buffer[elements / 2]
            }
            if sum.isNaN { print(sum) }   // keeps the results alive
        }
    }
}

/// The F16 scale fields (byte offsets within a block) of a block format.
func ggufScaleOffsets(_ type: GGUFTensorType) -> [Int] {
    switch type {
    case .q4_1, .q5_1, .q4_K, .q5_K: return [0, 2]
    case .q2_K: return [80, 82]
    case .q3_K: return [108]
    case .q6_K: return [208]
    default: return [0]
    }
}

/// A one-tensor GGUF (`t`, dims `(columns, rows)`) of seeded random blocks with finite F16 scales in ±0.05:
/// a xorshift byte stream, each scale field then overwritten.
func ggufBenchFile(type: GGUFTensorType, rows: Int, columns: Int) -> Data {
    var header = Data("GGUF".utf8)
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
    u32(3); u64(1); u64(0)
    u64(1); header.append(contentsOf: Array("t".utf8))
    u32(2); u64(UInt64(columns)); u64(UInt64(rows)); u32(type.rawValue); u64(0)
    while header.count % 32 != 0 { header.append(0) }
    let blocks = rows * columns / type.blockSize
    var data = [UInt8](repeating: 0, count: blocks * type.blockBytes)
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for i in data.indices {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        data[i] = UInt8(truncatingIfNeeded: state >> 32)
    }
    for b in 0..<blocks {
        for offset in ggufScaleOffsets(type) {
            let scale = Float(Int(data[b * type.blockBytes + offset]) - 128) / 2560   // ±0.05
            let bits = HalfPrecision.float16Bits(scale)
            data[b * type.blockBytes + offset] = UInt8(bits & 0xFF)
            data[b * type.blockBytes + offset + 1] = UInt8(bits >> 8)
        }
    }
    return header + Data(data)
}
