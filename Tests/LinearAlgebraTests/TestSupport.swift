import Foundation
import Testing
@testable import LinearAlgebra

/// The shapes every decomposition is swept over: degenerate, vectors, tall,
/// wide, and square up to 256.
let sweepShapes: [(Int, Int)] = [
    (0, 0), (0, 3), (3, 0), (1, 1), (1, 7), (7, 1), (2, 2), (500, 20), (20, 500),
    (16, 16), (33, 17), (17, 33), (64, 64), (128, 128), (256, 256),
]

/// Both scalar types, for checks written once as generic functions.
enum ScalarKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case float, double
    var testDescription: String { rawValue }
}

/// Runs a generic check for the scalar kind.
func withScalar(_ kind: ScalarKind, _ body: (any Scalar.Type) throws -> Void) rethrows {
    switch kind {
    case .float: try body(Float.self)
    case .double: try body(Double.self)
    }
}

/// The backends the suites run on: every available one, or only the one named
/// by `RANKWISE_TEST_BACKEND` (for debugging a single backend).
let testBackends: [Backend] = {
    if let name = ProcessInfo.processInfo.environment["RANKWISE_TEST_BACKEND"], let only = Backend(name: name) {
        return Backend.available.filter { $0 == only }
    }
    return Backend.available
}()

/// A tolerance for relative errors: c · ε · √n.
func tolerance<T: Scalar>(_: T.Type, n: Int, c: Double = 30) -> T {
    T(c) * T.ulpOfOne * T(Double(Swift.max(n, 1)).squareRoot())
}

/// ‖A − B‖_F in Double.
func distance<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) -> Double {
    precondition(a.rows == b.rows && a.columns == b.columns)
    var s = 0.0
    for (x, y) in zip(a.elements, b.elements) { let d = Double(x) - Double(y); s += d * d }
    return s.squareRoot()
}

/// ‖QᵀQ − I‖_F for a matrix whose columns should be orthonormal.
func orthonormalityError<T: Scalar>(columnsOf q: Matrix<T>) -> Double {
    distance(Matrix.product(q, .transposed, q, .none), .identity(q.columns))
}

/// ‖QQᵀ − I‖_F for a matrix whose rows should be orthonormal.
func orthonormalityError<T: Scalar>(rowsOf q: Matrix<T>) -> Double {
    distance(Matrix.product(q, .none, q, .transposed), .identity(q.rows))
}

/// The product computed naively in Double, as an independent reference.
func referenceProduct<T: Scalar>(_ a: Matrix<T>, _ opA: Transpose, _ b: Matrix<T>, _ opB: Transpose) -> Matrix<Double> {
    let a = opA == .none ? a : a.transposed(), b = opB == .none ? b : b.transposed()
    return Matrix<Double>(rows: a.rows, columns: b.columns) { i, j in
        var s = 0.0
        for p in 0..<a.columns { s += Double(a[i, p]) * Double(b[p, j]) }
        return s
    }
}

/// An m×n matrix of exact rank r (product of seeded Gaussian factors).
func lowRankMatrix<T: Scalar>(_: T.Type, rows: Int, columns: Int, rank: Int, seed: UInt64) -> Matrix<T> {
    let left = Matrix<Double>.random(rows: rows, columns: rank, seed: seed)
    let right = Matrix<Double>.random(rows: rank, columns: columns, seed: seed &+ 1)
    return Backend.withCurrent(.native) { left * right }.converted()
}

/// U diag(σ) Vᵀ with random orthonormal U, V (from QR) and the given σ.
func matrixWithSpectrum<T: Scalar>(_: T.Type, rows: Int, columns: Int, singularValues: [Double], seed: UInt64) throws -> Matrix<T> {
    let k = singularValues.count
    let u = try Matrix<Double>.random(rows: rows, columns: k, seed: seed).qr().q
    let v = try Matrix<Double>.random(rows: columns, columns: k, seed: seed &+ 7).qr().q
    var us = u
    us.scaleColumns(by: singularValues)
    return Matrix.product(us, .none, v, .transposed).converted()
}

/// The n×n Hilbert matrix 1/(i + j + 1): famously ill-conditioned (κ ≈ 1.6e13 at n = 10).
func hilbert<T: Scalar>(_: T.Type, _ n: Int) -> Matrix<T> {
    Matrix(rows: n, columns: n) { i, j in T(1) / T(i + j + 1) }
}

/// Hilbert(10)'s singular values from numpy.linalg.svd (LAPACK gesdd, float64).
let hilbert10SingularValues: [Double] = [
    1.7519196702651776, 0.34292954848350915, 0.03574181627163925, 0.00253089076867004,
    0.00012874961427637938, 4.729689293188225e-06, 1.2289677387637752e-07, 2.147438824952263e-09,
    2.2667453414359168e-11, 1.0932813790602251e-13,
]
