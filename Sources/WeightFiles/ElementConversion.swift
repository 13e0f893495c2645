import LinearAlgebra

/// Bulk conversion between stored little-endian bytes and Float/Double.
/// Unaligned storage is read with `loadUnaligned`; the loops run on concrete
/// types (`@_specialize`).
enum ElementConversion {
    static func decode<T: Scalar>(_ bytes: UnsafeRawBufferPointer, dtype: DType, count: Int) -> [T] {
        [T](unsafeUninitializedCapacity: count) { out, initialized in
            if let src = bytes.baseAddress, let dst = out.baseAddress { decode(src, dtype: dtype, count: count, into: dst) }
            initialized = count
        }
    }

    /// Reads `count` values stored as `dtype` at `src` (any alignment) into `dst`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func decode<T: Scalar>(_ src: UnsafeRawPointer, dtype: DType, count: Int, into out: UnsafeMutablePointer<T>) {
        switch dtype {
        case .f32: for i in 0..<count { out[i] = T(Float(bitPattern: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)) }
        case .f64: for i in 0..<count { out[i] = T(Double(bitPattern: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
        case .f16: for i in 0..<count { out[i] = T(HalfPrecision.float(float16Bits: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)) }
        case .bf16: for i in 0..<count { out[i] = T(HalfPrecision.float(bfloat16Bits: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)) }
        default: preconditionFailure("decode: \(dtype) is not floating point")
        }
    }

    /// The little-endian bytes of `values` stored as `dtype` (rounded to
    /// nearest even when narrowing).
    static func encode<T: Scalar>(_ values: UnsafeBufferPointer<T>, as dtype: DType) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: values.count * dtype.size) { out, initialized in
            if let base = out.baseAddress { encode(values, as: dtype, into: UnsafeMutableRawPointer(base)) }
            initialized = values.count * dtype.size
        }
    }

    /// Stores `values` as `dtype` at `dst` (values.count × dtype.size bytes, any alignment).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func encode<T: Scalar>(_ values: UnsafeBufferPointer<T>, as dtype: DType, into dst: UnsafeMutableRawPointer) {
        let n = values.count
        switch dtype {
        case .f32: for i in 0..<n { dst.storeBytes(of: Float(values[i].doubleValue).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .f64: for i in 0..<n { dst.storeBytes(of: values[i].doubleValue.bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        case .f16: for i in 0..<n { dst.storeBytes(of: HalfPrecision.float16Bits(narrowToFloat(values[i])).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16: for i in 0..<n { dst.storeBytes(of: HalfPrecision.bfloat16Bits(narrowToFloat(values[i])).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        default: preconditionFailure("encode: \(dtype) is not floating point")
        }
    }

    /// Whether `T`'s in-memory values are already the stored bytes of `dtype`
    /// (F32 from Float, F64 from Double, on a little-endian machine).
    static func isIdentity<T: Scalar>(_: T.Type, _ dtype: DType) -> Bool {
        guard 1.littleEndian == 1 else { return false }
        switch T.precision {
        case .single: return dtype == .f32
        case .double: return dtype == .f64
        }
    }

    /// Double → BF16 or F16 through a rounded Float would round twice. Instead
    /// narrow to Float by rounding to odd (truncate toward zero, then set the
    /// last bit if anything was lost): the sticky bit makes the second, BF16
    /// rounding correct.
    @inline(__always)
    static func narrowToFloat<T: Scalar>(_ x: T) -> Float {
        let d = x.doubleValue
        var f = Float(d)
        guard T.precision == .double, f.isFinite, Double(f) != d else { return f }
        if Double(f).magnitude > d.magnitude { f = d > 0 ? f.nextDown : f.nextUp }
        return Float(bitPattern: f.bitPattern | 1)
    }
}
