import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import WeightFiles

// MARK: Helpers

/// The 32-bit words of an I32 tensor's bytes, as unsigned bit patterns.
func words(_ tensor: PackedTensor) -> [UInt32] {
    tensor.bytes.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
}

/// The stored tensors keyed by suffix.
func bySuffix(_ tensors: [PackedTensor]) -> [String: PackedTensor] {
    Dictionary(uniqueKeysWithValues: tensors.map { ($0.suffix, $0) })
}

/// The rule of the `PackedLinearError` thrown by `body`, with its tensor.
func packedFailure(_ body: () throws -> Void) -> (tensor: String?, rule: PackedLinearError.Rule)? {
    do { try body(); return nil } catch let e as PackedLinearError { return (e.tensor, e.rule) } catch { return nil }
}

/// The note's worked example (4-bit, out = 2, in = 8, group size 4, symmetric).
enum WorkedExample {
    static let codes: [UInt8] = [8, 9, 7, 15, 0, 8, 12, 3,
                                 1, 2, 3, 4, 5, 6, 7, 8]
    /// F16 bits 0x2E66, 0x3266 / 0x2A66, 0x3400.
    static let scales: [Float] = [0.0999755859375, 0.199951171875, 0.04998779296875, 0.25]
    static let groupIndex: [Int32] = [0, 0, 0, 0, 1, 1, 1, 1]

    static func layer(_ format: PackedFormat, zeros: [UInt8] = [8, 8, 8, 8]) throws -> PackedLinear {
        try PackedLinear(format: format, bits: 4, outFeatures: 2, inFeatures: 8, groupCount: 2,
                         codes: codes, zeros: zeros, scales: scales, groupIndex: groupIndex)
    }
}

/// A random packable layer: codes and zeros uniform in 0..<2^bits (zero points of 0 included), F16-representable
/// scales of both signs, and either contiguous groups or act-order groups (a random permutation's positions / size).
func randomLayer(_ format: PackedFormat, bits: Int, out: Int, in n: Int, groupSize: Int?, actOrder: Bool, seed: UInt64) throws -> PackedLinear {
    var rng = SeededGenerator(seed: seed)
    let size = groupSize ?? n
    let groups = (n + size - 1) / size
    let limit = UInt8(truncatingIfNeeded: (1 << bits) - 1)
    let codes = (0..<(out * n)).map { _ in UInt8.random(in: 0...limit, using: &rng) }
    let zeros = (0..<(groups * out)).map { _ in UInt8.random(in: 0...limit, using: &rng) }
    let scales = (0..<(groups * out)).map { _ in HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(Float.random(in: -0.05...0.05, using: &rng))) }
    var groupIndex = (0..<n).map { Int32($0 / size) }
    if actOrder {
        let permutation = Array(0..<n).shuffled(using: &rng)
        for (position, k) in permutation.enumerated() { groupIndex[k] = Int32(position / size) }
    }
    return try PackedLinear(format: format, bits: bits, outFeatures: out, inFeatures: n, groupCount: groups,
                            codes: codes, zeros: zeros, scales: scales, groupIndex: groupIndex)
}

// MARK: Worked examples

@Suite("Packed linear layers: the note's worked examples, bit for bit")
struct PackedWorkedExampleTests {
    @Test("4-bit GPTQ, symmetric: qweight, qzeros (v1 119, v2 136), scales, g_idx")
    func symmetric() throws {
        for format in [PackedFormat.gptq, .gptqV2] {
            let tensors = try WorkedExample.layer(format).storedTensors()
            #expect(tensors.map(\.suffix) == ["qweight", "qzeros", "scales", "g_idx"])
            let t = bySuffix(tensors)
            #expect(t["qweight"]!.shape == [1, 2] && t["qweight"]!.dtype == .i32)
            #expect(words(t["qweight"]!).map { Int32(bitPattern: $0) } == [1015084952, -2023406815])
            #expect(t["qzeros"]!.shape == [2, 1])
            #expect(words(t["qzeros"]!) == (format == .gptq ? [119, 119] : [136, 136]))
            #expect(t["scales"]!.dtype == .f16 && t["scales"]!.shape == [2, 2])
            #expect(t["scales"]!.bytes == [0x66, 0x2E, 0x66, 0x32, 0x66, 0x2A, 0x00, 0x34])
            #expect(t["g_idx"]!.shape == [8] && words(t["g_idx"]!) == [0, 0, 0, 0, 1, 1, 1, 1])
            // And back.
            let decoded = try PackedLinear(format: format, bits: 4, groupSize: 4, tensors: t)
            #expect(decoded == (try WorkedExample.layer(format)))
        }
    }

