import Testing
import LinearAlgebra
@testable import Compression

@Suite("RTN quantisation and pruning")
struct CompressorTests {
    @Test("RTN: at most 2^b levels per group, error within half a step, zeros kept", arguments: [2, 3, 4, 8])
    func rtn(bits: Int) throws {
        let w = Matrix<Float>.random(rows: 16, columns: 64, seed: 1)
        for symmetric in [false, true] {
            let q = try RoundToNearest(bits: bits, groupSize: 16, symmetric: symmetric).quantize(w)
            for i in 0..<16 {
                for g in 0..<4 {
                    let original = (0..<16).map { w[i, g * 16 + $0] }, quantized = (0..<16).map { q[i, g * 16 + $0] }
                    #expect(Set(quantized).count <= 1 << bits)
                    let lo = Swift.min(original.min()!, 0), hi = Swift.max(original.max()!, 0)
                    let step = symmetric ? 2 * Swift.max(-lo, hi) / Float((1 << bits) - 1) : (hi - lo) / Float((1 << bits) - 1)
                    for (x, y) in zip(original, quantized) { #expect(abs(x - y) <= step * (symmetric ? 1 : 0.5) + 1e-6) }
                }
            }
        }
        let zeros = try RoundToNearest(bits: bits).quantize(Matrix<Double>.zeros(rows: 3, columns: 5))
        #expect(zeros == .zeros(rows: 3, columns: 5))
        // More bits, smaller error.
        let e4 = (w - (try RoundToNearest(bits: 4).quantize(w))).frobeniusNorm()
        let e8 = (w - (try RoundToNearest(bits: 8).quantize(w))).frobeniusNorm()
        #expect(e8 < e4 / 8)
    }

    @Test("RTN rounds half to even, as torch.round; rows split across threads give the same result")
    func rtnTies() throws {
        // Range [0, 3] on 2 bits: scale 1, zero 0; 1.5 and 2.5 are ties, both go to 2.
        let q = try RoundToNearest(bits: 2, groupSize: nil).quantize(Matrix<Double>([[0, 1.5, 2.5, 3], [0, 0.5, 1.5, 3]]))
        #expect(q == Matrix<Double>([[0, 2, 2, 3], [0, 0, 2, 3]]))
        // A matrix large enough to be cut into row chunks equals the row-by-row result.
        let w = Matrix<Float>.random(rows: 300, columns: 256, seed: 3)
        let whole = try RoundToNearest(bits: 3, groupSize: 64).quantize(w)
        for i in [0, 137, 299] {
            let row = try RoundToNearest(bits: 3, groupSize: 64).quantize(Matrix(rows: 1, columns: 256) { _, j in w[i, j] })
            #expect((0..<256).allSatisfy { whole[i, $0] == row[0, $0] }, "row \(i)")
        }
    }

    @Test func rtnRejectsBadParameters() {
        let w = Matrix<Float>.random(rows: 2, columns: 2, seed: 1)
        #expect(throws: CompressionError.self) { try RoundToNearest(bits: 1).quantize(w) }
        #expect(throws: CompressionError.self) { try RoundToNearest(bits: 9).quantize(w) }
        #expect(throws: CompressionError.self) { try RoundToNearest(bits: 4, groupSize: 0).quantize(w) }
        // The error carries the parameter and names it in words, not a command-line flag.
        #expect(throws: CompressionError.invalidParameter(parameter: .bits, value: "9", expected: "between 2 and 8")) {
            try RoundToNearest(bits: 9).quantize(w)
        }
        #expect(CompressionError.invalidParameter(parameter: .bits, value: "9", expected: "between 2 and 8").description
                == "bits must be between 2 and 8, got 9")
        #expect(throws: CompressionError.invalidParameter(parameter: .groupSize, value: "0", expected: "positive")) {
            try RoundToNearest(bits: 4, groupSize: 0).quantize(w)
        }
    }

    @Test("2:4 keeps the two largest of every four")
    func nOfM() throws {
        let w = Matrix<Double>([[1, -4, 3, 2, 0.5, 0.1, -0.2, 9]])
        let p = try Pruning.nOfM(n: 2, m: 4).prune(w)
        #expect(p.elements == [0, -4, 3, 0, 0.5, 0, 0, 9])
        let big = try Pruning.nOfM(n: 2, m: 4).prune(Matrix<Float>.random(rows: 32, columns: 64, seed: 2))
        for i in 0..<32 { for g in 0..<16 { #expect((0..<4).filter { big[i, g * 4 + $0] != 0 }.count == 2) } }
        #expect(throws: CompressionError.self) { try Pruning.nOfM(n: 2, m: 4).prune(Matrix<Float>.zeros(rows: 2, columns: 6)) }
        #expect(throws: CompressionError.self) { try Pruning.nOfM(n: 5, m: 4).prune(w) }
        #expect(throws: CompressionError.inputsNotMultipleOfM(inputs: 6, m: 4)) { try Pruning.nOfM(n: 2, m: 4).prune(Matrix<Float>.zeros(rows: 2, columns: 6)) }
    }

    @Test("unstructured magnitude and Wanda")
    func unstructured() throws {
        let w = Matrix<Float>.random(rows: 20, columns: 50, seed: 3)
        let p = try Pruning.unstructured(sparsity: 0.5, inputNorms: nil).prune(w)
        #expect(p.elements.filter { $0 == 0 }.count == 500)
        let kept = p.elements.filter { $0 != 0 }.map(\.magnitude).min()!, dropped = zip(w.elements, p.elements).filter { $1 == 0 }.map { $0.0.magnitude }.max()!
        #expect(kept >= dropped, "the largest magnitudes survive")
        // Wanda: a huge input norm on column 0 protects it in every row.
        var norms = [Double](repeating: 1, count: 50)
        norms[0] = 1e6
        let wanda = try Pruning.unstructured(sparsity: 0.9, inputNorms: norms).prune(w)
        for i in 0..<20 {
            #expect(wanda[i, 0] == w[i, 0])
            #expect((0..<50).filter { wanda[i, $0] == 0 }.count == 45, "per-row sparsity")
        }
        #expect(throws: CompressionError.self) { try Pruning.unstructured(sparsity: 1.5, inputNorms: nil).prune(w) }
        #expect(throws: CompressionError.self) { try Pruning.unstructured(sparsity: 0.5, inputNorms: [1]).prune(w) }
        #expect(try Pruning.unstructured(sparsity: 0, inputNorms: nil).prune(w) == w)
    }
}
