import Dispatch

/// The native backend's GEMM, C ← α·op(A)·op(B) + β·C on row-major storage, in
/// pure Swift.
///
/// This one source file is compiled three times: as `GEMMKernels` for the
/// baseline target CPU, and (on x86-64) as `GEMMKernelsAVX2` with
/// `-target-cpu haswell` and `HASWELL` defined, and as `GEMMKernelsAVX512`
/// with `-target-cpu skylake-avx512` and `AVX512` defined, so that the same
/// generic loops become AVX2/FMA and AVX-512 code.
/// `LinearAlgebra` chooses between them at run time from the CPU's features,
/// as OpenBLAS's DYNAMIC_ARCH does. Both are built with `-O` in every
/// configuration: they are leaf loops with no state, and an unoptimised GEMM
/// would make debug test runs of the native backend take many minutes.
///
/// The structure is Goto/BLIS: op(B) is packed in KC×NC blocks into column
/// panels NR wide, op(A) in MC×KC blocks into row panels MR tall (the packing
/// absorbs the transposes), and a micro-kernel keeps an MR×NR tile of C in
/// twelve SIMD accumulators (six rows of two native vectors) while streaming
/// both panels from L1. Packing of B and the row blocks of C are shared out
/// across `threads` threads.
public enum PackedGEMM {
    /// C ← α·op(A)·op(B) + β·C in Float, row-major, with BLAS `sgemm` semantics.
    ///
    /// op(A) is m×k (A is stored m×k, or k×m when `transposeA`), op(B) is k×n, C is m×n; `lda`, `ldb`, `ldc`
    /// are the row strides in elements. C is scaled by β first, and β = 0 overwrites it (NaN in C does not
    /// survive); with k = 0 or α = 0 nothing else happens. `threads` is an upper bound: products with
    /// m·n·k < 48³ run on the calling thread, larger ones on at most min(`threads`, 64). Nothing is checked:
    /// the pointers must cover the shapes. Cost: 2·m·n·k flops.
    @inline(never)
    public static func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
    ) {
        gemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
    }

    /// C ← α·op(A)·op(B) + β·C in Double (BLAS `dgemm` semantics); the contract is that of the Float overload.
    @inline(never)
    public static func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int, threads: Int
    ) {
        gemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
    }
}

/// A scalar with its register-tile row and the native vector it is made of.
/// Baseline and AVX2: a row is two native vectors (SSE: 2×128 bits; AVX2:
/// 2×256 bits), so six rows make twelve accumulators, which with the B row,
/// one broadcast and a product fill the sixteen vector registers. AVX-512: a
/// row is two 512-bit vectors handled one at a time (Swift's SIMD32<Float>
/// arithmetic is not lowered to two zmm operations), and eight rows make
/// sixteen accumulators of the thirty-two registers.
protocol KernelScalar: BinaryFloatingPoint, SIMDScalar, Codable {
    associatedtype Row: SIMD where Row.Scalar == Self
    associatedtype Vector: SIMD where Vector.Scalar == Self
}

extension Float: KernelScalar {
    #if AVX512
    typealias Row = SIMD32<Float>
    typealias Vector = SIMD16<Float>
    #elseif HASWELL
    typealias Row = SIMD16<Float>
    typealias Vector = SIMD16<Float>
    #else
    typealias Row = SIMD8<Float>
    typealias Vector = SIMD8<Float>
    #endif
}

extension Double: KernelScalar {
    #if AVX512
    typealias Row = SIMD16<Double>
    typealias Vector = SIMD8<Double>
    #elseif HASWELL
    typealias Row = SIMD8<Double>
    typealias Vector = SIMD8<Double>
    #else
    typealias Row = SIMD4<Double>
    typealias Vector = SIMD4<Double>
    #endif
}