    @Test("asymmetric zero points: v2 [[163], [21]], v1 [[146], [4]]")
    func asymmetric() throws {
        // True zeros g0 = [3, 10], g1 = [5, 1] for (o = 0, o = 1).
        let zeros: [UInt8] = [3, 10, 5, 1]
        let v2 = bySuffix(try WorkedExample.layer(.gptqV2, zeros: zeros).storedTensors())
        let v1 = bySuffix(try WorkedExample.layer(.gptq, zeros: zeros).storedTensors())
        #expect(words(v2["qzeros"]!) == [163, 21])
        #expect(words(v1["qzeros"]!) == [146, 4])
        #expect(try PackedLinear(format: .gptq, bits: 4, groupSize: 4, tensors: v1).zeros == zeros)
        #expect(try PackedLinear(format: .gptqV2, bits: 4, groupSize: 4, tensors: v2).zeros == zeros)
    }

    @Test("dequantized values, Float and Double", arguments: ScalarKind.allCases)
    func dequantized(_ kind: ScalarKind) throws {
        let expected: [[Double]] = [[0, 0.09998, -0.09998, 0.69983, -0.39990, 0, 0.19995, -0.24994],
                                    [-1.39966, -1.19971, -0.99976, -0.79980, -0.75, -0.5, -0.25, 0]]
        func check<T: Scalar>(_: T.Type) throws {
            let w: Matrix<T> = try WorkedExample.layer(.gptq).dequantized()
            #expect(w.rows == 2 && w.columns == 8)
            for o in 0..<2 {
                for k in 0..<8 {
                    let g = Int(WorkedExample.groupIndex[k])
                    // F16 scale × a small integer is exact in Float.
                    let exact = Double(WorkedExample.scales[g * 2 + o]) * Double(Int(WorkedExample.codes[o * 8 + k]) - 8)
                    #expect(w[o, k] == T(exact))
                    #expect(abs(Double(w[o, k]) - expected[o][k]) < 1e-5)
                }
            }
        }
        switch kind {
        case .float: try check(Float.self)
        case .double: try check(Double.self)
        }
    }

    @Test("3-bit: values k % 8 for k = 0…31 are the words 0x88FAC688, 0xC688FAC6, 0xFAC688FA")
    func threeBit() throws {
        let layer = try PackedLinear(format: .gptqV2, bits: 3, outFeatures: 1, inFeatures: 32, groupCount: 1,
                                     codes: (0..<32).map { UInt8($0 % 8) }, zeros: [4], scales: [1], groupIndex: [Int32](repeating: 0, count: 32))
        let t = bySuffix(try layer.storedTensors())
        #expect(t["qweight"]!.shape == [3, 1])
        #expect(words(t["qweight"]!) == [0x88FA_C688, 0xC688_FAC6, 0xFAC6_88FA])
        #expect(try PackedLinear(format: .gptqV2, bits: 3, groupSize: nil, tensors: t) == layer)
        // The same stream along the output axis of qzeros: 32 outputs with zero k % 8.
        let wide = try PackedLinear(format: .gptqV2, bits: 3, outFeatures: 32, inFeatures: 32, groupCount: 1,
                                    codes: [UInt8](repeating: 0, count: 32 * 32), zeros: (0..<32).map { UInt8($0 % 8) },
                                    scales: [Float](repeating: 1, count: 32), groupIndex: [Int32](repeating: 0, count: 32))
        #expect(words(bySuffix(try wide.storedTensors())["qzeros"]!) == [0x88FA_C688, 0xC688_FAC6, 0xFAC6_88FA])
    }

    @Test("symmetric qzeros words for every width, v1 and v2")
    func symmetricZeroWords() throws {
        let cases: [(bits: Int, v1: [UInt32], v2: [UInt32])] = [
            (2, [0x5555_5555], [0xAAAA_AAAA]),
            (3, [0xDB6D_B6DB, 0xB6DB_6DB6, 0x6DB6_DB6D], [0x2492_4924, 0x4924_9249, 0x9249_2492]),
            (4, [0x7777_7777], [0x8888_8888]),
            (8, [0x7F7F_7F7F], [0x8080_8080]),
        ]
        for c in cases {
            let out = 64, n = 64, groups = 2
            let zero = UInt8(1 << (c.bits - 1))
            for (format, pattern) in [(PackedFormat.gptq, c.v1), (.gptqV2, c.v2)] {
                let layer = try PackedLinear(format: format, bits: c.bits, outFeatures: out, inFeatures: n, groupCount: groups,
                                             codes: [UInt8](repeating: 0, count: out * n), zeros: [UInt8](repeating: zero, count: groups * out),
                                             scales: [Float](repeating: 0.5, count: groups * out), groupIndex: (0..<n).map { Int32($0 / 32) })
                let qzeros = bySuffix(try layer.storedTensors())["qzeros"]!
                #expect(qzeros.shape == [groups, out * c.bits / 32])
                let stored = words(qzeros)
                #expect(stored == Array((0..<(stored.count / pattern.count)).map { _ in pattern }.joined()), "\(c.bits)-bit \(format)")
            }
        }
    }

