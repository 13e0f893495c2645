import Testing
import LinearAlgebra
import TestSupport
@testable import LowRank

@Suite("Truncated SVD factors, rank selection, metrics")
struct TruncatedSVDTests {
    static func check<T: Scalar>(_: T.Type) throws {
        let m = weight(T.self, out: 60, in: 45, seed: 3)
        let svd = try m.svd()
        for method in [SVDMethod.exact, .randomized(oversampling: 10, powerIterations: 4, seed: 1)] {
            let factors = try TruncatedSVD(rank: 10, method: method).factorize(m)
            #expect(factors.a.rows == 10 && factors.a.columns == 45 && factors.b.rows == 60 && factors.b.columns == 10)
            let optimal = svd.singularValues.dropFirst(10).map { Double($0) * Double($0) }.reduce(0, +).squareRoot() / Double(m.frobeniusNorm())
            let error = LowRankMetrics.relativeFrobeniusError(delta: m, factors: factors)
            #expect(error <= optimal * 1.01 + 1e-6, "\(method): \(error) vs Eckart–Young \(optimal)")
            let explicit = Double((m - factors.product()).frobeniusNorm() / m.frobeniusNorm())
            #expect(abs(error - explicit) < (T.precision == .single ? 1e-3 : 1e-10))
            // The √Σ split: row norms of A equal column norms of B.
            for k in 0..<10 {
                let a = factors.a.row(k).map { Double($0) * Double($0) }.reduce(0, +)
                let b = factors.b.column(k).map { Double($0) * Double($0) }.reduce(0, +)
                #expect(abs(a - b) <= 1e-3 * a)
            }
        }
        // Energy: the smallest r capturing 90% of ‖M‖².
        let energy = try TruncatedSVD(rank: .energy(fraction: 0.9, maxRank: 45)).factorize(m)
        let total = svd.singularValues.map { Double($0) * Double($0) }.reduce(0, +)
        var captured = 0.0, expected = 0
        for s in svd.singularValues { captured += Double(s) * Double(s); expected += 1; if captured >= 0.9 * total { break } }
        #expect(energy.rank == expected)
        #expect(try TruncatedSVD(rank: 100).factorize(m).rank == 45, "r is clamped to min(out, in)")
        #expect(try TruncatedSVD(rank: 3).factorize(Matrix<T>.zeros(rows: 4, columns: 5)).product().maxAbs() == 0)
        // The one truncation path: its residual is the explicit ‖M − BA‖², its
        // factors are factorize's, and SVDCompensation reports the same energies.
        let tol = T.precision == .single ? 1e-4 : 1e-10
        for method in [SVDMethod.exact, .randomized(oversampling: 10, powerIterations: 4, seed: 1)] {
            for selection in [RankSelection.fixed(7), .energy(fraction: 0.8, maxRank: 30)] {
                let truncated = try TruncatedSVD(rank: selection, method: method).truncation(of: m)
                let explicit = (m - truncated.factors.product()).converted(to: Double.self).frobeniusNorm()
                #expect(abs(truncated.residualEnergy.squareRoot() - explicit) <= tol * Double(m.frobeniusNorm()), "\(method), \(selection)")
                #expect(abs(truncated.totalEnergy - total) <= tol * total)
                #expect(try truncated.factors == TruncatedSVD(rank: selection, method: method).factorize(m))
                let plain = try SVDCompensation(rank: selection, method: method).compensate(delta: m)
                #expect(plain.residualEnergy == truncated.residualEnergy && plain.deltaEnergy == truncated.totalEnergy)
            }
        }
    }

    @Test(arguments: testBackends, ScalarKind.allCases)
    func factors(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.check($0) } }
    }
}
