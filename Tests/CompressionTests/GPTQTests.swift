import Testing
import LinearAlgebra
import TestSupport
@testable import Compression

/// Calibration inputs with correlated columns (a random mixing), a few loud
/// columns and, optionally, dead ones: the situation GPTQ is built for.
func correlatedGram(inputs: Int, tokens: Int, dead: [Int] = [], seed: UInt64) -> Matrix<Double> {
    let z = Matrix<Double>.random(rows: tokens, columns: inputs, seed: seed)
    let mixing = Matrix<Double>.random(rows: inputs, columns: inputs, seed: seed + 1)
    var x = z * mixing + 0.3 * z
    for j in stride(from: 3, to: inputs, by: 17) { for t in 0..<tokens { x[t, j] *= 20 } }
    for j in dead { for t in 0..<tokens { x[t, j] = 0 } }
    return x.gram()
}

/// tr((W − Q) H (W − Q)ᵀ): the layer's output error on the calibration inputs.
func activationError<T: Scalar>(_ w: Matrix<T>, _ q: Matrix<T>, _ h: Matrix<Double>) -> Double {
    let d = (w - q).converted(to: Double.self)
    return (d * h).hadamard(d).elements.reduce(0, +)
}

@Suite("GPTQ and SparseGPT")
struct GPTQTests {
    @Test("GPTQ beats round-to-nearest on correlated inputs; codes consistent; both backends",
          arguments: ScalarKind.allCases, [(4, 128), (3, 32), (2, -1), (8, 64)])
    func beatsRTN(kind: ScalarKind, config: (bits: Int, group: Int)) throws {
        try withScalar(kind) { T in try check(T) }
        func check<T: Scalar>(_: T.Type) throws {
            let w = Matrix<T>.random(rows: 24, columns: 256, seed: 5)
            let h = correlatedGram(inputs: 256, tokens: 600, seed: 9)
            let groupSize = config.group > 0 ? config.group : nil
            for backend in testBackends {
                try Backend.withCurrent(backend) {
                    for (symmetric, actOrder) in [(false, false), (true, false), (false, true)] {
                        let gptq = try GPTQ(bits: config.bits, groupSize: groupSize, symmetric: symmetric, actOrder: actOrder).quantize(w, hessian: h)
                        let rtn = try RoundToNearest(bits: config.bits, groupSize: groupSize, symmetric: symmetric).quantize(w)
                        let q = gptq.quantized
                        #expect(q.isConsistent)
                        #expect(!gptq.fellBackToRoundToNearest && gptq.damp == 0.01)
                        #expect(q.groupCount == (groupSize.map { (256 + $0 - 1) / $0 } ?? 1))
                        let (eg, er) = (activationError(w, q.dequantized, h), activationError(w, rtn, h))
                        #expect(eg < (config.bits == 8 ? 0.8 : 0.6) * er, "\(backend) \(config) sym \(symmetric) act \(actOrder): \(eg) vs \(er)")
                        #expect(gptq.loss.isFinite && gptq.loss > 0)
                    }
                }
            }
        }
    }

    @Test("With a diagonal H there is no error feedback: GPTQ's codes are round-to-nearest's", arguments: ScalarKind.allCases)
    func diagonalHessian(kind: ScalarKind) throws {
        try withScalar(kind) { T in try check(T) }
        func check<T: Scalar>(_: T.Type) throws {
            let w = Matrix<T>.random(rows: 10, columns: 200, seed: 2)
            let h = Matrix<Double>.diagonal((0..<200).map { 1 + Double($0 % 7) })
            for (group, symmetric) in [(Int?.none, false), (64, false), (128, true), (32, true)] {
                let gptq = try GPTQ(bits: 4, groupSize: group, symmetric: symmetric).quantize(w, hessian: h).quantized
                let rtn = try RoundToNearest(bits: 4, groupSize: group, symmetric: symmetric).quantizeToCodes(w)
                #expect(gptq.codes == rtn.codes && gptq.zeros == rtn.zeros && gptq.scales == rtn.scales)
                #expect(gptq.dequantized == rtn.dequantized)
            }
        }
    }

