import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import Merging

@Suite("Model Stock, SCE, NearSwap and passthrough")
struct ModelStockSCENearSwapTests {
    @Test("model_stock: orthogonal task vectors give the base, equal ones the average, t from the mean cosine") func modelStock() throws {
        let base: [Double] = [1, 1, 1, 1]
        let a: [Double] = [2, 1, 1, 1], b: [Double] = [1, 3, 1, 1]
        #expect(try ModelStock().merge([a, b], base: base) == base, "c = 0: t = 0")
        let c: [Double] = [2, 2, 1, 1]
        #expect(close(try ModelStock().merge([c, c, c], base: base), c), "c = 1: t = 1")
        // Two vectors at 60°: c = ½, t = 2·½/(1 + ½) = ⅔.
        let d: [Double] = [1 + 1, 1 + 0, 1, 1], e: [Double] = [1 + 0.5, 1 + (0.75).squareRoot(), 1, 1]
        let average = zip(d, e).map { ($0 + $1) / 2 }
        let expected = zip(average, base).map { (2.0 / 3) * $0 + (1.0 / 3) * $1 }
        #expect(close(try ModelStock().merge([d, e], base: base), expected, 1e-15))
        // filter_wise: one t per row (row 0 orthogonal → base, row 1 equal → average).
        let rows = try ModelStock(filterWise: true).merge([[2, 1, 3, 3], [1, 2, 3, 3]], base: base, shape: [2, 2])
        #expect(close(rows, [1, 1, 3, 3]))
        #expect(try ModelStock().merge([[Double]](), base: base) == base)
        #expect(throws: MergingError.tooFewModels(1)) { try ModelStock().merge([a], base: base) }
        #expect(throws: MergingError.self) { try ModelStock().merge([[2, 1, 1, 1], [0, 1, 1, 1]], base: base) }
    }

    @Test("sce: one model is itself, selection by variance, energy weights, erased minority") func sce() throws {
        let base: [Double] = [0, 0, 0, 0]
        let a: [Double] = [1, -2, 3, 0.5]
        #expect(try SCE().merge([a], base: base) == a)
        #expect(try SCE(selectTopK: 0).merge([a, a], base: base) == base)
        // Energies: mean τ² of a and b; at position 0 b's sign loses (a·1 + b·(−1) with a's larger), so a alone.
        let b: [Double] = [-0.5, -1, 1, 0.5]
        let ea = (1 + 4 + 9 + 0.25) / 4, eb = (0.25 + 1 + 1 + 0.25) / 4
        let (la, lb) = (ea / (ea + eb), eb / (ea + eb))
        let merged = try SCE().merge([a, b], base: base)
        #expect(close(merged, [1, (la * -2 + lb * -1) / (la + lb), (la * 3 + lb * 1) / (la + lb), 0.5], 1e-15))
        // Variances 0.5625, 0.25, 1, 0 (the models agree at position 3): 3 nonzero, so
        // select_topk ½ keeps int(1.5) = 1 position (2), and 0.7 keeps int(2.1) = 2 (2 and 0).
        #expect(SCE.selection([a, b], share: 0.5) == [false, false, true, false])
        #expect(SCE.selection([a, b], share: 0.7) == [true, false, true, false])
        #expect(close(try SCE(selectTopK: 0.5).merge([a, b], base: base), [0, 0, (la * 3 + lb * 1) / (la + lb), 0], 1e-15) == false,
                "the energies are recomputed on the selected values")
        let (sa, sb) = (9.0 / 4, 1.0 / 4)
        #expect(close(try SCE(selectTopK: 0.5).merge([a, b], base: base), [0, 0, (sa * 3 + sb * 1) / (sa + sb), 0], 1e-15))
        // Tiny task vectors (Σ mean τ² < 1e-6): equal weights, as mergekit.
        let small: [Double] = [1e-4, 0, 0, 0], other: [Double] = [3e-4, 0, 0, 0]
        #expect(close(try SCE().merge([small, other], base: base), [2e-4, 0, 0, 0], 1e-12))
        #expect(throws: MergingError.invalidParameter(parameter: .selectTopK, value: "-1.0", expected: "finite and ≥ 0")) {
            try SCE(selectTopK: -1).merge([a], base: base)
        }
    }

    @Test("nearswap: the other model where close, a falling share t/|Δ| beyond", arguments: ScalarKind.allCases)
    func nearSwap(kind: ScalarKind) throws {
        try withScalar(kind) { T in try Self.nearSwapChecks(T) }
        // t ≤ 0: every w is 0, the base (current mergekit; older versions refused it).
        #expect(try NearSwap(t: 0).merge([1.0, 0], base: [0.0, 0]) == [0, 0])
        #expect(try NearSwap(t: -1).merge([1.0], base: [0.0]) == [0])
        #expect(throws: MergingError.invalidParameter(parameter: .t, value: "inf", expected: "finite")) {
            try NearSwap(t: .infinity).merge([1.0], base: [0.0])
        }
    }

    static func nearSwapChecks<T: Scalar>(_: T.Type) throws {
        let base: [T] = [0, 0, 0, 1]
        let other: [T] = [0.05, -0.1, 0.4, 1]
        // t = 0.1: w = 1, 1, 0.25, 1 (|Δ| = 0 → the 1e-6 floor → w = 1).
        let merged = try NearSwap(t: 0.1).merge(other, base: base)
        let expected: [Double] = [0.05, -0.1, 0.1, 1]
        #expect(zip(merged, expected).allSatisfy { abs($0.doubleValue - $1) < 1e-7 })
    }

    @Test("passthrough copies one tensor, optionally scaled") func passthrough() throws {
        let x: [Float] = [1, -2, 3]
        #expect(try Passthrough().merge([x]) == x)
        #expect(try Passthrough(scale: 0.5).merge([x]) == [0.5, -1, 1.5])
        #expect(throws: MergingError.modelCount(method: "passthrough", expected: "exactly one model", got: 2)) { try Passthrough().merge([x, x]) }
        #expect(MergingError.modelCount(method: "passthrough", expected: "exactly one model", got: 2).description
            == "passthrough merges exactly one model, got 2")
    }
}
