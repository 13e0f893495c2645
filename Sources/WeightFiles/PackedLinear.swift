import LinearAlgebra

/// The stored layouts of a packed (integer-quantized) linear layer.
///
/// All three store, per module `P`, `P.qweight` (I32 words of codes), `P.qzeros` (I32 words of
/// zero points) and `P.scales` (F16, `[G, out]`); GPTQ adds `P.g_idx` (I32 `[in]`). They differ in
/// the packing axis, the order of fields inside a word and the zero-point convention (see
/// `PackedLinear` and docs/formats.md, "Quantized checkpoints").
public enum PackedFormat: String, Sendable, Codable, CaseIterable {
    /// GPTQ v1 (`"checkpoint_format": "gptq"`, the legacy AutoGPTQ layout): zero points stored minus one.
    case gptq
    /// GPTQ v2 (`"checkpoint_format": "gptq_v2"`): zero points stored as they are.
    case gptqV2 = "gptq_v2"
    /// AutoAWQ GEMM: 4-bit only, codes packed along the output axis with the 0,2,4,6,1,3,5,7 interleave; zero points
    /// stored as they are; no `g_idx` (groups are contiguous runs of inputs).
    case awq

    /// The GPTQ layout a writer should choose: v1 `gptq` for symmetric quantization (every reader takes it; its
    /// zero points are never 0), `gptq_v2` for asymmetric (v1 cannot store a zero point of 0 for readers other than
    /// Rankwise), as GPTQModel and optimum do.
    public static func gptq(symmetric: Bool) -> PackedFormat { symmetric ? .gptq : .gptqV2 }

    /// The bit widths the format stores: 2, 3, 4 and 8 for GPTQ; 4 for AWQ GEMM.
    public var supportedBits: [Int] { self == .awq ? [4] : [2, 3, 4, 8] }
}

/// One stored tensor of a packed layer: its name suffix (`qweight`, `qzeros`, `scales`, `g_idx`), dtype, shape
/// (outermost first) and little-endian bytes (`shape.product × dtype.size` of them).
public struct PackedTensor: Sendable, Equatable {
    /// The part of the tensor's name after the module path: `qweight`, `qzeros`, `scales` or `g_idx`.
    public var suffix: String
    /// The stored element type (I32 for `qweight`, `qzeros` and `g_idx`; F16 for `scales` as written).
    public var dtype: DType
    /// Dimensions, outermost first, as a safetensors header gives them.
    public var shape: [Int]
    /// The data, little-endian, row-major.
    public var bytes: [UInt8]

    /// A tensor from its parts; nothing is checked until a `PackedLinear` decodes it.
    public init(suffix: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.suffix = suffix
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }
}

/// A packed (integer-quantized) linear layer `y = x·Wᵀ`, decoded: integer codes, zero points and scales per group
/// of input columns, from which the float weight `W[out, in]` is recovered.
///
/// **Formula.** `W[o, k] = scales[g, o] · (codes[o, k] − zeros[g, o])` with `g = groupIndex[k]`, computed in Float.
///
/// **Stored layouts** (`storedTensors()` writes them, `init(format:bits:groupSize:tensors:)` reads them;
/// `maxq = 2^bits − 1`, `G` groups):
///
/// | format | `qweight` (I32) | `qzeros` (I32) | `scales` | `g_idx` |
/// |---|---|---|---|---|
/// | GPTQ v1/v2 | `[in·bits/32, out]`, packed along the input axis | `[G, ⌈out·bits/32⌉]`, along the output axis | F16 `[G, out]` | I32 `[in]` |
/// | AWQ GEMM | `[in, out/8]`, along the output axis, interleaved | `[G, out/8]`, interleaved | F16 `[G, out]` | — |
///
/// GPTQ bit order, one rule for every width: a column of `qweight` (fixed output `o`) is a little-endian bit stream
/// of consecutive 32-bit words, and input `k` occupies stream bits `[k·bits, k·bits + bits)`, least significant bit
/// first (so 3-bit values straddle words: 32 values in 3 words). A row of `qzeros` is the same stream over outputs;
/// when `out·bits` is not a multiple of 32 the last word is padded with zero bits (readers ignore the padding).
/// AWQ: word `c` of a row holds outputs `8c … 8c+7`, nibble slot `i` (shift `4i`) holding output
/// `8c + [0, 2, 4, 6, 1, 3, 5, 7][i]`.
///
/// **Zero points.** `zeros` holds the true zero points. GPTQ v1 stores `zero − 1`, wrapped modulo `2^bits` in each
/// field (a zero of 0 is stored as `maxq`), and this reader adds 1 with the same wrap, so every zero point round-trips
/// here. Other v1 readers add 1 without the wrap (or with a carry into the neighbouring field) and read a stored
/// zero of 0 as `maxq + 1`: symmetric checkpoints (zero `2^(bits−1)`) never meet this, so write asymmetric layers as
/// `gptqV2` (see `PackedFormat.gptq(symmetric:)`). GPTQ v2 and AWQ store zero points as they are.
///
/// **Scales** are stored as F16, rounded to nearest even; reading widens them exactly, so a layer whose scales are
/// F16 values round-trips bit for bit.
public struct PackedLinear: Sendable, Equatable {
    /// How the layer is (or will be) stored.
    public var format: PackedFormat
    /// Bits per code: 2, 3, 4 or 8 (AWQ: 4).
    public var bits: Int
    /// Rows of `W` (out).
    public var outFeatures: Int
    /// Columns of `W` (in).
    public var inFeatures: Int
    /// The number of groups G (rows of `zeros` and `scales`).
    public var groupCount: Int
    /// `[out, in]` row-major (the float weight's orientation); each code below `2^bits`.
    public var codes: [UInt8]
    /// `[G, out]` row-major: the true zero points (GPTQ v1's stored minus one undone), each below `2^bits`.
    public var zeros: [UInt8]
    /// `[G, out]` row-major: the scales as stored (F16 widened exactly when read from a file); finite.
    public var scales: [Float]
    /// `[in]`: the group of each input column (GPTQ's `g_idx`), each in `0..<G`; AWQ: `k / groupSize`.
    public var groupIndex: [Int32]