    @Test("AWQ interleave: words 0x75316420 and 0xC70317F9")
    func awq() throws {
        // in = 2, out = 8: input 0 has codes 0…7 for outputs 0…7, input 1 has [9, 3, 15, 0, 7, 7, 1, 12].
        let column0: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7], column1: [UInt8] = [9, 3, 15, 0, 7, 7, 1, 12]
        let codes = (0..<8).flatMap { [column0[$0], column1[$0]] }
        let layer = try PackedLinear(format: .awq, bits: 4, outFeatures: 8, inFeatures: 2, groupCount: 1,
                                     codes: codes, zeros: column1, scales: [Float](repeating: 0.25, count: 8), groupIndex: [0, 0])
        let tensors = try layer.storedTensors()
        #expect(tensors.map(\.suffix) == ["qweight", "qzeros", "scales"])
        let t = bySuffix(tensors)
        #expect(t["qweight"]!.shape == [2, 1] && words(t["qweight"]!) == [0x7531_6420, 0xC703_17F9])
        #expect(Int32(bitPattern: words(t["qweight"]!)[1]) == -956098567)
        #expect(t["qzeros"]!.shape == [1, 1] && words(t["qzeros"]!) == [0xC703_17F9], "AWQ zero points: as they are, same interleave")
        #expect(try PackedLinear(format: .awq, bits: 4, groupSize: nil, tensors: t) == layer)
        let w: Matrix<Float> = layer.dequantized()
        #expect(w[2, 1] == 0.25 * Float(15 - 15) && w[0, 0] == 0.25 * Float(0 - 9) && w[7, 0] == 0.25 * Float(7 - 12))
    }
}

// MARK: Round trips

@Suite("Packed linear layers: round trips")
struct PackedRoundTripTests {
    @Test("GPTQ v1 and v2, every width, contiguous and act-order groups, group sizes 32 / 128 / whole",
          arguments: [2, 3, 4, 8])
    func gptq(bits: Int) throws {
        var seed: UInt64 = UInt64(bits) * 1000
        for format in [PackedFormat.gptq, .gptqV2] {
            for groupSize in [32, 128, nil] as [Int?] {
                for actOrder in [false, true] {
                    for (out, n) in [(64, 256), (40, 160), (3, 96)] {
                        seed += 1
                        let layer = try randomLayer(format, bits: bits, out: out, in: n, groupSize: groupSize, actOrder: actOrder, seed: seed)
                        let tensors = try layer.storedTensors()
                        let t = bySuffix(tensors)
                        #expect(t["qweight"]!.shape == [n * bits / 32, out])
                        #expect(t["qzeros"]!.shape == [layer.groupCount, (out * bits + 31) / 32])
                        let back = try PackedLinear(format: format, bits: bits, groupSize: groupSize, tensors: t)
                        #expect(back == layer, "\(format) \(bits)-bit gs \(groupSize ?? -1) act-order \(actOrder) \(out)×\(n)")
                        #expect(back.isActOrdered == (actOrder && layer.groupCount > 1))
                        #expect(layer.storedByteCount == tensors.map(\.bytes.count).reduce(0, +))
                        // Repacking gives the same bytes.
                        #expect(try back.storedTensors() == tensors)
                    }
                }
            }
        }
    }

    @Test("AWQ, group sizes 32 / 128 / whole")
    func awq() throws {
        for (i, groupSize) in ([32, 128, nil] as [Int?]).enumerated() {
            let layer = try randomLayer(.awq, bits: 4, out: 64, in: 256, groupSize: groupSize, actOrder: false, seed: 77 + UInt64(i))
            let t = bySuffix(try layer.storedTensors())
            #expect(t["qweight"]!.shape == [256, 8] && t["qzeros"]!.shape == [layer.groupCount, 8] && t["g_idx"] == nil)
            #expect(try PackedLinear(format: .awq, bits: 4, groupSize: groupSize, tensors: t) == layer)
        }
    }

    @Test("dequantized agrees with the formula for act-order layers, Float and Double")
    func formula() throws {
        let layer = try randomLayer(.gptq, bits: 3, out: 24, in: 128, groupSize: 32, actOrder: true, seed: 5)
        let f: Matrix<Float> = layer.dequantized(), d: Matrix<Double> = layer.dequantized()
        for o in 0..<24 {
            for k in 0..<128 {
                let g = Int(layer.groupIndex[k])
                let value = layer.scales[g * 24 + o] * Float(Int(layer.codes[o * 128 + k]) - Int(layer.zeros[g * 24 + o]))
                #expect(f[o, k] == value && d[o, k] == Double(value))
            }
        }
    }

    @Test("a GPTQ layer stored without g_idx reads with g_idx = k / groupSize")
    func withoutGroupIndex() throws {
        let layer = try randomLayer(.gptqV2, bits: 4, out: 16, in: 64, groupSize: 32, actOrder: false, seed: 9)
        var t = bySuffix(try layer.storedTensors())
        t["g_idx"] = nil
        #expect(try PackedLinear(format: .gptqV2, bits: 4, groupSize: 32, tensors: t) == layer)
        #expect(packedFailure { _ = try PackedLinear(format: .gptqV2, bits: 4, groupSize: nil, tensors: t) }?.tensor == "scales",
                "two groups but group size -1: the group count is wrong")
    }
}

// MARK: Hostile input

