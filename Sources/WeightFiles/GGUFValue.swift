/// One GGUF metadata value, typed as stored (GGUF value types 0–12).
///
/// The convenience accessors read a value the way a caller usually wants it, whatever integer or float width the
/// writer chose: `int` for any integer that fits in `Int`, `double` for any float or integer, `string`, `bool`, and
/// for arrays `ints`, `floats`, `strings`. Each is nil when the value is of another kind.
public enum GGUFValue: Sendable, Equatable {
    /// Unsigned and signed integers of 8, 16, 32 and 64 bits (GGUF types 0–5, 10, 11).
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    /// IEEE binary32 and binary64 (GGUF types 6 and 12).
    case float32(Float), float64(Double)
    /// A boolean stored as one byte (GGUF type 7; any byte but 0 reads as true).
    case bool(Bool)
    /// A UTF-8 string (GGUF type 8: u64 length, bytes).
    case string(String)
    /// An array (GGUF type 9: element type, u64 count, elements); elements may be arrays themselves.
    case array(GGUFArray)

    /// Any integer case as `Int`, when it fits (a `uint64` above `Int.max` gives nil); nil for other kinds.
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// A float case widened to `Double` (exact), or an integer case converted (rounded beyond 2⁵³); nil otherwise.
    public var double: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        case .uint64(let v): return Double(v)
        default: return int.map(Double.init)
        }
    }

    /// The string of a `.string`; nil otherwise.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value of a `.bool`; nil otherwise.
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The array of a `.array`; nil otherwise.
    public var array: GGUFArray? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The elements of an array of strings; nil for any other value.
    public var strings: [String]? {
        if case .array(.string(let s)) = self { return s }
        return nil
    }

    /// The elements of an array of any integer type as `Int`; nil for any other value or when one does not fit.
    public var ints: [Int]? { array?.ints }

    /// The elements of an array of `float32` (as stored) or `float64` (rounded to nearest); nil for any other value.
    public var floats: [Float]? {
        switch self {
        case .array(.float32(let v)): return v
        case .array(.float64(let v)): return v.map { Float($0) }
        default: return nil
        }
    }

    /// The GGUF name of the value's type (`u32`, `f32`, `string`, `array[string]`, …), for messages and listings.
    public var typeName: String {
        switch self {
        case .uint8: return "u8"
        case .int8: return "i8"
        case .uint16: return "u16"
        case .int16: return "i16"
        case .uint32: return "u32"
        case .int32: return "i32"
        case .uint64: return "u64"
        case .int64: return "i64"
        case .float32: return "f32"
        case .float64: return "f64"
        case .bool: return "bool"
        case .string: return "string"
        case .array(let a): return "array[\(a.elementTypeName)]"
        }
    }
}

/// The elements of a GGUF array, stored compactly by element type (49,152 tokens are one `[String]`, not 49,152
/// enum values). An array of arrays holds each inner array with its own element type.
public enum GGUFArray: Sendable, Equatable {
    /// Integer elements, one Swift array per GGUF element type.
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16]), uint32([UInt32]), int32([Int32]), uint64([UInt64]), int64([Int64])
    /// Float elements.
    case float32([Float]), float64([Double])
    /// Boolean elements.
    case bool([Bool])
    /// String elements.
    case string([String])
    /// Nested arrays (GGUF element type 9).
    case array([GGUFArray])

    /// The number of elements.
    public var count: Int {
        switch self {
        case .uint8(let v): return v.count
        case .int8(let v): return v.count
        case .uint16(let v): return v.count
        case .int16(let v): return v.count
        case .uint32(let v): return v.count
        case .int32(let v): return v.count
        case .uint64(let v): return v.count
        case .int64(let v): return v.count
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        case .bool(let v): return v.count
        case .string(let v): return v.count
        case .array(let v): return v.count
        }
    }

    /// Integer elements as `Int` (nil for a non-integer array or when a `u64` element exceeds `Int.max`).
    public var ints: [Int]? {
        switch self {
        case .uint8(let v): return v.map(Int.init)
        case .int8(let v): return v.map(Int.init)
        case .uint16(let v): return v.map(Int.init)
        case .int16(let v): return v.map(Int.init)
        case .uint32(let v): return v.map(Int.init)
        case .int32(let v): return v.map(Int.init)
        case .int64(let v): return v.map(Int.init)
        case .uint64(let v):
            var out: [Int] = []
            out.reserveCapacity(v.count)
            for x in v {
                guard let i = Int(exactly: x) else { return nil }
                out.append(i)
            }
            return out
        default: return nil
        }
    }

    /// The GGUF name of the element type (`u8` … `f64`, `bool`, `string`, `array`).
    public var elementTypeName: String {
        switch self {
        case .uint8: return "u8"
        case .int8: return "i8"
        case .uint16: return "u16"
        case .int16: return "i16"
        case .uint32: return "u32"
        case .int32: return "i32"
        case .uint64: return "u64"
        case .int64: return "i64"
        case .float32: return "f32"
        case .float64: return "f64"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        }
    }
}
