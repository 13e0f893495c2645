import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import Merging

typealias GTA = GeneralizedTaskArithmetic

@Suite("Generalized task arithmetic (ties, dare, breadcrumbs, della)")
struct TaskArithmeticFamilyTests {
    let base = uniform(400, seed: 1, scale: 2)
    var models: [[Double]] {
        (0..<3).map { (m: Int) -> [Double] in
            let noise = uniform(400, seed: UInt64(10 + m))
            return (0..<400).map { (j: Int) -> Double in base[j] + 0.2 * (noise[j] - 0.5) }
        }
    }

    @Test("the methods' defaults are mergekit's") func defaults() {
        let ties = GTA(.ties)
        #expect(ties.sparsification == .magnitude && ties.consensus == .sum && ties.normalize && ties.rescale == .none)
        let dare = GTA(.dareTies)
        #expect(dare.sparsification == .random && dare.consensus == .sum && !dare.normalize && dare.rescale == .l1)
        #expect(GTA(.dareLinear).consensus == nil && GTA(.dareLinear).rescale == .l1)
        #expect(GTA(.breadcrumbs).sparsification == .magnitudeOutliers && GTA(.breadcrumbs).rescale == .none)
        #expect(GTA(.breadcrumbsTies).consensus == .sum && !GTA(.breadcrumbsTies).normalize)
        #expect(GTA(.della).normalize && GTA(.della).rescale == .l1 && GTA(.della).consensus == .sum)
        #expect(!GTA(.dellaLinear).normalize && GTA(.dellaLinear).consensus == nil)
        #expect(GTA(.taskArithmetic).sparsification == nil && GTA(.taskArithmetic).consensus == nil)
        #expect(ties.weight == 1 && ties.density == 1 && ties.gamma == 0.01 && ties.epsilon == 0.15 && ties.lambda == 1)
        #expect(GTA.Method(rawValue: "dare_ties") == .dareTies && GTA.Method.allCases.count == 8)
    }

    @Test("density 1 without consensus is task arithmetic", arguments: [GTA.Method.taskArithmetic, .dareLinear, .breadcrumbs, .dellaLinear])
    func densityOne(method: GTA.Method) throws {
        let merged = try GTA(method, weight: [1, 0.5, -0.25], lambda: 0.7).merge(models, base: base, shape: [20, 20])
        let reference = try TaskArithmetic(weights: [1, 0.5, -0.25], lambda: 0.7).merge(models, base: base)
        #expect(close(merged, reference, 1e-12))
    }

    @Test("ties at density 1 with agreeing signs is the weighted mean of the deltas") func tiesMean() throws {
        let base: [Double] = [0, 1, -1, 2]
        let a: [Double] = [1, 2, -3, 2.5], b: [Double] = [3, 1.5, -2, 4]
        let merged = try GTA(.ties, weight: [1, 3]).merge([a, b], base: base)
        let mean = (0..<4).map { (j: Int) -> Double in
            let sum: Double = 1 * (a[j] - base[j]) + 3 * (b[j] - base[j])
            return base[j] + sum / 4
        }
        #expect(close(merged, mean))
        // Opposite signs: the minority is dropped (elect by mass), zeros never vote.
        let c: [Double] = [-0.5, 1, -1, 2]
        let voted = try GTA(.ties).merge([a, c], base: base)
        #expect(voted == [1, 2, -3, 2.5], "c's delta at 0 loses to a's, elsewhere c's is zero")
        // `count` elects by head count: two small positives beat one large negative.
        let small: [Double] = [0.1], large: [Double] = [-5]
        #expect(try GTA(.ties).merge([small, small, large], base: [0]) == [-5])
        var count = GTA(.ties)
        count.consensus = .count
        #expect(close(try count.merge([small, small, large], base: [0]), [0.1]))
    }