/// Blocking parameters. KC·NR·size (one B micro-panel) stays in L1 (16 KB
/// with AVX2), MC·KC·size (the packed A block) in L2, KC·NC·size (the packed
/// B block) in the shared L3.
enum Layout<T: KernelScalar> {
    #if AVX512
    // Measured on a 2-core AMD EPYC (Zen 5) VM: KC 128–512 × MC 48–384 scanned; a KC of 512 (B micro-panel
    // 64 KB, streamed from L2) with small A blocks was fastest in both precisions (Float 441–457 GFLOP/s at
    // 1024–4096 against 427–440 for KC 384, Double 209–229).
    static var mr: Int { 8 }
    static var kc: Int { 512 }
    static var mc: Int { MemoryLayout<T>.size == 4 ? 96 : 48 }
    #else
    static var mr: Int { 6 }
    static var kc: Int { 256 }
    static var mc: Int { MemoryLayout<T>.size == 4 ? 120 : 72 }
    #endif
    static var nr: Int { T.Row.scalarCount }
    static var nc: Int { 4096 }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func gemm<T: KernelScalar>(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
    _ alpha: T, _ a: UnsafePointer<T>, _ lda: Int, _ b: UnsafePointer<T>, _ ldb: Int,
    _ beta: T, _ c: UnsafeMutablePointer<T>, _ ldc: Int, _ threadCount: Int
) {
    typealias L = Layout<T>
    // C ← β C (β = 0 overwrites, so NaN in C does not survive). With β = 0 and a product to add, the first
    // depth block's tiles store α·AB without reading C instead (no separate pass over C).
    let overwriteFirst = beta == 0 && k > 0 && alpha != 0
    if !overwriteFirst && beta != 1 {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
        }
    }
    guard k > 0, alpha != 0, m > 0, n > 0 else { return }

    let flops = Double(m) * Double(n) * Double(k)
    let threads = flops >= 48 * 48 * 48 ? Swift.max(1, Swift.min(threadCount, 64)) : 1
    // Row blocks of C: at most MC rows, a multiple of MR, and a multiple of
    // `threads` blocks so the threads get equal shares. When there are fewer
    // row blocks than threads, the columns of each block are split instead.
    var blocks = (m + L.mc - 1) / L.mc
    blocks = (blocks + threads - 1) / threads * threads
    let mcb = Swift.min(L.mc, ((m + blocks - 1) / blocks + L.mr - 1) / L.mr * L.mr)
    let rowBlocks = (m + mcb - 1) / mcb
    let columnSplit = rowBlocks >= threads ? 1 : threads

    let nc = Swift.min(L.nc, (n + L.nr - 1) / L.nr * L.nr)
    let packedB = UnsafeMutablePointer<T>.allocate(capacity: L.kc * nc)
    defer { packedB.deallocate() }
    let packedAs = UnsafeMutablePointer<T>.allocate(capacity: threads * mcb * L.kc)
    defer { packedAs.deallocate() }

    for jc in stride(from: 0, to: n, by: nc) {
        let ncb = Swift.min(nc, n - jc)
        let panels = (ncb + L.nr - 1) / L.nr
        for pc in stride(from: 0, to: k, by: L.kc) {
            let kcb = Swift.min(L.kc, k - pc)
            let sharedB = packedB
            let overwrite = overwriteFirst && pc == 0
            nonisolated(unsafe) let packShare = { (worker: Int, workers: Int) in
                let first = panels * worker / workers, last = panels * (worker + 1) / workers
                packB(b, ldb, transposeB, pc, kcb, jc, ncb, panels: first..<last, into: sharedB)
            }
            // Workers write disjoint tiles of C and read the shared packed B.
            nonisolated(unsafe) let compute = { (worker: Int) in
                let packedA = packedAs + worker * mcb * L.kc
                var item = worker
                while item < rowBlocks * columnSplit {
                    let block = item / columnSplit, part = item % columnSplit
                    let ic = block * mcb, h = Swift.min(mcb, m - ic)
                    packA(a, lda, transposeA, ic, h, pc, kcb, into: packedA)
                    let first = panels * part / columnSplit, last = panels * (part + 1) / columnSplit
                    macroKernel(h, ncb, kcb, alpha, packedA, sharedB, panels: first..<last, c + ic * ldc + jc, ldc, overwrite: overwrite)
                    item += threads
                }
            }
            if threads > 1 {
                DispatchQueue.concurrentPerform(iterations: threads) { packShare($0, threads) }
                DispatchQueue.concurrentPerform(iterations: threads) { compute($0) }
            } else {
                packShare(0, 1)
                compute(0)
            }
        }
    }
}

