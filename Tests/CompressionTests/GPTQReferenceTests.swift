import Foundation
import Testing
import LinearAlgebra
import TestSupport
import WeightFiles
@testable import Compression

/// GPTQ, RTN and SparseGPT against `scripts/gptq_reference.py`, a numpy
/// implementation of the reference algorithms (float64), through the fixture
/// written by `scripts/make_gptq_fixtures.py`: W [12, 192], the raw Gram H
/// (two dead columns, loud columns), seven GPTQ configurations, one RTN and
/// three SparseGPT ones.
///
/// Double must give the reference's codes, zero points and g_idx exactly and
/// its scales and losses to rounding. Float computes the error feedback in
/// single precision (as the reference tools do) but the grids in Double, so
/// it must agree too: the fixture records each case's distance from a
/// rounding tie (3e-5 to 5e-4 of a step), far above Float's drift here.
@Suite("GPTQ and SparseGPT against the numpy reference")
struct GPTQReferenceTests {
    struct Case: Decodable {
        var method: String
        var bits: Int
        var group_size: Int
        var sym: Bool
        var act_order: Bool
        var static_groups: Bool
    }

    struct SparseCase: Decodable {
        var sparsity: Double
        var prunen: Int
        var prunem: Int
        var bits: Int?
    }

    static let fixture: SafetensorsFile = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/gptq_reference.safetensors")
        return try! SafetensorsFile(contentsOf: url)
    }()

    static func decode<C: Decodable>(_ key: String, as type: C.Type) throws -> C {
        try JSONDecoder().decode(C.self, from: Data(fixture.metadata[key]!.utf8))
    }

    static func codes(_ name: String) throws -> [UInt8] { Array(try fixture.rawBytes(name)) }

    @Test("GPTQ and RTN: codes, zeros, g_idx equal; scales and loss to rounding", arguments: 0..<8, ScalarKind.allCases)
    func gptqCase(index: Int, kind: ScalarKind) throws {
        try withScalar(kind) { T in try check(T) }
        func check<T: Scalar>(_: T.Type) throws {
            let config = try Self.decode("case\(index).config", as: Case.self)
            let w: Matrix<T> = try Self.fixture.matrix("W")
            let h: Matrix<Double> = try Self.fixture.matrix("H")
            let expectedScales: Matrix<Double> = try Self.fixture.matrix("case\(index).scales")
            let expectedZeros: Matrix<Double> = try Self.fixture.matrix("case\(index).zeros")
            let expectedCodes = try Self.codes("case\(index).codes")
            let expectedGroups: [Int32] = Array(try Self.fixture.rawBytes("case\(index).g_idx").bindMemory(to: Int32.self))
            let expectedLoss: [Double] = try Self.fixture.array("case\(index).loss")
            let groupSize = config.group_size > 0 ? config.group_size : nil
            for backend in testBackends {
                try Backend.withCurrent(backend) {
                    let q: QuantizedMatrix<T>
                    var loss: Double? = nil
                    if config.method == "rtn" {
                        q = try RoundToNearest(bits: config.bits, groupSize: groupSize, symmetric: config.sym).quantizeToCodes(w)
                    } else {
                        let result = try GPTQ(bits: config.bits, groupSize: groupSize, symmetric: config.sym, actOrder: config.act_order,
                                              staticGroups: config.static_groups).quantize(w, hessian: h)
                        q = result.quantized
                        loss = result.loss
                        #expect(result.deadColumns == [37, 130])
                    }
                    let label = "case \(index) \(config) \(backend)"
                    #expect(q.codes == expectedCodes, "\(label): \(zip(q.codes, expectedCodes).filter { $0 != $1 }.count) codes differ")
                    #expect(q.zeros.map(Double.init) == expectedZeros.elements, "\(label)")
                    #expect(q.groupIndex == expectedGroups, "\(label)")
                    let scaleError = zip(q.scales, expectedScales.elements).map { abs($0 - $1) / $1 }.max() ?? 0
                    #expect(scaleError <= (T.self == Double.self ? 1e-12 : 1e-5), "\(label): scales differ by \(scaleError)")
                    if let loss {
                        #expect(abs(loss - expectedLoss[0]) <= (T.self == Double.self ? 1e-9 : 1e-4) * expectedLoss[0], "\(label): loss \(loss) vs \(expectedLoss[0])")
                    }
                    #expect(q.isConsistent)
                }
            }
        }
    }

    @Test("SparseGPT: masks equal, weights to rounding", arguments: 0..<3, ScalarKind.allCases)
    func sparseCase(index: Int, kind: ScalarKind) throws {
        try withScalar(kind) { T in try check(T) }
        func check<T: Scalar>(_: T.Type) throws {
            let config = try Self.decode("sparse\(index).config", as: SparseCase.self)
            let w: Matrix<T> = try Self.fixture.matrix("W")
            let h: Matrix<Double> = try Self.fixture.matrix("H")
            let expected: Matrix<Double> = try Self.fixture.matrix("sparse\(index).weight")
            let mask = try Self.codes("sparse\(index).mask")
            let expectedLoss: [Double] = try Self.fixture.array("sparse\(index).loss")
            // The reference prunes `prunen` of each `prunem`; Rankwise's pattern keeps n of m.
            let pattern: SparseGPT.Pattern = config.prunem > 0 ? .nOfM(n: config.prunem - config.prunen, m: config.prunem)
                                                               : .unstructured(sparsity: config.sparsity)
            for backend in testBackends {
                try Backend.withCurrent(backend) {
                    let result = try SparseGPT(pattern: pattern, bits: config.bits).prune(w, hessian: h)
                    // Every entry the reference pruned is exactly 0, and the zeros are the reference's zeros (a kept
                    // weight can be 0: the all-zero row, or a value quantized to the zero point).
                    #expect(zip(result.weight.elements, mask).allSatisfy { $1 == 0 || $0 == 0 }, "sparse \(index) \(backend): a pruned entry is not 0")
                    #expect(zip(result.weight.elements, expected.elements).allSatisfy { ($0 == 0) == ($1 == 0) }, "sparse \(index) \(backend): zeros differ")
                    let difference = maxDifference(result.weight.converted(to: Double.self), expected)
                    #expect(difference <= (T.self == Double.self ? 1e-10 : 2e-5) * Swift.max(expected.maxAbs(), 1), "sparse \(index) \(backend): \(difference)")
                    #expect(abs(result.loss - expectedLoss[0]) <= (T.self == Double.self ? 1e-9 : 1e-4) * expectedLoss[0])
                }
            }
        }
    }
}
