/// The narrow boundary between the public API and a backend.
///
/// The public layer (`Matrix` and its extensions) validates every call before
/// it reaches a kernel: shapes agree, no dimension is zero, every entry is
/// finite. A kernel may therefore assume non-empty, finite input of consistent
/// shape, and must not crash on any finite data: data-dependent failures are
/// thrown as `LinearAlgebraError`.
///
/// All matrices are row-major. A new backend is one type conforming to this
/// protocol.
protocol BackendKernels {
    /// C ← α·op(A)·op(B) + β·C on raw row-major storage.
    ///
    /// op(A) is m×k and op(B) is k×n; C is m×n. `lda`, `ldb`, `ldc` are row
    /// strides (≥ the stored row length). When `beta == 0`, C is overwritten
    /// without being read (it may hold NaN). m, n, k may be 0.
    static func gemm<T: Scalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int,
        b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int)

    /// AᵀA (n×n, both triangles filled) for an m×n A.
    static func gram<T: Scalar>(_ a: Matrix<T>) -> Matrix<T>

    /// Thin SVD, k = min(m, n): U m×k, σ descending ≥ 0, Vᵀ k×n. With
    /// `computeVectors == false`, `u` and `vt` are returned empty (0×0) and only
    /// the singular values are computed.
    static func svd<T: Scalar>(_ a: Matrix<T>, computeVectors: Bool) throws -> SVD<T>

    /// Eigenvalues ascending and orthonormal eigenvectors (column j for value
    /// j) of a symmetric matrix; only the lower triangle need be read. With
    /// `computeVectors == false`, `vectors` is 0×0.
    static func symmetricEigen<T: Scalar>(_ s: Matrix<T>, computeVectors: Bool) throws -> SymmetricEigen<T>

    /// The lower-triangular L with S = L Lᵀ (strict upper triangle zero).
    /// Throws `.notPositiveDefinite(pivot:)` with the 0-based failing row.
    static func cholesky<T: Scalar>(_ s: Matrix<T>) throws -> Matrix<T>

    /// Thin Householder QR: Q m×k orthonormal columns, R k×n upper
    /// trapezoidal, k = min(m, n).
    static func qr<T: Scalar>(_ a: Matrix<T>) -> QR<T>

    /// X with A X = B for square A (n×n) and B (n×p), by LU with partial
    /// pivoting. Throws `.singular(pivot:)` on an exactly zero pivot.
    static func solve<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T>

    /// Solves op(T) X = B (`side == .left`, B n×p) or X op(T) = B
    /// (`side == .right`, B p×n) for a triangular n×n T with a non-zero
    /// diagonal (the caller checks). Only the named triangle of T is read.
    static func triangularSolve<T: Scalar>(
        _ t: Matrix<T>, _ b: Matrix<T>, triangle: Triangle, transpose: Bool, side: Side) -> Matrix<T>
}

/// Which triangle of a triangular matrix holds its entries.
public enum Triangle: Sendable, Equatable {
    /// `lower`: entries on and below the diagonal (i ≥ j); `upper`: on and above it (i ≤ j). The other triangle is not read.
    case lower, upper
}

/// Which side a triangular factor stands on in a solve.
public enum Side: Sendable, Equatable {
    /// op(T) X = B.
    case left
    /// X op(T) = B.
    case right
}