/// Column panels `panels` of op(B)[rows ..< rows+count, columns ..< columns+width],
/// each `count` rows of NR contiguous values (zero padded past `width`).
@_specialize(where T == Float)
@_specialize(where T == Double)
func packB<T: KernelScalar>(_ b: UnsafePointer<T>, _ ldb: Int, _ transposed: Bool, _ rows: Int, _ count: Int,
                            _ columns: Int, _ width: Int, panels: Range<Int>, into out: UnsafeMutablePointer<T>) {
    let nr = Layout<T>.nr
    for panel in panels {
        let jr = panel * nr, w = Swift.min(nr, width - jr)
        var dst = out + panel * count * nr
        if transposed {
            for p in 0..<count {
                for j in 0..<w { dst[j] = b[(columns + jr + j) * ldb + rows + p] }
                for j in w..<nr { dst[j] = 0 }
                dst += nr
            }
        } else if w == nr {
            for p in 0..<count {
                let src = UnsafeRawPointer(b + (rows + p) * ldb + columns + jr)
                UnsafeMutableRawPointer(dst).storeBytes(of: src.loadUnaligned(as: T.Row.self), as: T.Row.self)
                dst += nr
            }
        } else {
            for p in 0..<count {
                let src = b + (rows + p) * ldb + columns + jr
                for j in 0..<w { dst[j] = src[j] }
                for j in w..<nr { dst[j] = 0 }
                dst += nr
            }
        }
    }
}

