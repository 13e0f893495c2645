import Foundation
import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Vectorised activations and attention (TokenMath)")
struct TokenMathTests {
    /// Arguments over the whole useful range of each function: a dense grid,
    /// the erf split at ±0.875·√2, tiny values, ±0, and the clamping ends.
    static let arguments: [Float] = {
        var values = stride(from: Float(-12), through: 12, by: 0.001).map { $0 }
        let ends: [Float] = [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 0.875 * Float(2).squareRoot(), -0.875 * Float(2).squareRoot(), 87, -87, 88, -88, 200, -200]
        values += ends
        values += (0..<37).map { Float($0) * 0.37 - 5 }   // a count that leaves a partial vector
        return values
    }()

    /// |got − want| ≤ relative(x)·|want| + absolute, for every argument.
    func check(_ name: String, _ kernel: (UnsafeMutableBufferPointer<Float>) -> Void, _ exact: (Double) -> Double, relative: (Double) -> Double,
               absolute: Double, arguments: [Float] = TokenMathTests.arguments) {
        var values = arguments
        values.withUnsafeMutableBufferPointer { kernel($0) }
        var worst = 0.0, worstAt: Float = 0
        for (x, got) in zip(arguments, values) {
            let want = exact(Double(x))
            let error = abs(Double(got) - want) / (relative(Double(x)) * abs(want) + absolute)
            if !(error <= worst) { worst = error; worstAt = x }
        }
        #expect(worst <= 1, "\(name): error \(worst)× the tolerance at x = \(worstAt)")
    }

    @Test("GELU, its tanh form, SiLU and eˣ agree with Double references to a few ulps", arguments: NativeKernel.available)
    func activations(kernel: NativeKernel) {
        NativeKernel.withCurrent(kernel) {
            // In the negative tails each function is e^{−cx²}-like: a Float rounding of x²
            // inside moves it by x²·ε relatively, so the tolerance grows with x².
            // Exact GELU: x·Φ(x), Φ from erfc (no cancellation in the negative tail).
            check("gelu", TokenMath.gelu, { $0 * 0.5 * erfc(-$0 / 2.0.squareRoot()) }, relative: { 3e-7 * (2 + $0 * $0) }, absolute: 1e-37)
            check("geluTanh", TokenMath.geluTanh, { x in x / (1 + Foundation.exp(-2 * 0.7978845608028654 * (x + 0.044715 * x * x * x))) },
                  relative: { 3e-7 * (2 + abs($0 * $0 * $0) / 8) }, absolute: 1e-35, arguments: Self.arguments.filter { abs($0) < 80 })
            check("silu", TokenMath.silu, { $0 / (1 + Foundation.exp(-$0)) }, relative: { 3e-7 * (2 + abs($0)) }, absolute: 1e-37,
                  arguments: Self.arguments.filter { abs($0) < 80 })
            check("exp", TokenMath.exp, { Foundation.exp($0) }, relative: { _ in 3e-7 }, absolute: 0, arguments: Self.arguments.filter { abs($0) <= 87 })
        }
    }

    @Test("eˣ clamps: no overflow to infinity, no zero or subnormal below −87.3; NaN stays NaN", arguments: NativeKernel.available)
    func exponentialEnds(kernel: NativeKernel) {
        NativeKernel.withCurrent(kernel) {
            var values: [Float] = [100, 1000, .infinity, -100, -1000, -.infinity, .nan]
            values.withUnsafeMutableBufferPointer { TokenMath.exp($0) }
            #expect(values[0...2].allSatisfy { $0.isFinite && $0 > 1e38 })
            #expect(values[3...5].allSatisfy { $0.isNormal && $0 < 1.3e-38 })
            #expect(values[6].isNaN)
            var gelu: [Float] = [.infinity, 1e30, -1e30, -20]
            gelu.withUnsafeMutableBufferPointer { TokenMath.gelu($0) }
            #expect(gelu == [.infinity, 1e30, 0, 0])
        }
    }

