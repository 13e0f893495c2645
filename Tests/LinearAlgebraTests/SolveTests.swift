import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Linear systems: LU, least squares, triangular")
struct SolveTests {
    static func checkSolve<T: Scalar>(_: T.Type) throws {
        for (n, p) in [(0, 0), (0, 2), (1, 1), (2, 1), (10, 3), (64, 1), (150, 20)] {
            let a = Matrix<T>.random(rows: n, columns: n, seed: UInt64(n)) + T(n) * Matrix<T>.identity(n)
            let b = Matrix<T>.random(rows: n, columns: p, seed: UInt64(n + 1))
            let x = try a.solve(b)
            #expect(x.rows == n && x.columns == p)
            let tol = Double(tolerance(T.self, n: n, c: 100))
            #expect(distance(a * x, b) <= tol * Swift.max(Double(b.frobeniusNorm()), 1e-30) * 10, "A X = B at n = \(n)")
        }
        // A permutation needs pivoting: no zero on its diagonal after the row swaps.
        let perm = Matrix<T>([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
        #expect(try perm.solve([1, 2, 3]) == [3, 1, 2])
        #expect(throws: LinearAlgebraError.singular(pivot: 1)) { try Matrix<T>([[1, 2], [2, 4]]).solve([1, 1]) }
        #expect(throws: LinearAlgebraError.singular(pivot: 0)) { try Matrix<T>.zeros(rows: 3, columns: 3).solve([1, 1, 1]) }
    }

    static func checkLeastSquares<T: Scalar>(_: T.Type) throws {
        let tol = Double(tolerance(T.self, n: 100, c: 200))
        // Tall, full rank: the normal equations AᵀA x = Aᵀb hold.
        let a = Matrix<T>.random(rows: 100, columns: 12, seed: 1), b = Matrix<T>.random(rows: 100, columns: 2, seed: 2)
        let x = try a.leastSquares(b)
        let normal = Matrix.product(a, .transposed, a * x - b, .none)
        #expect(normal.maxAbs() <= T(tol) * a.frobeniusNorm() * b.frobeniusNorm(), "Aᵀ(Ax − b) = 0")
        // Wide, full row rank: an exact solution, and the one of minimum norm lies in the row space.
        let w = Matrix<T>.random(rows: 8, columns: 30, seed: 3), c = Matrix<T>.random(rows: 8, columns: 1, seed: 4)
        let y = try w.leastSquares(c)
        #expect(distance(w * y, c) <= tol * Double(c.frobeniusNorm()))
        let rowSpace = try w.transposed().qr().q
        let projected = rowSpace * Matrix.product(rowSpace, .transposed, y, .none)
        #expect(distance(projected, y) <= tol * Double(y.frobeniusNorm()), "minimum norm: no component in the null space")
        // Rank-deficient: duplicate columns share the weight equally.
        let d = Matrix<T>([[1, 1], [2, 2], [3, 3]])
        let z = try d.leastSquares([2, 4, 6])
        #expect(abs(Double(z[0]) - 1) < tol && abs(Double(z[1]) - 1) < tol)
        // Zero matrix and empty shapes.
        #expect(try Matrix<T>.zeros(rows: 3, columns: 2).leastSquares([1, 2, 3]) == [0, 0])
        #expect(try Matrix<T>.zeros(rows: 0, columns: 4).leastSquares(Matrix<T>.zeros(rows: 0, columns: 1)) == .zeros(rows: 4, columns: 1))
    }

    static func checkTriangular<T: Scalar>(_: T.Type) throws {
        let n = 40, p = 7
        var t = Matrix<T>.random(rows: n, columns: n, seed: 9)
        for i in 0..<n { t[i, i] = T(n) + t[i, i].magnitude }
        let lower = Matrix<T>(rows: n, columns: n) { i, j in j <= i ? t[i, j] : 0 }
        let upper = Matrix<T>(rows: n, columns: n) { i, j in j >= i ? t[i, j] : 0 }
        let tol = Double(tolerance(T.self, n: n, c: 100))
        for triangle in [Triangle.lower, .upper] {
            let exact = triangle == .lower ? lower : upper
            for transpose in [false, true] {
                let op = transpose ? exact.transposed() : exact
                let left = Matrix<T>.random(rows: n, columns: p, seed: 10)
                let x = try t.solveTriangular(left, triangle: triangle, transpose: transpose, side: .left)
                #expect(distance(op * x, left) <= tol * Double(left.frobeniusNorm()), "\(triangle) transpose \(transpose) left")
                let right = Matrix<T>.random(rows: p, columns: n, seed: 11)
                let y = try t.solveTriangular(right, triangle: triangle, transpose: transpose, side: .right)
                #expect(distance(y * op, right) <= tol * Double(right.frobeniusNorm()), "\(triangle) transpose \(transpose) right")
            }
        }
        #expect(throws: LinearAlgebraError.singular(pivot: 1)) {
            try Matrix<T>([[1, 0], [1, 0]]).solveTriangular(Matrix<T>.identity(2), triangle: .lower)
        }
    }

    @Test("solve: A X = B, pivoting, singular systems", arguments: testBackends, ScalarKind.allCases)
    func solve(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.checkSolve($0) } }
    }

    @Test("leastSquares: normal equations, minimum norm, rank deficiency", arguments: testBackends, ScalarKind.allCases)
    func leastSquares(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.checkLeastSquares($0) } }
    }

    @Test("solveTriangular: every side, triangle and transpose", arguments: testBackends, ScalarKind.allCases)
    func triangular(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.checkTriangular($0) } }
    }

    @Test("triangularInverse: T T⁻¹ = I, the other triangle zero, across the 64-block recursion", arguments: testBackends, ScalarKind.allCases)
    func triangularInverse(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.checkTriangularInverse($0) } }
    }

    static func checkTriangularInverse<T: Scalar>(_: T.Type) throws {
        for n in [0, 1, 2, 63, 64, 65, 130, 300] {
            // A Cholesky factor, as GPTQ inverts (random triangular matrices are exponentially ill-conditioned).
            let b = Matrix<T>.random(rows: n, columns: n, seed: UInt64(n) + 7)
            let factor = try (b.gram() + T(n / 4 + 1) * Matrix<T>.identity(n)).cholesky()
            // Garbage in the triangle that is not read.
            let a = Matrix<T>(rows: n, columns: n) { i, j in i == j ? factor[i, i] : factor[Swift.max(i, j), Swift.min(i, j)] }
            for triangle in [Triangle.lower, .upper] {
                let t = Matrix<T>(rows: n, columns: n) { i, j in (triangle == .lower ? i >= j : i <= j) ? a[i, j] : 0 }
                let x = try a.triangularInverse(triangle: triangle)   // reads only its triangle of a
                #expect((0..<n).allSatisfy { i in (0..<n).allSatisfy { j in (triangle == .lower ? i >= j : i <= j) || x[i, j] == 0 } })
                #expect(distance(t * x, .identity(n)) <= Double(tolerance(T.self, n: n, c: 100)), "n = \(n) \(triangle)")
                if n > 0 {
                    let solved = try t.solveTriangular(.identity(n), triangle: triangle)
                    #expect(distance(x, solved) <= Double(tolerance(T.self, n: n, c: 100)) * Double(solved.frobeniusNorm()))
                }
            }
        }
        var singular = Matrix<T>.identity(5)
        singular[3, 3] = 0
        #expect(throws: LinearAlgebraError.singular(pivot: 3)) { try singular.triangularInverse(triangle: .lower) }
    }
}
