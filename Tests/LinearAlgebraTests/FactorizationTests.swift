import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Cholesky and QR")
struct FactorizationTests {
    static func spd<T: Scalar>(_: T.Type, _ n: Int, seed: UInt64) -> Matrix<T> {
        let a = Matrix<T>.random(rows: n + 5, columns: n, seed: seed)
        return a.gram() + T(n) * Matrix<T>.identity(n)
    }

    static func checkCholesky<T: Scalar>(_: T.Type) throws {
        for n in [0, 1, 2, 7, 64, 200, 300] {   // 300: three blocks of the native factor
            let s = spd(T.self, n, seed: UInt64(n))
            let l = try s.cholesky()
            let tol = Double(tolerance(T.self, n: n))
            for i in 0..<n {
                #expect(l[i, i] > 0, "positive diagonal")
                for j in (i + 1)..<Swift.max(n, i + 1) { #expect(l[i, j] == 0, "strictly upper triangle is zero") }
            }
            #expect(distance(Matrix.product(l, .none, l, .transposed), s) <= tol * Double(s.frobeniusNorm()), "L Lᵀ = S at n = \(n)")
        }
    }

    static func checkQR<T: Scalar>(_: T.Type) throws {
        for (index, (m, n)) in sweepShapes.enumerated() {
            let a = Matrix<T>.random(rows: m, columns: n, seed: UInt64(index + 50))
            try checkQR(a, "\(m)×\(n)")
        }
        try checkQR(lowRankMatrix(T.self, rows: 30, columns: 20, rank: 2, seed: 1), "rank 2")
        try checkQR(Matrix<T>.zeros(rows: 6, columns: 4), "zero")
    }

    static func checkQR<T: Scalar>(_ a: Matrix<T>, _ label: String) throws {
        let qr = try a.qr()
        let k = Swift.min(a.rows, a.columns)
        #expect(qr.q.rows == a.rows && qr.q.columns == k && qr.r.rows == k && qr.r.columns == a.columns, "\(label): shapes")
        let tol = Double(tolerance(T.self, n: Swift.max(a.rows, a.columns)))
        #expect(orthonormalityError(columnsOf: qr.q) <= tol, "\(label): QᵀQ = I")
        for i in 0..<k { for j in 0..<i { #expect(qr.r[i, j] == 0, "\(label): R is upper triangular") } }
        #expect(distance(qr.q * qr.r, a) <= tol * Swift.max(Double(a.frobeniusNorm()), 1e-30), "\(label): QR = A")
    }

    @Test("Cholesky: L Lᵀ = S, lower triangular, positive diagonal", arguments: testBackends, ScalarKind.allCases)
    func cholesky(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.checkCholesky($0) } }
    }

    @Test("Cholesky closed form and reading only the lower triangle", arguments: testBackends)
    func choleskyClosedForm(backend: Backend) throws {
        try Backend.withCurrent(backend) {
            let l = try Matrix<Double>([[4, -1], [2, 3]]).cholesky()
            #expect(abs(l[0, 0] - 2) < 1e-15 && abs(l[1, 0] - 1) < 1e-15 && abs(l[1, 1] - 2.0.squareRoot()) < 1e-15 && l[0, 1] == 0)
        }
    }

    @Test("Cholesky names the pivot of a matrix that is not positive definite", arguments: testBackends, ScalarKind.allCases)
    func notPositiveDefinite(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) {
            try withScalar(scalar) { t in try Self.checkNotPD(t) }
        }
    }

    static func checkNotPD<T: Scalar>(_: T.Type) throws {
        #expect(throws: LinearAlgebraError.notPositiveDefinite(pivot: 2)) { try Matrix<T>.diagonal([1, 2, -1, 3]).cholesky() }
        #expect(throws: LinearAlgebraError.notPositiveDefinite(pivot: 1)) { try Matrix<T>([[1, 2], [2, 1]]).cholesky() }
        #expect(throws: LinearAlgebraError.notPositiveDefinite(pivot: 0)) { try Matrix<T>.zeros(rows: 3, columns: 3).cholesky() }
        // Positive semi-definite with an exact zero pivot is not positive definite.
        #expect(throws: LinearAlgebraError.notPositiveDefinite(pivot: 1)) { try Matrix<T>(rows: 2, columns: 2, repeating: 1).cholesky() }
        // A failing pivot in a later block column is reported by its global index.
        var late = spd(T.self, 260, seed: 9)
        late[200, 200] = -1000
        #expect(throws: LinearAlgebraError.notPositiveDefinite(pivot: 200)) { try late.cholesky() }
    }

    @Test("QR: Q orthonormal, R upper triangular, QR = A", arguments: testBackends, ScalarKind.allCases)
    func qr(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.checkQR($0) } }
    }
}