@Suite("Packed linear layers: hostile shapes and values are refused, naming the tensor")
struct PackedHostileTests {
    static func stored(_ format: PackedFormat = .gptq) throws -> [String: PackedTensor] {
        bySuffix(try randomLayer(format, bits: 4, out: 16, in: 64, groupSize: 32, actOrder: false, seed: 3).storedTensors())
    }

    func failure(_ format: PackedFormat = .gptq, bits: Int = 4, groupSize: Int? = 32, _ edit: (inout [String: PackedTensor]) -> Void)
        throws -> (tensor: String?, rule: PackedLinearError.Rule)? {
        var t = try Self.stored(format)
        edit(&t)
        return packedFailure { _ = try PackedLinear(format: format, bits: bits, groupSize: groupSize, tensors: t) }
    }

    @Test("missing parts, wrong dtypes, ranks and shapes")
    func shapes() throws {
        #expect(try failure { $0["scales"] = nil }?.tensor == "scales")
        #expect(try failure { $0["qzeros"] = nil }?.rule == .missingTensor)
        #expect(try failure { $0["qweight"]!.dtype = .f32 }?.rule == .wrongDType(found: .f32, expected: [.i32]))
        #expect(try failure { $0["scales"]!.dtype = .i16 }?.tensor == "scales")
        #expect(try failure { $0["g_idx"]!.dtype = .f32 }?.tensor == "g_idx")
        #expect(try failure { $0["qweight"]!.shape = [8, 16, 1] }?.tensor == "qweight")
        // qweight with the wrong row count (a 3-bit file read as 4-bit, say).
        #expect(try failure { $0["qweight"]!.shape = [6, 16]; $0["qweight"]!.bytes.removeLast(2 * 16 * 4) }?.tensor == "qweight")
        // qzeros too narrow.
        #expect(try failure { $0["qzeros"]!.shape = [2, 1]; $0["qzeros"]!.bytes.removeLast(2 * 4) }?.tensor == "qzeros")
        // g_idx of another length.
        #expect(try failure { $0["g_idx"]!.shape = [32]; $0["g_idx"]!.bytes.removeLast(128) }?.tensor == "qweight")
        // Bytes that do not match the shape.
        #expect(try failure { $0["qweight"]!.bytes.removeLast() }?.rule == .byteCountMismatch(expected: 8 * 16 * 4, actual: 8 * 16 * 4 - 1))
        // Shapes whose size overflows.
        #expect(try failure { $0["qzeros"]!.shape = [Int.max / 2, 3] }?.rule == .sizeOverflow)
        #expect(try failure { $0["scales"]!.shape = [-1, 16] }?.tensor == "scales")
        #expect(try failure { $0["g_idx"]!.shape = [1 << 40]; $0["scales"]!.shape = [2, 1 << 30] }?.rule == .sizeOverflow, "out · in overflows")
        // The group count disagrees with the group size.
        #expect(try failure(groupSize: 16) { _ in }?.rule == .groupCountMismatch(found: 2, expected: 4, inFeatures: 64, groupSize: 16))
        #expect(try failure(groupSize: 0) { _ in }?.rule == .invalidGroupSize(0))
    }