    /// The attention of one head by the definition, in Double.
    func reference(q: [Float], k: [Float], v: [Float], length: Int, d: Int, ld: Int, causal: Bool) -> [Double] {
        var out = [Double](repeating: 0, count: length * d)
        let scale = 1 / Double(d).squareRoot()
        for i in 0..<length {
            let visible = causal ? i + 1 : length
            var scores = (0..<visible).map { j in (0..<d).reduce(0.0) { $0 + Double(q[i * ld + $1]) * Double(k[j * ld + $1]) } * scale }
            let top = scores.max()!
            scores = scores.map { Foundation.exp($0 - top) }
            let sum = scores.reduce(0, +)
            for j in 0..<visible { for t in 0..<d { out[i * d + t] += scores[j] / sum * Double(v[j * ld + t]) } }
        }
        return out
    }

    @Test("attention of one head equals the definition over lengths 1…70 and head sizes 1…128, causal or not", arguments: NativeKernel.available)
    func attention(kernel: NativeKernel) {
        NativeKernel.withCurrent(kernel) {
            for d in [1, 3, 8, 16, 17, 32, 48, 64, 80, 128] {
                for length in [1, 2, 3, 4, 5, 7, 16, 31, 33, 64, 70] {
                    for causal in [false, true] {
                        // Operands in a wider row (other heads beside them), as in a [tokens, heads·d] matrix.
                        let ld = d + 5
                        let q = Matrix<Float>.random(rows: length, columns: ld, seed: UInt64(d * 100 + length)).elements.map { $0 * 3 }
                        let k = Matrix<Float>.random(rows: length, columns: ld, seed: UInt64(d * 100 + length + 7)).elements.map { $0 * 3 }
                        let v = Matrix<Float>.random(rows: length, columns: ld, seed: UInt64(d * 100 + length + 11)).elements
                        var context = [Float](repeating: .nan, count: length * ld)
                        var scratch = [Float](repeating: .nan, count: TokenMath.attentionScratch(length: length, dimension: d))
                        TokenMath.attention(q: q, ldq: ld, k: k, ldk: ld, v: v, ldv: ld, context: &context, ldc: ld, length: length, dimension: d,
                                            scale: 1 / Float(d).squareRoot(), causal: causal, scratch: &scratch)
                        let want = reference(q: q, k: k, v: v, length: length, d: d, ld: ld, causal: causal)
                        var worst = 0.0
                        for i in 0..<length { for t in 0..<d { worst = max(worst, abs(Double(context[i * ld + t]) - want[i * d + t])) } }
                        #expect(worst < 2e-5, "d \(d), length \(length), causal \(causal): max error \(worst)")
                        // Columns past the head are not written.
                        #expect((0..<length).allSatisfy { i in (d..<ld).allSatisfy { context[i * ld + $0].isNaN } })
                    }
                }
            }
        }
    }

    @Test("maximum and the shifted exponential sum (a softmax denominator) over lengths 0…3000", arguments: NativeKernel.available)
    func softmaxParts(kernel: NativeKernel) {
        NativeKernel.withCurrent(kernel) {
            for count in [0, 1, 5, 16, 17, 33, 1023, 1024, 1025, 3000] {
                let x = Matrix<Float>.random(rows: 1, columns: count, seed: UInt64(count)).elements.map { $0 * 20 }
                x.withUnsafeBufferPointer { p in
                    let top = TokenMath.maximum(p)
                    #expect(top == (x.max() ?? -.infinity))
                    let want = x.reduce(0.0) { $0 + Foundation.exp(Double($1) - Double(top)) }
                    let got = TokenMath.shiftedExponentialSum(p, shift: top)
                    #expect(abs(got - want) <= 1e-6 * max(want, 1), "count \(count): \(got) vs \(want)")
                }
            }
        }
    }

    @Test("empty inputs are no-ops")
    func empty() {
        var none: [Float] = []
        none.withUnsafeMutableBufferPointer { TokenMath.gelu($0); TokenMath.silu($0); TokenMath.geluTanh($0); TokenMath.exp($0) }
        #expect(none.isEmpty)
    }
}
