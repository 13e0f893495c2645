/// The per-token work of a transformer forward pass that is not a GEMM:
/// elementwise activations (GELU exact and tanh, SiLU) and scaled-dot-product
/// attention of one head of one sequence, in Float.
///
/// Compiled three times, like `PackedGEMM`, so each runs on the widest
/// vectors the CPU has. The transcendental functions are vectorised here
/// rather than called per element from libm (glibc's erff alone was a
/// seventh of a MiniLM forward pass):
/// - eˣ as Cephes' expf: x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by a degree-6
///   polynomial, 2ⁿ put into the exponent bits; arguments clamped to
///   [−87.3, 88], so the result is a normal number (≈ 1.2e−38 at the low end);
/// - erf by two fits (`scripts/fit_erf.py`): x·P(x²) for |x| ≤ 0.875, and
///   erfc(x) = e^{−x²}·Q(1/(1 + x/2)) above, within 2e−7 and 4e−7 relative in
///   Float. GELU takes 1 + erf(x) for x < 0 as erfc(|x|) directly, so the
///   negative tail keeps its relative accuracy instead of cancelling.
public enum TokenKernels {
    /// x ← x·Φ(x) = x/2·(1 + erf(x/√2)) for `count` values at `p`.
    @inline(never)
    public static func gelu(_ p: UnsafeMutablePointer<Float>, count: Int) {
        elementwise(GELU.self, p, count)
    }

    /// GELU per vector.
    enum GELU: VectorFunction {
        @inline(__always)
        static func apply(_ x: V) -> V {
            let z = x * V(repeating: 0.70710678118654752)
            let a = absolute(z)
            let s = a * a
            // erf(a) for small a.
            var small = V(repeating: -6.218503337e-04)
            small = fused(V(repeating: 5.035122163e-03), small, s)
            small = fused(V(repeating: -2.679345259e-02), small, s)
            small = fused(V(repeating: 1.128251045e-01), small, s)
            small = fused(V(repeating: -3.761255584e-01), small, s)
            small = fused(V(repeating: 1.128379158e+00), small, s)
            small *= a
            // erfc(a) for large a.
            let t = V(repeating: 1) / fused(V(repeating: 1), a, V(repeating: 0.5))
            var large = V(repeating: 6.670633380e-02)
            large = fused(V(repeating: -1.391725046e-01), large, t)
            large = fused(V(repeating: -3.807800012e-02), large, t)
            large = fused(V(repeating: 1.535725850e-01), large, t)
            large = fused(V(repeating: 1.357210443e-01), large, t)
            large = fused(V(repeating: 2.593651973e-01), large, t)
            large = fused(V(repeating: 2.798829906e-01), large, t)
            large = fused(V(repeating: 2.823052605e-01), large, t)
            large = fused(V(repeating: -8.376424582e-06), large, t)
            large *= exponential(-s)
            // erfc is below Float's range past 10 (the fit's constant term is not 0 and eˣ is clamped there).
            large.replace(with: 0, where: a .> V(repeating: 10))
            // 1 + erf(z): 1 ± erf(a) where a is small; 2 − erfc(a) or erfc(a) where it is large.
            let isSmall = a .<= V(repeating: 0.875), isNegative = z .< V()
            let one = V(repeating: 1)
            var onePlusErf = (one - large) + one
            onePlusErf.replace(with: large, where: isNegative)
            onePlusErf.replace(with: one + small, where: isSmall .& .!isNegative)
            onePlusErf.replace(with: one - small, where: isSmall .& isNegative)
            return V(repeating: 0.5) * x * onePlusErf
        }
    }

    /// x ← x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))), written as x / (1 + e^{−2u}).
    @inline(never)
    public static func geluTanh(_ p: UnsafeMutablePointer<Float>, count: Int) {
        elementwise(GELUTanh.self, p, count)
    }

    /// GELU's tanh form per vector.
    enum GELUTanh: VectorFunction {
        @inline(__always)
        static func apply(_ x: V) -> V {
            let u = V(repeating: 0.7978845608028654) * fused(x, V(repeating: 0.044715) * x, x * x)
            return x / (V(repeating: 1) + exponential(V(repeating: -2) * u))
        }
    }

    /// x ← x·σ(x) = x / (1 + e^{−x}).
    @inline(never)
    public static func silu(_ p: UnsafeMutablePointer<Float>, count: Int) {
        elementwise(SiLU.self, p, count)
    }

    /// SiLU per vector.
    enum SiLU: VectorFunction {
        @inline(__always)
        static func apply(_ x: V) -> V { x / (V(repeating: 1) + exponential(-x)) }
    }

