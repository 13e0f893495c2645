import LinearAlgebra

/// A weight quantized to integer codes: per row and group of input columns
/// a `QuantizationGrid`, the codes, and the values they stand for.
///
/// W `[out, in]` is cut into G groups of input columns; column j belongs to
/// group `groupIndex[j]` (j / groupSize, or with GPTQ's act-order the group
/// in which j was processed). Entry (i, j) is stored as code
/// q = `codes[i·in + j]` and stands for
/// `scales[i·G + g]·(q − zeros[i·G + g])` with g = `groupIndex[j]`, which is
/// `dequantized[i, j]`. This is everything a packed checkpoint (GPTQ's
/// qweight, qzeros, scales, g_idx) needs.
public struct QuantizedMatrix<T: Scalar>: Sendable {
    /// b: bits per code, 2 to 8.
    public var bits: Int
    /// Input columns per group; nil when each row is one group (G = 1).
    public var groupSize: Int?
    /// Whether the grids are symmetric (zero point 2^(b−1)).
    public var symmetric: Bool
    /// G, the number of groups per row: ⌈in / groupSize⌉, or 1.
    public var groupCount: Int
    /// The codes, `[out, in]` row-major, each in [0, 2^b − 1].
    public var codes: [UInt8]
    /// The scale of each row's groups, `[out, G]` row-major.
    public var scales: [Double]
    /// The zero point of each row's groups, `[out, G]` row-major, in [0, 2^b − 1].
    public var zeros: [UInt8]
    /// The group of each input column, `[in]`.
    public var groupIndex: [Int32]
    /// The values the codes stand for, `[out, in]`: the quantized weight.
    public var dequantized: Matrix<T>

    /// Rows (`out`) of the weight.
    public var rows: Int { dequantized.rows }
    /// Columns (`in`) of the weight.
    public var columns: Int { dequantized.columns }

    /// Whether every stored entry is consistent: codes and zeros within
    /// [0, 2^b − 1], `dequantized` equal to scale·(code − zero) (as T), group
    /// indices within [0, G). Cost O(out·in).
    public var isConsistent: Bool {
        let maxCode = UInt8((1 << bits) - 1)
        guard codes.count == rows * columns, scales.count == rows * groupCount, zeros.count == scales.count,
              groupIndex.count == columns, codes.allSatisfy({ $0 <= maxCode }), zeros.allSatisfy({ $0 <= maxCode }),
              groupIndex.allSatisfy({ $0 >= 0 && Int($0) < groupCount }) else { return false }
        for i in 0..<rows {
            for j in 0..<columns {
                let g = i * groupCount + Int(groupIndex[j])
                if T(scales[g] * (Double(codes[i * columns + j]) - Double(zeros[g]))) != dequantized[i, j] { return false }
            }
        }
        return true
    }
}