    @Test("values: g_idx out of range, non-finite scales, codes too wide, unsupported bits")
    func values() throws {
        #expect(try failure { $0["g_idx"]!.bytes[4 * 5] = 2 }?.rule == .valueOutOfRange(index: 5, value: 2, limit: 2))
        #expect(try failure { $0["g_idx"]!.bytes[4 * 7 + 3] = 0xFF }?.tensor == "g_idx", "negative group index")
        #expect(try failure { $0["scales"]!.bytes[2 * 3] = 0x00; $0["scales"]!.bytes[2 * 3 + 1] = 0x7C }?.rule == .nonFiniteScale(index: 3))
        #expect(try failure(bits: 5) { _ in }?.rule == .unsupportedBits(5, format: .gptq))
        #expect(packedFailure { _ = try PackedLinear(format: .awq, bits: 8, groupSize: nil, tensors: [:]) }?.rule == .unsupportedBits(8, format: .awq))
        let base = try randomLayer(.gptq, bits: 2, out: 4, in: 32, groupSize: nil, actOrder: false, seed: 1)
        func make(codes: [UInt8]? = nil, zeros: [UInt8]? = nil, scales: [Float]? = nil, groupIndex: [Int32]? = nil, in n: Int = 32, format: PackedFormat = .gptq) throws {
            _ = try PackedLinear(format: format, bits: format == .awq ? 4 : 2, outFeatures: 4, inFeatures: n, groupCount: 1, codes: codes ?? base.codes,
                                 zeros: zeros ?? base.zeros, scales: scales ?? base.scales, groupIndex: groupIndex ?? base.groupIndex)
        }
        #expect(packedFailure { try make(codes: base.codes.map { _ in 4 }) }?.rule == .valueOutOfRange(index: 0, value: 4, limit: 4))
        #expect(packedFailure { try make(zeros: [0, 0, 0, 9]) }?.tensor == "qzeros")
        #expect(packedFailure { try make(scales: [1, .nan, 1, 1]) }?.rule == .nonFiniteScale(index: 1))
        #expect(packedFailure { try make(groupIndex: [Int32](repeating: 1, count: 32)) }?.tensor == "g_idx")
        #expect(packedFailure { try make(codes: [1, 2]) }?.rule == .wrongCount(field: "codes", found: 2, expected: 128))
        #expect(packedFailure { try make(codes: [UInt8](repeating: 0, count: 4 * 24), groupIndex: [Int32](repeating: 0, count: 24), in: 24) }?.rule
                == .notMultiple(what: "in", value: 24, of: 16, why: "2-bit codes fill whole 32-bit words"))
        #expect(packedFailure { try make(format: .awq) }?.rule == .notMultiple(what: "out", value: 4, of: 8, why: "AWQ packs 8 outputs per word"))
    }

    @Test("3-bit needs in to be a multiple of 32; AWQ needs out a multiple of 8 and contiguous groups")
    func widths() throws {
        #expect(packedFailure { _ = try randomLayer(.gptq, bits: 3, out: 8, in: 48, groupSize: nil, actOrder: false, seed: 1) }?.rule
                == .notMultiple(what: "in", value: 48, of: 32, why: "3-bit codes fill whole 32-bit words"))
        #expect(packedFailure { _ = try randomLayer(.awq, bits: 4, out: 12, in: 64, groupSize: nil, actOrder: false, seed: 1) }?.tensor == "qweight")
        #expect(packedFailure { _ = try randomLayer(.awq, bits: 4, out: 16, in: 64, groupSize: 32, actOrder: true, seed: 1) }?.tensor == "g_idx")
        // AWQ read with a group size that does not divide in.
        #expect(try failure(.awq, bits: 4, groupSize: 48) { _ in }?.rule == .notMultiple(what: "in", value: 64, of: 48, why: "AWQ groups of 48 inputs"))
    }

    @Test("a scale too large for F16 is an error naming scales")
    func scaleOverflow() throws {
        var layer = try randomLayer(.gptqV2, bits: 4, out: 8, in: 32, groupSize: nil, actOrder: false, seed: 2)
        layer.scales[5] = 70000
        let overflow = packedFailure { _ = try layer.storedTensors() }
        #expect(overflow?.tensor == "scales" && overflow?.rule == .scaleOverflowsF16(index: 5, value: 70000))
        layer.scales[5] = 65504
        #expect(try layer.storedTensors().count == 4, "the largest F16 value is stored")
    }
}

// MARK: Checkpoints holding packed layers

/// A small model folder with three packed layers (one with a bias), an F16 embedding and an I64 tensor, written with
/// `SafetensorsWriter`, plus `config.json` and `quantize_config.json` from `config` when given. Returns the layers.
@discardableResult
func writePackedModel(in folder: URL, format: PackedFormat, bits: Int = 4, groupSize: Int? = 32, actOrder: Bool = false,
                      config: QuantizationConfig?, file: String = "model.safetensors") throws -> [String: PackedLinear] {
    let shapes = [("model.layers.0.self_attn.q_proj", 32, 64), ("model.layers.0.mlp.up_proj", 64, 32), ("model.layers.1.self_attn.q_proj", 32, 64)]
    var layers: [String: PackedLinear] = [:]
    let writer = try SafetensorsWriter(url: folder.appendingPathComponent(file))
    for (i, (module, out, n)) in shapes.enumerated() {
        let layer = try randomLayer(format, bits: bits, out: out, in: n, groupSize: groupSize, actOrder: actOrder && i != 1, seed: 100 + UInt64(i))
        layers[module] = layer
        for t in try layer.storedTensors() {
            try t.bytes.withUnsafeBytes { try writer.add(name: module + "." + t.suffix, shape: t.shape, dtype: t.dtype, rawBytes: $0) }
        }
    }
    try writer.add(name: "model.layers.0.mlp.up_proj.bias", matrix: Matrix<Float>.random(rows: 1, columns: 64, seed: 1), dtype: .f16)
    try writer.add(name: "model.embed_tokens.weight", matrix: Matrix<Float>.random(rows: 16, columns: 64, seed: 2), dtype: .f16)
    let ids: [Int64] = Array(0..<8)
    try ids.withUnsafeBytes { try writer.add(name: "model.position_ids", shape: [8], dtype: .i64, rawBytes: $0) }
    try writer.finish()
    if let config {
        let object = config.jsonObject(quantizer: "rankwise:test")
        let model: [String: Any] = ["architectures": ["LlamaForCausalLM"], "quantization_config": object]
        try JSONSerialization.data(withJSONObject: model).write(to: folder.appendingPathComponent("config.json"))
        try JSONSerialization.data(withJSONObject: object).write(to: folder.appendingPathComponent("quantize_config.json"))
    }
    return layers
}

/// The F16 bytes of `values` (round to nearest even).
func float16Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v -> [UInt8] in let h = HalfPrecision.float16Bits(v); return [UInt8(h & 0xFF), UInt8(h >> 8)] }
}

@Suite("Checkpoints with packed layers")
struct PackedCheckpointTests {
    static let q = "model.layers.0.self_attn.q_proj"

