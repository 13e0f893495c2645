import Foundation
import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Randomized SVD")
struct RandomizedSVDTests {
    static func checkExactLowRank<T: Scalar>(_: T.Type) throws {
        for (m, n) in [(200, 100), (100, 200)] {
            let a = lowRankMatrix(T.self, rows: m, columns: n, rank: 10, seed: 1)
            let low = try a.randomizedSVD(rank: 10, oversampling: 10, powerIterations: 2, seed: 3)
            #expect(low.u.columns == 10 && low.vt.rows == 10 && low.u.rows == m && low.vt.columns == n)
            let tol = Double(tolerance(T.self, n: Swift.max(m, n), c: 100))
            #expect(distance(low.reconstructed(), a) <= tol * Double(a.frobeniusNorm()), "rank-10 \(m)×\(n) reconstructed")
            #expect(orthonormalityError(columnsOf: low.u) <= tol && orthonormalityError(rowsOf: low.vt) <= tol)
        }
    }

    static func checkDecayingSpectrum<T: Scalar>(_: T.Type) throws {
        let sigma = (0..<150).map { pow(0.9, Double($0)) }
        for (m, n) in [(300, 150), (150, 300)] {
            let a = try matrixWithSpectrum(T.self, rows: m, columns: n, singularValues: sigma, seed: 2)
            let r = 20
            let low = try a.randomizedSVD(rank: r, seed: 7)
            let optimal = sigma.dropFirst(r).map { $0 * $0 }.reduce(0, +).squareRoot()
            let residual = distance(low.reconstructed(), a)
            #expect(residual <= optimal * 1.01, "\(m)×\(n): residual \(residual) vs optimal \(optimal)")
            for (x, y) in zip(low.singularValues, sigma) {
                #expect(abs(Double(x) - y) <= 1e-3 * sigma[0], "singular values near exact")
            }
            #expect(zip(low.singularValues, low.singularValues.dropFirst()).allSatisfy { $0 >= $1 })
        }
    }

    @Test("an exactly rank-k matrix is reconstructed to rounding error", arguments: testBackends, ScalarKind.allCases)
    func exactLowRank(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.checkExactLowRank($0) } }
    }

    @Test("on a decaying spectrum the residual is within 1% of the optimum", arguments: testBackends, ScalarKind.allCases)
    func decaying(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.checkDecayingSpectrum($0) } }
    }

    @Test("the seed fixes the result; r + p ≥ min(m, n) falls back to the exact SVD", arguments: testBackends)
    func determinismAndFallback(backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let a = Matrix<Double>.random(rows: 80, columns: 60, seed: 4)
            #expect(try a.randomizedSVD(rank: 5, seed: 1) == a.randomizedSVD(rank: 5, seed: 1))
            let fallback = try a.randomizedSVD(rank: 55, oversampling: 10)
            #expect(fallback == (try a.svd().truncated(to: 55)))
            #expect(try a.randomizedSVD(rank: 0).rank == 0)
            #expect(try a.randomizedSVD(rank: 500).rank == 60, "rank is clamped to min(m, n)")
            #expect(try Matrix<Double>.zeros(rows: 0, columns: 5).randomizedSVD(rank: 3).rank == 0)
        }
    }
}
