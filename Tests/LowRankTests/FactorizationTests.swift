import Foundation
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

    /// Exact truncation of Float matrices goes through the Double Gram's
    /// eigendecomposition: it must match a Double SVD of the same entries
    /// (σ, the rank-r approximation, orthonormal vectors, the tail energy) as
    /// closely as a Float SVD does, tall and wide, also where σ = 0.
    @Test("exact truncation of Float matrices: the Double Gram path against a Double SVD", arguments: testBackends)
    func floatThroughDoubleGram(backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let graded = try matrixWithSpectrum(Float.self, rows: 70, columns: 50, singularValues: (0..<50).map { pow(10, -Double($0) / 10) }, seed: 31)
            let cases: [(String, Matrix<Float>, Int)] = [
                ("decaying 70×50", weight(Float.self, out: 70, in: 50, seed: 30), 8),
                ("decaying 50×70", weight(Float.self, out: 50, in: 70, seed: 30), 8),
                ("graded to 1e-5, 70×50", graded, 20),
                ("graded to 1e-5, 50×70", graded.transposed(), 50),
                ("rank 3 of 60×40, r = 6", lowRankMatrix(Float.self, rows: 60, columns: 40, rank: 3, seed: 32), 6),
                ("zero 30×20", .zeros(rows: 30, columns: 20), 4),
                ("1×9", Matrix<Float>.random(rows: 1, columns: 9, seed: 33), 3),
            ]
            for (label, m, r) in cases {
                let truncated = try TruncatedSVD(rank: r).truncation(of: m)
                let reference = try m.converted(to: Double.self).svd()
                let kept = truncated.triplets, k = Swift.min(r, m.rows, m.columns)
                let sigma1 = reference.singularValues.first ?? 0
                #expect(kept.singularValues.count == k, "\(label): rank")
                for (x, y) in zip(kept.singularValues, reference.singularValues) {
                    #expect(abs(Double(x) - y) <= 1e-6 * Swift.max(sigma1, 1e-30), "\(label): σ \(x) vs \(y)")
                }
                #expect(orthonormalityError(columnsOf: kept.u) <= 1e-5 && orthonormalityError(rowsOf: kept.vt) <= 1e-5, "\(label): orthonormal")
                let best = reference.truncated(to: k).reconstructed()
                #expect(distance(kept.reconstructed().converted(to: Double.self), best) <= 1e-5 * Swift.max(m.converted(to: Double.self).frobeniusNorm(), 1e-30),
                        "\(label): the best rank-\(k) approximation")
                let tail = reference.singularValues.dropFirst(k).map { $0 * $0 }.reduce(0, +)
                #expect(abs(truncated.residualEnergy - tail) <= 1e-6 * Swift.max(sigma1 * sigma1, 1e-30), "\(label): tail energy")
            }
        }
    }

    @Test(arguments: testBackends, ScalarKind.allCases)
    func factors(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.check($0) } }
    }
}
