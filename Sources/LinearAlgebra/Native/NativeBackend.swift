/// The pure-Swift backend: no C, no BLAS. One file per verb beside this one;
/// every kernel is generic over `Scalar` and runtime-specialised for Float
/// and Double (`@_specialize`), so the loops run on concrete types.
///
/// | verb | algorithm |
/// |---|---|
/// | gemm | `PackedGEMM` (GEMMKernels): packed panels, 6×2-vector register tile, cache blocking, threads; AVX2+FMA build chosen at run time |
/// | svd | one-sided Jacobi (Hestenes) on the shorter side, after a QR for tall inputs |
/// | symmetric eigen | Householder tridiagonalisation + implicit QL with Wilkinson shifts |
/// | cholesky | row-oriented Cholesky–Crout (contiguous dot products) |
/// | qr | Householder on the transpose (reflectors act on contiguous rows) |
/// | solve | LU with partial pivoting, row-oriented elimination |
/// | triangular solve | row-oriented substitution for every side/triangle/transpose |
enum NativeBackend: BackendKernels {
    static func gemm<T: Scalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int,
        b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        NativeGEMM.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// AᵀA, exactly symmetric. Above 256 columns only the lower block
    /// triangle is computed (as syrk: half the flops), 128-column blocks, one
    /// single-threaded GEMM per block pair with the pairs spread over the
    /// threads; then mirrored.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func gram<T: Scalar>(_ a: Matrix<T>) -> Matrix<T> {
        let n = a.columns, m = a.rows, block = 128
        var g: Matrix<T>
        if n <= 2 * block {
            g = Matrix.product(a, .transposed, a, .none)
        } else {
            g = Matrix<T>.zeros(rows: n, columns: n)
            let blocks = (n + block - 1) / block
            let pairs = (0..<blocks).flatMap { i in (0...i).map { (i, $0) } }
            a.withUnsafeBufferPointer { pa in
                g.withUnsafeMutableBufferPointer { pg in
                    nonisolated(unsafe) let (ap, gp) = (pa.baseAddress!, pg.baseAddress!)
                    Backend.forEachChunk(pairs.count) { p in
                        let (i0, j0) = (pairs[p].0 * block, pairs[p].1 * block)
                        NativeGEMM.multiply(transposeA: true, transposeB: false, m: Swift.min(block, n - i0), n: Swift.min(block, n - j0), k: m,
                                            alpha: 1, a: ap + i0, lda: n, b: ap + j0, ldb: n, beta: 0, c: gp + i0 * n + j0, ldc: n, threads: 1)
                    }
                }
            }
        }
        g.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { for j in 0..<i { p[j * n + i] = p[i * n + j] } }  // exactly symmetric
        }
        return g
    }

    static func svd<T: Scalar>(_ a: Matrix<T>, computeVectors: Bool) throws -> SVD<T> {
        try NativeSVD.decompose(a, computeVectors: computeVectors)
    }

    static func symmetricEigen<T: Scalar>(_ s: Matrix<T>, computeVectors: Bool) throws -> SymmetricEigen<T> {
        try NativeEigen.decompose(s, computeVectors: computeVectors)
    }

    static func cholesky<T: Scalar>(_ s: Matrix<T>) throws -> Matrix<T> {
        try NativeCholesky.factor(s)
    }

    static func qr<T: Scalar>(_ a: Matrix<T>) -> QR<T> {
        NativeQR.decompose(a)
    }

    static func solve<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
        try NativeLU.solve(a, b)
    }

    static func triangularSolve<T: Scalar>(_ t: Matrix<T>, _ b: Matrix<T>, triangle: Triangle, transpose: Bool, side: Side) -> Matrix<T> {
        NativeTriangular.solve(t, b, triangle: triangle, transpose: transpose, side: side)
    }
}