    /// A layer from decoded parts, validated: `bits` supported by `format`; out, in and G positive; array sizes
    /// `codes` = out·in, `zeros` = `scales` = G·out, `groupIndex` = in (checked arithmetic); codes and zeros below
    /// `2^bits`; group indices in `0..<G`; scales finite. The layer must be storable: for GPTQ `in·bits` a multiple of
    /// 32 (in a multiple of 16, 32, 8, 4 for 2, 3, 4, 8 bits); for AWQ `out` a multiple of 8, `in` a multiple of G
    /// and `groupIndex[k] = k / (in/G)`. O(out·in).
    ///
    /// - Throws: `PackedLinearError` naming the stored tensor the offending part becomes (`codes` → `qweight`,
    ///   `zeros` → `qzeros`, `scales` → `scales`, `groupIndex` → `g_idx`).
    public init(format: PackedFormat, bits: Int, outFeatures: Int, inFeatures: Int, groupCount: Int,
                codes: [UInt8], zeros: [UInt8], scales: [Float], groupIndex: [Int32]) throws {
        try Self.checkBits(format, bits)
        for (value, name) in [(outFeatures, "out"), (inFeatures, "in"), (groupCount, "G")] where value < 1 {
            throw PackedLinearError(rule: .invalidDimension("\(name) = \(value); it must be at least 1"))
        }
        try Self.checkPackable(format, bits: bits, out: outFeatures, in: inFeatures, groups: groupCount)
        let cells = try checkedProduct([outFeatures, inFeatures], tensor: "qweight")
        let perGroup = try checkedProduct([groupCount, outFeatures], tensor: "scales")
        func count(_ n: Int, _ expected: Int, _ tensor: String, _ field: String) throws {
            guard n == expected else { throw PackedLinearError(tensor: tensor, rule: .wrongCount(field: field, found: n, expected: expected)) }
        }
        try count(codes.count, cells, "qweight", "codes")
        try count(zeros.count, perGroup, "qzeros", "zeros")
        try count(scales.count, perGroup, "scales", "scales")
        try count(groupIndex.count, inFeatures, "g_idx", "groupIndex")
        let limit = 1 << bits
        if let i = Self.firstIndex(in: codes, atLeast: limit) {
            throw PackedLinearError(tensor: "qweight", rule: .valueOutOfRange(index: i, value: Int(codes[i]), limit: limit))
        }
        if let i = Self.firstIndex(in: zeros, atLeast: limit) {
            throw PackedLinearError(tensor: "qzeros", rule: .valueOutOfRange(index: i, value: Int(zeros[i]), limit: limit))
        }
        if let i = scales.firstIndex(where: { !$0.isFinite }) { throw PackedLinearError(tensor: "scales", rule: .nonFiniteScale(index: i)) }
        if let i = groupIndex.firstIndex(where: { $0 < 0 || Int($0) >= groupCount }) {
            throw PackedLinearError(tensor: "g_idx", rule: .valueOutOfRange(index: i, value: Int(groupIndex[i]), limit: groupCount))
        }
        if format == .awq {
            let size = inFeatures / groupCount
            if let k = groupIndex.indices.first(where: { Int(groupIndex[$0]) != $0 / size }) {
                throw PackedLinearError(tensor: "g_idx", rule: .awqGroupIndex(index: k, value: Int(groupIndex[k]), groupSize: size))
            }
        }
        self.init(unchecked: format, bits, outFeatures, inFeatures, groupCount, codes, zeros, scales, groupIndex)
    }

    private init(unchecked format: PackedFormat, _ bits: Int, _ out: Int, _ inputs: Int, _ groups: Int,
                 _ codes: [UInt8], _ zeros: [UInt8], _ scales: [Float], _ groupIndex: [Int32]) {
        self.format = format
        self.bits = bits
        self.outFeatures = out
        self.inFeatures = inputs
        self.groupCount = groups
        self.codes = codes
        self.zeros = zeros
        self.scales = scales
        self.groupIndex = groupIndex
    }

