#if OpenBLAS
/// BLAS and LAPACK from OpenBLAS.
///
/// LAPACK is column-major and our matrices are row-major. A row-major m×n
/// buffer *is* the column-major n×m matrix Aᵀ, so each routine is called on
/// the transpose and the identities below turn its outputs into ours without
/// copying the big operand:
/// - SVD: Aᵀ = U′ΣV′ᵀ ⇒ A = V′ΣU′ᵀ; LAPACK's U′ buffer reads row-major as our
///   Vᵀ and its V′ᵀ buffer as our U.
/// - Cholesky: `potrf('U')` on the (symmetric) buffer would give U with
///   S = UᵀU, which read row-major is L; see `cholesky` for why we use 'L'.
/// - QR of a wide A: the LQ factorisation Aᵀ = L Q′ (`gelqf`) is A = Q′ᵀ Lᵀ,
///   and the buffer read row-major holds R = Lᵀ in its upper triangle and,
///   after `orglq`, Q = Q′ᵀ in its leading columns. (Tall A: see `qr`.)
/// - LU: `getrf` factors Aᵀ and `getrs('T')` solves A X = B.
enum OpenBLASBackend: BackendKernels {
    typealias Routines = LAPACKRoutines

    static func setThreads(_ n: Int) { LAPACKRoutines<Double>.setThreads(n) }

    static var configuration: (config: String, coreName: String) { LAPACKRoutines<Double>.configuration }

    static var threads: Int { LAPACKRoutines<Double>.threads }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func gemm<T: Scalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int,
        b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        if k == 0 || alpha == 0 {
            // BLAS skips the product here; make beta = 0 overwrite NaN as documented.
            for i in 0..<m {
                for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
            }
            return
        }
        Routines<T>.gemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func gram<T: Scalar>(_ a: Matrix<T>) -> Matrix<T> {
        let n = a.columns
        var c = Matrix<T>.zeros(rows: n, columns: n)
        a.withUnsafeBufferPointer { pa in
            c.withUnsafeMutableBufferPointer { pc in
                Routines<T>.syrkUpperAtA(m: a.rows, n: n, a: pa.baseAddress!, c: pc.baseAddress!)
                for i in 0..<n {
                    for j in 0..<i { pc[i * n + j] = pc[j * n + i] }
                }
            }
        }
        return c
    }

    /// LAPACK returns the optimal workspace as a floating-point number, which
    /// in single precision may round below the true integer; round up with slack.
    private static func workspaceSize<T: Scalar>(_ query: T) -> Int {
        Swift.max(1, Int((Double(query) * (1 + 1e-6)).rounded(.up)) + 1)
    }

    /// Calls a LAPACK routine the way its workspace protocol asks: once with
    /// lwork = −1 (the routine writes the size it wants into `work[0]`), then
    /// with a workspace of that size. Returns the second call's `info`.
    private static func withQueriedWorkspace<T: Scalar>(_ routine: (_ work: UnsafeMutablePointer<T>, _ lwork: Int) -> Int) -> Int {
        var query: T = 0
        _ = routine(&query, -1)
        var work = [T](repeating: 0, count: workspaceSize(query))
        return work.withUnsafeMutableBufferPointer { routine($0.baseAddress!, $0.count) }
    }

