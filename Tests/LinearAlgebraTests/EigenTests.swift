import Foundation
import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Symmetric eigendecomposition")
struct EigenTests {
    static func checkEigen<T: Scalar>(_ s: Matrix<T>, _ label: String) throws {
        let eig = try s.symmetricEigen()
        let n = s.rows
        #expect(eig.values.count == n && eig.vectors.rows == n && eig.vectors.columns == n, "\(label): shapes")
        let tol = Double(tolerance(T.self, n: n))
        let norm = Swift.max(Double(s.frobeniusNorm()), Double(T.leastNormalMagnitude))
        #expect(zip(eig.values, eig.values.dropFirst()).allSatisfy { $0 <= $1 }, "\(label): ascending")
        #expect(orthonormalityError(columnsOf: eig.vectors) <= tol, "\(label): QᵀQ = I")
        var ql = eig.vectors
        ql.scaleColumns(by: eig.values)
        #expect(distance(s * eig.vectors, ql) <= tol * norm, "\(label): S Q = Q Λ")
        let values = try s.symmetricEigenvalues()
        for (x, y) in zip(values, eig.values) { #expect(abs(Double(x) - Double(y)) <= tol * norm, "\(label): values-only path") }
    }

    static func symmetric<T: Scalar>(_: T.Type, _ n: Int, seed: UInt64) -> Matrix<T> {
        let a = Matrix<T>.random(rows: n, columns: n, seed: seed)
        return T(0.5) * (a + a.transposed())
    }

    static func sweep<T: Scalar>(_: T.Type) throws {
        for n in [0, 1, 2, 3, 10, 64, 129, 256] {
            try checkEigen(symmetric(T.self, n, seed: UInt64(n)), "random symmetric \(n)")
        }
        try checkEigen(Matrix<T>.random(rows: 100, columns: 30, seed: 3).gram(), "Gram 30 (PSD)")
        try checkEigen(lowRankMatrix(T.self, rows: 40, columns: 20, rank: 4, seed: 4).gram(), "rank-4 Gram (zero eigenvalues)")
        try checkEigen(Matrix<T>.zeros(rows: 6, columns: 6), "zero 6")
        try checkEigen(Matrix<T>.diagonal([3, 1, 3, 2, 1, 3]), "repeated eigenvalues")
        try checkEigen(Matrix<T>(rows: 8, columns: 8, repeating: 1), "ones 8 (eigenvalues 0 ×7 and 8)")
        // An RBF kernel of 350 nearby points: one eigenvalue ≈ 350, the rest at rounding level of it. The native
        // QL's local deflation test alone stalled here ("did not converge").
        let x = T(0.05) * Matrix<T>.random(rows: 350, columns: 10, seed: 11)
        let kernel = Matrix<T>(rows: 350, columns: 350) { i, j in
            var d: T = 0
            for k in 0..<10 { d += (x[i, k] - x[j, k]) * (x[i, k] - x[j, k]) }
            return T(Foundation.exp(-0.7 * Double(d)))
        }
        try checkEigen(kernel, "RBF kernel 350 (κ ≈ 1e12)")
    }

    @Test("sweep: S Q = Q Λ, orthogonality, ascending order", arguments: testBackends, ScalarKind.allCases)
    func shapes(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.sweep($0) } }
    }

    static func kernelSweep<T: Scalar>(_: T.Type, _ kernel: NativeKernel) throws {
        for n in [5, 129, 300, 461] { try checkEigen(symmetric(T.self, n, seed: 7), "\(kernel) random symmetric \(n)") }
    }

    /// The QL rotations and the tridiagonalization's symmetric product run in
    /// the kernel module of `NativeKernel.current`; 129 and 300 leave column
    /// bands with vector and scalar remainders, and rows not a multiple of 4
    /// (300 also goes through divide and conquer, with GEMMs in that module).
    /// 461 updates the reduction's lower triangle in three bands of rows (192,
    /// 192, 45) and ends the back-transformation with a block of 11 reflectors.
    @Test("every native kernel this CPU runs (baseline, AVX2, AVX-512) applies the QL rotations and the symmetric product correctly", arguments: NativeKernel.available, ScalarKind.allCases)
    func nativeKernels(kernel: NativeKernel, scalar: ScalarKind) throws {
        try Backend.withCurrent(.native) {
            try NativeKernel.withCurrent(kernel) {
                try withScalar(scalar) { try Self.kernelSweep($0, kernel) }
            }
        }
    }

    @Test("closed forms, and only the lower triangle is read", arguments: testBackends)
    func closedForms(backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let values = try Matrix<Double>([[2, 1], [1, 2]]).symmetricEigenvalues()
            #expect(abs(values[0] - 1) < 1e-15 && abs(values[1] - 3) < 1e-15)
            let ones = try Matrix<Double>(rows: 8, columns: 8, repeating: 1).symmetricEigenvalues()
            #expect(abs(ones[7] - 8) < 1e-13 && ones.prefix(7).allSatisfy { abs($0) < 1e-13 })
            // The upper triangle holds garbage; the result must follow the lower one.
            let lowerOnly = Matrix<Double>([[2, 99], [1, 2]])
            let fromLower = try lowerOnly.symmetricEigenvalues()
            #expect(abs(fromLower[0] - 1) < 1e-14 && abs(fromLower[1] - 3) < 1e-14)
            let hilbertValues = try hilbert(Double.self, 10).symmetricEigenvalues()
            for (x, y) in zip(hilbertValues, hilbert10SingularValues.reversed()) {
                #expect(abs(x - y) <= 20 * Double.ulpOfOne * 1.75)
            }
        }
    }

    // MARK: divide and conquer (native, with vectors, n > NativeEigen.divideAndConquerCrossover)

    /// ‖S Q − Q Λ‖_F ≤ c·n·ε·‖S‖_F and ‖QᵀQ − I‖_F ≤ c·n·ε, eigenvalues ascending, and the values equal to the
    /// values-only path (implicit QL) to the same tolerance.
    static func checkDivideAndConquer<T: Scalar>(_ s: Matrix<T>, _ label: String, c: Double = 2) throws {
        let n = s.rows
        let eig = try s.symmetricEigen()
        let tol = c * Double(n) * Double(T.ulpOfOne)
        let norm = Swift.max(Double(s.frobeniusNorm()), Double(T.leastNormalMagnitude))
        #expect(zip(eig.values, eig.values.dropFirst()).allSatisfy { $0 <= $1 }, "\(label): ascending")
        let orthogonality = orthonormalityError(columnsOf: eig.vectors)
        #expect(orthogonality <= tol, "\(label): ‖QᵀQ − I‖ = \(orthogonality) > \(tol)")
        var ql = eig.vectors
        ql.scaleColumns(by: eig.values)
        let residual = distance(s * eig.vectors, ql) / norm
        #expect(residual <= tol, "\(label): ‖SQ − QΛ‖/‖S‖ = \(residual) > \(tol)")
        let values = try s.symmetricEigenvalues()
        let worst = zip(values, eig.values).map { abs(Double($0) - Double($1)) }.max() ?? 0
        #expect(worst <= tol * norm, "\(label): values differ from the QL path by \(worst)")
    }

    /// Q diag(λ) Qᵀ for a random orthogonal Q (from QR), made exactly symmetric.
    static func withSpectrum<T: Scalar>(_: T.Type, _ lambdas: [Double], seed: UInt64) throws -> Matrix<T> {
        let n = lambdas.count
        let q = try Matrix<Double>.random(rows: n, columns: n, seed: seed).qr().q
        var ql = q
        ql.scaleColumns(by: lambdas)
        let s = Matrix.product(ql, .none, q, .transposed)
        return Matrix<Double>(rows: n, columns: n) { i, j in 0.5 * (s[i, j] + s[j, i]) }.converted()
    }

    /// The symmetric tridiagonal matrix with diagonal d and off-diagonal e, as a dense matrix.
    static func tridiagonal<T: Scalar>(_: T.Type, _ d: [Double], _ e: [Double]) -> Matrix<T> {
        Matrix<T>(rows: d.count, columns: d.count) { i, j in
            i == j ? T(d[i]) : (abs(i - j) == 1 ? T(e[Swift.min(i, j)]) : 0)
        }
    }

    /// Wilkinson's W⁺_{2m+1}: diagonal |m − i|, off-diagonal 1; its eigenvalues come in pairs that agree to
    /// far below ε for the large ones.
    static func wilkinson(_ m: Int) -> (d: [Double], e: [Double]) {
        let n = 2 * m + 1
        return ((0..<n).map { Double(abs(m - $0)) }, [Double](repeating: 1, count: n - 1))
    }

    static func divideAndConquerCases<T: Scalar>(_: T.Type) throws {
        let n = 300
        // Three eigenvalues, each repeated 100 times: nearly everything deflates at every merge.
        try checkDivideAndConquer(withSpectrum(T.self, (0..<n).map { Double($0 % 3) - 1 }, seed: 21), "three eigenvalues ×100")
        // Clusters of 30 eigenvalues within 1e-9 relative of each other (closer than ε for Float).
        try checkDivideAndConquer(withSpectrum(T.self, (0..<n).map { Double($0 / 30) + 1e-9 * Double($0 % 30) }, seed: 22),
                                  "10 clusters of 30")
        // I + u uᵀ: eigenvalue 1 with multiplicity n − 1 and 1 + ‖u‖².
        let u = Matrix<T>.random(rows: n, columns: 1, seed: 23)
        try checkDivideAndConquer(Matrix<T>.identity(n) + Matrix.product(u, .none, u, .transposed), "identity plus rank one")
        // Graded: D R D with D = diag(10^(−6i/n)), entries spanning 12 orders of magnitude.
        let r = symmetric(T.self, n, seed: 24)
        let grade = (0..<n).map { T(Foundation.pow(10, -6 * Double($0) / Double(n))) }
        try checkDivideAndConquer(Matrix<T>(rows: n, columns: n) { i, j in grade[i] * r[i, j] * grade[j] }, "graded")
        // Graded tridiagonal: d_i = 2^(−i/8), e_i = 2^(−i/8)/2.
        try checkDivideAndConquer(tridiagonal(T.self, (0..<n).map { Foundation.pow(2, -Double($0) / 8) },
                                              (0..<(n - 1)).map { Foundation.pow(2, -Double($0) / 8) / 2 }), "graded tridiagonal")
        // Wilkinson W⁺_201 and W⁺_21 glued: 15 copies joined by off-diagonal δ = 1e-8 and by δ = √ε.
        let w = wilkinson(100)
        try checkDivideAndConquer(tridiagonal(T.self, w.d, w.e), "Wilkinson W+201")
        let w21 = wilkinson(10)
        for delta in [1e-8, Double(T.ulpOfOne).squareRoot()] {
            var d: [Double] = [], e: [Double] = []
            for copy in 0..<15 {
                d += w21.d
                e += w21.e
                if copy < 14 { e.append(delta) }
            }
            try checkDivideAndConquer(tridiagonal(T.self, d, e), "15 glued W+21, δ = \(delta)")
        }
        // A diagonal matrix and one with a single nonzero off-diagonal entry: everything deflates.
        try checkDivideAndConquer(Matrix<T>.diagonal((0..<n).map { T($0 % 7) }), "diagonal with repeats")
        // The ones matrix: eigenvalue n once, 0 with multiplicity n − 1. Its tridiagonal form is rounding noise
        // after the first row, and the tridiagonalization's reflectors built from that noise are orthogonal only
        // to ≈ 7nε in Double (the QL path gives the same Q, to 4.3e-13 at n = 257), hence the looser constant.
        try checkDivideAndConquer(Matrix<T>(rows: 257, columns: 257, repeating: 1), "ones 257", c: 10)
        // Random symmetric at sizes that make unequal halves and several levels.
        for size in [129, 200, 513] { try checkDivideAndConquer(symmetric(T.self, size, seed: 25), "random symmetric \(size)") }
    }

    @Test("divide and conquer: heavy deflation, clusters, graded and (glued) Wilkinson matrices", arguments: testBackends, ScalarKind.allCases)
    func divideAndConquer(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.divideAndConquerCases($0) } }
    }
}
