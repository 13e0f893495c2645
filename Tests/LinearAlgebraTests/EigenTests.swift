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
        for n in [5, 129, 300] { try checkEigen(symmetric(T.self, n, seed: 7), "\(kernel) random symmetric \(n)") }
    }

    /// The QL rotations run in the kernel module of `NativeKernel.current`;
    /// 129 and 300 leave column bands with vector and scalar remainders.
    @Test("every native kernel this CPU runs (baseline, AVX2, AVX-512) applies the QL rotations correctly", arguments: NativeKernel.available, ScalarKind.allCases)
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
}
