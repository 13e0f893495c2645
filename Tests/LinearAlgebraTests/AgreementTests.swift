import Testing
@testable import LinearAlgebra
import TestSupport

/// The native backend against OpenBLAS, operation by operation, within
/// c·ε·√n·‖A‖. Skipped (there is nothing to compare) in a build without the
/// OpenBLAS trait; the other suites check the native backend against closed
/// forms and invariants there.
@Suite("Native and OpenBLAS agree", .enabled(if: Backend.isOpenBLASAvailable))
struct AgreementTests {
    static func onBoth<R>(_ body: () throws -> R) rethrows -> (openBLAS: R, native: R) {
        (try Backend.withCurrent(.openBLAS, body), try Backend.withCurrent(.native, body))
    }

    static func check<T: Scalar>(_: T.Type) throws {
        for (index, (m, n)) in [(1, 1), (1, 9), (9, 1), (500, 20), (20, 500), (64, 64), (200, 120), (256, 256)].enumerated() {
            let a = Matrix<T>.random(rows: m, columns: n, seed: UInt64(index + 300))
            let tol = Double(tolerance(T.self, n: Swift.max(m, n)))
            let norm = Double(a.frobeniusNorm())
            let label = "\(m)×\(n)"

            let products = onBoth { Matrix.product(a, .transposed, a, .none) }
            #expect(distance(products.openBLAS, products.native) <= tol * norm * norm, "\(label): AᵀA")

            let sv = try onBoth { try a.singularValues() }
            for (x, y) in zip(sv.openBLAS, sv.native) { #expect(abs(Double(x) - Double(y)) <= tol * Double(sv.openBLAS[0]), "\(label): σ") }
            let qr = try onBoth { try a.qr() }
            #expect(distance(signNormalized(qr.openBLAS).r, signNormalized(qr.native).r) <= tol * norm * 10, "\(label): R")

            let s = a.gram() + T(n) * Matrix<T>.identity(n)
            let eig = try onBoth { try s.symmetricEigenvalues() }
            let sNorm = Double(s.frobeniusNorm())
            for (x, y) in zip(eig.openBLAS, eig.native) { #expect(abs(Double(x) - Double(y)) <= tol * sNorm, "\(label): λ") }
            let chol = try onBoth { try s.cholesky() }
            #expect(distance(chol.openBLAS, chol.native) <= tol * Double(chol.openBLAS.frobeniusNorm()) * 10, "\(label): L (unique)")

            let b = Matrix<T>.random(rows: n, columns: 3, seed: 7)
            let x = try onBoth { try s.solve(b) }
            #expect(distance(x.openBLAS, x.native) <= tol * 100 * Double(x.openBLAS.frobeniusNorm()), "\(label): solve")
            let rhs = Matrix<T>.random(rows: m, columns: 2, seed: 8)
            let ls = try onBoth { try a.leastSquares(rhs) }
            if m >= n && m > 1 {  // unique solution: compare directly
                #expect(distance(ls.openBLAS, ls.native) <= tol * 1000 * Swift.max(Double(ls.openBLAS.frobeniusNorm()), 1), "\(label): lstsq")
            }
            let t = try onBoth { try chol.openBLAS.solveTriangular(b, triangle: .lower, transpose: true) }
            #expect(distance(t.openBLAS, t.native) <= tol * 100 * Double(t.openBLAS.frobeniusNorm()), "\(label): trsm")
        }
    }

    /// Q D and D R with D = sign(diag R): the unique QR with R's diagonal ≥ 0.
    static func signNormalized<T: Scalar>(_ qr: QR<T>) -> QR<T> {
        let signs = qr.r.diagonalElements.map { $0 < 0 ? T(-1) : T(1) }
        var q = qr.q, r = qr.r
        q.scaleColumns(by: signs)
        r.scaleRows(by: signs)
        return QR(q: q, r: r)
    }

    @Test("every operation agrees across backends", arguments: ScalarKind.allCases)
    func agreement(scalar: ScalarKind) throws {
        try withScalar(scalar) { try Self.check($0) }
    }

    @Test("SVD subspaces agree (projectors U Uᵀ), not raw vectors", arguments: ScalarKind.allCases)
    func subspaces(scalar: ScalarKind) throws {
        try withScalar(scalar) { t in try Self.checkSubspaces(t) }
    }

    static func checkSubspaces<T: Scalar>(_: T.Type) throws {
        let a = try matrixWithSpectrum(T.self, rows: 120, columns: 80, singularValues: (0..<80).map { 1 / Double($0 + 1) }, seed: 5)
        let svd = try onBoth { try a.svd().truncated(to: 10) }
        let projectors = (Matrix.product(svd.openBLAS.u, .none, svd.openBLAS.u, .transposed),
                          Matrix.product(svd.native.u, .none, svd.native.u, .transposed))
        // Gap σ₁₀ − σ₁₁ ≈ 0.009 bounds the subspace error by ε‖A‖/gap.
        #expect(distance(projectors.0, projectors.1) <= Double(T.ulpOfOne) * 1e4)
    }
}
