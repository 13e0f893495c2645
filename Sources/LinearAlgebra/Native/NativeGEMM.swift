import Dispatch

/// C ← α·op(A)·op(B) + β·C in pure Swift.
///
/// The classic Goto/BLIS structure: op(B) is packed in KC×NC blocks into
/// column panels NR wide, op(A) in MC×KC blocks into row panels MR tall (the
/// packing absorbs the transposes), and a register-tile micro-kernel keeps an
/// MR×NR block of C in SIMD accumulators while streaming both panels. Row
/// blocks of C are shared out across `Backend.threadCount` threads.
enum NativeGEMM {
    static let mr = 6, nr = 8
    static let kc = 256, mc = 96, nc = 2048

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func multiply<T: Scalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        // C ← β C (β = 0 overwrites, so NaN in C does not survive).
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { for j in 0..<n { row[j] = 0 } } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
        }
        guard k > 0, alpha != 0, m > 0, n > 0 else { return }

        let threads = Swift.min(Backend.threadCount, Swift.max(1, m / mc), 64)
        let parallel = threads > 1 && Double(m) * Double(n) * Double(k) >= 64 * 64 * 64
        let packedB = UnsafeMutablePointer<T>.allocate(capacity: kc * (nc + nr))
        defer { packedB.deallocate() }
        let rowBlocks = (m + mc - 1) / mc
        let packedAs = UnsafeMutablePointer<T>.allocate(capacity: (parallel ? threads : 1) * mc * kc)
        defer { packedAs.deallocate() }

        for jc in stride(from: 0, to: n, by: nc) {
            let ncb = Swift.min(nc, n - jc)
            for pc in stride(from: 0, to: k, by: kc) {
                let kcb = Swift.min(kc, k - pc)
                packB(b, ldb: ldb, transposed: transposeB, rows: pc, count: kcb, columns: jc, width: ncb, into: packedB)
                // The workers write disjoint row blocks of C and read shared packed B.
                nonisolated(unsafe) let work = { (worker: Int, blocks: StrideTo<Int>) in
                    let packedA = packedAs + worker * mc * kc
                    for block in blocks {
                        let ic = block * mc
                        let mcb = Swift.min(mc, m - ic)
                        packA(a, lda: lda, transposed: transposeA, rows: ic, height: mcb, columns: pc, count: kcb, into: packedA)
                        macroKernel(mcb, ncb, kcb, alpha: alpha, packedA: packedA, packedB: packedB, c: c + ic * ldc + jc, ldc: ldc)
                    }
                }
                if parallel {
                    DispatchQueue.concurrentPerform(iterations: threads) { worker in
                        work(worker, stride(from: worker, to: rowBlocks, by: threads))
                    }
                } else {
                    work(0, stride(from: 0, to: rowBlocks, by: 1))
                }
            }
        }
    }

    /// op(B)[rows ..< rows+count, columns ..< columns+width] into NR-wide
    /// column panels, each `count` rows of NR contiguous values (zero padded).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func packB<T: Scalar>(_ b: UnsafePointer<T>, ldb: Int, transposed: Bool, rows: Int, count: Int,
                                  columns: Int, width: Int, into out: UnsafeMutablePointer<T>) {
        var dst = out
        for jr in stride(from: 0, to: width, by: nr) {
            let w = Swift.min(nr, width - jr)
            for p in 0..<count {
                if transposed {
                    for j in 0..<w { dst[j] = b[(columns + jr + j) * ldb + rows + p] }
                } else {
                    let src = b + (rows + p) * ldb + columns + jr
                    for j in 0..<w { dst[j] = src[j] }
                }
                for j in w..<nr { dst[j] = 0 }
                dst += nr
            }
        }
    }

    /// op(A)[rows ..< rows+height, columns ..< columns+count] into MR-tall row
    /// panels, each `count` columns of MR contiguous values (zero padded).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func packA<T: Scalar>(_ a: UnsafePointer<T>, lda: Int, transposed: Bool, rows: Int, height: Int,
                                  columns: Int, count: Int, into out: UnsafeMutablePointer<T>) {
        var dst = out
        for ir in stride(from: 0, to: height, by: mr) {
            let h = Swift.min(mr, height - ir)
            for p in 0..<count {
                if transposed {
                    let src = a + (columns + p) * lda + rows + ir
                    for i in 0..<h { dst[i] = src[i] }
                } else {
                    for i in 0..<h { dst[i] = a[(rows + ir + i) * lda + columns + p] }
                }
                for i in h..<mr { dst[i] = 0 }
                dst += mr
            }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func macroKernel<T: Scalar>(_ m: Int, _ n: Int, _ k: Int, alpha: T,
                                        packedA: UnsafePointer<T>, packedB: UnsafePointer<T>,
                                        c: UnsafeMutablePointer<T>, ldc: Int) {
        for jr in stride(from: 0, to: n, by: nr) {
            let w = Swift.min(nr, n - jr)
            let bPanel = packedB + (jr / nr) * k * nr
            for ir in stride(from: 0, to: m, by: mr) {
                let h = Swift.min(mr, m - ir)
                microKernel(k, alpha: alpha, a: packedA + (ir / mr) * k * mr, b: bPanel,
                            c: c + ir * ldc + jr, ldc: ldc, height: h, width: w)
            }
        }
    }

    /// The 6×8 register tile: six SIMD8 accumulators, one broadcast of A and
    /// one load of B per step.
    @inline(__always)
    static func microKernel<T: Scalar>(_ k: Int, alpha: T, a: UnsafePointer<T>, b: UnsafePointer<T>,
                                        c: UnsafeMutablePointer<T>, ldc: Int, height: Int, width: Int) {
        var c0 = SIMD8<T>(), c1 = SIMD8<T>(), c2 = SIMD8<T>(), c3 = SIMD8<T>(), c4 = SIMD8<T>(), c5 = SIMD8<T>()
        var ap = a, bp = UnsafeRawPointer(b)
        for _ in 0..<k {
            let bv = bp.loadUnaligned(as: SIMD8<T>.self)
            c0 += SIMD8(repeating: ap[0]) * bv
            c1 += SIMD8(repeating: ap[1]) * bv
            c2 += SIMD8(repeating: ap[2]) * bv
            c3 += SIMD8(repeating: ap[3]) * bv
            c4 += SIMD8(repeating: ap[4]) * bv
            c5 += SIMD8(repeating: ap[5]) * bv
            ap += mr
            bp += nr * MemoryLayout<T>.stride
        }
        @inline(__always) func store(_ v: SIMD8<T>, _ i: Int) {
            guard i < height else { return }
            let row = c + i * ldc
            if width == nr {
                let updated = UnsafeRawPointer(row).loadUnaligned(as: SIMD8<T>.self) + alpha * v
                UnsafeMutableRawPointer(row).storeBytes(of: updated, as: SIMD8<T>.self)
            } else {
                for j in 0..<width { row[j] += alpha * v[j] }
            }
        }
        store(c0, 0); store(c1, 1); store(c2, 2); store(c3, 3); store(c4, 4); store(c5, 5)
    }
}
