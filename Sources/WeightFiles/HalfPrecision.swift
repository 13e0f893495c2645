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

    /// The F16 bits of `x`, rounded to nearest even (Swift's Float16 conversion).
    @inlinable
    public static func float16Bits(_ x: Float) -> UInt16 {
        Float16(x).bitPattern
    }

    /// The Float an F16 bit pattern stands for (exact).
    @inlinable
    public static func float(float16Bits bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }
}
