import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import Merging

func close(_ a: [Double], _ b: [Double], _ tol: Double = 1e-12) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * Swift.max(1, abs($1)) }
}

func uniform(_ n: Int, seed: UInt64, scale: Double = 1) -> [Double] {
    var g = SeededGenerator(seed: seed)
    return (0..<n).map { _ in scale * g.nextUniform() }
}

@Suite("Linear and task arithmetic")
struct LinearTests {
    @Test func linear() throws {
        let a: [Double] = [1, 2, 3], b: [Double] = [3, 6, 9]
        #expect(try LinearMerge().merge([a, b]) == [2, 4, 6])
        #expect(close(try LinearMerge(weights: [3, 1]).merge([a, b]), [1.5, 3, 4.5]))
        #expect(try LinearMerge(weights: [1, 1], normalize: false).merge([a, b]) == [4, 8, 12])
        // Scaling all weights changes nothing when normalised.
        #expect(close(try LinearMerge(weights: [30, 10]).merge([a, b]), try LinearMerge(weights: [3, 1]).merge([a, b])))
        #expect(throws: MergingError.tooFewModels(1)) { try LinearMerge().merge([a]) }
        #expect(throws: MergingError.weightCount(expected: 2, got: 3)) { try LinearMerge(weights: [1, 1, 1]).merge([a, b]) }
        #expect(throws: MergingError.self) { try LinearMerge().merge([a, [1, 2]]) }
        #expect(throws: MergingError.self) { try LinearMerge().merge([a, [1, .nan, 2]]) }
    }

    @Test func taskArithmetic() throws {
        let base: [Float] = [1, 1], t1: [Float] = [2, 1], t2: [Float] = [1, 3]
        #expect(try TaskArithmetic().merge([t1, t2], base: base) == [2, 3])
        #expect(try TaskArithmetic(lambda: 0.5).merge([t1, t2], base: base) == [1.5, 2])
        #expect(try TaskArithmetic(weights: [1, 0]).merge([t1, t2], base: base) == [2, 1])
        #expect(try TaskArithmetic(lambda: 0).merge([t1, t2], base: base) == base)
    }
}

@Suite("Fisher merging")
struct FisherTests {
    let thetas = (0..<3).map { uniform(200, seed: UInt64($0), scale: 4) }
    let fishers = (0..<3).map { uniform(200, seed: UInt64(10 + $0)) }

    func norms(_ fishers: [[Double]]) -> [Double] {
        var n = FisherNorms(models: fishers.count)
        for (i, f) in fishers.enumerated() { n.add(f, model: i) }
        return n.norms
    }

    @Test("equal Fishers give the λ-weighted mean") func equalFishers() throws {
        let f = Array(repeating: uniform(200, seed: 99), count: 3)
        let merged = try FisherMerge(weights: [1, 2, 3], normalize: false).merge(thetas, fishers: f, fisherNorms: nil)
        let mean: [Double] = (0..<200).map { (j: Int) -> Double in
            let sum: Double = thetas[0][j] + 2 * thetas[1][j] + 3 * thetas[2][j]
            return sum / 6
        }
        #expect(close(merged, mean, 1e-9))
    }

    @Test("merged values lie within the models' range") func bounds() throws {
        let merged = try FisherMerge().merge(thetas, fishers: fishers, fisherNorms: norms(fishers))
        for j in 0..<200 {
            let values = thetas.map { $0[j] }
            #expect(merged[j] >= values.min()! - 1e-12 && merged[j] <= values.max()! + 1e-12)
        }
    }

    @Test("invariant to scaling all λ, and (normalised) to scaling one Fisher") func invariances() throws {
        let base = try FisherMerge(weights: [1, 2, 1]).merge(thetas, fishers: fishers, fisherNorms: norms(fishers))
        #expect(close(try FisherMerge(weights: [10, 20, 10]).merge(thetas, fishers: fishers, fisherNorms: norms(fishers)), base, 1e-10))
        // Keep the target's Fisher above the floor so that it does not bind.
        let lifted = [fishers[0].map { $0 + 0.01 }, fishers[1], fishers[2]]
        let reference = try FisherMerge(floor: 0).merge(thetas, fishers: lifted, fisherNorms: norms(lifted))
        let scaled = [lifted[0], lifted[1].map { $0 * 1000 }, lifted[2]]
        #expect(close(try FisherMerge(floor: 0).merge(thetas, fishers: scaled, fisherNorms: norms(scaled)), reference, 1e-9))
        let unnormalized = try FisherMerge(normalize: false, floor: 0).merge(thetas, fishers: scaled, fisherNorms: nil)
        #expect(!close(unnormalized, reference, 1e-6), "without normalisation the scaled model dominates")
    }

    @Test("floor on the target model, or all; all-zero Fishers give the weighted mean") func floors() throws {
        let zero = [Double](repeating: 0, count: 4)
        let t: [[Double]] = [[1, 1, 1, 1], [3, 3, 3, 3]]
        // Only the target is floored: model 2 has no information at all, so the target wins.
        #expect(try FisherMerge(normalize: false).merge(t, fishers: [zero, zero], fisherNorms: nil) == [1, 1, 1, 1])
        // Floor on every model: equal tiny Fishers give the mean.
        #expect(close(try FisherMerge(normalize: false, floorAll: true).merge(t, fishers: [zero, zero], fisherNorms: nil), [2, 2, 2, 2]))
        // No floor and no information anywhere: the λ-weighted mean.
        #expect(close(try FisherMerge(weights: [3, 1], normalize: false, floor: 0).merge(t, fishers: [zero, zero], fisherNorms: nil), [1.5, 1.5, 1.5, 1.5]))
    }

