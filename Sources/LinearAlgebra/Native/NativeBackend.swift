// Placeholder: the native backend is being written (see Native/).
enum NativeBackend: BackendKernels {
    static func gemm<T: Scalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int,
        b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var s: T = 0
                for p in 0..<k {
                    let x = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let y = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    s += x * y
                }
                c[i * ldc + j] = beta == 0 ? alpha * s : alpha * s + beta * c[i * ldc + j]
            }
        }
    }
    static func gram<T: Scalar>(_ a: Matrix<T>) -> Matrix<T> { fatalError("native gram: not yet") }
    static func svd<T: Scalar>(_ a: Matrix<T>, computeVectors: Bool) throws -> SVD<T> { fatalError("native svd: not yet") }
    static func symmetricEigen<T: Scalar>(_ s: Matrix<T>, computeVectors: Bool) throws -> SymmetricEigen<T> { fatalError("native eigen: not yet") }
    static func cholesky<T: Scalar>(_ s: Matrix<T>) throws -> Matrix<T> { fatalError("native cholesky: not yet") }
    static func qr<T: Scalar>(_ a: Matrix<T>) -> QR<T> { fatalError("native qr: not yet") }
    static func solve<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> { fatalError("native solve: not yet") }
    static func triangularSolve<T: Scalar>(_ t: Matrix<T>, _ b: Matrix<T>, triangle: Triangle, transpose: Bool, side: Side) -> Matrix<T> { fatalError("native trsm: not yet") }
}
