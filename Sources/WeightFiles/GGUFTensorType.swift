/// A GGUF tensor's element type (ggml's `ggml_type`, raw value = the id stored in the file).
///
/// Every type ggml defines today is known here, with its block size (elements per block) and block bytes, so that
/// any GGUF file's layout can be checked; `isDequantizable` says which ones `GGUFFile.floats(_:)` decodes. Ids that
/// ggml has retired (4, 5: Q4_2, Q4_3; 31–33, 36–38: the repacked ARM/AArch64 layouts) and unknown ids are refused
/// on open, since their size cannot be known.
public enum GGUFTensorType: UInt32, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// Plain floats: binary32, binary16, bfloat16, binary64.
    case f32 = 0, f16 = 1, bf16 = 30, f64 = 28
    /// Plain integers (read as bytes only).
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27
    /// The 32-element block formats: Q4_0 (18 B), Q4_1 (20 B), Q5_0 (22 B), Q5_1 (24 B), Q8_0 (34 B), Q8_1 (36 B).
    case q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    /// The 256-element "k-quant" super-block formats.
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    /// The importance-matrix, ternary and FP4 formats (their size is known; they are not dequantized here).
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23, iq1_M = 29
    /// Ternary and 4-bit float formats (size known, not dequantized here), and the 1-bit Q1_0.
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// ggml's spelling: `F32`, `Q4_1`, `Q6_K`, `IQ2_XXS`, ….
    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .f64: return "F64"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q8_1: return "Q8_1"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .q8_K: return "Q8_K"
        case .iq2_XXS: return "IQ2_XXS"
        case .iq2_XS: return "IQ2_XS"
        case .iq3_XXS: return "IQ3_XXS"
        case .iq1_S: return "IQ1_S"
        case .iq4_NL: return "IQ4_NL"
        case .iq3_S: return "IQ3_S"
        case .iq2_S: return "IQ2_S"
        case .iq4_XS: return "IQ4_XS"
        case .iq1_M: return "IQ1_M"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        case .mxfp4: return "MXFP4"
        case .nvfp4: return "NVFP4"
        case .q1_0: return "Q1_0"
        }
    }

    /// ggml's spelling (`name`).
    public var description: String { name }

    /// Elements per block: 1 for plain types, 32 for Q4_0…Q8_1, IQ4_NL and MXFP4, 64 for NVFP4, 128 for Q1_0,
    /// 256 for the k-quants and the other IQ/TQ types. A row (`ne0` elements) must be a whole number of blocks.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_NL, .mxfp4: return 32
        case .nvfp4: return 64
        case .q1_0: return 128
        default: return 256
        }
    }

    /// Bytes per block (ggml's type size).
    public var blockBytes: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .f64, .i64: return 8
        case .i8: return 1
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q8_1: return 36
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        case .q8_K: return 292
        case .iq2_XXS: return 66
        case .iq2_XS: return 74
        case .iq3_XXS: return 98
        case .iq1_S: return 50
        case .iq4_NL: return 18
        case .iq3_S: return 110
        case .iq2_S: return 82
        case .iq4_XS: return 136
        case .iq1_M: return 56
        case .tq1_0: return 54
        case .tq2_0: return 66
        case .mxfp4: return 17
        case .nvfp4: return 36
        case .q1_0: return 18
        }
    }

    /// The safetensors dtype holding the same bytes, for the plain float and integer types; nil for block formats.
    public var plainDType: DType? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .f64: return .f64
        case .i8: return .i8
        case .i16: return .i16
        case .i32: return .i32
        case .i64: return .i64
        default: return nil
        }
    }

    /// A block format (anything but the plain float and integer types).
    public var isQuantized: Bool { plainDType == nil }

    /// Whether `GGUFFile.floats(_:)` decodes this type: F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K,
    /// Q3_K, Q4_K, Q5_K and Q6_K. Integer types are not floats; the IQ, TQ, FP4, Q1_0 and the Q8_1/Q8_K
    /// (activation) formats are not implemented.
    public var isDequantizable: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return true
        default: return false
        }
    }
}