    /// The float weight `[out, in]`: `W[o, k] = scales[g, o] · (codes[o, k] − zeros[g, o])`, `g = groupIndex[k]`,
    /// computed in Float (one rounding: the difference of two small integers is exact) and then converted to `T`
    /// (exact for Double). This is what GPTQModel's offline dequantizer computes before its final cast.
    /// O(out·in + G·out) time, no allocation beyond the result and two rows of G entries.
    public func dequantized<T: Scalar>(as type: T.Type = T.self) -> Matrix<T> {
        let count = outFeatures * inFeatures
        let elements = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress { dequantize(rows: 0..<outFeatures, into: base) }
            initialized = count
        }
        return Matrix(rows: outFeatures, columns: inFeatures, elements: elements)
    }

    /// Rows `rows` of the dequantized weight (see `dequantized(as:)`), written row-major to `out`
    /// (`rows.count × in` values).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func dequantize<T: Scalar>(rows: Range<Int>, into out: UnsafeMutablePointer<T>) {
        let n = inFeatures, groups = groupCount, outputs = outFeatures
        let contiguous = contiguousGroupSize
        var rowScale = [Float](repeating: 0, count: groups), rowZero = [Float](repeating: 0, count: groups)
        codes.withUnsafeBufferPointer { codes in
            scales.withUnsafeBufferPointer { scales in
                zeros.withUnsafeBufferPointer { zeros in
                    groupIndex.withUnsafeBufferPointer { groupIndex in
                        rowScale.withUnsafeMutableBufferPointer { rowScale in
                            rowZero.withUnsafeMutableBufferPointer { rowZero in
                                for o in rows {
                                    for g in 0..<groups {
                                        rowScale[g] = scales[g * outputs + o]
                                        rowZero[g] = Float(zeros[g * outputs + o])
                                    }
                                    let source = codes.baseAddress! + o * n, target = out + (o - rows.lowerBound) * n
                                    if let size = contiguous {
                                        for g in 0..<groups where g * size < n {
                                            let s = rowScale[g], z = rowZero[g]
                                            for k in (g * size)..<Swift.min(g * size + size, n) { target[k] = T((Float(source[k]) - z) * s) }
                                        }
                                    } else {
                                        for k in 0..<n {
                                            let g = Int(groupIndex[k])
                                            target[k] = T((Float(source[k]) - rowZero[g]) * rowScale[g])
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The group size s when `groupIndex[k] = k / s` for every k (the layer is not act-ordered), else nil.
    /// O(in).
    var contiguousGroupSize: Int? {
        let n = inFeatures
        let size = groupIndex.firstIndex(where: { $0 != 0 }) ?? n
        guard size > 0 else { return nil }
        for k in 0..<n where Int(groupIndex[k]) != k / size { return nil }
        return size
    }

    /// Whether the layer is act-ordered (GPTQ `desc_act`): its `groupIndex` is not `k / s` for any group size s,
    /// i.e. the groups are not contiguous runs of inputs. O(in).
    public var isActOrdered: Bool { contiguousGroupSize == nil }

    /// Data bytes the stored tensors take: `qweight` + `qzeros` + `scales` (F16) + `g_idx` (GPTQ only).
    public var storedByteCount: Int {
        let shapes = Self.storedShapes(format, bits: bits, out: outFeatures, in: inFeatures, groups: groupCount)
        return shapes.qweight.reduce(4, *) + shapes.qzeros.reduce(4, *) + shapes.scales.reduce(2, *) + (shapes.gIndex?.reduce(4, *) ?? 0)
    }

    // MARK: Writing

    /// The stored tensors, in the order `qweight`, `qzeros`, `scales` (F16), `g_idx` (GPTQ only), in the layouts of
    /// the type's documentation, bit-exact to what AutoGPTQ/GPTQModel (v1, v2) and AutoAWQ GEMM write. GPTQ v1 stores
    /// `zero − 1` wrapped per field. O(out·in).
    ///
    /// - Throws: `PackedLinearError.Rule.scaleOverflowsF16` naming `scales` when a scale rounds to ±∞ in F16
    ///   (|s| ≥ 65520).
    public func storedTensors() throws -> [PackedTensor] {
        let shapes = Self.storedShapes(format, bits: bits, out: outFeatures, in: inFeatures, groups: groupCount)
        var scaleBytes = [UInt8](repeating: 0, count: 2 * scales.count)
        for (i, s) in scales.enumerated() {
            let half = HalfPrecision.float16Bits(s)
            guard half & 0x7FFF != 0x7C00 else { throw PackedLinearError(tensor: "scales", rule: .scaleOverflowsF16(index: i, value: s)) }
            scaleBytes[2 * i] = UInt8(truncatingIfNeeded: half)
            scaleBytes[2 * i + 1] = UInt8(truncatingIfNeeded: half >> 8)
        }
        var storedZeros = zeros
        if format == .gptq {
            let mask = UInt8((1 << bits) - 1)
            for i in storedZeros.indices { storedZeros[i] = (storedZeros[i] &- 1) & mask }
        }
        var qweight = [UInt32](repeating: 0, count: shapes.qweight.reduce(1, *))
        var qzeros = [UInt32](repeating: 0, count: shapes.qzeros.reduce(1, *))
        let out = outFeatures, n = inFeatures
        codes.withUnsafeBufferPointer { codes in
            qweight.withUnsafeMutableBufferPointer { words in
                if format == .awq {
                    Self.packAWQ(codes.baseAddress!, out: out, in: n, into: words.baseAddress!)
                } else {
                    for o in 0..<out {
                        BitStream.pack(codes.baseAddress! + o * n, count: n, bits: bits, into: words.baseAddress! + o, stride: out, words: shapes.qweight[0])
                    }
                }
            }
        }
        storedZeros.withUnsafeBufferPointer { zeros in
            qzeros.withUnsafeMutableBufferPointer { words in
                let columns = shapes.qzeros[1]
                for g in 0..<groupCount {
                    let source = zeros.baseAddress! + g * out, target = words.baseAddress! + g * columns
                    if format == .awq {
                        Self.packAWQRow(source, stride: 1, count: out, into: target)
                    } else {
                        BitStream.pack(source, count: out, bits: bits, into: target, stride: 1, words: columns)
                    }
                }
            }
        }
        var tensors = [
            PackedTensor(suffix: "qweight", dtype: .i32, shape: shapes.qweight, bytes: Self.littleEndianBytes(qweight)),
            PackedTensor(suffix: "qzeros", dtype: .i32, shape: shapes.qzeros, bytes: Self.littleEndianBytes(qzeros)),
            PackedTensor(suffix: "scales", dtype: .f16, shape: shapes.scales, bytes: scaleBytes),
        ]
        if let gShape = shapes.gIndex {
            tensors.append(PackedTensor(suffix: "g_idx", dtype: .i32, shape: gShape, bytes: Self.littleEndianBytes(groupIndex.map { UInt32(bitPattern: $0) })))
        }
        return tensors
    }

    // MARK: Reading

    /// Decodes a layer from its stored tensors (keyed by suffix: `qweight`, `qzeros`, `scales`, and for GPTQ
    /// `g_idx`), the inverse of `storedTensors()`.
    ///
    /// Shapes (see the type's table) give out (`scales` columns), G (`scales` rows) and in (`g_idx` length; AWQ:
    /// `qweight` rows); every other shape is checked against them and `bits`. `groupSize` is the configured group
    /// size (nil for `group_size: -1`, one group): GPTQ needs G = ⌈in / groupSize⌉ (1 when nil); AWQ needs in to be a
    /// multiple of it (in when nil) and G = in / groupSize. A GPTQ layer without `g_idx` gets `g_idx[k] = k / groupSize`.
    /// Accepted dtypes: I32 for `qweight` and `qzeros`; F16, BF16 or F32 for `scales`; I32 or I64 for `g_idx`.
    /// Sizes are computed with checked arithmetic; packed fields are extracted a word (3-bit: three words) at a time.
    /// O(out·in).
    ///
    /// - Throws: `PackedLinearError` naming the tensor (by suffix) and the rule: a missing tensor, a wrong dtype,
    ///   rank or shape, a byte count that does not match the shape, a group index outside `0..<G`, a non-finite scale,
    ///   unsupported bits, or dimensions the width cannot pack.
    public init(format: PackedFormat, bits: Int, groupSize: Int?, tensors: [String: PackedTensor]) throws {
        let headers = tensors.mapValues { (dtype: $0.dtype, shape: $0.shape) }
        let layout = try Self.layout(format: format, bits: bits, groupSize: groupSize, headers: headers)
        for suffix in ["qweight", "qzeros", "scales"] + (format == .awq ? [] : ["g_idx"]) {
            guard let tensor = tensors[suffix] else { continue }
            let expected = try checkedProduct(tensor.shape + [tensor.dtype.size], tensor: suffix)
            guard tensor.bytes.count == expected else {
                throw PackedLinearError(tensor: suffix, rule: .byteCountMismatch(expected: expected, actual: tensor.bytes.count))
            }
        }
        let out = layout.outFeatures, n = layout.inFeatures, groups = layout.groupCount
        let qweight = tensors["qweight"]!, qzeros = tensors["qzeros"]!, scaleTensor = tensors["scales"]!
        // Codes.
        var codes = [UInt8](repeating: 0, count: out * n)
        qweight.bytes.withUnsafeBytes { words in
            codes.withUnsafeMutableBufferPointer { codes in
                if format == .awq {
                    Self.unpackAWQ(words.baseAddress!, out: out, in: n, into: codes.baseAddress!)
                } else {
                    Self.unpackGPTQ(words.baseAddress!, bits: bits, out: out, in: n, into: codes.baseAddress!)
                }
            }
        }
        // Zero points.
        var zeros = [UInt8](repeating: 0, count: groups * out)
        let columns = qzeros.shape[1]
        qzeros.bytes.withUnsafeBytes { words in
            zeros.withUnsafeMutableBufferPointer { zeros in
                for g in 0..<groups {
                    let row = words.baseAddress! + 4 * g * columns, target = zeros.baseAddress! + g * out
                    if format == .awq {
                        Self.unpackAWQRow(row, count: out, into: target, stride: 1)
                    } else {
                        BitStream.unpack(row, stride: 1, words: columns, count: out, bits: bits, into: target)
                    }
                }
            }
        }
        if format == .gptq {
            let mask = UInt8((1 << bits) - 1)
            for i in zeros.indices { zeros[i] = (zeros[i] &+ 1) & mask }
        }
        // Scales, widened exactly.
        let scales: [Float] = scaleTensor.bytes.withUnsafeBytes { ElementConversion.decode($0, dtype: scaleTensor.dtype, count: groups * out) }
        if let i = scales.firstIndex(where: { !$0.isFinite }) { throw PackedLinearError(tensor: "scales", rule: .nonFiniteScale(index: i)) }
        // Group index.
        var groupIndex: [Int32]
        if let g = tensors["g_idx"], format != .awq {
            groupIndex = try Self.decodeGroupIndex(g, count: n, groups: groups)
        } else {
            let size = layout.groupSize ?? n
            groupIndex = (0..<n).map { Int32($0 / size) }
        }
        self.init(unchecked: format, bits, out, n, groups, codes, zeros, scales, groupIndex)
    }

    /// The tensor suffixes a packed layer may store.
    static let parts = ["qweight", "qzeros", "scales", "g_idx"]

    /// A layer's dimensions as its stored shapes give them, and the group size (nil: one group of all inputs).
    struct Layout: Equatable {
        var outFeatures: Int, inFeatures: Int, groupCount: Int, groupSize: Int?
    }

    /// Checks the stored parts' dtypes and shapes (no data) against `format`, `bits` and `groupSize`, and returns the
    /// layer's dimensions. `headers` is keyed by suffix. Used on decoding and by `Checkpoint` on open.
    static func layout(format: PackedFormat, bits: Int, groupSize: Int?, headers: [String: (dtype: DType, shape: [Int])]) throws -> Layout {
        try checkBits(format, bits)
        if let groupSize, groupSize < 1 { throw PackedLinearError(rule: .invalidGroupSize(groupSize)) }
        let (qweight, qzeros, scales, gIndex) = try checkParts(format: format, headers: headers)
        let (groups, out) = (scales[0], scales[1])
        guard groups >= 1, out >= 1 else {
            throw PackedLinearError(tensor: "scales", rule: .wrongShape(found: scales, expected: "[G, out] with G ≥ 1 and out ≥ 1"))
        }
        // The input count: g_idx's length (GPTQ), else qweight's rows unpacked (GPTQ) or qweight's rows (AWQ).
        let n: Int
        if let gIndex {
            n = gIndex[0]
        } else if format == .awq {
            n = qweight[0]
        } else {
            let unit = bits / gcd(bits, 32), values = 32 / gcd(bits, 32)
            guard qweight[0] % unit == 0, case let (product, overflow) = (qweight[0] / unit).multipliedReportingOverflow(by: values), !overflow else {
                throw PackedLinearError(tensor: "qweight", rule: .wrongShape(found: qweight, expected: "[in·\(bits)/32, out]: a row count that is a multiple of \(unit)"))
            }
            n = product
        }
        let source = gIndex == nil ? "qweight" : "g_idx"
        guard n >= 1 else { throw PackedLinearError(tensor: source, rule: .invalidDimension("in = 0")) }
        _ = try checkedProduct([out, n, 8], tensor: source)   // the codes and the dequantized weight (up to F64) fit
        try checkPackable(format, bits: bits, out: out, in: n, groups: groups, tensor: source)
        let expected = storedShapes(format, bits: bits, out: out, in: n, groups: groups)
        for (suffix, found, shape) in [("qweight", qweight, expected.qweight), ("qzeros", qzeros, expected.qzeros)] where found != shape {
            throw PackedLinearError(tensor: suffix, rule: .wrongShape(found: found, expected: "\(shape) for \(bits)-bit, out = \(out), in = \(n), G = \(groups)"))
        }
        // The group count against the configured group size.
        let expectedGroups: Int
        if format == .awq {
            let size = groupSize ?? n
            guard n % size == 0 else { throw PackedLinearError(tensor: "qweight", rule: .notMultiple(what: "in", value: n, of: size, why: "AWQ groups of \(size) inputs")) }
            expectedGroups = n / size
        } else {
            expectedGroups = groupSize.map { (n + $0 - 1) / $0 } ?? 1
        }
        guard groups == expectedGroups else {
            throw PackedLinearError(tensor: "scales", rule: .groupCountMismatch(found: groups, expected: expectedGroups, inFeatures: n, groupSize: groupSize))
        }
        if format != .awq && gIndex == nil && groups > 1 && groupSize == nil {
            throw PackedLinearError(tensor: "g_idx", rule: .missingTensor)
        }
        return Layout(outFeatures: out, inFeatures: n, groupCount: groups, groupSize: groupSize)
    }

    /// The shapes of the parts after checking that each required part is present with an accepted dtype and rank
    /// and a size that fits in `Int`: `qweight`, `qzeros` (I32, 2-D), `scales` (F16/BF16/F32, 2-D) and, for GPTQ
    /// when present, `g_idx` (I32/I64, 1-D).
    static func checkParts(format: PackedFormat, headers: [String: (dtype: DType, shape: [Int])])
        throws -> (qweight: [Int], qzeros: [Int], scales: [Int], gIndex: [Int]?) {
        func part(_ suffix: String, _ dtypes: [DType], rank: Int) throws -> [Int] {
            guard let header = headers[suffix] else { throw PackedLinearError(tensor: suffix, rule: .missingTensor) }
            guard dtypes.contains(header.dtype) else { throw PackedLinearError(tensor: suffix, rule: .wrongDType(found: header.dtype, expected: dtypes)) }
            guard header.shape.count == rank else {
                throw PackedLinearError(tensor: suffix, rule: .wrongShape(found: header.shape, expected: "a \(rank)-D tensor"))
            }
            _ = try checkedProduct(header.shape + [header.dtype.size], tensor: suffix)
            return header.shape
        }
        return (try part("qweight", [.i32], rank: 2), try part("qzeros", [.i32], rank: 2), try part("scales", [.f16, .bf16, .f32], rank: 2),
                format == .awq || headers["g_idx"] == nil ? nil : try part("g_idx", [.i32, .i64], rank: 1))
    }

    /// The stored shapes for these dimensions (which `checkPackable` has accepted).
    static func storedShapes(_ format: PackedFormat, bits: Int, out: Int, in n: Int, groups: Int)
        -> (qweight: [Int], qzeros: [Int], scales: [Int], gIndex: [Int]?) {
        if format == .awq { return ([n, out / 8], [groups, out / 8], [groups, out], nil) }
        let zeroWords = out / 32 * bits + ((out % 32) * bits + 31) / 32
        return ([n / 32 * bits + (n % 32) * bits / 32, out], [groups, zeroWords], [groups, out], [n])
    }

    static func checkBits(_ format: PackedFormat, _ bits: Int) throws {
        guard format.supportedBits.contains(bits) else { throw PackedLinearError(rule: .unsupportedBits(bits, format: format)) }
    }

    /// Whether the dimensions fit the format's words: GPTQ needs in·bits to be a multiple of 32; AWQ out a multiple
    /// of 8 and in a multiple of G.
    static func checkPackable(_ format: PackedFormat, bits: Int, out: Int, in n: Int, groups: Int, tensor: String = "qweight") throws {
        if format == .awq {
            guard out % 8 == 0 else { throw PackedLinearError(tensor: tensor, rule: .notMultiple(what: "out", value: out, of: 8, why: "AWQ packs 8 outputs per word")) }
            guard n % groups == 0 else { throw PackedLinearError(tensor: tensor, rule: .notMultiple(what: "in", value: n, of: groups, why: "AWQ groups are equal runs of inputs")) }
        } else {
            let values = 32 / gcd(bits, 32)
            guard n % values == 0 else {
                throw PackedLinearError(tensor: tensor, rule: .notMultiple(what: "in", value: n, of: values, why: "\(bits)-bit codes fill whole 32-bit words"))
            }
        }
    }

    /// `g_idx` as Int32, each checked to lie in `0..<groups`.
    private static func decodeGroupIndex(_ tensor: PackedTensor, count: Int, groups: Int) throws -> [Int32] {
        try tensor.bytes.withUnsafeBytes { try decodeGroupIndex($0, dtype: tensor.dtype, count: count, groups: groups) }
    }

    /// `count` group indices stored as I32 or I64 in `raw`, each checked to lie in `0..<groups`.
    static func decodeGroupIndex(_ raw: UnsafeRawBufferPointer, dtype: DType, count: Int, groups: Int) throws -> [Int32] {
        var result = [Int32](repeating: 0, count: count)
        for k in 0..<count {
            let value = dtype == .i64 ? Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)))
                : Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)))
            guard value >= 0 && value < groups else {
                throw PackedLinearError(tensor: "g_idx", rule: .valueOutOfRange(index: k, value: value, limit: groups))
            }
            result[k] = Int32(value)
        }
        return result
    }

    private static func firstIndex(in values: [UInt8], atLeast limit: Int) -> Int? {
        guard limit <= 255 else { return nil }
        let bound = UInt8(limit)
        guard values.reduce(0, { Swift.max($0, $1) }) >= bound else { return nil }
        return values.firstIndex { $0 >= bound }
    }

    private static func littleEndianBytes(_ words: [UInt32]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 4 * words.count) { buffer, initialized in
            let raw = UnsafeMutableRawPointer(buffer.baseAddress!)
            for (i, w) in words.enumerated() { raw.storeBytes(of: w.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            initialized = 4 * words.count
        }
    }

    // MARK: Bit layouts

    /// GPTQ `qweight` `[in·bits/32, out]` → codes `[out, in]`, a chunk (one word; three for 3-bit) at a time: 2-, 4-
    /// and 8-bit words are spread into bytes with shifts and masks (no loop over fields), 3-bit chunks are read as a
    /// 64-bit and a 32-bit window with unrolled shifts. Tiled so that the transposed reads stay in cache.
    private static func unpackGPTQ(_ words: UnsafeRawPointer, bits: Int, out: Int, in n: Int, into codes: UnsafeMutablePointer<UInt8>) {
        let rows = n / 32 * bits + (n % 32) * bits / 32
        let unit = bits == 3 ? 3 : 1, values = bits == 3 ? 32 : 32 / bits
        let chunks = rows / unit
        let tile = 64
        @inline(__always) func word(_ r: Int, _ o: Int) -> UInt32 {
            UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * (r * out + o), as: UInt32.self))
        }
        for c0 in stride(from: 0, to: chunks, by: tile) {
            for o0 in stride(from: 0, to: out, by: tile) {
                for o in o0..<Swift.min(o0 + tile, out) {
                    for c in c0..<Swift.min(c0 + tile, chunks) {
                        let target = codes + o * n + c * values
                        let place = UnsafeMutableRawPointer(target)
                        switch bits {
                        case 8:
                            place.storeBytes(of: word(c, o).littleEndian, as: UInt32.self)
                        case 4:
                            // Nibble j → byte j: spread 32 bits over 64 (16, 8, then 4 bits apart).
                            var x = UInt64(word(c, o))
                            x = (x | x << 16) & 0x0000_FFFF_0000_FFFF
                            x = (x | x << 8) & 0x00FF_00FF_00FF_00FF
                            x = (x | x << 4) & 0x0F0F_0F0F_0F0F_0F0F
                            place.storeBytes(of: x.littleEndian, as: UInt64.self)
                        case 2:
                            // Each 16-bit half: fields j → byte j (24, 12, then 6 bits apart).
                            let w = word(c, o)
                            for half in 0..<2 {
                                var x = UInt64(w >> (16 * UInt32(half)) & 0xFFFF)
                                x = (x | x << 24) & 0x0000_00FF_0000_00FF
                                x = (x | x << 12) & 0x000F_000F_000F_000F
                                x = (x | x << 6) & 0x0303_0303_0303_0303
                                place.storeBytes(of: x.littleEndian, toByteOffset: 8 * half, as: UInt64.self)
                            }
                        default:
                            // 3-bit: values 0–20 in the low 63 bits of word0|word1, value 21 across bits 63–65,
                            // values 22–31 from bit 2 of word2.
                            let w2 = word(3 * c + 2, o)
                            let low = UInt64(word(3 * c, o)) | UInt64(word(3 * c + 1, o)) << 32
                            for j in 0..<21 { target[j] = UInt8(truncatingIfNeeded: low >> UInt64(3 * j)) & 7 }
                            target[21] = UInt8(truncatingIfNeeded: low >> 63 | UInt64(w2 & 3) << 1)
                            for j in 0..<10 { target[22 + j] = UInt8(truncatingIfNeeded: w2 >> UInt32(2 + 3 * j)) & 7 }
                        }
                    }
                }
            }
        }
    }

    /// AWQ's nibble slot of each output within its word: output `8c + j` is at slot `awqSlot[j]` (shift 4·slot).
    static let awqSlot = [0, 4, 1, 5, 2, 6, 3, 7]

    /// AWQ `qweight` `[in, out/8]` → codes `[out, in]`, a tile of inputs at a time (for each word column the 8 outputs
    /// are written along k, so writes run along rows and the strided word reads stay in cache).
    private static func unpackAWQ(_ words: UnsafeRawPointer, out: Int, in n: Int, into codes: UnsafeMutablePointer<UInt8>) {
        let columns = out / 8
        let tile = 256
        for k0 in stride(from: 0, to: n, by: tile) {
            let k1 = Swift.min(k0 + tile, n)
            for c in 0..<columns {
                let r0 = codes + 8 * c * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n, r4 = r3 + n, r5 = r4 + n, r6 = r5 + n, r7 = r6 + n
                for k in k0..<k1 {
                    let w = UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * (k * columns + c), as: UInt32.self))
                    // Slots 0..7 hold outputs 0, 2, 4, 6, 1, 3, 5, 7.
                    r0[k] = UInt8(w & 15); r2[k] = UInt8(w >> 4 & 15); r4[k] = UInt8(w >> 8 & 15); r6[k] = UInt8(w >> 12 & 15)
                    r1[k] = UInt8(w >> 16 & 15); r3[k] = UInt8(w >> 20 & 15); r5[k] = UInt8(w >> 24 & 15); r7[k] = UInt8(w >> 28)
                }
            }
        }
    }

    /// Codes `[out, in]` → AWQ `qweight` `[in, out/8]`, the inverse of `unpackAWQ`, tiled the same way.
    private static func packAWQ(_ codes: UnsafePointer<UInt8>, out: Int, in n: Int, into words: UnsafeMutablePointer<UInt32>) {
        let columns = out / 8
        let tile = 256
        for k0 in stride(from: 0, to: n, by: tile) {
            let k1 = Swift.min(k0 + tile, n)
            for c in 0..<columns {
                let r0 = codes + 8 * c * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n, r4 = r3 + n, r5 = r4 + n, r6 = r5 + n, r7 = r6 + n
                for k in k0..<k1 {
                    let low = UInt32(r0[k]) | UInt32(r2[k]) << 4 | UInt32(r4[k]) << 8 | UInt32(r6[k]) << 12
                    words[k * columns + c] = low | UInt32(r1[k]) << 16 | UInt32(r3[k]) << 20 | UInt32(r5[k]) << 24 | UInt32(r7[k]) << 28
                }
            }
        }
    }

    /// One AWQ row of words (`count/8` of them) → `count` values, value j written at `target[j·stride]`.
    private static func unpackAWQRow(_ words: UnsafeRawPointer, count: Int, into target: UnsafeMutablePointer<UInt8>, stride: Int) {
        for c in 0..<(count / 8) {
            let w = UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * c, as: UInt32.self))
            for j in 0..<8 { target[(8 * c + j) * stride] = UInt8(w >> (4 * UInt32(awqSlot[j])) & 15) }
        }
    }

    /// `count` values (value j at `source[j·stride]`, `count` a multiple of 8) → `count/8` AWQ words at `target`.
    private static func packAWQRow(_ source: UnsafePointer<UInt8>, stride: Int, count: Int, into target: UnsafeMutablePointer<UInt32>) {
        for c in 0..<(count / 8) {
            var w: UInt32 = 0
            for j in 0..<8 { w |= UInt32(source[(8 * c + j) * stride] & 15) << (4 * UInt32(awqSlot[j])) }
            target[c] = w
        }
    }
}

