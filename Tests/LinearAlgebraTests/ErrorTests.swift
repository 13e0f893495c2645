import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Non-finite input throws a named error")
struct ErrorTests {
    static func check<T: Scalar>(_: T.Type) {
        for bad in [T.nan, T.infinity, -T.infinity] {
            var a = Matrix<T>.identity(4)
            a[2, 1] = bad
            let b = Matrix<T>.identity(4)
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "svd")) { try a.svd() }
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "singularValues")) { try a.singularValues() }
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "symmetricEigen")) { try a.symmetricEigen() }
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "cholesky")) { try a.cholesky() }
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "qr")) { try a.qr() }
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "solve")) { try a.solve(b) }
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "solve")) { try b.solve(a) }
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "leastSquares")) { try a.leastSquares(b) }
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "solveTriangular")) { try b.solveTriangular(a, triangle: .lower) }
            #expect(throws: LinearAlgebraError.nonFiniteInput(operation: "randomizedSVD")) { try a.randomizedSVD(rank: 1) }
        }
    }

    @Test(arguments: testBackends, ScalarKind.allCases)
    func nonFinite(backend: Backend, scalar: ScalarKind) {
        Backend.withCurrent(backend) { withScalar(scalar) { Self.check($0) } }
    }

    @Test func messagesNameTheCause() {
        #expect(LinearAlgebraError.notPositiveDefinite(pivot: 17).description.contains("pivot 17"))
        #expect(LinearAlgebraError.nonFiniteInput(operation: "svd").description.contains("NaN"))
        #expect(LinearAlgebraError.singular(pivot: 3).description.contains("singular"))
        #expect(LinearAlgebraError.noConvergence(operation: "svd").description.contains("converge"))
    }
}