    static func svd<T: Scalar>(_ a: Matrix<T>, computeVectors: Bool) throws -> SVD<T> {
        // Column-major view: M = n rows, N = m columns, the matrix Aᵀ.
        let m = a.rows, n = a.columns, k = Swift.min(m, n)
        var s = [T](repeating: 0, count: k)
        var uBuffer = [T](repeating: 0, count: computeVectors ? m * k : 0)   // receives LAPACK's V′ᵀ (k×m, ld k)
        var vtBuffer = [T](repeating: 0, count: computeVectors ? k * n : 0)  // receives LAPACK's U′ (n×k, ld n)
        let ldu = computeVectors ? n : 1, ldvt = computeVectors ? k : 1

        func run(divideAndConquer: Bool) -> Int {
            var work = a.elements  // destroyed by LAPACK
            var iwork = [Int32](repeating: 0, count: 8 * k)
            return work.withUnsafeMutableBufferPointer { pa in
                s.withUnsafeMutableBufferPointer { ps in
                    uBuffer.withUnsafeMutableBufferPointer { pu in
                        vtBuffer.withUnsafeMutableBufferPointer { pvt in
                            iwork.withUnsafeMutableBufferPointer { piw in
                                let lapackU = computeVectors ? pvt.baseAddress : nil
                                let lapackVt = computeVectors ? pu.baseAddress : nil
                                let aPtr = pa.baseAddress!, sPtr = ps.baseAddress!, iworkPtr = piw.baseAddress!
                                var query: T = 0
                                let call = { (w: UnsafeMutablePointer<T>, lwork: Int) -> Int in
                                    divideAndConquer
                                        ? Routines<T>.gesdd(jobz: UInt8(ascii: computeVectors ? "S" : "N"), m: n, n: m,
                                                            a: aPtr, lda: n, s: sPtr,
                                                            u: lapackU, ldu: ldu, vt: lapackVt, ldvt: ldvt,
                                                            work: w, lwork: lwork, iwork: iworkPtr)
                                        : Routines<T>.gesvd(job: UInt8(ascii: computeVectors ? "S" : "N"), m: n, n: m,
                                                            a: aPtr, lda: n, s: sPtr,
                                                            u: lapackU, ldu: ldu, vt: lapackVt, ldvt: ldvt,
                                                            work: w, lwork: lwork)
                                }
                                let queryInfo = call(&query, -1)
                                if queryInfo != 0 { return queryInfo }
                                var workspace = [T](repeating: 0, count: workspaceSize(query))
                                return workspace.withUnsafeMutableBufferPointer { call($0.baseAddress!, $0.count) }
                            }
                        }
                    }
                }
            }
        }

        var info = run(divideAndConquer: true)
        if info > 0 { info = run(divideAndConquer: false) }  // gesdd did not converge: the slower, sturdier gesvd
        if info > 0 { throw LinearAlgebraError.noConvergence(operation: "svd") }
        precondition(info == 0, "LAPACK svd: illegal argument \(-info)")
        if !computeVectors {
            return SVD(u: .zeros(rows: 0, columns: 0), singularValues: s, vt: .zeros(rows: 0, columns: 0))
        }
        return SVD(u: Matrix(rows: m, columns: k, elements: uBuffer), singularValues: s,
                   vt: Matrix(rows: k, columns: n, elements: vtBuffer))
    }

    static func symmetricEigen<T: Scalar>(_ s: Matrix<T>, computeVectors: Bool) throws -> SymmetricEigen<T> {
        let n = s.rows
        var a = s.elements  // column-major 'U' reads our row-major lower triangle
        var w = [T](repeating: 0, count: n)
        let jobz = UInt8(ascii: computeVectors ? "V" : "N")
        let info = a.withUnsafeMutableBufferPointer { pa in
            w.withUnsafeMutableBufferPointer { pw in
                var query: T = 0
                var iquery: Int32 = 0
                let q = Routines<T>.syevd(jobz: jobz, n: n, a: pa.baseAddress!, w: pw.baseAddress!,
                                          work: &query, lwork: -1, iwork: &iquery, liwork: -1)
                if q != 0 { return q }
                var work = [T](repeating: 0, count: workspaceSize(query))
                var iwork = [Int32](repeating: 0, count: Swift.max(1, Int(iquery)))
                return work.withUnsafeMutableBufferPointer { pwork in
                    iwork.withUnsafeMutableBufferPointer { piw in
                        Routines<T>.syevd(jobz: jobz, n: n, a: pa.baseAddress!, w: pw.baseAddress!,
                                          work: pwork.baseAddress!, lwork: pwork.count,
                                          iwork: piw.baseAddress!, liwork: piw.count)
                    }
                }
            }
        }
        if info > 0 { throw LinearAlgebraError.noConvergence(operation: "symmetricEigen") }
        precondition(info == 0, "LAPACK syevd: illegal argument \(-info)")
        guard computeVectors else { return SymmetricEigen(values: w, vectors: .zeros(rows: 0, columns: 0)) }
        // LAPACK's column j (eigenvector j) is our row j: transpose once (n², against n³ for the solve).
        return SymmetricEigen(values: w, vectors: Matrix(rows: n, columns: n, elements: a).transposed())
    }

