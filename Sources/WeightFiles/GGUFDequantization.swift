/// Row decoders for GGUF tensor data: one row of `ne0` elements (a whole number of blocks) from its stored bytes to
/// Float, the same arithmetic, in the same order, as ggml's reference dequantizers (so results are bit-equal to
/// llama.cpp's and gguf-py's). Stored bytes may be at any alignment; every load is unaligned and little-endian.
///
/// Block layouts (d, m, dmin: F16 scales; q: the codes):
/// - Q8_0 (34 B / 32): d, 32 × i8; `x = q·d`.
/// - Q4_0 (18 B / 32): d, 16 bytes; element j < 16 is the low nibble of byte j, element j + 16 its high nibble;
///   `x = (q − 8)·d`.
/// - Q4_1 (20 B / 32): d, m, 16 bytes as Q4_0; `x = q·d + m`.
/// - Q5_0 (22 B / 32): d, a u32 of high bits (bit j for element j), 16 bytes as Q4_0; `x = (q − 16)·d`.
/// - Q5_1 (24 B / 32): d, m, high bits, 16 bytes; `x = q·d + m`.
/// - Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (256-element super-blocks): see the functions below.
enum GGUFDequantization {
    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.float(float16Bits: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always)
    static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 { p.load(fromByteOffset: offset, as: UInt8.self) }