/// op(A)[rows ..< rows+height, columns ..< columns+count] into MR-tall row
/// panels, each `count` columns of MR contiguous values (zero padded).
@_specialize(where T == Float)
@_specialize(where T == Double)
func packA<T: KernelScalar>(_ a: UnsafePointer<T>, _ lda: Int, _ transposed: Bool, _ rows: Int, _ height: Int,
                            _ columns: Int, _ count: Int, into out: UnsafeMutablePointer<T>) {
    let mr = Layout<T>.mr
    var dst = out
    for ir in stride(from: 0, to: height, by: mr) {
        let h = Swift.min(mr, height - ir)
        if transposed {
            for p in 0..<count {
                let src = a + (columns + p) * lda + rows + ir
                for i in 0..<h { dst[i] = src[i] }
                for i in h..<mr { dst[i] = 0 }
                dst += mr
            }
        } else {
            // Read MR rows side by side so each source row streams forwards.
            for i in 0..<mr {
                if i < h {
                    let src = a + (rows + ir + i) * lda + columns
                    for p in 0..<count { dst[p * mr + i] = src[p] }
                } else {
                    for p in 0..<count { dst[p * mr + i] = 0 }
                }
            }
            dst += count * mr
        }
    }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func macroKernel<T: KernelScalar>(_ m: Int, _ n: Int, _ k: Int, _ alpha: T,
                                  _ packedA: UnsafePointer<T>, _ packedB: UnsafePointer<T>, panels: Range<Int>,
                                  _ c: UnsafeMutablePointer<T>, _ ldc: Int, overwrite: Bool) {
    let mr = Layout<T>.mr, nr = Layout<T>.nr
    for panel in panels {
        let jr = panel * nr
        let bPanel = packedB + panel * k * nr
        for ir in stride(from: 0, to: m, by: mr) {
            microKernel(k, alpha, packedA + (ir / mr) * k * mr, bPanel,
                        c + ir * ldc + jr, ldc, Swift.min(mr, m - ir), Swift.min(nr, n - jr), overwrite: overwrite)
        }
    }
}

#if AVX512
/// The 8×NR register tile on AVX-512: sixteen 512-bit accumulators (eight
/// rows of two vectors); per step two loads of B and eight broadcasts of A,
/// which the compiler folds into the FMAs as embedded broadcasts.
@inline(__always)
func microKernel<T: KernelScalar>(_ k: Int, _ alpha: T, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                  _ c: UnsafeMutablePointer<T>, _ ldc: Int, _ height: Int, _ width: Int, overwrite: Bool) {
    typealias V = T.Vector
    let w = V.scalarCount, step = w * MemoryLayout<T>.stride
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
    var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
    var ap = a, bp = UnsafeRawPointer(b)
    for _ in 0..<k {
        let b0 = bp.loadUnaligned(as: V.self), b1 = bp.loadUnaligned(fromByteOffset: step, as: V.self)
        var x = V(repeating: ap[0]); c00.addProduct(x, b0); c01.addProduct(x, b1)
        x = V(repeating: ap[1]); c10.addProduct(x, b0); c11.addProduct(x, b1)
        x = V(repeating: ap[2]); c20.addProduct(x, b0); c21.addProduct(x, b1)
        x = V(repeating: ap[3]); c30.addProduct(x, b0); c31.addProduct(x, b1)
        x = V(repeating: ap[4]); c40.addProduct(x, b0); c41.addProduct(x, b1)
        x = V(repeating: ap[5]); c50.addProduct(x, b0); c51.addProduct(x, b1)
        x = V(repeating: ap[6]); c60.addProduct(x, b0); c61.addProduct(x, b1)
        x = V(repeating: ap[7]); c70.addProduct(x, b0); c71.addProduct(x, b1)
        ap += 8
        bp += 2 * step
    }
    @inline(__always) func store(_ v0: V, _ v1: V, _ i: Int) {
        guard i < height else { return }
        let row = c + i * ldc
        if width == 2 * w {
            let raw = UnsafeMutableRawPointer(row)
            if overwrite {
                raw.storeBytes(of: alpha * v0, as: V.self)
                raw.storeBytes(of: alpha * v1, toByteOffset: step, as: V.self)
            } else {
                raw.storeBytes(of: UnsafeRawPointer(row).loadUnaligned(as: V.self) + alpha * v0, as: V.self)
                raw.storeBytes(of: UnsafeRawPointer(row).loadUnaligned(fromByteOffset: step, as: V.self) + alpha * v1, toByteOffset: step, as: V.self)
            }
        } else {
            for j in 0..<Swift.min(width, w) { row[j] = (overwrite ? 0 : row[j]) + alpha * v0[j] }
            for j in w..<Swift.max(width, w) { row[j] = (overwrite ? 0 : row[j]) + alpha * v1[j - w] }
        }
    }
    store(c00, c01, 0); store(c10, c11, 1); store(c20, c21, 2); store(c30, c31, 3)
    store(c40, c41, 4); store(c50, c51, 5); store(c60, c61, 6); store(c70, c71, 7)
}
#else
/// The 6×NR register tile: twelve native-vector accumulators; per step one
/// load of B (two vectors) and six broadcasts of A.
@inline(__always)
func microKernel<T: KernelScalar>(_ k: Int, _ alpha: T, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                  _ c: UnsafeMutablePointer<T>, _ ldc: Int, _ height: Int, _ width: Int, overwrite: Bool) {
    typealias R = T.Row
    var c0 = R(), c1 = R(), c2 = R(), c3 = R(), c4 = R(), c5 = R()
    var ap = a, bp = UnsafeRawPointer(b)
    for _ in 0..<k {
        let bv = bp.loadUnaligned(as: R.self)
        #if HASWELL
        c0.addProduct(R(repeating: ap[0]), bv)
        c1.addProduct(R(repeating: ap[1]), bv)
        c2.addProduct(R(repeating: ap[2]), bv)
        c3.addProduct(R(repeating: ap[3]), bv)
        c4.addProduct(R(repeating: ap[4]), bv)
        c5.addProduct(R(repeating: ap[5]), bv)
        #else
        c0 += R(repeating: ap[0]) * bv
        c1 += R(repeating: ap[1]) * bv
        c2 += R(repeating: ap[2]) * bv
        c3 += R(repeating: ap[3]) * bv
        c4 += R(repeating: ap[4]) * bv
        c5 += R(repeating: ap[5]) * bv
        #endif
        ap += 6
        bp += R.scalarCount * MemoryLayout<T>.stride
    }
    @inline(__always) func store(_ v: R, _ i: Int) {
        guard i < height else { return }
        let row = c + i * ldc
        if width == R.scalarCount {
            let updated = (overwrite ? R() : UnsafeRawPointer(row).loadUnaligned(as: R.self)) + alpha * v
            UnsafeMutableRawPointer(row).storeBytes(of: updated, as: R.self)
        } else {
            for j in 0..<width { row[j] = (overwrite ? 0 : row[j]) + alpha * v[j] }
        }
    }
    store(c0, 0); store(c1, 1); store(c2, 2); store(c3, 3); store(c4, 4); store(c5, 5)
}
#endif