    @Test("Act-order g_idx: the research note's worked example")
    func actOrderGroups() throws {
        let diagonal: [Double] = [1, 5, 3, 8, 2, 7, 4, 6]
        let w = Matrix<Double>.random(rows: 3, columns: 8, seed: 1)
        let result = try GPTQ(bits: 4, groupSize: 4, actOrder: true).quantize(w, hessian: .diagonal(diagonal))
        #expect(result.quantized.groupIndex == [1, 0, 1, 0, 1, 0, 1, 0])
        #expect(result.quantized.isConsistent)
        // Static groups: g_idx is trivial again and the grids are those of the original groups.
        let fixed = try GPTQ(bits: 4, groupSize: 4, actOrder: true, staticGroups: true).quantize(w, hessian: .diagonal(diagonal))
        #expect(fixed.quantized.groupIndex == [0, 0, 0, 0, 1, 1, 1, 1])
        let rtn = try RoundToNearest(bits: 4, groupSize: 4).quantizeToCodes(w)
        #expect(fixed.quantized.scales == rtn.scales && fixed.quantized.codes == rtn.codes)
    }

    @Test("Dead columns are zeroed; F16 scales are F16 values; degenerate shapes")
    func deadColumnsAndShapes() throws {
        let w = Matrix<Float>.random(rows: 6, columns: 64, seed: 4)
        let h = correlatedGram(inputs: 64, tokens: 200, dead: [5, 40], seed: 3)
        let result = try GPTQ(bits: 4, groupSize: 32, float16Scales: true).quantize(w, hessian: h)
        #expect(result.deadColumns == [5, 40])
        #expect((0..<6).allSatisfy { result.quantized.dequantized[$0, 5] == 0 && result.quantized.dequantized[$0, 40] == 0 })
        #expect(result.quantized.scales.allSatisfy { Double(Float(Float16($0))) == $0 })
        #expect(result.quantized.isConsistent)
        // One row, one column, zero rows.
        for (rows, cols) in [(1, 1), (1, 7), (5, 1), (0, 4)] {
            let w = Matrix<Double>.random(rows: rows, columns: cols, seed: 8)
            let q = try GPTQ(bits: 3, groupSize: 4).quantize(w, hessian: .identity(cols)).quantized
            #expect(q.isConsistent && q.dequantized.rows == rows && q.dequantized.columns == cols)
        }
        // An all-zero H: every column dead, every weight zero.
        let zero = try GPTQ(bits: 4).quantize(w, hessian: .zeros(rows: 64, columns: 64))
        #expect(zero.deadColumns.count == 64 && zero.quantized.dequantized == .zeros(rows: 6, columns: 64))
    }

    @Test("An indefinite H is damped more, then falls back to RTN; bad input is refused")
    func failures() throws {
        let w = Matrix<Double>.random(rows: 4, columns: 16, seed: 4)
        var h = Matrix<Double>.identity(16)
        h[3, 3] = -50
        let result = try GPTQ(bits: 4, groupSize: 8).quantize(w, hessian: h)
        #expect(result.fellBackToRoundToNearest)
        #expect(result.quantized.dequantized == (try RoundToNearest(bits: 4, groupSize: 8).quantize(w)))
        // Slightly indefinite: more damping suffices.
        var nearly = Matrix<Double>.identity(16)
        nearly[2, 2] = -0.02   // mean diagonal ≈ 0.94: damping 0.01 and 0.02 are not enough, 0.03 is
        let damped = try GPTQ(bits: 4, groupSize: 8).quantize(w, hessian: nearly)
        #expect(!damped.fellBackToRoundToNearest && abs(damped.damp - 0.03) < 1e-12)
        #expect(throws: CompressionError.hessianShape(rows: 8, columns: 8, inputs: 16)) { try GPTQ(bits: 4).quantize(w, hessian: .identity(8)) }
        #expect(throws: CompressionError.self) { try GPTQ(bits: 9).quantize(w, hessian: .identity(16)) }
        #expect(throws: CompressionError.self) { try GPTQ(bits: 4, damp: 1).quantize(w, hessian: .identity(16)) }
        #expect(throws: CompressionError.self) { try GPTQ(bits: 4, groupSize: nil, staticGroups: true).quantize(w, hessian: .identity(16)) }
        var nan = Matrix<Double>.identity(16)
        nan[1, 0] = .nan
        #expect(throws: CompressionError.nonFiniteHessian) { try GPTQ(bits: 4).quantize(w, hessian: nan) }
    }