    /// x ← eˣ (the vectorised exponential the other kernels use; for tests).
    @inline(never)
    public static func exp(_ p: UnsafeMutablePointer<Float>, count: Int) {
        elementwise(Exponential.self, p, count)
    }

    /// eˣ per vector.
    enum Exponential: VectorFunction {
        @inline(__always)
        static func apply(_ x: V) -> V { exponential(x) }
    }

    /// The largest of `count` (> 0) values (NaN-free input assumed).
    @inline(never)
    public static func maximum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var top = V(repeating: -.infinity)
        var i = 0
        while i + w <= count {
            let x = vectorLoad(p + i)
            top.replace(with: x, where: x .> top)
            i += w
        }
        var largest = top.max()
        while i < count { largest = Swift.max(largest, p[i]); i += 1 }
        return largest
    }

    /// Σ e^{p[i] − shift} over `count` values, without storing them: the
    /// terms summed in Float vectors for 1024 values at a time (each partial
    /// sum of terms ≤ 1 stays exact to Float's precision), the partials in Double.
    @inline(never)
    public static func shiftedExponentialSum(_ p: UnsafePointer<Float>, count: Int, shift: Float) -> Double {
        let s = V(repeating: shift)
        var total = 0.0
        var i = 0
        while i < count {
            let end = Swift.min(count, i + 1024)
            var lanes = V()
            while i + w <= end { lanes += exponential(vectorLoad(p + i) - s); i += w }
            var partial = lanes.sum()
            while i < end { partial += exponential(V(repeating: p[i] - shift))[0]; i += 1 }
            total += Double(partial)
        }
        return total
    }

    /// Floats of scratch `attention` needs for a sequence of `length` tokens and heads of `dimension`.
    public static func attentionScratch(length: Int, dimension: Int) -> Int {
        let padded = paddedLength(length)
        return padded * (dimension + rowBlock)
    }

    /// Scaled-dot-product attention of one head over one sequence of
    /// `length` tokens: row i of `context` ← Σⱼ softmaxⱼ(scale·qᵢ·kⱼ)·vⱼ over
    /// the keys j < `length` (j ≤ i when `causal`). Row i of q, k, v and
    /// context starts at `q + i·ldq` (and so on) and holds `dimension`
    /// values. `scratch` has `attentionScratch(length:dimension:)` floats.
    ///
    /// Kᵀ·scale is laid out once (zero-padded to whole vectors); then four
    /// query rows at a time: their scores by a 4 × 2-vector register tile
    /// over the keys, the softmax with the vectorised eˣ, and the weighted
    /// sum of value rows in a 4 × 2-vector tile, divided by each row's sum
    /// at the end. 4·length²·dimension flops (half that when causal).
    @inline(never)
    public static func attention(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
                                 context: UnsafeMutablePointer<Float>, ldc: Int, length: Int, dimension d: Int, scale: Float, causal: Bool,
                                 scratch: UnsafeMutablePointer<Float>) {
        guard length > 0, d > 0 else { return }
        let lp = paddedLength(length)
        let kt = scratch, scores = scratch + lp * d
        for t in 0..<d {
            let row = kt + t * lp
            for j in 0..<length { row[j] = k[j * ldk + t] * scale }
            for j in length..<lp { row[j] = 0 }
        }
        var i0 = 0
        while i0 < length {
            let rows = Swift.min(rowBlock, length - i0)
            let keys = causal ? i0 + rows : length
            let span = Swift.min(lp, (keys + 2 * w - 1) / (2 * w) * (2 * w))
            let q0 = q + i0 * ldq, q1 = q + (i0 + Swift.min(1, rows - 1)) * ldq
            let q2 = q + (i0 + Swift.min(2, rows - 1)) * ldq, q3 = q + (i0 + Swift.min(3, rows - 1)) * ldq
            // Scores: four rows × two vectors of keys per step.
            var j = 0
            while j < span {
                var a00 = V(), a01 = V(), a10 = V(), a11 = V(), a20 = V(), a21 = V(), a30 = V(), a31 = V()
                for t in 0..<d {
                    let k0 = vectorLoad(kt + t * lp + j), k1 = vectorLoad(kt + t * lp + j + w)
                    let b0 = V(repeating: q0[t]), b1 = V(repeating: q1[t]), b2 = V(repeating: q2[t]), b3 = V(repeating: q3[t])
                    a00 = fused(a00, b0, k0); a01 = fused(a01, b0, k1)
                    a10 = fused(a10, b1, k0); a11 = fused(a11, b1, k1)
                    a20 = fused(a20, b2, k0); a21 = fused(a21, b2, k1)
                    a30 = fused(a30, b3, k0); a31 = fused(a31, b3, k1)
                }
                vectorStore(a00, scores + j); vectorStore(a01, scores + j + w)
                vectorStore(a10, scores + lp + j); vectorStore(a11, scores + lp + j + w)
                vectorStore(a20, scores + 2 * lp + j); vectorStore(a21, scores + 2 * lp + j + w)
                vectorStore(a30, scores + 3 * lp + j); vectorStore(a31, scores + 3 * lp + j + w)
                j += 2 * w
            }
            // Softmax numerators, zero past each row's keys; the sums divide at the end.
            func inverseSum(_ r: Int) -> Float {
                let row = scores + r * lp
                guard r < rows else {
                    for j in 0..<span { row[j] = 0 }
                    return 0
                }
                return 1 / softmaxNumerators(row, visible: causal ? i0 + r + 1 : length, span: span)
            }
            let inverse0 = inverseSum(0), inverse1 = inverseSum(1), inverse2 = inverseSum(2), inverse3 = inverseSum(3)
            // Weighted sums of the value rows.
            let c0 = context + i0 * ldc, c1 = context + (i0 + Swift.min(1, rows - 1)) * ldc
            let c2 = context + (i0 + Swift.min(2, rows - 1)) * ldc, c3 = context + (i0 + Swift.min(3, rows - 1)) * ldc
            let s0 = scores, s1 = scores + lp, s2 = scores + 2 * lp, s3 = scores + 3 * lp
            var t = 0
            while t + 2 * w <= d {
                var a00 = V(), a01 = V(), a10 = V(), a11 = V(), a20 = V(), a21 = V(), a30 = V(), a31 = V()
                for j in 0..<keys {
                    let v0 = vectorLoad(v + j * ldv + t), v1 = vectorLoad(v + j * ldv + t + w)
                    let b0 = V(repeating: s0[j]), b1 = V(repeating: s1[j]), b2 = V(repeating: s2[j]), b3 = V(repeating: s3[j])
                    a00 = fused(a00, b0, v0); a01 = fused(a01, b0, v1)
                    a10 = fused(a10, b1, v0); a11 = fused(a11, b1, v1)
                    a20 = fused(a20, b2, v0); a21 = fused(a21, b2, v1)
                    a30 = fused(a30, b3, v0); a31 = fused(a31, b3, v1)
                }
                // Rows past the sequence's end alias its last row; they are not stored.
                vectorStore(a00 * inverse0, c0 + t); vectorStore(a01 * inverse0, c0 + t + w)
                if rows > 1 { vectorStore(a10 * inverse1, c1 + t); vectorStore(a11 * inverse1, c1 + t + w) }
                if rows > 2 { vectorStore(a20 * inverse2, c2 + t); vectorStore(a21 * inverse2, c2 + t + w) }
                if rows > 3 { vectorStore(a30 * inverse3, c3 + t); vectorStore(a31 * inverse3, c3 + t + w) }
                t += 2 * w
            }
            if t + w <= d {
                var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                for j in 0..<keys {
                    let v0 = vectorLoad(v + j * ldv + t)
                    a0 = fused(a0, V(repeating: s0[j]), v0); a1 = fused(a1, V(repeating: s1[j]), v0)
                    a2 = fused(a2, V(repeating: s2[j]), v0); a3 = fused(a3, V(repeating: s3[j]), v0)
                }
                vectorStore(a0 * inverse0, c0 + t)
                if rows > 1 { vectorStore(a1 * inverse1, c1 + t) }
                if rows > 2 { vectorStore(a2 * inverse2, c2 + t) }
                if rows > 3 { vectorStore(a3 * inverse3, c3 + t) }
                t += w
            }
            while t < d {
                var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                for j in 0..<keys {
                    let value = v[j * ldv + t]
                    a0 += s0[j] * value; a1 += s1[j] * value; a2 += s2[j] * value; a3 += s3[j] * value
                }
                c0[t] = a0 * inverse0
                if rows > 1 { c1[t] = a1 * inverse1 }
                if rows > 2 { c2[t] = a2 * inverse2 }
                if rows > 3 { c3[t] = a3 * inverse3 }
                t += 1
            }
            i0 += rows
        }
    }

    /// Query rows handled together.
    static let rowBlock = 4

    /// `length` rounded up to whole pairs of vectors.
    static func paddedLength(_ length: Int) -> Int { (length + 2 * w - 1) / (2 * w) * (2 * w) }

    /// row[j] ← e^{row[j] − max} for j < visible, 0 for visible ≤ j < span; returns their sum.
    @inline(__always)
    static func softmaxNumerators(_ row: UnsafeMutablePointer<Float>, visible: Int, span: Int) -> Float {
        var top = V(repeating: -.infinity)
        var j = 0
        while j + w <= visible {
            let x = vectorLoad(row + j)
            top.replace(with: x, where: x .> top)
            j += w
        }
        var largest = top.max()
        while j < visible { largest = Swift.max(largest, row[j]); j += 1 }
        let shift = V(repeating: largest)
        var sum = V()
        j = 0
        while j + w <= visible {
            let e = exponential(vectorLoad(row + j) - shift)
            vectorStore(e, row + j)
            sum += e
            j += w
        }
        if j < visible {
            // The tail as one vector (span is whole vectors), lanes past `visible` zeroed.
            var lanes = V()
            for lane in 0..<w { lanes[lane] = Float(lane) }
            var e = exponential(vectorLoad(row + j) - shift)
            e.replace(with: 0, where: lanes .>= V(repeating: Float(visible - j)))
            vectorStore(e, row + j)
            sum += e
            j += w
        }
        while j < span { vectorStore(V(), row + j); j += w }
        return sum.sum()
    }
}

