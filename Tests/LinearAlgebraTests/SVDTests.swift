import Foundation
import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Singular value decomposition")
struct SVDTests {
    /// Shape, orthogonality, ordering and reconstruction of `a.svd()`, and
    /// `singularValues()` agreeing with it.
    static func checkSVD<T: Scalar>(_ a: Matrix<T>, _ label: String) throws {
        let svd = try a.svd()
        let (m, n, k) = (a.rows, a.columns, Swift.min(a.rows, a.columns))
        #expect(svd.u.rows == m && svd.u.columns == k, "\(label): U shape")
        #expect(svd.vt.rows == k && svd.vt.columns == n, "\(label): Vᵀ shape")
        #expect(svd.singularValues.count == k)
        let tol = Double(tolerance(T.self, n: Swift.max(m, n)))
        let norm = Double(a.frobeniusNorm())
        #expect(distance(svd.reconstructed(), a) <= tol * norm, "\(label): ‖A − UΣVᵀ‖")
        #expect(orthonormalityError(columnsOf: svd.u) <= tol, "\(label): UᵀU = I")
        #expect(orthonormalityError(rowsOf: svd.vt) <= tol, "\(label): VᵀV = I")
        #expect(zip(svd.singularValues, svd.singularValues.dropFirst()).allSatisfy { $0 >= $1 }, "\(label): descending")
        #expect(svd.singularValues.allSatisfy { $0 >= 0 }, "\(label): non-negative")
        let values = try a.singularValues()
        let sigma1 = Double(svd.singularValues.first ?? 0)
        for (x, y) in zip(values, svd.singularValues) {
            #expect(abs(Double(x) - Double(y)) <= tol * Swift.max(sigma1, 1e-30), "\(label): singularValues() = svd().singularValues")
        }
    }

    static func sweep<T: Scalar>(_: T.Type) throws {
        for (index, (m, n)) in sweepShapes.enumerated() {
            try checkSVD(Matrix<T>.random(rows: m, columns: n, seed: UInt64(index)), "random \(m)×\(n)")
        }
        try checkSVD(lowRankMatrix(T.self, rows: 40, columns: 30, rank: 3, seed: 5), "rank 3 of 40×30")
        try checkSVD(lowRankMatrix(T.self, rows: 30, columns: 60, rank: 1, seed: 6), "rank 1 of 30×60")
        try checkSVD(Matrix<T>.zeros(rows: 5, columns: 4), "zero 5×4")
        try checkSVD(Matrix<T>.identity(7), "identity 7")
        try checkSVD(Matrix<T>(rows: 6, columns: 6, repeating: 1), "ones 6×6")
        try checkSVD(try matrixWithSpectrum(T.self, rows: 60, columns: 40, singularValues: (0..<40).map { pow(10, -Double($0) / 6) }, seed: 8),
                     "graded spectrum 60×40")
        // Entries far from 1 in magnitude must not overflow or underflow.
        try checkSVD(1e-30 * Matrix<T>.random(rows: 9, columns: 7, seed: 10), "tiny entries")
        // n ≥ 64: the native backend preconditions Jacobi with the eigenvectors of AᵀA.
        try checkSVD(lowRankMatrix(T.self, rows: 120, columns: 80, rank: 7, seed: 11), "rank 7 of 120×80")
        try checkSVD(try matrixWithSpectrum(T.self, rows: 96, columns: 96, singularValues: (0..<96).map { pow(10, -Double($0) / 12) }, seed: 12),
                     "graded spectrum 96×96 (κ = 1e8)")
        try checkSVD(Matrix<T>.identity(70) + Matrix<T>(rows: 70, columns: 70, repeating: 1), "repeated σ, 70×70")
        try checkSVD(T(1e30) * Matrix<T>.random(rows: 7, columns: 9, seed: 11), "huge entries")
    }

    @Test("sweep of shapes: reconstruction, orthogonality, ordering", arguments: testBackends, ScalarKind.allCases)
    func shapes(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.sweep($0) } }
    }

    @Test("closed forms: diagonal and 2×2", arguments: testBackends)
    func closedForms(backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let d = Matrix<Double>([[0, 0, 0], [0, -3, 0], [0, 0, 2], [0, 0, 0]])
            let values = try d.singularValues()
            #expect(values.count == 3)
            for (x, y) in zip(values, [3.0, 2.0, 0.0]) { #expect(abs(x - y) < 1e-15) }
            // [[3, 0], [4, 5]] has singular values √45 and √5.
            let s = try Matrix<Double>([[3, 0], [4, 5]]).singularValues()
            #expect(abs(s[0] - 45.0.squareRoot()) < 1e-14 && abs(s[1] - 5.0.squareRoot()) < 1e-14)
        }
    }

    @Test("Hilbert 10×10 (κ ≈ 1.6e13): singular values agree with LAPACK via numpy", arguments: testBackends)
    func hilbertMatrix(backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let h = hilbert(Double.self, 10)
            try Self.checkSVD(h, "Hilbert 10")
            let values = try h.singularValues()
            for (x, reference) in zip(values, hilbert10SingularValues) {
                // Absolute accuracy ε·σ₁ is what any backward-stable SVD promises.
                #expect(abs(x - reference) <= 20 * Double.ulpOfOne * hilbert10SingularValues[0], "σ = \(x), numpy \(reference)")
            }
            #expect(abs(values[9] / hilbert10SingularValues[9] - 1) < 1e-2, "even σ₁₀ ≈ 1.1e-13 keeps two digits")
        }
    }

    @Test("SVD.truncated(to:) keeps the leading triplets", arguments: testBackends)
    func truncation(backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let a = Matrix<Double>.random(rows: 30, columns: 20, seed: 12)
            let full = try a.svd()
            let top = full.truncated(to: 5)
            #expect(top.u.columns == 5 && top.vt.rows == 5 && top.singularValues == Array(full.singularValues.prefix(5)))
            let residual = distance(top.reconstructed(), a)
            let optimal = full.singularValues.dropFirst(5).map { $0 * $0 }.reduce(0, +).squareRoot()
            #expect(abs(residual - optimal) < 1e-10 * optimal, "Eckart–Young: the truncation error is the tail of σ")
        }
    }
}
