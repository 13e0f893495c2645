/// The floating-point types Rankwise computes in: `Float` and `Double`.
///
/// Every algorithm in Rankwise is written once, generic over `Scalar`. The
/// requirement `precision` lets the OpenBLAS backend pick the `s` or `d`
/// routine; the native backend needs only the arithmetic and SIMD operations
/// that `BinaryFloatingPoint` and `SIMDScalar` already give.
public protocol Scalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, CustomStringConvertible
where Self.RawSignificand: FixedWidthInteger {
    /// Which IEEE 754 format this is.
    static var precision: Precision { get }

    /// The value as a Double (exact for both formats).
    ///
    /// Use this rather than `Double(x)` in generic hot loops: `Double(x)` on
    /// an unspecialised generic `x` goes through the generic
    /// `BinaryFloatingPoint` conversion, tens of times slower than this
    /// requirement's concrete witness.
    var doubleValue: Double { get }
}

/// The IEEE 754 binary formats that `Scalar` covers.
public enum Precision: Sendable, Equatable {
    /// binary32 (`Float`): 24-bit significand, ε = 2⁻²³ ≈ 1.19e-7.
    case single
    /// binary64 (`Double`): 53-bit significand, ε = 2⁻⁵² ≈ 2.22e-16.
    case double
}

extension Float: Scalar {
    /// `.single`: Float is IEEE 754 binary32, so the OpenBLAS backend calls the `s` routines.
    public static var precision: Precision { .single }
    /// The value widened to Double; exact, since every binary32 value is a binary64 value.
    @inlinable public var doubleValue: Double { Double(self) }
}

extension Double: Scalar {
    /// `.double`: Double is IEEE 754 binary64, so the OpenBLAS backend calls the `d` routines.
    public static var precision: Precision { .double }
    /// The value itself (no conversion).
    @inlinable public var doubleValue: Double { self }
}