/// The GPTQ bit stream: values of `bits` bits laid one after another, least significant bit first, across
/// consecutive 32-bit words. A chunk of `bits/gcd(bits, 32)` words holds exactly `32/gcd(bits, 32)` values (one word
/// of 16, 8 or 4 values for 2, 4, 8 bits; three words of 32 values for 3 bits), handled as one 128-bit integer, so
/// no value is assembled bit by bit.
enum BitStream {
    /// Reads `count` values from the stream whose word i is at `words + 4·i·stride` (little-endian, any alignment;
    /// `wordCount` words exist, missing ones read as 0) into `target`.
    static func unpack(_ words: UnsafeRawPointer, stride: Int, words wordCount: Int, count: Int, bits: Int, into target: UnsafeMutablePointer<UInt8>) {
        let unit = bits / gcd(bits, 32), values = 32 / gcd(bits, 32)
        let mask = UInt8((1 << bits) - 1)
        var index = 0, word = 0
        while index < count {
            var chunk: UInt128 = 0
            for i in 0..<unit where word + i < wordCount {
                let w = UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * (word + i) * stride, as: UInt32.self))
                chunk |= UInt128(w) << (32 * i)
            }
            for j in 0..<Swift.min(values, count - index) {
                target[index + j] = UInt8(truncatingIfNeeded: chunk >> (bits * j)) & mask
            }
            index += values
            word += unit
        }
    }

    /// Writes `count` values of `source` (each below 2^bits) as the stream into `wordCount` words, word i at
    /// `target[i·stride]`; bits past the last value are zero.
    static func pack(_ source: UnsafePointer<UInt8>, count: Int, bits: Int, into target: UnsafeMutablePointer<UInt32>, stride: Int, words wordCount: Int) {
        let unit = bits / gcd(bits, 32), values = 32 / gcd(bits, 32)
        var index = 0, word = 0
        while word < wordCount {
            var chunk: UInt128 = 0
            for j in 0..<Swift.max(0, Swift.min(values, count - index)) { chunk |= UInt128(source[index + j]) << (bits * j) }
            for i in 0..<unit where word + i < wordCount { target[(word + i) * stride] = UInt32(truncatingIfNeeded: chunk >> (32 * i)) }
            index += values
            word += unit
        }
    }
}

