import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import Merging

@Suite("Slerp, NuSlerp and the Karcher mean")
struct SphericalMergeTests {
    let a = uniform(64, seed: 21).map { $0 - 0.5 }
    let b = uniform(64, seed: 22).map { $0 - 0.5 }

    @Test("slerp: exact endpoints, the orthogonal midpoint, raw norms kept", arguments: ScalarKind.allCases)
    func slerp(kind: ScalarKind) throws {
        try withScalar(kind) { T in try Self.slerpChecks(T, a, b) }
    }

    static func slerpChecks<T: Scalar>(_: T.Type, _ a: [Double], _ b: [Double]) throws {
        let x = a.map { T($0) }, y = b.map { T($0) }
        #expect(try Slerp(t: 0).merge(y, base: x) == x)
        #expect(try Slerp(t: 1).merge(y, base: x) == y)
        // Orthogonal vectors of norms 1 and 2: Ω = π/2, both coefficients sin(π/4)/1 at t = ½.
        let e1: [T] = [1, 0, 0], e2: [T] = [0, 2, 0]
        let mid = try Slerp(t: 0.5).merge(e2, base: e1)
        let h = (0.5).squareRoot()
        #expect(abs(mid[0].doubleValue - h) < 1e-6 && abs(mid[1].doubleValue - 2 * h) < 1e-6 && mid[2] == 0)
        // t = 1/3 on orthogonal unit vectors: (sin(π/3), sin(π/6)).
        let third = try Slerp(t: 1.0 / 3).merge([0, 1, 0] as [T], base: e1)
        #expect(abs(third[0].doubleValue - (0.75).squareRoot()) < 1e-6 && abs(third[1].doubleValue - 0.5) < 1e-6)
    }

    @Test("slerp: colinear (|cos| > 0.9995) falls back to lerp, parallel or antiparallel") func slerpColinear() throws {
        let twice = a.map { 2 * $0 }
        #expect(close(try Slerp(t: 0.3).merge(twice, base: a), a.map { 0.7 * $0 + 0.3 * 2 * $0 }, 1e-15))
        let opposite = a.map { -3 * $0 }
        #expect(close(try Slerp(t: 0.25).merge(opposite, base: a), a.map { 0.75 * $0 - 0.25 * 3 * $0 }, 1e-15))
        // Just inside the threshold it is spherical: cos = 0.999 gives a result off the chord.
        let angle = acos(0.999)
        let u: [Double] = [1, 0], v: [Double] = [cos(angle), sin(angle)]
        let s = try Slerp(t: 0.5).merge(v, base: u)
        #expect(abs((s[0] * s[0] + s[1] * s[1]).squareRoot() - 1) < 1e-12, "on the unit circle, not the chord")
        // A zero tensor is not normalised (d = 0): Ω = π/2.
        #expect(close(try Slerp(t: 0.5).merge([0, 0], base: u), [(0.5).squareRoot(), 0], 1e-15))
        #expect(throws: MergingError.invalidParameter(parameter: .t, value: "nan", expected: "finite")) { try Slerp(t: .nan).merge(a, base: a) }
        #expect(throws: MergingError.self) { try Slerp(t: 0.5).merge([1.0], base: a) }
    }

