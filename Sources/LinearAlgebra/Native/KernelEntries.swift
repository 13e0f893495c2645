import GEMMKernels
#if canImport(GEMMKernelsAVX2)
import GEMMKernelsAVX2
#endif
#if canImport(GEMMKernelsAVX512)
import GEMMKernelsAVX512
#endif

/// The entry points of one build of the kernel sources for one scalar type:
/// the one place that names the kernel modules. The kernels have a Float and
/// a Double overload of each function; the forwarders (`NativeGEMM`,
/// `NativeRotations`, `NativeSymmetricProduct`, `NativeColumnProducts`) pick
/// the table of their scalar type and call through it.
struct KernelEntries<U> {
    var gemm: NativeGEMM.Kernel<U>
    var rotations: NativeRotations.Kernel<U>
    var symmetricProduct: NativeSymmetricProduct.Kernel<U>
    var dots: NativeColumnProducts.Dots<U>
    var combination: NativeColumnProducts.Combination<U>
}

extension NativeKernel {
    /// This build's entries for Float or Double (the baseline's where this
    /// binary lacks the build; `isAvailable` keeps that from being chosen).
    func entries(_: Float.Type) -> KernelEntries<Float> {
        switch self {
        #if canImport(GEMMKernelsAVX512)
        case .avx512:
            return KernelEntries(gemm: { GEMMKernelsAVX512.PackedGEMM.multiply(transposeA: $0, transposeB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6,
                                                                                lda: $7, b: $8, ldb: $9, beta: $10, c: $11, ldc: $12, threads: $13) },
                                 rotations: GEMMKernelsAVX512.PlaneRotations.apply, symmetricProduct: GEMMKernelsAVX512.SymmetricProduct.lowerRows,
                                 dots: GEMMKernelsAVX512.ColumnProducts.dots, combination: GEMMKernelsAVX512.ColumnProducts.combination)
        #endif
        #if canImport(GEMMKernelsAVX2)
        case .avx2:
            return KernelEntries(gemm: { GEMMKernelsAVX2.PackedGEMM.multiply(transposeA: $0, transposeB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6,
                                                                              lda: $7, b: $8, ldb: $9, beta: $10, c: $11, ldc: $12, threads: $13) },
                                 rotations: GEMMKernelsAVX2.PlaneRotations.apply, symmetricProduct: GEMMKernelsAVX2.SymmetricProduct.lowerRows,
                                 dots: GEMMKernelsAVX2.ColumnProducts.dots, combination: GEMMKernelsAVX2.ColumnProducts.combination)
        #endif
        default:
            return KernelEntries(gemm: { GEMMKernels.PackedGEMM.multiply(transposeA: $0, transposeB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6,
                                                                          lda: $7, b: $8, ldb: $9, beta: $10, c: $11, ldc: $12, threads: $13) },
                                 rotations: GEMMKernels.PlaneRotations.apply, symmetricProduct: GEMMKernels.SymmetricProduct.lowerRows,
                                 dots: GEMMKernels.ColumnProducts.dots, combination: GEMMKernels.ColumnProducts.combination)
        }
    }

    /// This build's entries for Double (see the Float version).
    func entries(_: Double.Type) -> KernelEntries<Double> {
        switch self {
        #if canImport(GEMMKernelsAVX512)
        case .avx512:
            return KernelEntries(gemm: { GEMMKernelsAVX512.PackedGEMM.multiply(transposeA: $0, transposeB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6,
                                                                                lda: $7, b: $8, ldb: $9, beta: $10, c: $11, ldc: $12, threads: $13) },
                                 rotations: GEMMKernelsAVX512.PlaneRotations.apply, symmetricProduct: GEMMKernelsAVX512.SymmetricProduct.lowerRows,
                                 dots: GEMMKernelsAVX512.ColumnProducts.dots, combination: GEMMKernelsAVX512.ColumnProducts.combination)
        #endif
        #if canImport(GEMMKernelsAVX2)
        case .avx2:
            return KernelEntries(gemm: { GEMMKernelsAVX2.PackedGEMM.multiply(transposeA: $0, transposeB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6,
                                                                              lda: $7, b: $8, ldb: $9, beta: $10, c: $11, ldc: $12, threads: $13) },
                                 rotations: GEMMKernelsAVX2.PlaneRotations.apply, symmetricProduct: GEMMKernelsAVX2.SymmetricProduct.lowerRows,
                                 dots: GEMMKernelsAVX2.ColumnProducts.dots, combination: GEMMKernelsAVX2.ColumnProducts.combination)
        #endif
        default:
            return KernelEntries(gemm: { GEMMKernels.PackedGEMM.multiply(transposeA: $0, transposeB: $1, m: $2, n: $3, k: $4, alpha: $5, a: $6,
                                                                          lda: $7, b: $8, ldb: $9, beta: $10, c: $11, ldc: $12, threads: $13) },
                                 rotations: GEMMKernels.PlaneRotations.apply, symmetricProduct: GEMMKernels.SymmetricProduct.lowerRows,
                                 dots: GEMMKernels.ColumnProducts.dots, combination: GEMMKernels.ColumnProducts.combination)
        }
    }
}