    @Test("GPTQ v1, GPTQ v2 and AWQ with their configs: P.weight presented dequantized, Float and Double",
          arguments: [PackedFormat.gptq, .gptqV2, .awq])
    func presented(_ format: PackedFormat) throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = QuantizationConfig(format: format, bits: 4, groupSize: 32, descAct: format != .awq, symmetric: format == .gptq,
                                        damp: format == .awq ? nil : 0.01)
        let layers = try writePackedModel(in: folder, format: format, actOrder: format != .awq, config: config)
        for path in [folder, folder.appendingPathComponent("model.safetensors")] {
            let model = try Checkpoint(path: path)
            #expect(model.quantizationConfig == config)
            #expect(model.tensorNames == ["model.embed_tokens.weight", "model.layers.0.mlp.up_proj.bias", "model.layers.0.mlp.up_proj.weight",
                                         "model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.q_proj.weight", "model.position_ids"])
            #expect(model.storedTensorNames.contains(Self.q + ".qweight") && model.storedTensorNames.contains(Self.q + ".scales"))
            #expect(model.storedTensorNames.contains(Self.q + ".g_idx") == (format != .awq))
            #expect(model.packedLayers.count == 3)
            let info = model.packedLayers[Self.q]!
            #expect(info.format == format && info.bits == 4 && info.groupSize == 32 && info.groupCount == 2 && !info.inferred)
            #expect(info.descAct == (format != .awq) && model.packedLayers["model.layers.0.mlp.up_proj"]!.descAct == false)
            #expect(info.outFeatures == 32 && info.inFeatures == 64 && info.dtype == .f16)
            #expect(info.storedBytes == layers[Self.q]!.storedByteCount)
            for (module, layer) in layers {
                let name = module + ".weight"
                let tensor = model[name]!
                #expect(tensor.dtype == .f16 && tensor.shape == [layer.outFeatures, layer.inFeatures])
                #expect(tensor.byteCount == 2 * layer.outFeatures * layer.inFeatures && model.isDequantized(name))
                #expect(model.file(holding: name) == nil)
                #expect(try model.matrix(name, as: Float.self) == layer.dequantized(as: Float.self))
                #expect(try model.matrix(name, as: Double.self) == layer.dequantized(as: Double.self))
                #expect(try model.array(name, as: Float.self) == layer.dequantized(as: Float.self).elements)
                let bytes = try model.rawBytes(name)
                #expect(Array(bytes) == float16Bytes(layer.dequantized(as: Float.self).elements))
                #expect(try model.rawBytes(name).baseAddress == bytes.baseAddress, "kept until evicted")
                model.evict(name)
            }
            // Stored tensors read as before.
            #expect(model["model.position_ids"]?.dtype == .i64 && model.file(holding: "model.position_ids") != nil)
            #expect(try model.matrix("model.layers.0.mlp.up_proj.bias", as: Float.self).columns == 64)
        }
    }

    @Test("SafetensorsWriter copies a virtual weight as its dequantized bytes")
    func copying() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let layers = try writePackedModel(in: folder, format: .gptq, config: QuantizationConfig(format: .gptq, bits: 4, groupSize: 32, symmetric: true))
        let model = try Checkpoint(path: folder)
        let output = folder.appendingPathComponent("out/plain.safetensors")
        let writer = try SafetensorsWriter(url: output, protecting: model.inputURLs)
        for name in model.tensorNames { try writer.add(copying: name, from: model) }
        try writer.finish()
        let plain = try Checkpoint(path: output)
        #expect(plain.packedLayers.isEmpty && plain.tensorNames == model.tensorNames)
        for (module, layer) in layers {
            #expect(plain[module + ".weight"]?.dtype == .f16)
            #expect(Array(try plain.rawBytes(module + ".weight")) == float16Bytes(layer.dequantized(as: Float.self).elements))
        }
        #expect(Array(try plain.rawBytes("model.position_ids")) == Array(try model.rawBytes("model.position_ids")))
    }

    @Test("without a config: GPTQ (g_idx present) is inferred as v1, AWQ from qweight [in, out/8]; bits and group size from shapes")
    func inferred() throws {
        for (format, bits, groupSize) in [(PackedFormat.gptq, 3, 32), (.gptq, 8, nil), (.gptq, 2, 32), (.awq, 4, 32)] as [(PackedFormat, Int, Int?)] {
            let folder = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let layers = try writePackedModel(in: folder, format: format, bits: bits, groupSize: groupSize, actOrder: true && format != .awq, config: nil)
            let model = try Checkpoint(path: folder)
            #expect(model.quantizationConfig == nil)
            let info = model.packedLayers[Self.q]!
            #expect(info.inferred && info.format == format && info.bits == bits && info.groupSize == groupSize)
            #expect(try model.matrix(Self.q + ".weight", as: Float.self) == layers[Self.q]!.dequantized(as: Float.self))
        }
        // A v2 model without its config reads as v1: zero points one higher (why the config must stay beside it).
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let layers = try writePackedModel(in: folder, format: .gptqV2, config: nil)
        let misread = try Checkpoint(path: folder)
        #expect(misread.packedLayers[Self.q]!.format == .gptq)
        #expect(try misread.matrix(Self.q + ".weight", as: Float.self) != layers[Self.q]!.dequantized(as: Float.self))
    }

    /// The error opening (or reading `read` of) a packed folder after `edit` rewrites its safetensors file.
    func openFailure(_ edit: (inout [String: (DType, [Int], [UInt8])]) -> Void, read: String? = nil,
                     config: QuantizationConfig? = QuantizationConfig(format: .gptq, bits: 4, groupSize: 32, symmetric: true)) throws -> PackedLinearError? {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try writePackedModel(in: folder, format: .gptq, config: config)
        let url = folder.appendingPathComponent("model.safetensors")
        var tensors: [String: (DType, [Int], [UInt8])] = [:]
        do {
            let file = try SafetensorsFile(contentsOf: url)
            for name in file.tensorNames { tensors[name] = (file[name]!.dtype, file[name]!.shape, Array(try file.rawBytes(name))) }
        }
        edit(&tensors)
        try FileManager.default.removeItem(at: url)
        let writer = try SafetensorsWriter(url: url)
        for (name, t) in tensors { try t.2.withUnsafeBytes { try writer.add(name: name, shape: t.1, dtype: t.0, rawBytes: $0) } }
        try writer.finish()
        do {
            let model = try Checkpoint(path: folder)
            if let read { _ = try model.matrix(read, as: Float.self) }
            return nil
        } catch let e as PackedLinearError {
            #expect(e.file == url.path)
            return e
        }
    }

    @Test("a packed part missing or of the wrong dtype or shape is refused on open, naming the file and the tensor")
    func hostile() throws {
        let q = Self.q
        #expect(try openFailure { $0[q + ".scales"] = nil }?.tensor == q + ".scales")
        #expect(try openFailure { $0[q + ".qzeros"]!.0 = .f32 }?.tensor == q + ".qzeros")
        #expect(try openFailure { $0[q + ".scales"]!.1 = [4, 16] }?.tensor == q + ".qweight", "out = 16 disagrees with qweight's 32 columns")
        #expect(try openFailure { $0[q + ".g_idx"]!.2[0] = 9 }?.rule == .valueOutOfRange(index: 0, value: 9, limit: 2))
        #expect(try openFailure { $0[q + ".weight"] = (.f16, [1], [0, 0]) }?.rule == .weightAlongside)
        // The config says 8 bits: qweight's shape is wrong for it.
        let eight = try openFailure({ _ in }, config: QuantizationConfig(format: .gptq, bits: 8, groupSize: 32, symmetric: true))
        #expect(eight?.tensor == "model.layers.0.mlp.up_proj.qweight", "the first packed layer in natural order")
        // Without a config, shapes that fit neither rule.
        #expect(try openFailure({ $0[q + ".g_idx"] = nil; $0[q + ".qweight"]!.1 = [8, 32] }, config: nil)?.rule
                == .unknownFormat("no g_idx (so not GPTQ), and qweight [8, 32] is not [in, out/8] for scales [2, 32] (so not AWQ)"))
        // A non-finite scale shows when the layer is read.
        let nan = try openFailure({ $0[q + ".scales"]!.2[1] = 0x7E }, read: q + ".weight")
        #expect(nan?.tensor == q + ".scales" && nan?.rule == .nonFiniteScale(index: 0))
    }

    @Test("an unusable config is refused naming the file")
    func badConfig() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try writePackedModel(in: folder, format: .awq, config: nil)
        let config = folder.appendingPathComponent("config.json")
        try Data(#"{"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 32, "version": "gemv"}}"#.utf8).write(to: config)
        #expect(throws: QuantizationConfigError(file: config.path, reason: "AWQ version \"gemv\" is not supported (Rankwise reads the GEMM layout, \"version\": \"gemm\")")) {
            _ = try Checkpoint(path: folder)
        }
        try Data("{not json".utf8).write(to: config)
        #expect(throws: QuantizationConfigError.self) { _ = try Checkpoint(path: folder) }
    }
}