    @Test("magnitude keeps exactly the int(density·n) largest |δ|") func magnitude() throws {
        let delta = uniform(101, seed: 3).map { $0 - 0.5 }
        let mask = try Sparsifier.magnitude(delta, density: 0.3, name: "w")
        #expect(mask.keep.filter { $0 }.count == 30)
        let threshold = delta.map(abs).sorted(by: >)[29]
        for (d, k) in zip(delta, mask.keep) { #expect(k == (abs(d) >= threshold)) }
        // Ties: the earlier position is kept.
        #expect(try Sparsifier.magnitude([1, -2, 2, 2, 0.5], density: 0.4, name: "w").keep == [false, true, true, false, false])
        #expect(throws: MergingError.self) { try GTA(.ties, density: 0.05).merge([[1.0, 2]], base: [0.0, 0]) }
        #expect(throws: MergingError.invalidParameter(parameter: .density, value: "-0.5", expected: "finite and ≥ 0")) {
            try GTA(.ties, density: -0.5).merge([[1.0, 2]], base: [0.0, 0])
        }
    }

    @Test("breadcrumbs drops the smallest and the gamma largest; mergekit's n_top = 0 quirk on request") func breadcrumbs() {
        let delta: [Double] = Array(1...20).map { Double($0) * ($0 % 2 == 0 ? 1 : -1) }
        let mask = Sparsifier.magnitudeOutliers(delta, density: 0.5, gamma: 0.1, emptyWhenNoOutliers: false)
        // keep 10, drop the 2 largest (|δ| 19, 20) and the 8 smallest (1…8).
        #expect(mask.keep == (1...20).map { (9...18).contains($0) })
        // n_top = int(0.01 · 20) = 0: no outliers removed, or (quirk) nothing kept.
        let plain = Sparsifier.magnitudeOutliers(delta, density: 0.5, gamma: 0.01, emptyWhenNoOutliers: false)
        #expect(plain.keep == (1...20).map { $0 > 10 })
        #expect(Sparsifier.magnitudeOutliers(delta, density: 0.5, gamma: 0.01, emptyWhenNoOutliers: true).keep.allSatisfy { !$0 })
        // n_bot < 0: fewer outliers are removed to reach the density.
        let dense = Sparsifier.magnitudeOutliers(delta, density: 0.95, gamma: 0.1, emptyWhenNoOutliers: false)
        #expect(dense.keep.filter { $0 }.count == 19 && !dense.keep[19])
    }

