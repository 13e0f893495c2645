import LinearAlgebra

/// Round-to-nearest (RTN) fake quantisation: every weight is snapped to a
/// b-bit grid and stored dequantised, in the input's dtype.
///
/// Per row, per group of `groupSize` consecutive input columns (the whole row
/// when `groupSize` is nil):
/// - asymmetric (default): the group's range [min, max], widened to include 0
///   as GPTQ/AutoGPTQ do so that the zero point is an integer on the grid;
///   scale = (max − min)/(2^b − 1), zero = round(−min/scale);
/// - symmetric: max |w| sets the range [−m, m]; scale = 2m/(2^b − 1),
///   zero = 2^{b−1} (GPTQ's convention).
/// Then q = clamp(round(w/scale) + zero, 0, 2^b − 1) and ŵ = scale·(q − zero),
/// rounding half to even as `torch.round` does. A group whose values are all
/// equal to zero is left as zeros. Rows are quantised in parallel.
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

    /// RTN with `bits` bits, groups of `groupSize` columns (default 128) and
    /// a min–max grid unless `symmetric`. Parameters are checked when
    /// quantising.
    public init(bits: Int, groupSize: Int? = 128, symmetric: Bool = false) {
        self.bits = bits
        self.groupSize = groupSize
        self.symmetric = symmetric
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
        try validate()
        guard w.isFinite else { throw CompressionError.nonFiniteWeights }
        let levels = Double((1 << bits) - 1)
        let group = Swift.min(groupSize ?? w.columns, Swift.max(w.columns, 1))
        var out = w
        let n = w.columns, rows = w.rows
        let symmetric = self.symmetric
        out.withUnsafeMutableBufferPointer { p in
            let chunks = Swift.min(rows, rows * n >= 1 << 16 ? 64 : 1)
            Backend.forEachChunk(chunks) { chunk in
                for i in (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks) {
                    var start = 0
                    while start < n {
                        let end = Swift.min(start + group, n)
                        var lo = 0.0, hi = 0.0
                        for j in start..<end { let x = p[i * n + j].doubleValue; lo = Swift.min(lo, x); hi = Swift.max(hi, x) }
                        let scale: Double, zero: Double
                        if symmetric {
                            let m = Swift.max(-lo, hi)
                            scale = 2 * m / levels
                            zero = (levels + 1) / 2
                        } else {
                            scale = (hi - lo) / levels
                            zero = scale > 0 ? Self.roundHalfEven(-lo / scale) : 0
                        }
                        if scale > 0 {
                            for j in start..<end {
                                let q = Swift.min(Swift.max(Self.roundHalfEven(p[i * n + j].doubleValue / scale) + zero, 0), levels)
                                p[i * n + j] = T(scale * (q - zero))
                            }
                        }
                        start = end
                    }
                }
            }
        }
        return out
    }

    /// x rounded to the nearest integer, ties to even, for |x| < 2⁵¹ (here
    /// at most 2^b − 1 + 2^b): adding 1.5·2⁵² leaves no fraction bits, so the
    /// addition itself rounds, and subtracting it back is exact. Unlike
    /// `rounded()`, this is not a library call on the baseline x86 target.
    @inline(__always)
    static func roundHalfEven(_ x: Double) -> Double {
        let magic = 0x1.8p52
        return (x + magic) - magic
    }
}
