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
