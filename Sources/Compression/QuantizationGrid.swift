import LinearAlgebra

/// The b-bit grid of one row of one group: a scale s and an integer zero
/// point z, so that code q ∈ [0, 2^b − 1] stands for the value s·(q − z).
///
/// Chosen as GPTQ's quantizer does (the reference implementation and
/// GPTQModel agree), from the group's minimum and maximum, both widened to
/// include 0 so that 0 is exactly on the grid:
/// - asymmetric: s = (max − min)/(2^b − 1), z = round(−min/s);
/// - symmetric: max ← max(|min|, max), min ← −max when min < 0, and
///   z = 2^(b−1). A group with no negative value keeps min = 0, so its scale
///   is max/(2^b − 1) while z stays 2^(b−1): values above about half the
///   maximum clip. This is the reference's behaviour, kept so that codes
///   agree with it; it is rare in real weight groups.
/// - an all-zero group gets the range [−1, 1] (never a zero scale).
///
/// Rounding is half to even, as `torch.round`. With `float16Scale`, s is
/// rounded to the nearest F16 value before z and the codes are chosen, so
/// that a packed checkpoint (whose scales are F16) reproduces exactly the
/// values the algorithm used.
public struct QuantizationGrid: Sendable, Equatable {
    /// s, the step between two levels (positive).
    public var scale: Double
    /// z, the code that stands for 0, an integer in [0, 2^b − 1].
    public var zero: Double
    /// 2^b − 1, the largest code.
    public var maxCode: Double

    /// The grid for values spanning [`minimum`, `maximum`] (0 is added to
    /// the range) on `bits` bits, as described above.
    @inlinable
    public init(minimum: Double, maximum: Double, bits: Int, symmetric: Bool, float16Scale: Bool = false) {
        let maxq = Double((1 << bits) - 1)
        var lo = Swift.min(minimum, 0), hi = Swift.max(maximum, 0)
        if symmetric {
            hi = Swift.max(-lo, hi)
            if lo < 0 { lo = -hi }
        }
        if lo == 0 && hi == 0 { (lo, hi) = (-1, 1) }
        var s = (hi - lo) / maxq
        if float16Scale { s = Self.nearestFloat16(s) }
        scale = s
        zero = symmetric ? (maxq + 1) / 2 : Swift.min(Swift.max(Self.roundHalfEven(-lo / s), 0), maxq)
        maxCode = maxq
    }

    /// The grid of `values` (a row's group), as `init(minimum:maximum:…)`.
    @inlinable
    public init<T: Scalar>(_ values: UnsafeBufferPointer<T>, bits: Int, symmetric: Bool, float16Scale: Bool = false) {
        var lo = 0.0, hi = 0.0
        for x in values { let v = x.doubleValue; lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
        self.init(minimum: lo, maximum: hi, bits: bits, symmetric: symmetric, float16Scale: float16Scale)
    }

    /// q = clamp(round(x/s) + z, 0, 2^b − 1), the code of x.
    @inlinable
    public func code(_ x: Double) -> Double {
        Swift.min(Swift.max(Self.roundHalfEven(x / scale) + zero, 0), maxCode)
    }

    /// s·(q − z), the value a code stands for.
    @inlinable
    public func value(code q: Double) -> Double { scale * (q - zero) }

    /// x snapped to the grid: `value(code: code(x))`.
    @inlinable
    public func fakeQuantized(_ x: Double) -> Double { value(code: code(x)) }

    /// x rounded to the nearest integer, ties to even, for |x| < 2⁵¹:
    /// adding 1.5·2⁵² leaves no fraction bits, so the addition itself rounds
    /// and subtracting it back is exact. Unlike `rounded()`, not a library
    /// call on the baseline x86 target. Larger |x| (a value far off the
    /// grid) is returned as is; the caller clamps it.
    @inlinable
    public static func roundHalfEven(_ x: Double) -> Double {
        guard x.magnitude < 0x1p51 else { return x }
        let magic = 0x1.8p52
        return (x + magic) - magic
    }

    /// The F16 value nearest to x (ties to even), as a Double; x is a
    /// positive finite scale. Values beyond F16's range stay as they are
    /// (the packer refuses them), values below its subnormals become the
    /// smallest subnormal so a scale is never 0.
    @inlinable
    public static func nearestFloat16(_ x: Double) -> Double {
        guard x.isFinite, x > 0, x <= 65504 else { return x }
        // F16 has an 11-bit significand; below 2⁻¹⁴ a fixed step of 2⁻²⁴.
        let exponent = Swift.max(x.exponent, -14)
        let step = Double(sign: .plus, exponent: exponent - 10, significand: 1)
        return Swift.max(roundHalfEven(x / step) * step, 0x1p-24)
    }
}