    @Test func errors() {
        #expect(throws: MergingError.negativeFisher(tensor: "w", model: 1, value: -1)) {
            try FisherMerge().merge([[1.0], [2.0]], fishers: [[1.0], [-1.0]], fisherNorms: [1, 1], name: "w")
        }
        #expect(throws: MergingError.self) { try FisherMerge().merge([[1.0], [2.0]], fishers: [[1.0], [.nan]], fisherNorms: [1, 1]) }
        #expect(throws: MergingError.self) { try FisherMerge().merge([[1.0], [2.0]], fishers: [[1.0]], fisherNorms: [1, 1]) }
        #expect(throws: MergingError.self) { try FisherMerge().merge([[1.0], [2.0]], fishers: [[1.0], [1.0]], fisherNorms: nil) }
    }
}

@Suite("RegMean and AIM")
struct RegMeanTests {
    static func check(_ backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let out = 7, n = 9
            let ws = (0..<3).map { Matrix<Double>.random(rows: out, columns: n, seed: UInt64($0)) }
            let xs = (0..<3).map { Matrix<Double>.random(rows: n, columns: 20 + 5 * $0, seed: UInt64(10 + $0)) }
            // Grams as sums (the least-squares identity holds for sums; per-token division is a weighting).
            let grams = xs.map { Matrix.product($0, .none, $0, .transposed) }
            let merged = try RegMean().merge(ws, grams: grams)
            #expect(!merged.usedLeastSquares)
            // Stacked least squares: W [X₁ X₂ X₃] ≈ [W₁X₁ W₂X₂ W₃X₃].
            let stackedX = Matrix<Double>(rows: n, columns: xs.map(\.columns).reduce(0, +)) { i, j in
                var j = j
                for x in xs { if j < x.columns { return x[i, j] }; j -= x.columns }
                return 0
            }
            let targets = zip(ws, xs).map { $0 * $1 }
            let stackedY = Matrix<Double>(rows: out, columns: stackedX.columns) { i, j in
                var j = j
                for y in targets { if j < y.columns { return y[i, j] }; j -= y.columns }
                return 0
            }
            let lstsq = try stackedX.transposed().leastSquares(stackedY.transposed()).transposed()
            #expect((merged.weight - lstsq).maxAbs() < 1e-10)
            // Identical Grams: the plain mean.
            let same = try RegMean().merge(ws, grams: [grams[0], grams[0], grams[0]])
            let mean = (1.0 / 3) * (ws[0] + ws[1] + ws[2])
            #expect((same.weight - mean).maxAbs() < 1e-10)
            // α = 0: per-column weighted mean with the Gram diagonals as weights.
            let diag = try RegMean(nonDiagonalAlpha: 0).merge(ws, grams: grams)
            for i in 0..<out {
                for j in 0..<n {
                    let num = (0..<3).map { ws[$0][i, j] * grams[$0][j, j] }.reduce(0, +)
                    let den = (0..<3).map { grams[$0][j, j] }.reduce(0, +)
                    #expect(abs(diag.weight[i, j] - num / den) < 1e-12)
                }
            }
            // Singular Gram sum (input 0 never active): least squares, finite, reported.
            let masked = grams.map { g in Matrix<Double>(rows: n, columns: n) { i, j in i == 0 || j == 0 ? 0 : g[i, j] } }
            let fallback = try RegMean().merge(ws, grams: masked)
            #expect(fallback.usedLeastSquares && fallback.weight.isFinite)
        }
    }

    @Test("RegMean equals the stacked least-squares solution; identical Grams; α = 0", arguments: testBackends)
    func regMean(backend: Backend) throws { try Self.check(backend) }

    @Test func aim() throws {
        let base = Matrix<Double>([[1, 1, 1], [2, 2, 2]])
        let merged = Matrix<Double>([[3, 3, 3], [4, 4, 4]])
        #expect(try AIM(omega: 1).relax(merged: merged, base: base, absMean: [1, 2, 4]) == merged, "ω = 1 is the identity")
        let relaxed = try AIM(omega: 0).relax(merged: merged, base: base, absMean: [1, 2, 4])
        // ρ = 1 − a: the busiest channel (a = 1) keeps the base weights.
        #expect(relaxed == Matrix([[2.5, 2, 1], [3.5, 3, 2]]))
        #expect(throws: MergingError.self) { try AIM(omega: 2).relax(merged: merged, base: base, absMean: [1, 2, 4]) }
        // The error names the parameter in words, not a command-line flag.
        #expect(throws: MergingError.invalidParameter(parameter: .omega, value: "2.0", expected: "in [0, 1]")) {
            try AIM(omega: 2).relax(merged: merged, base: base, absMean: [1, 2, 4])
        }
        #expect(MergingError.invalidParameter(parameter: .omega, value: "2.0", expected: "in [0, 1]").description == "omega must be in [0, 1], got 2.0")
        #expect(throws: MergingError.self) { try AIM().relax(merged: merged, base: base, absMean: [1, 2]) }
        #expect(try AIM().relax(merged: merged, base: base, absMean: [0, 0, 0]) == merged)
    }
}
