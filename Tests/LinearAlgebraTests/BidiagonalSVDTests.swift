import Foundation
import Testing
@testable import LinearAlgebra
import TestSupport

/// The native SVD above `NativeSVD.bidiagonalCrossover` (bidiagonalisation,
/// bidiagonal divide and conquer, reflectors applied in blocks): A ≈ UΣVᵀ,
/// UᵀU = I, VVᵀ = I within c·ε·√n, σ descending and, where OpenBLAS is
/// built in, σ agreeing with LAPACK's within c·ε·√n·σ₁.
@Suite("Native bidiagonal divide-and-conquer SVD")
struct BidiagonalSVDTests {
    static func check<T: Scalar>(_ a: Matrix<T>, _ label: String) throws {
        let svd = try Backend.withCurrent(.native) { try a.svd() }
        let (m, n) = (a.rows, a.columns)
        let tol = Double(tolerance(T.self, n: Swift.max(m, n)))
        let norm = Double(a.frobeniusNorm())
        #expect(svd.u.rows == m && svd.u.columns == Swift.min(m, n) && svd.vt.columns == n, "\(label): shapes")
        #expect(distance(svd.reconstructed(), a) <= tol * norm, "\(label): ‖A − UΣVᵀ‖ \(distance(svd.reconstructed(), a) / norm)")
        #expect(orthonormalityError(columnsOf: svd.u) <= tol, "\(label): UᵀU = I \(orthonormalityError(columnsOf: svd.u))")
        #expect(orthonormalityError(rowsOf: svd.vt) <= tol, "\(label): VVᵀ = I \(orthonormalityError(rowsOf: svd.vt))")
        #expect(zip(svd.singularValues, svd.singularValues.dropFirst()).allSatisfy { $0 >= $1 }, "\(label): descending")
        let values = try Backend.withCurrent(.native) { try a.singularValues() }
        let sigma1 = Double(svd.singularValues.first ?? 0)
        for (x, y) in zip(values, svd.singularValues) {
            #expect(abs(Double(x) - Double(y)) <= tol * sigma1, "\(label): singularValues() = svd().singularValues")
        }
        if Backend.isOpenBLASAvailable {
            let reference = try Backend.withCurrent(.openBLAS) { try a.singularValues() }
            for (x, y) in zip(reference, svd.singularValues) {
                #expect(abs(Double(x) - Double(y)) <= tol * sigma1, "\(label): σ against OpenBLAS")
            }
        }
    }

    static func cases<T: Scalar>(_: T.Type) throws {
        let n = 300
        try check(Matrix<T>.random(rows: n, columns: n, seed: 1), "random \(n)²")
        try check(Matrix<T>.random(rows: 2 * n, columns: n, seed: 2), "random \(2 * n)×\(n)")
        try check(Matrix<T>.random(rows: 200, columns: 350, seed: 3), "random 200×350")
        try check(lowRankMatrix(T.self, rows: n, columns: n, rank: 40, seed: 4), "rank 40 of \(n)²")
        try check(Matrix<T>.zeros(rows: 200, columns: 200) + lowRankMatrix(T.self, rows: 200, columns: 200, rank: 1, seed: 5), "rank 1 of 200²")
        var clustered = (0..<n).map { 1 + 1e-9 * Double($0) }
        clustered[0] = 10
        try check(try matrixWithSpectrum(T.self, rows: n, columns: n, singularValues: clustered, seed: 6), "clustered σ")
        let repeated = (0..<n).map { Double(1 + $0 / 100) }
        try check(try matrixWithSpectrum(T.self, rows: n, columns: n, singularValues: repeated.sorted(by: >), seed: 7), "σ repeated 100 times")
        let graded = (0..<n).map { pow(10, -Double($0) / 30) }
        try check(try matrixWithSpectrum(T.self, rows: n, columns: n, singularValues: graded, seed: 8), "graded 1 … 1e-10")
        try check(Matrix<T>.identity(n) + Matrix<T>(rows: n, columns: n, repeating: 1), "I + 11ᵀ")
        try check(T(1e-30) * Matrix<T>.random(rows: 150, columns: 150, seed: 9), "tiny entries")
    }

    @Test("random, rank-deficient, clustered, repeated and graded spectra", arguments: ScalarKind.allCases)
    func spectra(scalar: ScalarKind) throws {
        try withScalar(scalar) { try Self.cases($0) }
    }
}