    @Test("SparseGPT: the pattern holds, pruned weights are exactly 0, and it beats magnitude pruning",
          arguments: ScalarKind.allCases)
    func sparseGPT(kind: ScalarKind) throws {
        try withScalar(kind) { T in try check(T) }
        func check<T: Scalar>(_: T.Type) throws {
            let w = Matrix<T>.random(rows: 16, columns: 256, seed: 6)
            let h = correlatedGram(inputs: 256, tokens: 600, seed: 10)
            for backend in testBackends {
                try Backend.withCurrent(backend) {
                    let half = try SparseGPT(pattern: .unstructured(sparsity: 0.5)).prune(w, hessian: h).weight
                    let zeros = half.elements.filter { $0 == 0 }.count
                    #expect(abs(zeros - 16 * 128) <= 2, "\(zeros) zeros")
                    let magnitude = try Pruning.unstructured(sparsity: 0.5, inputNorms: nil).prune(w)
                    #expect(activationError(w, half, h) < 0.5 * activationError(w, magnitude, h))

                    let twoFour = try SparseGPT(pattern: .nOfM(n: 2, m: 4)).prune(w, hessian: h).weight
                    for i in 0..<16 {
                        for start in stride(from: 0, to: 256, by: 4) {
                            #expect((start..<(start + 4)).filter { twoFour[i, $0] == 0 }.count == 2)
                        }
                    }
                    #expect(activationError(w, twoFour, h) < activationError(w, try Pruning.nOfM(n: 2, m: 4).prune(w), h))

                    // Quantizing as it prunes: at most 2^b distinct values per row besides 0, zeros kept.
                    let quantized = try SparseGPT(pattern: .nOfM(n: 2, m: 4), bits: 4).prune(w, hessian: h).weight
                    for i in 0..<16 {
                        #expect(Set((0..<256).map { quantized[i, $0] }).count <= 16)
                        #expect((0..<256).filter { quantized[i, $0] == 0 }.count >= 128)
                    }
                    // Sparsity 0 changes nothing but dead columns; 1 prunes everything.
                    #expect(try SparseGPT(pattern: .unstructured(sparsity: 0)).prune(w, hessian: h).weight == w)
                    #expect(try SparseGPT(pattern: .unstructured(sparsity: 1)).prune(w, hessian: h).weight == .zeros(rows: 16, columns: 256))
                }
            }
        }
    }

    @Test("invertCholeskyFactor: L⁻¹ of cholesky(), X A Xᵀ = I, across the 64-block recursion; nil when not positive definite",
          arguments: testBackends)
    func choleskyInverse(backend: Backend) throws {
        try Backend.withCurrent(backend) {
            for n in [1, 5, 64, 65, 200, 300] {
                let a = correlatedGram(inputs: n, tokens: 2 * n + 3, seed: UInt64(n)).addingToDiagonal(1)
                var x = a
                #expect(invertCholeskyFactor(&x))
                let reference = try a.cholesky().triangularInverse(triangle: .lower)
                #expect(distance(x, reference) <= 1e-10 * reference.frobeniusNorm(), "n = \(n)")
                #expect(distance(x * a * x.transposed(), .identity(n)) <= 1e-10, "n = \(n)")
            }
            var indefinite = Matrix<Double>.identity(100)
            indefinite[80, 80] = -1
            #expect(!invertCholeskyFactor(&indefinite))
        }
    }

    @Test func quickselect() {
        var generator = SeededGenerator(seed: 3)
        let values = (0..<1001).map { _ in Double(Int.random(in: 0..<50, using: &generator)) }
        let sorted = values.sorted()
        for k in [0, 1, 500, 999, 1000] { #expect(kthSmallest(values, k) == sorted[k]) }
    }
}
