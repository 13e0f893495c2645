import GEMMKernels
#if canImport(GEMMKernelsAVX2)
import GEMMKernelsAVX2
#endif
#if canImport(GEMMKernelsAVX512)
import GEMMKernelsAVX512
#endif

/// The non-GEMM work of a transformer forward pass, vectorised: elementwise
/// activations and one head's scaled-dot-product attention, in Float, on
/// the native kernel build `NativeKernel.current` names (whatever the
/// backend: BLAS has no such routines).
///
/// eˣ and erf are computed in the vectors (Cephes' expf; a two-range fit of
/// erf, `scripts/fit_erf.py`), within a few units in the last place of
/// Float — the same order as libm's erff/expf that PyTorch's CPU kernels
/// replace the same way.
public enum TokenMath {
    /// x ← x·Φ(x) = x/2·(1 + erf(x/√2)) (exact GELU), in place, across the cores.
    public static func gelu(_ x: UnsafeMutableBufferPointer<Float>) {
        parallel(x, entries.gelu)
    }

    /// x ← x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (GELU's tanh approximation), in place, across the cores.
    public static func geluTanh(_ x: UnsafeMutableBufferPointer<Float>) {
        parallel(x, entries.geluTanh)
    }

    /// x ← x·σ(x) (SiLU), in place, across the cores.
    public static func silu(_ x: UnsafeMutableBufferPointer<Float>) {
        parallel(x, entries.silu)
    }

    /// x ← eˣ, in place, on this thread (arguments clamped to [−87.3, 88]).
    public static func exp(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let base = x.baseAddress else { return }
        entries.exp(base, x.count)
    }

    /// The largest of the values (−∞ for none), on this thread.
    public static func maximum(_ x: UnsafeBufferPointer<Float>) -> Float {
        guard let base = x.baseAddress, x.count > 0 else { return -.infinity }
        return entries.maximum(base, x.count)
    }

    /// Σ e^{xᵢ − shift} (the denominator of a softmax with its max as `shift`),
    /// terms by the vectorised eˣ, partial sums in Double; on this thread.
    public static func shiftedExponentialSum(_ x: UnsafeBufferPointer<Float>, shift: Float) -> Double {
        guard let base = x.baseAddress else { return 0 }
        return entries.shiftedExponentialSum(base, x.count, shift)
    }

    /// Floats of scratch one `attention` call needs (on the current kernel build: its vectors set the padding).
    public static func attentionScratch(length: Int, dimension: Int) -> Int {
        entries.attentionScratch(length, dimension)
    }

    /// One head of one sequence, on this thread: context row i ←
    /// Σⱼ softmaxⱼ(scale·qᵢ·kⱼ)·vⱼ over keys j < `length` (j ≤ i when
    /// `causal`). Row i of each operand starts at `pointer + i·leading
    /// dimension` and holds `dimension` values; `scratch` holds
    /// `attentionScratch(length:dimension:)` floats. Callers run many heads
    /// in parallel.
    public static func attention(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
                                 context: UnsafeMutablePointer<Float>, ldc: Int, length: Int, dimension: Int, scale: Float, causal: Bool,
                                 scratch: UnsafeMutablePointer<Float>) {
        entries.attention(q, ldq, k, ldk, v, ldv, context, ldc, length, dimension, scale, causal, scratch)
    }

    typealias Elementwise = (UnsafeMutablePointer<Float>, Int) -> Void
    typealias Attention = (UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int,
                           UnsafeMutablePointer<Float>, Int, Int, Int, Float, Bool, UnsafeMutablePointer<Float>) -> Void

    /// One build's token kernels.
    struct Entries {
        var gelu, geluTanh, silu, exp: Elementwise
        var attention: Attention
        var attentionScratch: (Int, Int) -> Int
        var maximum: (UnsafePointer<Float>, Int) -> Float
        var shiftedExponentialSum: (UnsafePointer<Float>, Int, Float) -> Double
    }

    static var entries: Entries {
        switch NativeKernel.current {
        #if canImport(GEMMKernelsAVX512)
        case .avx512:
            typealias K = GEMMKernelsAVX512.TokenKernels
            return Entries(gelu: K.gelu, geluTanh: K.geluTanh, silu: K.silu, exp: K.exp, attention: K.attention,
                           attentionScratch: { K.attentionScratch(length: $0, dimension: $1) }, maximum: K.maximum,
                           shiftedExponentialSum: K.shiftedExponentialSum)
        #endif
        #if canImport(GEMMKernelsAVX2)
        case .avx2:
            typealias K = GEMMKernelsAVX2.TokenKernels
            return Entries(gelu: K.gelu, geluTanh: K.geluTanh, silu: K.silu, exp: K.exp, attention: K.attention,
                           attentionScratch: { K.attentionScratch(length: $0, dimension: $1) }, maximum: K.maximum,
                           shiftedExponentialSum: K.shiftedExponentialSum)
        #endif
        default:
            typealias K = GEMMKernels.TokenKernels
            return Entries(gelu: K.gelu, geluTanh: K.geluTanh, silu: K.silu, exp: K.exp, attention: K.attention,
                           attentionScratch: { K.attentionScratch(length: $0, dimension: $1) }, maximum: K.maximum,
                           shiftedExponentialSum: K.shiftedExponentialSum)
        }
    }

    /// `kernel` over chunks of at least 16K values (whole cache lines) across the cores.
    static func parallel(_ x: UnsafeMutableBufferPointer<Float>, _ kernel: @escaping Elementwise) {
        guard let base = x.baseAddress else { return }
        nonisolated(unsafe) let p = base
        let count = x.count
        let chunks = Swift.max(1, Swift.min(4 * Backend.threadCount, count / 16_384))
        Backend.forEachChunk(chunks) { chunk in
            let start = (count * chunk / chunks) & ~15, end = chunk == chunks - 1 ? count : (count * (chunk + 1) / chunks) & ~15
            if start < end { kernel(p + start, end - start) }
        }
    }
}