/// One vector of Floats in this build.
typealias V = Float.Vector

/// Lanes per vector.
@inline(__always)
var w: Int { V.scalarCount }

@inline(__always)
func absolute(_ x: V) -> V {
    unsafeBitCast(unsafeBitCast(x, to: V.MaskStorage.self) & V.MaskStorage(repeating: 0x7FFF_FFFF), to: V.self)
}

// This file's own vector helpers, concrete for V: debug builds compile the kernel modules with -O
// but file by file, where the generic helpers of the other files (`load`, `multiplyAdd`, …) stay
// unspecialised calls through the SIMD protocol per lane (a SmolLM2 test ran 20× slower).

@inline(__always)
func vectorLoad(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

@inline(__always)
func vectorLoad(_ p: UnsafeMutablePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

@inline(__always)
func vectorStore(_ x: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: V.self) }

/// x + y·z, fused where the target has FMA.
@inline(__always)
func fused(_ x: V, _ y: V, _ z: V) -> V {
    #if HASWELL || AVX512
    var r = x
    r.addProduct(y, z)
    return r
    #else
    return x + y * z
    #endif
}

/// eˣ per lane (Cephes' expf; see `TokenKernels`).
@inline(__always)
func exponential(_ x: V) -> V {
    // Clamped by compare-and-blend (`clamped` would go lane by lane for its NaN rules).
    var y = x
    y.replace(with: -87.3, where: x .< V(repeating: -87.3))
    y.replace(with: 88, where: x .> V(repeating: 88))
    // Adding 1.5·2²³ rounds y·log₂e to an integer n held in the low mantissa bits.
    let shifter = V(repeating: 12_582_912)
    let shifted = fused(shifter, y, V(repeating: 1.44269504088896341))
    let n = shifted - shifter
    var r = fused(y, n, V(repeating: -0.693359375))
    r = fused(r, n, V(repeating: 2.12194440e-4))
    var p = V(repeating: 1.9875691500e-4)
    p = fused(V(repeating: 1.3981999507e-3), p, r)
    p = fused(V(repeating: 8.3334519073e-3), p, r)
    p = fused(V(repeating: 4.1665795894e-2), p, r)
    p = fused(V(repeating: 1.6666665459e-1), p, r)
    p = fused(V(repeating: 5.0000001201e-1), p, r)
    let expR = fused(r + V(repeating: 1), p, r * r)
    // 2ⁿ: n's bits shifted into the exponent field, plus the bias 127.
    let bits = (unsafeBitCast(shifted, to: V.MaskStorage.self) &<< 23) &+ V.MaskStorage(repeating: 0x3F80_0000)
    return expR * unsafeBitCast(bits, to: V.self)
}

/// A function of one vector, applied by `elementwise` (a type, so that each use is specialised
/// and inlined; a closure argument was not inlined and cost half the speed).
protocol VectorFunction {
    static func apply(_ x: V) -> V
}

/// p[i] ← F(p[i]) for `count` values: whole vectors, then the tail zero-padded to one.
@inline(__always)
func elementwise<F: VectorFunction>(_: F.Type, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i + w <= count { vectorStore(F.apply(vectorLoad(p + i)), p + i); i += w }
    guard i < count else { return }
    var tail = V()
    for lane in 0..<(count - i) { tail[lane] = p[i + lane] }
    let result = F.apply(tail)
    for lane in 0..<(count - i) { p[i + lane] = result[lane] }
}