    /// Cholesky by `potrf('L')`. The copy-free identity would call
    /// `potrf('U')` on our buffer, but OpenBLAS 0.3.21's 'U' path measured 3×
    /// slower than 'L' (1.33 s against 0.44 s at n = 4096, Double). So we hand
    /// LAPACK Sᵀ (a blocked transpose), whose column-major lower triangle is
    /// exactly our lower triangle, and transpose the factor back: two O(n²)
    /// copies against n³/3 flops.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func cholesky<T: Scalar>(_ s: Matrix<T>) throws -> Matrix<T> {
        let n = s.rows
        var a = s.transposed()
        let info = a.withUnsafeMutableBufferPointer { Routines<T>.potrfLower(n: n, a: $0.baseAddress!) }
        if info > 0 { throw LinearAlgebraError.notPositiveDefinite(pivot: info - 1) }
        precondition(info == 0, "LAPACK potrf: illegal argument \(-info)")
        // Column-major L read row-major is Lᵀ: transpose it, then clear the
        // strict upper triangle (what potrf left of the input).
        var l = a.transposed()
        l.withUnsafeMutableBufferPointer { p in
            for i in 0..<n {
                for j in (i + 1)..<n { p[i * n + j] = 0 }
            }
        }
        return l
    }

    /// Thin QR. Tall and square inputs (m ≥ n) go through a column-major copy
    /// and `geqrf` + `orgqr`: measured 2× faster than the copy-free LQ of the
    /// transpose on 1024×138 and 4096×138 (the randomized-SVD shapes) and
    /// ~20% faster on squares, for an O(mn) copy against O(mn²) work. Wide
    /// inputs use the copy-free LQ identity, which is as fast there.
    static func qr<T: Scalar>(_ a: Matrix<T>) -> QR<T> {
        a.rows >= a.columns ? qrOfColumnMajorCopy(a) : qrByLQOfTranspose(a)
    }

    /// A = Q R from Aᵀ = L Q′ (`gelqf` + `orglq` on our buffer as is).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func qrByLQOfTranspose<T: Scalar>(_ a: Matrix<T>) -> QR<T> {
        let m = a.rows, n = a.columns, k = Swift.min(m, n)
        var buffer = a.elements   // column-major n×m (ld n): Aᵀ
        var tau = [T](repeating: 0, count: k)
        var r = Matrix<T>.zeros(rows: k, columns: n)
        buffer.withUnsafeMutableBufferPointer { pa in
            tau.withUnsafeMutableBufferPointer { pt in
                let info = withQueriedWorkspace { work, lwork in
                    Routines<T>.gelqf(m: n, n: m, a: pa.baseAddress!, lda: n, tau: pt.baseAddress!, work: work, lwork: lwork)
                }
                precondition(info == 0, "LAPACK gelqf: illegal argument \(-info)")
                // R = Lᵀ: the upper trapezoid of the leading k rows, read row-major.
                r.withUnsafeMutableBufferPointer { pr in
                    for i in 0..<k {
                        for j in i..<n { pr[i * n + j] = pa[i * n + j] }
                    }
                }
                let info2 = withQueriedWorkspace { work, lwork in
                    Routines<T>.orglq(m: k, n: m, k: k, a: pa.baseAddress!, lda: n, tau: pt.baseAddress!, work: work, lwork: lwork)
                }
                precondition(info2 == 0, "LAPACK orglq: illegal argument \(-info2)")
            }
        }
        // Q = Q′ᵀ: the leading k columns of the buffer read as row-major m×n.
        let q = k == n ? Matrix(rows: m, columns: n, elements: buffer)
                       : Matrix(rows: m, columns: n, elements: buffer).leadingColumns(k)
        return QR(q: q, r: r)
    }

    /// A = Q R by `geqrf` + `orgqr` on a column-major copy of A.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func qrOfColumnMajorCopy<T: Scalar>(_ a: Matrix<T>) -> QR<T> {
        let m = a.rows, n = a.columns, k = Swift.min(m, n)
        var buffer = a.transposed().elements   // column-major m×n (ld m)
        var tau = [T](repeating: 0, count: k)
        var r = Matrix<T>.zeros(rows: k, columns: n)
        buffer.withUnsafeMutableBufferPointer { pa in
            tau.withUnsafeMutableBufferPointer { pt in
                let info = withQueriedWorkspace { work, lwork in
                    Routines<T>.geqrf(m: m, n: n, a: pa.baseAddress!, lda: m, tau: pt.baseAddress!, work: work, lwork: lwork)
                }
                precondition(info == 0, "LAPACK geqrf: illegal argument \(-info)")
                // R: the upper trapezoid of the leading k rows (column-major → row-major).
                r.withUnsafeMutableBufferPointer { pr in
                    for j in 0..<n { for i in 0...Swift.min(j, k - 1) { pr[i * n + j] = pa[j * m + i] } }
                }
                let info2 = withQueriedWorkspace { work, lwork in
                    Routines<T>.orgqr(m: m, n: k, k: k, a: pa.baseAddress!, lda: m, tau: pt.baseAddress!, work: work, lwork: lwork)
                }
                precondition(info2 == 0, "LAPACK orgqr: illegal argument \(-info2)")
            }
        }
        // Q: the leading k columns (column-major m×k) back to row-major.
        return QR(q: Matrix(rows: k, columns: m, elements: Array(buffer.prefix(m * k))).transposed(), r: r)
    }

    static func solve<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
        let n = a.rows, p = b.columns
        var lu = a.elements  // column-major Aᵀ
        var ipiv = [Int32](repeating: 0, count: n)
        var x = b.transposed().elements  // column-major n×p
        let info = lu.withUnsafeMutableBufferPointer { pa in
            ipiv.withUnsafeMutableBufferPointer { pp in
                let info = Routines<T>.getrf(n: n, a: pa.baseAddress!, ipiv: pp.baseAddress!)
                guard info == 0 else { return info }
                return x.withUnsafeMutableBufferPointer {
                    Routines<T>.getrs(transpose: true, n: n, nrhs: p, a: pa.baseAddress!, ipiv: pp.baseAddress!,
                                      b: $0.baseAddress!, ldb: n)
                }
            }
        }
        if info > 0 { throw LinearAlgebraError.singular(pivot: info - 1) }
        precondition(info == 0, "LAPACK getrf/getrs: illegal argument \(-info)")
        return Matrix(rows: p, columns: n, elements: x).transposed()
    }

    static func triangularSolve<T: Scalar>(
        _ t: Matrix<T>, _ b: Matrix<T>, triangle: Triangle, transpose: Bool, side: Side
    ) -> Matrix<T> {
        var x = b
        t.withUnsafeBufferPointer { pt in
            x.withUnsafeMutableBufferPointer { px in
                Routines<T>.trsm(left: side == .left, lower: triangle == .lower, transpose: transpose,
                                 m: b.rows, n: b.columns, t: pt.baseAddress!, ldt: t.columns,
                                 b: px.baseAddress!, ldb: b.columns)
            }
        }
        return x
    }
}
#endif