@Suite("Quantization configs")
struct QuantizationConfigTests {
    func parse(_ json: String) throws -> QuantizationConfig {
        try QuantizationConfig(json: JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any], file: "config.json")
    }

    @Test("GPTQ keys, defaults, the v1 default, v2, meta values")
    func gptq() throws {
        let c = try parse(#"{"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": true, "sym": false, "checkpoint_format": "gptq_v2", "meta": {"damp_percent": 0.05, "static_groups": false, "true_sequential": true}}"#)
        #expect(c == QuantizationConfig(format: .gptqV2, bits: 4, groupSize: 128, descAct: true, symmetric: false, damp: 0.05, staticGroups: false, trueSequential: true))
        let legacy = try parse(#"{"bits": 3, "group_size": -1, "damp_percent": 0.01, "desc_act": false, "static_groups": false, "sym": true, "true_sequential": true, "model_name_or_path": null}"#)
        #expect(legacy.format == .gptq && legacy.quantMethod == "gptq" && legacy.bits == 3 && legacy.groupSize == nil && legacy.damp == 0.01)
        #expect(try parse(#"{"quant_method": "gptq", "bits": 8, "format": "gptq_v2"}"#).format == .gptqV2)
        #expect(try parse(#"{"quant_method": "gptq", "bits": 8}"#).groupSize == 128, "absent group_size: 128")
        #expect(try parse(#"{"quant_method": "gptq", "bits": 4, "group_size": 1}"#).groupSize == 1)
    }

    @Test("AWQ keys and aliases; GEMM only")
    func awq() throws {
        let c = try parse(#"{"quant_method": "awq", "zero_point": true, "group_size": 64, "bits": 4, "version": "GEMM", "modules_to_not_convert": null}"#)
        #expect(c.format == .awq && c.quantMethod == "awq" && c.groupSize == 64 && !c.symmetric && !c.descAct)
        #expect(try parse(#"{"w_bit": 4, "q_group_size": 128, "zero_point": true, "version": "gemm"}"#).format == .awq)
        for refused in [#"{"quant_method": "awq", "bits": 4, "version": "gemv"}"#, #"{"quant_method": "awq", "bits": 4, "version": "exllama"}"#,
                        #"{"quant_method": "awq", "bits": 4, "zero_point": false}"#, #"{"quant_method": "awq", "bits": 3}"#] {
            #expect(throws: QuantizationConfigError.self) { _ = try parse(refused) }
        }
    }

    @Test("refused: other methods and formats, bad widths and group sizes, mistyped keys")
    func refused() throws {
        for json in [#"{"quant_method": "bitsandbytes", "bits": 4}"#, #"{"quant_method": "gptq", "bits": 4, "checkpoint_format": "marlin"}"#,
                     #"{"quant_method": "gptq", "bits": 5}"#, #"{"quant_method": "gptq"}"#, #"{"quant_method": "gptq", "bits": 4, "group_size": 0}"#,
                     #"{"quant_method": "gptq", "bits": "4"}"#, #"{"quant_method": "gptq", "bits": true}"#, #"{"quant_method": "gptq", "bits": 4, "sym": "yes"}"#] {
            #expect(throws: QuantizationConfigError.self, "\(json)") { _ = try parse(json) }
        }
    }

    @Test("jsonObject: the minimal GPTQ file, read back equal; AWQ's file")
    func written() throws {
        let c = QuantizationConfig(format: .gptq, bits: 4, groupSize: 128, descAct: false, symmetric: true, damp: 0.01, staticGroups: false, trueSequential: true)
        let object = c.jsonObject(quantizer: "rankwise:0.1")
        #expect(Set(object.keys) == ["quant_method", "bits", "group_size", "desc_act", "sym", "lm_head", "true_sequential", "damp_percent",
                                     "static_groups", "checkpoint_format", "pack_dtype", "meta"])
        #expect(object["checkpoint_format"] as? String == "gptq" && object["pack_dtype"] as? String == "int32" && object["lm_head"] as? Bool == false)
        let meta = object["meta"] as! [String: Any]
        #expect(meta["quantizer"] as? [String] == ["rankwise:0.1"] && meta["damp_percent"] as? Double == 0.01 && meta["static_groups"] as? Bool == false)
        let text = try JSONSerialization.data(withJSONObject: object)
        #expect(try QuantizationConfig(json: JSONSerialization.jsonObject(with: text) as! [String: Any], file: "x") == c)
        let whole = QuantizationConfig(format: .gptqV2, bits: 2, groupSize: nil, symmetric: false)
        #expect(whole.jsonObject(quantizer: "t")["group_size"] as? Int == -1)
        #expect(try QuantizationConfig(json: whole.jsonObject(quantizer: "t"), file: "x") == whole)
        let awq = QuantizationConfig(format: .awq, bits: 4, groupSize: 128, symmetric: false)
        #expect(try QuantizationConfig(json: awq.jsonObject(quantizer: "t"), file: "x") == awq)
        #expect(awq.jsonObject(quantizer: "t")["version"] as? String == "gemm")
    }

    @Test("model folders: config.json's quantization_config first, then quantize_config.json; nil without either")
    func folders() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try QuantizationConfig(modelFolder: folder) == nil)
        try Data(#"{"architectures": ["LlamaForCausalLM"]}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        #expect(try QuantizationConfig(modelFolder: folder) == nil)
        try Data(#"{"bits": 8, "group_size": -1, "sym": true}"#.utf8).write(to: folder.appendingPathComponent("quantize_config.json"))
        #expect(try QuantizationConfig(modelFolder: folder)?.bits == 8)
        try Data(#"{"quantization_config": {"quant_method": "gptq", "bits": 2, "group_size": 32}}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        #expect(try QuantizationConfig(modelFolder: folder)?.bits == 2)
        try Data(#"{"quantization_config": [1]}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        #expect(throws: QuantizationConfigError.self) { _ = try QuantizationConfig(modelFolder: folder) }
    }
}