/// The greatest common divisor of two positive integers.
func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

/// The product of `factors` (a shape, possibly with the element size appended), or a `sizeOverflow` error naming
/// `tensor` when it does not fit in `Int`.
func checkedProduct(_ factors: [Int], tensor: String) throws -> Int {
    var product = 1
    for f in factors {
        guard f >= 0 else { throw PackedLinearError(tensor: tensor, rule: .wrongShape(found: factors, expected: "non-negative dimensions")) }
        let (p, overflow) = product.multipliedReportingOverflow(by: f)
        guard !overflow else { throw PackedLinearError(tensor: tensor, rule: .sizeOverflow) }
        product = p
    }
    return product
}

/// A packed layer's stored tensors or decoded parts break a rule of the layout (`PackedLinear`, docs/formats.md).
public struct PackedLinearError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The rule broken, with the evidence; `description` turns it into one sentence.
    public enum Rule: Equatable, Sendable {
        /// The format does not store this many bits per code (GPTQ: 2, 3, 4, 8; AWQ GEMM: 4).
        case unsupportedBits(Int, format: PackedFormat)
        /// A configured group size below 1 (use nil, `group_size: -1` in a config, for one group of all inputs).
        case invalidGroupSize(Int)
        /// A dimension (out, in, G) is not positive; the payload says which.
        case invalidDimension(String)
        /// A required tensor of the layer is absent (a GPTQ `g_idx` is required when there are several groups and no
        /// group size is known).
        case missingTensor
        /// The tensor's dtype is not one of `expected`.
        case wrongDType(found: DType, expected: [DType])
        /// The tensor's shape is `found`; the payload says what the layout needs.
        case wrongShape(found: [Int], expected: String)
        /// The tensor holds `actual` bytes; its shape and dtype need `expected`.
        case byteCountMismatch(expected: Int, actual: Int)
        /// A dimension product or byte size does not fit in `Int`.
        case sizeOverflow
        /// A decoded part (`field` of `PackedLinear`) has `found` entries where the dimensions need `expected`.
        case wrongCount(field: String, found: Int, expected: Int)
        /// `what` (in or out) is `value`, not a multiple of `of`, which the layout needs (`why`).
        case notMultiple(what: String, value: Int, of: Int, why: String)
        /// Entry `index` is `value`, outside `0..<limit` (a code or zero point of too many bits, a group index past G).
        case valueOutOfRange(index: Int, value: Int, limit: Int)
        /// An AWQ layer's group of input `index` is `value`, not `index / groupSize`: AWQ cannot store act-order.
        case awqGroupIndex(index: Int, value: Int, groupSize: Int)
        /// Scale `index` (row-major in `[G, out]`) is NaN or infinite.
        case nonFiniteScale(index: Int)
        /// Scale `index` (row-major in `[G, out]`), `value`, is too large for F16 (|s| ≥ 65520 rounds to ∞).
        case scaleOverflowsF16(index: Int, value: Float)
        /// `scales` has `found` rows, but in = `inFeatures` with group size `groupSize` (nil: one group) needs `expected`.
        case groupCountMismatch(found: Int, expected: Int, inFeatures: Int, groupSize: Int?)
        /// The module has a `qweight` and also a stored `weight`: which one is the layer is ambiguous.
        case weightAlongside
        /// No quantization config beside the model, and the shapes fit neither inference rule (GPTQ: `g_idx` present;
        /// AWQ: `qweight` `[in, out/8]`); the payload says what was found.
        case unknownFormat(String)
    }

    /// The file the tensor was read from, when it came from one (a `Checkpoint` fills it in).
    public var file: String?
    /// The tensor: its full name when read through a `Checkpoint` (`model.layers.0.mlp.up_proj.qzeros`), otherwise its
    /// suffix (`qzeros`); nil for rules about the whole layer (bits, dimensions).
    public var tensor: String?
    /// Which rule was broken, and the evidence.
    public var rule: Rule

    /// An error for `rule`, about `tensor` (when given) of `file` (when given).
    public init(file: String? = nil, tensor: String? = nil, rule: Rule) {
        self.file = file
        self.tensor = tensor
        self.rule = rule
    }

    public var description: String {
        var place = [String]()
        if let file { place.append(file) }
        if let tensor { place.append("tensor '\(tensor)'") }
        return (place.isEmpty ? "packed layer" : place.joined(separator: ": ")) + ": " + explanation
    }

    var explanation: String {
        switch rule {
        case .unsupportedBits(let bits, let format):
            return "\(bits)-bit codes are not supported for \(format.rawValue) (supported: \(format.supportedBits.map(String.init).joined(separator: ", ")))"
        case .invalidGroupSize(let size): return "group size \(size) is invalid (at least 1, or -1 for one group)"
        case .invalidDimension(let why): return "invalid dimension: \(why)"
        case .missingTensor: return "missing (a packed layer needs qweight, qzeros, scales and, for GPTQ with several groups, g_idx)"
        case .wrongDType(let found, let expected):
            return "dtype \(found.rawValue), expected \(expected.map(\.rawValue).joined(separator: " or "))"
        case .wrongShape(let found, let expected): return "shape \(found), expected \(expected)"
        case .byteCountMismatch(let expected, let actual): return "\(actual) bytes, but its shape and dtype need \(expected)"
        case .sizeOverflow: return "the element count or byte size overflows"
        case .wrongCount(let field, let found, let expected): return "\(field) has \(found) entries, expected \(expected)"
        case .notMultiple(let what, let value, let of, let why): return "\(what) = \(value) is not a multiple of \(of) (\(why))"
        case .valueOutOfRange(let index, let value, let limit): return "entry \(index) is \(value), outside 0..<\(limit)"
        case .awqGroupIndex(let index, let value, let size):
            return "input \(index) is in group \(value), not \(index / size): AWQ stores only contiguous groups of \(size)"
        case .nonFiniteScale(let index): return "scale \(index) is not finite"
        case .scaleOverflowsF16(let index, let value): return "scale \(index) = \(value) is too large for F16 (|s| < 65520)"
        case .groupCountMismatch(let found, let expected, let n, let size):
            return "\(found) groups, but in = \(n) with group size \(size.map(String.init) ?? "-1 (one group)") needs \(expected)"
        case .weightAlongside: return "a stored weight and a packed qweight for the same module; refusing to guess which is the layer"
        case .unknownFormat(let why): return "cannot tell the packed format without a quantization config: \(why)"
        }
    }
}

