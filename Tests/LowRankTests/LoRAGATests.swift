import Testing
import LinearAlgebra
import TestSupport
@testable import LowRank

@Suite("LoRA-GA initialisation")
struct LoRAGATests {
    static func check<T: Scalar>(_: T.Type) throws {
        let out = 64, inFeatures = 48, r = 4
        let w = weight(T.self, out: out, in: inFeatures, seed: 21)
        // A gradient of exact rank 4r = 16, so the sketch of width 16 is exact.
        let g: Matrix<T> = (Matrix<Double>.random(rows: out, columns: 16, seed: 22) * Matrix<Double>.random(rows: 16, columns: inFeatures, seed: 23)).converted()
        let tol = T.precision == .single ? 1e-4 : 1e-10
        for direction in LoRAGA.Direction.allCases {
            for scale in LoRAGA.Scale.allCases {
                for rslora in [false, true] {
                    let config = LoRAGA(rank: r, alpha: 16, useRSLoRA: rslora, direction: direction, scale: scale)
                    let result = try config.initialize(weight: w, gradient: g)
                    let f = result.factors
                    #expect(f.a.rows == r && f.a.columns == inFeatures && f.b.rows == out && f.b.columns == r)
                    #expect(Double(f.scale) == (rslora ? 16 / 2.0 : 16 / 4.0))
                    // base + s·B·A = W.
                    #expect(maxDifference(result.residualBase + f.product(), w) <= tol * 10, "\(direction) \(scale)")
                    // Rows of A are orthonormal up to the common factor ζ.
                    let aat = Matrix.product(f.a, .none, f.a, .transposed)
                    let zeta2 = Double(aat[0, 0])
                    #expect(maxDifference(aat, T(zeta2) * Matrix<T>.identity(r)) <= tol * 10 * Swift.max(zeta2, 1))
                    if scale == .stable {
                        let zeta = Double(out).squareRoot().squareRoot() / 4
                        #expect(abs(zeta2 - zeta * zeta) <= tol * 10)
                    }
                }
            }
        }
        // Unit scale, ArB2r: B Bᵀ G + G Aᵀ A is G's best rank-2r approximation.
        let unit = try LoRAGA(rank: r, scale: .unit).initialize(weight: w, gradient: g).factors
        let step = Matrix.product(unit.b, .none, Matrix.product(unit.b, .transposed, g, .none), .none)
            + Matrix.product(Matrix.product(g, .none, unit.a, .transposed), .none, unit.a, .none)
        let best = try g.svd().truncated(to: 2 * r).reconstructed()
        #expect(maxDifference(step, best) <= tol * 100 * Double(g.maxAbs()))
    }

    @Test(arguments: testBackends, ScalarKind.allCases)
    func identities(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.check($0) } }
    }

    @Test("refuses 2r > min(out, in), non-finite input, mismatched shapes")
    func errors() {
        let w = Matrix<Float>.random(rows: 10, columns: 7, seed: 1)
        #expect(throws: LowRankError.rankTooLarge(rank: 4, out: 10, in: 7, needed: "LoRA-GA uses 2r = 8 singular directions, more than min(out, in) = 7")) {
            try LoRAGA(rank: 4).initialize(weight: w, gradient: w)
        }
        var bad = w
        bad[1, 1] = .nan
        #expect(throws: LowRankError.nonFiniteWeights(what: "the gradient")) { try LoRAGA(rank: 2).initialize(weight: w, gradient: bad) }
        #expect(throws: LowRankError.self) { try LoRAGA(rank: 2).initialize(weight: w, gradient: w.leadingRows(3)) }
        #expect(throws: LowRankError.shapeMismatch(operand: "the gradient", shape: [3, 7], expected: [10, 7])) {
            try LoRAGA(rank: 2).initialize(weight: w, gradient: w.leadingRows(3))
        }
        #expect(throws: LowRankError.invalidParameter(parameter: .rank, value: "0", expected: "at least 1")) {
            try LoRAGA(rank: 0).initialize(weight: w, gradient: w)
        }
        #expect(LowRankError.shapeMismatch(operand: "the gradient", shape: [3, 7], expected: [10, 7]).description
                == "shape mismatch: the gradient is 3×7, expected 10×7")
    }
}