    @Test("nuslerp: t from the weights, rows and columns, base, colinear lerp") func nuslerp() throws {
        #expect(try NuSlerp(weights: [1, 3]).interpolationFactor() == 0.75)
        #expect(try NuSlerp(weights: [1, -1]).interpolationFactor() == 0.5, "|w₁ + w₂| < 1e-6: ½")
        #expect(try NuSlerp().interpolationFactor() == 0.5)
        // Flattened, without a base: mergekit's slerp of orthogonal vectors (no 0.9995 rule needed).
        let e1: [Double] = [1, 0], e2: [Double] = [0, 1]
        #expect(close(try NuSlerp(weights: [1, 1]).merge([e1, e2], shape: [2]), [(0.5).squareRoot(), (0.5).squareRoot()], 1e-15))
        // Row by row: each row is its own slerp.
        let shape = [4, 16]
        let rows = try NuSlerp(weights: [2, 1], flatten: false).merge([a, b], shape: shape)
        for r in 0..<4 {
            let row = try NuSlerp(weights: [2, 1]).merge([Array(a[r * 16..<(r + 1) * 16]), Array(b[r * 16..<(r + 1) * 16])])
            #expect(close(Array(rows[r * 16..<(r + 1) * 16]), row, 1e-14))
        }
        // row_wise: along dimension 0 (columns) = the transposed problem.
        let columns = try NuSlerp(weights: [2, 1], flatten: false, rowWise: true).merge([a, b], shape: shape)
        func transpose(_ x: [Double]) -> [Double] { (0..<64).map { x[($0 % 4) * 16 + $0 / 4] } }
        let transposed = try NuSlerp(weights: [2, 1], flatten: false).merge([transpose(a), transpose(b)], shape: [16, 4])
        let back = (0..<64).map { (k: Int) -> Double in transposed[(k % 16) * 4 + k / 16] }
        #expect(close(columns, back, 1e-14))
        // With a base: slerp of the task vectors, plus the base.
        let base = uniform(64, seed: 23)
        let withBase = try NuSlerp(weights: [1, 1]).merge([zip(a, base).map(+), zip(b, base).map(+)], base: base)
        #expect(close(withBase, zip(try NuSlerp(weights: [1, 1]).merge([a, b]), base).map(+), 1e-14))
        // Colinear (sin θ = 0): linear.
        #expect(close(try NuSlerp(weights: [3, 1]).merge([[1, 2], [2, 4]]), [1.25, 2.5], 1e-15))
        #expect(throws: MergingError.modelCount(method: "nuslerp", expected: "exactly two models (and an optional base)", got: 3)) {
            try NuSlerp().merge([a, b, a])
        }
        #expect(throws: MergingError.weightCount(expected: 2, got: 1)) { try NuSlerp(weights: [1]).merge([a, b]) }
    }

    @Test("karcher: identical tensors, orthogonal pair, zero tensors, one tensor", arguments: ScalarKind.allCases)
    func karcher(kind: ScalarKind) throws {
        try withScalar(kind) { T in try Self.karcherChecks(T, a) }
    }

    static func karcherChecks<T: Scalar>(_: T.Type, _ a: [Double]) throws {
        let x = a.map { T($0) }
        let same = try Karcher().merge([x, x, x])
        #expect(zip(same, x).allSatisfy { abs($0.doubleValue - $1.doubleValue) <= 4 * Double(T.ulpOfOne) * Swift.max(1, abs($1.doubleValue)) })
        #expect(try Karcher().merge([x]) == x)
        // Orthogonal unit vectors: the geodesic midpoint (1, 1)/√2 at mean norm (1 + 3)/2.
        let mid = try Karcher().merge([[1, 0], [0, 3]] as [[T]])
        #expect(abs(mid[0].doubleValue - 2 * (0.5).squareRoot()) < 1e-5 && abs(mid[1].doubleValue - 2 * (0.5).squareRoot()) < 1e-5)
        // A zero tensor has no direction but counts in the mean norm (α = 1/N throughout).
        let withZero = try Karcher().merge([[2, 0], [0, 0]] as [[T]])
        #expect(withZero == [1, 0])
        #expect(try Karcher().merge([[0, 0], [0, 0]] as [[T]]) == [0, 0])
    }

    @Test("karcher: the fixed point has zero mean log map; max_iter 0 is the normalised mean") func karcherFixedPoint() throws {
        let xs = (0..<4).map { uniform(10, seed: UInt64(40 + $0)).map { $0 + 0.2 } }
        let merged = try Karcher(maxIter: 100, tol: 1e-12).merge(xs)
        let norm = merged.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let u = merged.map { $0 / norm }
        var tangent = [Double](repeating: 0, count: 10)
        for x in xs {
            let n = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let ui = x.map { $0 / n }
            let c = zip(u, ui).map(*).reduce(0, +)
            let phi = acos(Swift.min(1, c))
            for j in 0..<10 { tangent[j] += phi / sin(phi) * (ui[j] - c * u[j]) / 4 }
        }
        #expect(tangent.map(abs).max()! < 1e-10)
        let meanNorm = xs.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }.reduce(0, +) / 4
        #expect(abs(norm - meanNorm) < 1e-12)
        let start = try Karcher(maxIter: 0).merge(xs)
        var sum = [Double](repeating: 0, count: 10)
        for x in xs {
            let n = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for j in 0..<10 { sum[j] += x[j] / n }
        }
        let sumNorm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(close(start, sum.map { meanNorm * $0 / sumNorm }, 1e-14))
        #expect(throws: MergingError.invalidParameter(parameter: .maxIter, value: "-1", expected: "≥ 0")) { try Karcher(maxIter: -1).merge(xs) }
        #expect(throws: MergingError.tooFewModels(0)) { try Karcher().merge([[Double]]()) }
    }
}