    /// Decodes `count` elements (a whole number of `type`'s blocks) stored at `src` into `y`.
    /// `type` must be `isDequantizable`.
    static func decodeRow(_ type: GGUFTensorType, _ src: UnsafeRawPointer, count: Int, into y: UnsafeMutablePointer<Float>) {
        let blocks = count / type.blockSize
        switch type {
        case .f32:
            for i in 0..<count { y[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<count { y[i] = half(src, 2 * i) }
        case .bf16:
            for i in 0..<count { y[i] = HalfPrecision.float(bfloat16Bits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .f64:
            for i in 0..<count { y[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        case .q8_0:
            for b in 0..<blocks {
                let p = src + 34 * b, out = y + 32 * b
                let d = half(p, 0)
                for j in 0..<32 { out[j] = Float(Int8(bitPattern: byte(p, 2 + j))) * d }
            }
        case .q4_0:
            for b in 0..<blocks {
                let p = src + 18 * b, out = y + 32 * b
                let d = half(p, 0)
                for j in 0..<16 {
                    let q = byte(p, 2 + j)
                    out[j] = Float(Int(q & 0x0F) - 8) * d
                    out[j + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .q4_1:
            for b in 0..<blocks {
                let p = src + 20 * b, out = y + 32 * b
                let d = half(p, 0), m = half(p, 2)
                for j in 0..<16 {
                    let q = byte(p, 4 + j)
                    out[j] = Float(q & 0x0F) * d + m
                    out[j + 16] = Float(q >> 4) * d + m
                }
            }
        case .q5_0:
            for b in 0..<blocks {
                let p = src + 22 * b, out = y + 32 * b
                let d = half(p, 0)
                let high = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
                for j in 0..<16 {
                    let q = byte(p, 6 + j)
                    let h0 = UInt8(truncatingIfNeeded: (high >> UInt32(j)) & 1) << 4
                    let h1 = UInt8(truncatingIfNeeded: (high >> UInt32(j + 16)) & 1) << 4
                    out[j] = Float(Int((q & 0x0F) | h0) - 16) * d
                    out[j + 16] = Float(Int((q >> 4) | h1) - 16) * d
                }
            }
        case .q5_1:
            for b in 0..<blocks {
                let p = src + 24 * b, out = y + 32 * b
                let d = half(p, 0), m = half(p, 2)
                let high = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                for j in 0..<16 {
                    let q = byte(p, 8 + j)
                    let h0 = UInt8(truncatingIfNeeded: (high >> UInt32(j)) & 1) << 4
                    let h1 = UInt8(truncatingIfNeeded: (high >> UInt32(j + 16)) & 1) << 4
                    out[j] = Float((q & 0x0F) | h0) * d + m
                    out[j + 16] = Float((q >> 4) | h1) * d + m
                }
            }
        case .q2_K: for b in 0..<blocks { q2K(src + 84 * b, y + 256 * b) }
        case .q3_K: for b in 0..<blocks { q3K(src + 110 * b, y + 256 * b) }
        case .q4_K: for b in 0..<blocks { q45K(src + 144 * b, y + 256 * b, highBits: false) }
        case .q5_K: for b in 0..<blocks { q45K(src + 176 * b, y + 256 * b, highBits: true) }
        case .q6_K: for b in 0..<blocks { q6K(src + 210 * b, y + 256 * b) }
        default:
            preconditionFailure("GGUFDequantization: \(type) is not dequantizable")
        }
    }

    /// Q2_K (84 B / 256): 16 bytes of 4-bit scale (low nibble) and min (high nibble) per 16 elements, 64 bytes of
    /// 2-bit codes, d, dmin. Element e (h = e / 128, s = e % 128 / 32, l = e % 32) has code
    /// `(qs[32h + l] >> 2s) & 3`; `x = (d·scale)·q − dmin·min` with the scale byte of e / 16.
    static func q2K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 80), dmin = half(p, 82)
        for e in 0..<256 {
            let sc = byte(p, e / 16)
            let q = (byte(p, 16 + 32 * (e / 128) + e % 32) >> UInt8(2 * (e % 128 / 32))) & 3
            y[e] = (d * Float(sc & 0x0F)) * Float(q) - dmin * Float(sc >> 4)
        }
    }

    /// Q3_K (110 B / 256): 32 bytes of high-bit mask, 64 bytes of 2-bit codes, 12 bytes holding sixteen 6-bit scales
    /// (low 4 bits: nibbles of bytes 0–7, scale i < 8 the low nibble of byte i, i ≥ 8 the high nibble of byte i − 8;
    /// high 2 bits: bits 2(i / 4)… of byte 8 + i % 4), d. Element e: code `(qs[32h + l] >> 2s) & 3` as Q2_K, minus 4
    /// when bit e / 32 of mask byte e % 32 is clear; `x = (d·(scale − 32))·q` with scale i = e / 16.
    static func q3K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 108)
        var scales = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                      Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
        withUnsafeMutableBytes(of: &scales) { raw in
            let s = raw.bindMemory(to: Float.self)
            for i in 0..<16 {
                let low = (byte(p, 96 + i % 8) >> UInt8(4 * (i / 8))) & 0x0F
                let high = (byte(p, 104 + i % 4) >> UInt8(2 * (i / 4))) & 0x03
                s[i] = d * Float(Int(low | high << 4) - 32)
            }
        }
        withUnsafeBytes(of: &scales) { raw in
            let s = raw.bindMemory(to: Float.self)
            for e in 0..<256 {
                let l = e % 32
                let low = Int((byte(p, 32 + 32 * (e / 128) + l) >> UInt8(2 * (e % 128 / 32))) & 3)
                let set = (byte(p, l) >> UInt8(e / 32)) & 1
                y[e] = s[e / 16] * Float(low - (set == 0 ? 4 : 0))
            }
        }
    }

    /// The 6-bit scale and min of sub-block j (of 8, 32 elements each) from Q4_K/Q5_K's 12 packed bytes at `p`:
    /// j < 4: `p[j] & 63`, `p[j + 4] & 63`; j ≥ 4: `p[j + 4] & 15 | (p[j − 4] >> 6) << 4`,
    /// `p[j + 4] >> 4 | (p[j] >> 6) << 4`.
    @inline(__always)
    static func scaleMin(_ p: UnsafeRawPointer, _ j: Int) -> (UInt8, UInt8) {
        if j < 4 { return (byte(p, j) & 63, byte(p, j + 4) & 63) }
        return ((byte(p, j + 4) & 0x0F) | ((byte(p, j - 4) >> 6) << 4), (byte(p, j + 4) >> 4) | ((byte(p, j) >> 6) << 4))
    }

    /// Q4_K (144 B / 256): d, dmin, 12 scale/min bytes, 128 bytes of nibbles; Q5_K (176 B): the same with 32 bytes
    /// of high bits before the nibbles. Element e (sub-block j = e / 32, c = e / 64, l = e % 32): code
    /// `(qs[32c + l] >> 4(j % 2)) & 15`, plus 16 when bit j of high byte l is set (Q5_K);
    /// `x = (d·scale_j)·q − dmin·min_j`.
    static func q45K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, highBits: Bool) {
        let d = half(p, 0), dmin = half(p, 2)
        let codes = highBits ? 48 : 16
        for j in 0..<8 {
            let (sc, m) = scaleMin(p + 4, j)
            let scale = d * Float(sc), offset = dmin * Float(m)
            let base = codes + 32 * (j / 2), shift = UInt8(4 * (j % 2))
            for l in 0..<32 {
                var q = (byte(p, base + l) >> shift) & 0x0F
                if highBits { q |= ((byte(p, 16 + l) >> UInt8(j)) & 1) << 4 }
                y[32 * j + l] = scale * Float(q) - offset
            }
        }
    }

    /// Q6_K (210 B / 256): 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 signed 8-bit scales, d. Element e
    /// (h = e / 128, r = e % 128, l = e % 32): low `(ql[64h + r % 64] >> 4(r / 64)) & 15`, high
    /// `(qh[32h + l] >> 2(r / 32)) & 3`; `x = (d·scale[e / 16])·(low | high << 4 − 32)`.
    static func q6K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 208)
        for e in 0..<256 {
            let h = e / 128, r = e % 128
            let low = (byte(p, 64 * h + r % 64) >> UInt8(4 * (r / 64))) & 0x0F
            let high = (byte(p, 128 + 32 * h + e % 32) >> UInt8(2 * (r / 32))) & 0x03
            let scale = d * Float(Int8(bitPattern: byte(p, 192 + e / 16)))
            y[e] = scale * Float(Int(low | high << 4) - 32)
        }
    }
}
