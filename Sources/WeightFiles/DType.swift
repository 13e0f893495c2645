/// The element types a safetensors file may hold.
public enum DType: String, Sendable, CaseIterable, Codable {
    /// Floating point: IEEE binary64, binary32, binary16 and bfloat16 (8 exponent bits, 7 fraction bits); raw value = header spelling.
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    /// Integers (signed 64/32/16/8-bit, unsigned 8-bit) and BOOL (one byte per value): read as bytes only, never as matrices.
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// F64, F32, F16 and BF16: converted to the working precision on load.
    public var isFloatingPoint: Bool { self == .f64 || self == .f32 || self == .f16 || self == .bf16 }

    /// The spacing of stored values relative to their size (machine epsilon):
    /// 2⁻⁵² for F64, 2⁻²³ for F32, 2⁻¹⁰ for F16, 2⁻⁷ for BF16; 1 for the others.
    public var roundingUnit: Double {
        switch self {
        case .f64: return 0x1p-52
        case .f32: return 0x1p-23
        case .f16: return 0x1p-10
        case .bf16: return 0x1p-7
        default: return 1
        }
    }

    /// The CLI spelling (`f32`, `f16`, `bf16`, `f64`) of a floating dtype.
    public init?(cliName: String) {
        switch cliName.lowercased() {
        case "f64", "float64", "fp64": self = .f64
        case "f32", "float32", "fp32": self = .f32
        case "f16", "float16", "fp16": self = .f16
        case "bf16", "bfloat16": self = .bf16
        default: return nil
        }
    }
}
