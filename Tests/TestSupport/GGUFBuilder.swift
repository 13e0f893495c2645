import Foundation

/// A GGUF metadata value for `GGUFBuilder`, with its GGUF type id.
public indirect enum GGUFTestValue {
    case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), f32(Float), bool(Bool), string(String)
    /// An array: element type id, then the elements (each encoded without its type id).
    case array(UInt32, [GGUFTestValue])
    case u64(UInt64), i64(Int64), f64(Double)

    /// The GGUF value type id (0–12).
    public var typeID: UInt32 {
        switch self {
        case .u8: 0
        case .i8: 1
        case .u16: 2
        case .i16: 3
        case .u32: 4
        case .i32: 5
        case .f32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .u64: 10
        case .i64: 11
        case .f64: 12
        }
    }
}

/// Little-endian bytes, appended field by field (the test side of a GGUF file, written independently of the reader).
public struct GGUFBytes {
    public var bytes: [UInt8] = []
    public init() {}
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func f32(_ v: Float) { u32(v.bitPattern) }
    public mutating func f16(_ v: Float) { u16(Float16(v).bitPattern) }
    /// u64 length, then the UTF-8 bytes.
    public mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes += Array(s.utf8)
    }
    /// A value without its type id.
    public mutating func value(_ v: GGUFTestValue) {
        switch v {
        case .u8(let x): u8(x)
        case .i8(let x): u8(UInt8(bitPattern: x))
        case .u16(let x): u16(x)
        case .i16(let x): u16(UInt16(bitPattern: x))
        case .u32(let x): u32(x)
        case .i32(let x): u32(UInt32(bitPattern: x))
        case .f32(let x): f32(x)
        case .bool(let x): u8(x ? 1 : 0)
        case .string(let x): string(x)
        case .array(let type, let elements):
            u32(type)
            u64(UInt64(elements.count))
            for e in elements { value(e) }
        case .u64(let x): u64(x)
        case .i64(let x): u64(UInt64(bitPattern: x))
        case .f64(let x): u64(x.bitPattern)
        }
    }
    /// Zero bytes up to a multiple of `alignment`.
    public mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }
}

/// A GGUF file written by the tests: header, metadata pairs in order, tensor infos and data, each tensor's data
/// placed at the next multiple of the alignment (or at `offset` when given, for hostile files).
public struct GGUFBuilder {
    public struct Tensor {
        public var name: String
        /// ggml order: ne0 (contiguous) first.
        public var dimensions: [UInt64]
        public var type: UInt32
        public var data: [UInt8]
        /// The offset written (relative to the data section); nil places the data after the previous tensor.
        public var offset: UInt64?
        public init(name: String, dimensions: [UInt64], type: UInt32, data: [UInt8], offset: UInt64? = nil) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
            self.data = data
            self.offset = offset
        }
    }

    public var version: UInt32 = 3
    public var metadata: [(String, GGUFTestValue)] = []
    public var tensors: [Tensor] = []
    /// The alignment used for placing data (write `general.alignment` in `metadata` to change the reader's).
    public var alignment = 32
    /// Written instead of the real counts when set (hostile files).
    public var tensorCountOverride: UInt64?
    public var metadataCountOverride: UInt64?

    public init() {}

    public mutating func add(_ key: String, _ value: GGUFTestValue) { metadata.append((key, value)) }
    public mutating func add(_ tensor: Tensor) { tensors.append(tensor) }

    /// The file's bytes.
    public func bytes() -> [UInt8] {
        var w = GGUFBytes()
        w.bytes += Array("GGUF".utf8)
        w.u32(version)
        w.u64(tensorCountOverride ?? UInt64(tensors.count))
        w.u64(metadataCountOverride ?? UInt64(metadata.count))
        for (key, value) in metadata {
            w.string(key)
            w.u32(value.typeID)
            w.value(value)
        }
        var next: UInt64 = 0
        var placed: [(UInt64, [UInt8])] = []
        for t in tensors {
            w.string(t.name)
            w.u32(UInt32(t.dimensions.count))
            for d in t.dimensions { w.u64(d) }
            w.u32(t.type)
            let offset = t.offset ?? next
            w.u64(offset)
            placed.append((offset, t.data))
            // Wrapping: hostile offsets near 2^64 are written as given.
            next = offset &+ UInt64(t.data.count)
            next = (next &+ UInt64(alignment) &- 1) / UInt64(alignment) &* UInt64(alignment)
        }
        w.pad(to: alignment)
        let start = w.bytes.count
        for (offset, data) in placed where !data.isEmpty {
            let at = start + Int(offset)
            if w.bytes.count < at + data.count { w.bytes += [UInt8](repeating: 0, count: at + data.count - w.bytes.count) }
            w.bytes.replaceSubrange(at..<(at + data.count), with: data)
        }
        w.pad(to: alignment)   // as gguf-py and llama.cpp write it: the last tensor padded too
        return w.bytes
    }

    /// Writes the file to `url`.
    public func write(to url: URL) throws { try Data(bytes()).write(to: url) }
}

/// Block encoders for the tests: each takes the codes and scales and returns the stored bytes, following the block
/// layouts of ggml (so that expected values can be computed from the same codes by the formulas).
public enum GGUFBlocks {
    /// Q8_0: F16 d, then 32 signed codes; x = q·d.
    public static func q8_0(d: Float, codes: [Int8]) -> [UInt8] {
        precondition(codes.count == 32)
        var w = GGUFBytes()
        w.f16(d)
        for q in codes { w.u8(UInt8(bitPattern: q)) }
        return w.bytes
    }
    /// Q4_0: F16 d, then 16 bytes: byte j = code j | code (j + 16) << 4; x = (q − 8)·d.
    public static func q4_0(d: Float, codes: [UInt8]) -> [UInt8] {
        precondition(codes.count == 32)
        var w = GGUFBytes()
        w.f16(d)
        for j in 0..<16 { w.u8(codes[j] | codes[j + 16] << 4) }
        return w.bytes
    }
    /// Q4_1: F16 d, F16 m, then 16 bytes as Q4_0; x = q·d + m.
    public static func q4_1(d: Float, m: Float, codes: [UInt8]) -> [UInt8] {
        precondition(codes.count == 32)
        var w = GGUFBytes()
        w.f16(d)
        w.f16(m)
        for j in 0..<16 { w.u8(codes[j] | codes[j + 16] << 4) }
        return w.bytes
    }
    /// The Float an F16 rounds `x` to (what a block's scale holds).
    public static func f16(_ x: Float) -> Float { Float(Float16(x)) }
}
