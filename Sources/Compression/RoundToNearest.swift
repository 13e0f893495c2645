import LinearAlgebra

/// Round-to-nearest (RTN) quantisation: every weight is snapped to a b-bit
/// grid; `quantize` returns the dequantised values in the input's scalar
/// type, `quantizeToCodes` the codes and grids as well (for packing).
///
/// Per row, per group of `groupSize` consecutive input columns (the whole row
/// when `groupSize` is nil), the grid is GPTQ's (`QuantizationGrid`):
/// - asymmetric (default): the group's range [min, max], widened to include 0
///   so that the zero point is an integer on the grid;
///   scale = (max − min)/(2^b − 1), zero = round(−min/scale);
/// - symmetric: max |w| sets the range [−m, m]; scale = 2m/(2^b − 1),
///   zero = 2^{b−1} (GPTQ's convention, including its clipping of groups
///   with no negative weight; see `QuantizationGrid`).
/// Then q = clamp(round(w/scale) + zero, 0, 2^b − 1) and ŵ = scale·(q − zero),
/// rounding half to even as `torch.round` does. An all-zero group stays
/// zero. Rows are quantised in parallel.
///
/// Cost: O(out·in), one pass per group for the range and one to round.
public struct RoundToNearest: Sendable, Equatable {
    /// b, the bits per weight: 2 to 8 (2^b levels).
    public var bits: Int
    /// Input columns per group sharing one scale and zero point (default 128,
    /// the GPTQ/AWQ convention); nil quantises each whole row as one group.
    /// A group size larger than the row is the whole row.
    public var groupSize: Int?
    /// A grid symmetric around zero (GPTQ's `sym=True`) instead of min–max
    /// (default false).
    public var symmetric: Bool
    /// Round each scale to the nearest F16 value before choosing the codes,
    /// so a packed checkpoint (F16 scales) holds exactly these values
    /// (default false).
    public var float16Scales: Bool

    /// RTN with `bits` bits, groups of `groupSize` columns (default 128) and
    /// a min–max grid unless `symmetric`. Parameters are checked when
    /// quantising.
    public init(bits: Int, groupSize: Int? = 128, symmetric: Bool = false, float16Scales: Bool = false) {
        self.bits = bits
        self.groupSize = groupSize
        self.symmetric = symmetric
        self.float16Scales = float16Scales
    }

    func validate() throws {
        guard (2...8).contains(bits) else {
            throw CompressionError.invalidParameter(parameter: .bits, value: "\(bits)", expected: "between 2 and 8")
        }
        if let groupSize, groupSize < 1 {
            throw CompressionError.invalidParameter(parameter: .groupSize, value: "\(groupSize)", expected: "positive")
        }
    }

    /// Ŵ, the dequantised weights of W `[out, in]`: same shape and scalar
    /// type, every group on its own b-bit grid.
    ///
    /// - Throws: `CompressionError.invalidParameter` for bits outside 2…8 or
    ///   a group size below 1; `.nonFiniteWeights` when W holds NaN or ±∞.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func quantize<T: Scalar>(_ w: Matrix<T>) throws -> Matrix<T> {
        try quantizeToCodes(w).dequantized
    }

    /// W `[out, in]` as codes, grids and dequantised values. Groups are runs
    /// of `groupSize` consecutive columns (g_idx = j / groupSize; the last
    /// may be shorter); G = ⌈in / groupSize⌉, or 1 without groups.
    ///
    /// - Throws: as `quantize`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func quantizeToCodes<T: Scalar>(_ w: Matrix<T>) throws -> QuantizedMatrix<T> {
        try validate()
        guard w.isFinite else { throw CompressionError.nonFiniteWeights }
        let n = w.columns, rows = w.rows
        let group = Swift.min(groupSize ?? n, Swift.max(n, 1))
        let groupCount = groupSize == nil ? 1 : (n + group - 1) / group
        var codes = [UInt8](repeating: 0, count: rows * n)
        var scales = [Double](repeating: 0, count: rows * groupCount)
        var zeros = [UInt8](repeating: 0, count: rows * groupCount)
        var out = w
        let (bits, symmetric, f16) = (self.bits, self.symmetric, float16Scales)
        out.withUnsafeMutableBufferPointer { p in
            codes.withUnsafeMutableBufferPointer { cp in
                scales.withUnsafeMutableBufferPointer { sp in
                    zeros.withUnsafeMutableBufferPointer { zp in
                        nonisolated(unsafe) let (p, cp, sp, zp) = (p, cp, sp, zp)
                        let chunks = Swift.min(rows, rows * n >= 1 << 16 ? 64 : 1)
                        Backend.forEachChunk(chunks) { chunk in
                            for i in (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks) {
                                for g in 0..<groupCount {
                                    let range = (i * n + g * group)..<(i * n + Swift.min((g + 1) * group, n))
                                    let grid = QuantizationGrid(UnsafeBufferPointer(rebasing: p[range]), bits: bits, symmetric: symmetric,
                                                                float16Scale: f16)
                                    sp[i * groupCount + g] = grid.scale
                                    zp[i * groupCount + g] = UInt8(grid.zero)
                                    for k in range {
                                        let q = grid.code(p[k].doubleValue)
                                        cp[k] = UInt8(q)
                                        p[k] = T(grid.value(code: q))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let groupIndex = (0..<n).map { groupSize == nil ? Int32(0) : Int32($0 / group) }
        return QuantizedMatrix(bits: bits, groupSize: groupSize, symmetric: symmetric, groupCount: groupCount, codes: codes,
                               scales: scales, zeros: zeros, groupIndex: groupIndex, dequantized: out)
    }

    /// x rounded to the nearest integer, ties to even (see `QuantizationGrid.roundHalfEven`).
    @inline(__always)
    static func roundHalfEven(_ x: Double) -> Double { QuantizationGrid.roundHalfEven(x) }
}