    @Test("random drops: reproducible, keyed, at the density's rate; the rescales") func random() throws {
        let n = 100_000
        let delta = uniform(n, seed: 5).map { $0 - 0.5 }
        let base = [Double](repeating: 0, count: n)
        let dare = GTA(.dareLinear, density: 0.3, seed: 9)
        let masks = try dare.sparsifiedDeltas([delta, delta], base: base, shape: [n], name: "w").masks
        let kept = masks[0]!.keep.filter { $0 }.count
        #expect(abs(Double(kept) / Double(n) - 0.3) < 0.01)
        #expect(masks[0]!.keep != masks[1]!.keep, "each model draws its own stream")
        #expect(try dare.sparsifiedDeltas([delta], base: base, shape: [n], name: "w").masks[0]!.keep == masks[0]!.keep)
        #expect(try dare.sparsifiedDeltas([delta], base: base, shape: [n], name: "v").masks[0]!.keep != masks[0]!.keep)
        // Float and Double draw the same masks.
        let floats = try dare.sparsifiedDeltas([delta.map { Float($0) }], base: base.map { Float($0) }, shape: [n], name: "w").masks
        #expect(floats[0]!.keep == masks[0]!.keep)
        // L1 rescale (current mergekit) keeps Σ|δ|; the paper's divides kept entries by the density.
        let l1 = try dare.sparsifiedDeltas([delta], base: base, shape: [n], name: "w").deltas[0]
        let l1After: Double = l1.map(abs).reduce(0, +), l1Before: Double = delta.map(abs).reduce(0, +)
        #expect(abs(l1After / l1Before - 1) < 1e-12)
        var paper = dare
        paper.rescale = .inverseKeepProbability
        let inverse = try paper.sparsifiedDeltas([delta], base: base, shape: [n], name: "w").deltas[0]
        for j in 0..<n { #expect(inverse[j] == (masks[0]!.keep[j] ? delta[j] / 0.3 : 0)) }
        paper.rescale = .none
        let none = try paper.sparsifiedDeltas([delta], base: base, shape: [n], name: "w").deltas[0]
        for j in 0..<n { #expect(none[j] == (masks[0]!.keep[j] ? delta[j] : 0)) }
        // density 0 drops everything (no division by zero).
        paper.density = 0
        paper.rescale = .inverseKeepProbability
        #expect(try paper.merge([delta], base: base, shape: [n], name: "w") == base)
    }

    @Test("DELLA: keep probabilities from row ranks, density ± ε, per dimension-1 fibre") func della() throws {
        // Row 0 increasing, row 1 decreasing magnitudes.
        let delta: [Double] = [1, -2, 3, 4, 5, -4, 3, 2, 1, 0.5]
        let p = Sparsifier.dellaProbabilities(delta, shape: [2, 5], density: 0.5, epsilon: 0.2)
        #expect(close(p, [0.3, 0.4, 0.5, 0.6, 0.7, 0.7, 0.6, 0.5, 0.4, 0.3], 1e-15))
        // A 1-D tensor is one row; a 3-D tensor ranks along dimension 1.
        #expect(close(Sparsifier.dellaProbabilities([2, 1, 3], shape: [3], density: 0.5, epsilon: 0.1), [0.5, 0.4, 0.6], 1e-15))
        let cube = Sparsifier.dellaProbabilities([1, 9, 2, 8, 3, 7], shape: [1, 3, 2], density: 0.5, epsilon: 0.1)
        #expect(close(cube, [0.4, 0.6, 0.5, 0.5, 0.6, 0.4], 1e-15))
        // One value per fibre: p = density (mergekit divides 0 by 0).
        #expect(Sparsifier.dellaProbabilities([1, 2], shape: [2, 1], density: 0.5, epsilon: 0.1) == [0.5, 0.5])
        // The kept share follows p: large magnitudes survive more often.
        let n = 200, rows = 100
        let big = (0..<rows * n).map { Double($0 % n + 1) }
        let masks = try GTA(.dellaLinear, density: 0.5, epsilon: 0.4, seed: 3).sparsifiedDeltas([big], base: [Double](repeating: 0, count: rows * n), shape: [rows, n], name: "w").masks
        let keep = masks[0]!.keep
        let low = (0..<rows).map { r in (0..<20).filter { keep[r * n + $0] }.count }.reduce(0, +)
        let high = (0..<rows).map { r in (180..<200).filter { keep[r * n + $0] }.count }.reduce(0, +)
        #expect(Double(low) / 2000 < 0.2 && Double(high) / 2000 > 0.8)
        // Density ≤ 0 drops everything; ε must keep density ± ε inside (0, 1); the shape is required.
        #expect(try GTA(.della, density: 0).merge([[1.0, 2]], base: [0.0, 0], shape: [2]) == [0, 0])
        #expect(throws: MergingError.invalidParameter(parameter: .epsilon, value: "0.5", expected: "such that density ± epsilon lies in (0, 1) (density 0.5)")) {
            try GTA(.della, density: 0.5, epsilon: 0.5).merge([[1.0, 2]], base: [0.0, 0], shape: [2])
        }
        #expect(throws: MergingError.invalidParameter(parameter: .shape, value: "none", expected: "given: DELLA ranks along dimension 1")) {
            try GTA(.della, density: 0.5).merge([[1.0, 2]], base: [0.0, 0])
        }
    }