extension PackedLinear {
    /// Why a layer `[out, in]` cannot be written packed with these
    /// parameters, or nil when it can: bits the format does not hold, `in`
    /// not filling whole 32-bit words (GPTQ: in·bits a multiple of 32; AWQ:
    /// out a multiple of 8), or a group size that does not divide `in`
    /// (loaders assume equal groups). For checking a whole model before any
    /// work; `init` checks the same when packing.
    public static func packingProblem(format: PackedFormat, bits: Int, outFeatures: Int, inFeatures: Int, groupSize: Int?) -> String? {
        guard format.supportedBits.contains(bits) else { return "\(format.rawValue) holds \(format.supportedBits.map(String.init).joined(separator: ", ")) bits, not \(bits)" }
        guard outFeatures >= 1, inFeatures >= 1 else { return "a packed layer needs at least one input and one output" }
        if let groupSize, inFeatures % groupSize != 0 {
            return "the group size \(groupSize) does not divide the \(inFeatures) inputs"
        }
        let groups = groupSize.map { inFeatures / $0 } ?? 1
        do {
            try checkPackable(format, bits: bits, out: outFeatures, in: inFeatures, groups: groups)
        } catch let error as PackedLinearError {
            return error.explanation
        } catch {
            return "\(error)"
        }
        return nil
    }

    /// The stored tensors' suffixes, dtypes and shapes for a layer `[out, in]`
    /// with G groups, in `storedTensors()` order: what a writer's layout needs
    /// before the layer is packed. The dimensions must be packable.
    public static func storedLayout(format: PackedFormat, bits: Int, outFeatures: Int, inFeatures: Int, groupCount: Int)
        -> [(suffix: String, dtype: DType, shape: [Int])] {
        let shapes = storedShapes(format, bits: bits, out: outFeatures, in: inFeatures, groups: groupCount)
        var layout: [(suffix: String, dtype: DType, shape: [Int])] = [("qweight", .i32, shapes.qweight), ("qzeros", .i32, shapes.qzeros),
                                                                      ("scales", .f16, shapes.scales)]
        if let g = shapes.gIndex { layout.append(("g_idx", .i32, g)) }
        return layout
    }
}
