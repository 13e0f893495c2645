import LinearAlgebra

/// The shapes every decomposition is swept over: degenerate, vectors, tall,
/// wide, and square up to 256.
public let sweepShapes: [(Int, Int)] = [
    (0, 0), (0, 3), (3, 0), (1, 1), (1, 7), (7, 1), (2, 2), (500, 20), (20, 500),
    (16, 16), (33, 17), (17, 33), (64, 64), (128, 128), (256, 256),
]

/// An m×n matrix of exact rank r (product of seeded Gaussian factors).
public func lowRankMatrix<T: Scalar>(_: T.Type, rows: Int, columns: Int, rank: Int, seed: UInt64) -> Matrix<T> {
    let left = Matrix<Double>.random(rows: rows, columns: rank, seed: seed)
    let right = Matrix<Double>.random(rows: rank, columns: columns, seed: seed &+ 1)
    return Backend.withCurrent(.native) { left * right }.converted()
}

/// U diag(σ) Vᵀ with random orthonormal U, V (from QR) and the given σ.
public func matrixWithSpectrum<T: Scalar>(_: T.Type, rows: Int, columns: Int, singularValues: [Double], seed: UInt64) throws -> Matrix<T> {
    let k = singularValues.count
    let u = try Matrix<Double>.random(rows: rows, columns: k, seed: seed).qr().q
    let v = try Matrix<Double>.random(rows: columns, columns: k, seed: seed &+ 7).qr().q
    var us = u
    us.scaleColumns(by: singularValues)
    return Matrix.product(us, .none, v, .transposed).converted()
}

/// The n×n Hilbert matrix 1/(i + j + 1): famously ill-conditioned (κ ≈ 1.6e13 at n = 10).
public func hilbert<T: Scalar>(_: T.Type, _ n: Int) -> Matrix<T> {
    Matrix(rows: n, columns: n) { i, j in T(1) / T(i + j + 1) }
}

/// Hilbert(10)'s singular values from numpy.linalg.svd (LAPACK gesdd, float64).
public let hilbert10SingularValues: [Double] = [
    1.7519196702651776, 0.34292954848350915, 0.03574181627163925, 0.00253089076867004,
    0.00012874961427637938, 4.729689293188225e-06, 1.2289677387637752e-07, 2.147438824952263e-09,
    2.2667453414359168e-11, 1.0932813790602251e-13,
]
