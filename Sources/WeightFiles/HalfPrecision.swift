/// Float16 and BFloat16 storage conversion.
///
/// Both directions are exact where the value is representable; narrowing
/// rounds to nearest, ties to even, keeps ±∞, turns NaN into a quiet NaN and
/// overflows to ±∞, as IEEE 754 and PyTorch do.
public enum HalfPrecision {
    /// The BF16 bits of `x`: the top 16 bits of the Float, rounded to nearest even.
    @inlinable
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }   // quiet NaN, sign kept
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// The Float a BF16 bit pattern stands for (exact).
    @inlinable
    public static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The F16 bits of `x`, rounded to nearest even, in integer arithmetic
    /// (Swift's `Float16` conversion is a library call on the baseline x86
    /// target, 2–10× slower). Equal to `Float16(x).bitPattern`, NaNs aside,
    /// which keep their sign and top payload bits and become quiet.
    @inlinable
    public static func float16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {                   // ±∞, NaN
            return magnitude == 0x7F80_0000 ? sign | 0x7C00 : sign | 0x7E00 | UInt16(truncatingIfNeeded: magnitude >> 13) & 0x01FF
        }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }    // 65520 and up round to ∞
        if magnitude >= 0x3880_0000 {                   // normal in F16 (≥ 2⁻¹⁴): rebias, round on bit 13
            let rounded = magnitude &+ 0x0FFF &+ ((magnitude >> 13) & 1)
            return sign | UInt16(truncatingIfNeeded: (rounded &- 0x3800_0000) >> 13)
        }
        // Subnormal in F16: a multiple of 2⁻²⁴; scaling by 2²⁴ is exact, and
        // 1024 (rounding up into the normals) is the right encoding too.
        return sign | UInt16((Float(bitPattern: magnitude) * 0x1p24).rounded(.toNearestOrEven))
    }

    /// The Float an F16 bit pattern stands for (exact), in integer arithmetic.
    @inlinable
    public static func float(float16Bits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F, mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }       // ±∞, NaN
        if exponent != 0 { return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13) }
        let value = Float(mantissa) * 0x1p-24          // zero or subnormal, exact
        return sign != 0 ? -value : value
    }
}