    @Test("normalize, lambda, zero weights, no models, errors") func misc() throws {
        let base: [Double] = [1, 1], a: [Double] = [2, 3]
        #expect(try GTA(.taskArithmetic, weight: 2, normalize: true).merge([a], base: base) == a, "normalised by Σw")
        #expect(try GTA(.taskArithmetic, weight: 2, lambda: 0.5).merge([a], base: base) == a)
        // Σw ≈ 0 is not divided by.
        #expect(try GTA(.taskArithmetic, weight: [1, -1], normalize: true).merge([a, base], base: base) == a)
        #expect(try GTA(.ties).merge([[Double]](), base: base) == base, "no models: the base, as mergekit")
        #expect(throws: MergingError.weightCount(expected: 2, got: 3)) { try GTA(.ties, weight: [1, 2, 3]).merge([a, a], base: base) }
        #expect(throws: MergingError.self) { try GTA(.ties).merge([[1.0]], base: base) }
        #expect(throws: MergingError.self) { try GTA(.ties).merge([[1.0, .nan]], base: base) }
        #expect(throws: MergingError.invalidParameter(parameter: .gamma, value: "2.0", expected: "in [0, 1]")) {
            try GTA(.breadcrumbs, density: 0.5, gamma: 2).merge([a], base: base)
        }
        #expect(throws: MergingError.self) { try GTA(.ties).merge([a], base: base, shape: [3]) }
        #expect(MergingError.invalidParameter(parameter: .selectTopK, value: "-1.0", expected: "finite and ≥ 0").description
            == "select_topk must be finite and ≥ 0, got -1.0")
    }

    @Test("order statistics: rank ranges equal a stable sort's, with many ties") func ranks() {
        var g = SeededGenerator(seed: 77)
        for trial in 0..<200 {
            let n = 1 + trial % 37
            let values = (0..<n).map { _ in Double(Int(g.nextUniform() * 5)) - 2 }
            let order = values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
            let lo = Int(g.nextUniform() * Double(n + 1)), hi = Int(g.nextUniform() * Double(n + 1))
            let range = Swift.min(lo, hi)..<Swift.max(lo, hi)
            var expected = [Bool](repeating: false, count: n)
            for r in range { expected[order[r]] = true }
            #expect(OrderStatistics.inRankRange(values, range) == expected)
            var scratch = values
            let k = Int(g.nextUniform() * Double(n))
            #expect(OrderStatistics.select(&scratch, k) == values.sorted()[k])
        }
    }

    @Test("order statistics: the k largest magnitudes equal a stable sort's, with ties and ±0")
    func largestMagnitudes() {
        var g = SeededGenerator(seed: 78)
        // 300_007 spans several chunks when there are threads to chunk across.
        for n in [0, 1, 2, 1000, 100_003, 300_007] {
            // Few distinct magnitudes (many ties, ±0 among them) and a continuous tail.
            let values: [Double] = (0..<n).map { _ in
                let u = g.nextUniform()
                if u < 0.6 { return [0.0, -0.0, 1, -1, 0.5, -0.5, 2][Int(g.nextUniform() * 7)] }
                return (g.nextUniform() - 0.5) * 4
            }
            let order = values.indices.sorted { abs(values[$0]) > abs(values[$1]) || (abs(values[$0]) == abs(values[$1]) && $0 < $1) }
            var ks = [0, 1, n - 1, n, n / 2, Int(g.nextUniform() * Double(n))]
            ks = ks.filter { $0 >= 0 && $0 <= n }
            for k in ks {
                var expected = [Bool](repeating: false, count: n)
                for r in 0..<k { expected[order[r]] = true }
                let mask = values.withUnsafeBufferPointer { OrderStatistics.largestMagnitudes($0, count: k) }
                #expect(mask == expected, "n = \(n), k = \(k)")
                #expect(mask.filter { $0 }.count == k)
            }
        }
    }
}
