#if OpenBLAS
internal import CBLAS

// The one place where a generic `T: Scalar` meets the `s`/`d` split of BLAS
// and LAPACK. Each routine switches on `T.precision` and rebinds its pointers
// (T *is* Float or Double in that branch, so the rebinding is exact). The
// algorithms in OpenBLASBackend are written once, above this file.

@inline(__always)
private func ptr<T, U>(_ p: UnsafeMutablePointer<T>, _: U.Type) -> UnsafeMutablePointer<U> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: U.self)
}

@inline(__always)
private func ptr<T, U>(_ p: UnsafePointer<T>, _: U.Type) -> UnsafePointer<U> {
    UnsafeRawPointer(p).assumingMemoryBound(to: U.self)
}

@inline(__always)
private func value<T: Scalar, U: Scalar>(_ x: T, _: U.Type) -> U { U(x) }

/// Thin typed wrappers over CBLAS (row-major) and LAPACKE `_work` routines
/// (column-major, so LAPACKE neither allocates nor transposes).
enum LAPACKRoutines<T: Scalar> {
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                     alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                     beta: T, c: UnsafeMutablePointer<T>, ldc: Int) {
        let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
        switch T.precision {
        case .single:
            cblas_sgemm(CblasRowMajor, ta, tb, blasint(m), blasint(n), blasint(k), value(alpha, Float.self),
                        ptr(a, Float.self), blasint(lda), ptr(b, Float.self), blasint(ldb),
                        value(beta, Float.self), ptr(c, Float.self), blasint(ldc))
        case .double:
            cblas_dgemm(CblasRowMajor, ta, tb, blasint(m), blasint(n), blasint(k), value(alpha, Double.self),
                        ptr(a, Double.self), blasint(lda), ptr(b, Double.self), blasint(ldb),
                        value(beta, Double.self), ptr(c, Double.self), blasint(ldc))
        }
    }

    /// Upper triangle of C ← AᵀA for a row-major m×n A (C is n×n, row-major).
    static func syrkUpperAtA(m: Int, n: Int, a: UnsafePointer<T>, c: UnsafeMutablePointer<T>) {
        switch T.precision {
        case .single:
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(m), 1,
                        ptr(a, Float.self), blasint(n), 0, ptr(c, Float.self), blasint(n))
        case .double:
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(m), 1,
                        ptr(a, Double.self), blasint(n), 0, ptr(c, Double.self), blasint(n))
        }
    }

    /// In-place B ← op(T)⁻¹ B (left) or B op(T)⁻¹ (right), row-major.
    static func trsm(left: Bool, lower: Bool, transpose: Bool, m: Int, n: Int,
                     t: UnsafePointer<T>, ldt: Int, b: UnsafeMutablePointer<T>, ldb: Int) {
        let side = left ? CblasLeft : CblasRight, uplo = lower ? CblasLower : CblasUpper
        let trans = transpose ? CblasTrans : CblasNoTrans
        switch T.precision {
        case .single:
            cblas_strsm(CblasRowMajor, side, uplo, trans, CblasNonUnit, blasint(m), blasint(n), 1,
                        ptr(t, Float.self), blasint(ldt), ptr(b, Float.self), blasint(ldb))
        case .double:
            cblas_dtrsm(CblasRowMajor, side, uplo, trans, CblasNonUnit, blasint(m), blasint(n), 1,
                        ptr(t, Double.self), blasint(ldt), ptr(b, Double.self), blasint(ldb))
        }
    }

    // MARK: LAPACK (column-major). Each returns LAPACK's `info`.

    static func gesdd(jobz: UInt8, m: Int, n: Int, a: UnsafeMutablePointer<T>, lda: Int, s: UnsafeMutablePointer<T>,
                      u: UnsafeMutablePointer<T>?, ldu: Int, vt: UnsafeMutablePointer<T>?, ldvt: Int,
                      work: UnsafeMutablePointer<T>, lwork: Int, iwork: UnsafeMutablePointer<Int32>) -> Int {
        let job = CChar(bitPattern: jobz)
        switch T.precision {
        case .single:
            return Int(LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, job, Int32(m), Int32(n), ptr(a, Float.self), Int32(lda),
                                           ptr(s, Float.self), u.map { ptr($0, Float.self) }, Int32(ldu),
                                           vt.map { ptr($0, Float.self) }, Int32(ldvt),
                                           ptr(work, Float.self), Int32(lwork), iwork))
        case .double:
            return Int(LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, job, Int32(m), Int32(n), ptr(a, Double.self), Int32(lda),
                                           ptr(s, Double.self), u.map { ptr($0, Double.self) }, Int32(ldu),
                                           vt.map { ptr($0, Double.self) }, Int32(ldvt),
                                           ptr(work, Double.self), Int32(lwork), iwork))
        }
    }

    static func gesvd(job: UInt8, m: Int, n: Int, a: UnsafeMutablePointer<T>, lda: Int, s: UnsafeMutablePointer<T>,
                      u: UnsafeMutablePointer<T>?, ldu: Int, vt: UnsafeMutablePointer<T>?, ldvt: Int,
                      work: UnsafeMutablePointer<T>, lwork: Int) -> Int {
        let j = CChar(bitPattern: job)
        switch T.precision {
        case .single:
            return Int(LAPACKE_sgesvd_work(LAPACK_COL_MAJOR, j, j, Int32(m), Int32(n), ptr(a, Float.self), Int32(lda),
                                           ptr(s, Float.self), u.map { ptr($0, Float.self) }, Int32(ldu),
                                           vt.map { ptr($0, Float.self) }, Int32(ldvt),
                                           ptr(work, Float.self), Int32(lwork)))
        case .double:
            return Int(LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, j, j, Int32(m), Int32(n), ptr(a, Double.self), Int32(lda),
                                           ptr(s, Double.self), u.map { ptr($0, Double.self) }, Int32(ldu),
                                           vt.map { ptr($0, Double.self) }, Int32(ldvt),
                                           ptr(work, Double.self), Int32(lwork)))
        }
    }

    static func syevd(jobz: UInt8, n: Int, a: UnsafeMutablePointer<T>, w: UnsafeMutablePointer<T>,
                      work: UnsafeMutablePointer<T>, lwork: Int, iwork: UnsafeMutablePointer<Int32>, liwork: Int) -> Int {
        let job = CChar(bitPattern: jobz), uplo = CChar(UInt8(ascii: "U"))
        switch T.precision {
        case .single:
            return Int(LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, job, uplo, Int32(n), ptr(a, Float.self), Int32(n),
                                           ptr(w, Float.self), ptr(work, Float.self), Int32(lwork), iwork, Int32(liwork)))
        case .double:
            return Int(LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, job, uplo, Int32(n), ptr(a, Double.self), Int32(n),
                                           ptr(w, Double.self), ptr(work, Double.self), Int32(lwork), iwork, Int32(liwork)))
        }
    }

    static func potrfLower(n: Int, a: UnsafeMutablePointer<T>) -> Int {
        let uplo = CChar(UInt8(ascii: "L"))
        switch T.precision {
        case .single: return Int(LAPACKE_spotrf_work(LAPACK_COL_MAJOR, uplo, Int32(n), ptr(a, Float.self), Int32(n)))
        case .double: return Int(LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, uplo, Int32(n), ptr(a, Double.self), Int32(n)))
        }
    }

    static func gelqf(m: Int, n: Int, a: UnsafeMutablePointer<T>, lda: Int, tau: UnsafeMutablePointer<T>,
                      work: UnsafeMutablePointer<T>, lwork: Int) -> Int {
        switch T.precision {
        case .single:
            return Int(LAPACKE_sgelqf_work(LAPACK_COL_MAJOR, Int32(m), Int32(n), ptr(a, Float.self), Int32(lda),
                                           ptr(tau, Float.self), ptr(work, Float.self), Int32(lwork)))
        case .double:
            return Int(LAPACKE_dgelqf_work(LAPACK_COL_MAJOR, Int32(m), Int32(n), ptr(a, Double.self), Int32(lda),
                                           ptr(tau, Double.self), ptr(work, Double.self), Int32(lwork)))
        }
    }

    static func orglq(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<T>, lda: Int, tau: UnsafePointer<T>,
                      work: UnsafeMutablePointer<T>, lwork: Int) -> Int {
        switch T.precision {
        case .single:
            return Int(LAPACKE_sorglq_work(LAPACK_COL_MAJOR, Int32(m), Int32(n), Int32(k), ptr(a, Float.self), Int32(lda),
                                           ptr(tau, Float.self), ptr(work, Float.self), Int32(lwork)))
        case .double:
            return Int(LAPACKE_dorglq_work(LAPACK_COL_MAJOR, Int32(m), Int32(n), Int32(k), ptr(a, Double.self), Int32(lda),
                                           ptr(tau, Double.self), ptr(work, Double.self), Int32(lwork)))
        }
    }

    static func geqrf(m: Int, n: Int, a: UnsafeMutablePointer<T>, lda: Int, tau: UnsafeMutablePointer<T>,
                      work: UnsafeMutablePointer<T>, lwork: Int) -> Int {
        switch T.precision {
        case .single:
            return Int(LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, Int32(m), Int32(n), ptr(a, Float.self), Int32(lda),
                                           ptr(tau, Float.self), ptr(work, Float.self), Int32(lwork)))
        case .double:
            return Int(LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, Int32(m), Int32(n), ptr(a, Double.self), Int32(lda),
                                           ptr(tau, Double.self), ptr(work, Double.self), Int32(lwork)))
        }
    }

    static func orgqr(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<T>, lda: Int, tau: UnsafePointer<T>,
                      work: UnsafeMutablePointer<T>, lwork: Int) -> Int {
        switch T.precision {
        case .single:
            return Int(LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, Int32(m), Int32(n), Int32(k), ptr(a, Float.self), Int32(lda),
                                           ptr(tau, Float.self), ptr(work, Float.self), Int32(lwork)))
        case .double:
            return Int(LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, Int32(m), Int32(n), Int32(k), ptr(a, Double.self), Int32(lda),
                                           ptr(tau, Double.self), ptr(work, Double.self), Int32(lwork)))
        }
    }

    static func getrf(n: Int, a: UnsafeMutablePointer<T>, ipiv: UnsafeMutablePointer<Int32>) -> Int {
        switch T.precision {
        case .single: return Int(LAPACKE_sgetrf_work(LAPACK_COL_MAJOR, Int32(n), Int32(n), ptr(a, Float.self), Int32(n), ipiv))
        case .double: return Int(LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, Int32(n), Int32(n), ptr(a, Double.self), Int32(n), ipiv))
        }
    }

    static func getrs(transpose: Bool, n: Int, nrhs: Int, a: UnsafePointer<T>, ipiv: UnsafePointer<Int32>,
                      b: UnsafeMutablePointer<T>, ldb: Int) -> Int {
        let trans = CChar(UInt8(ascii: transpose ? "T" : "N"))
        switch T.precision {
        case .single:
            return Int(LAPACKE_sgetrs_work(LAPACK_COL_MAJOR, trans, Int32(n), Int32(nrhs), ptr(a, Float.self), Int32(n),
                                           ipiv, ptr(b, Float.self), Int32(ldb)))
        case .double:
            return Int(LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, trans, Int32(n), Int32(nrhs), ptr(a, Double.self), Int32(n),
                                           ipiv, ptr(b, Double.self), Int32(ldb)))
        }
    }

    static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// OpenBLAS's build configuration and the core it dispatched to.
    static var configuration: (config: String, coreName: String) {
        (String(cString: openblas_get_config()), String(cString: openblas_get_corename()))
    }

    /// The threads OpenBLAS runs on now.
    static var threads: Int { Int(openblas_get_num_threads()) }
}
#endif
