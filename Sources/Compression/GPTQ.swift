import LinearAlgebra

/// GPTQ (Frantar et al., 2022): quantization of a linear layer column by
/// column, each column's rounding error spread over the columns not yet
/// quantized so that the layer's output on the calibration inputs changes
/// least. Minimises ‖(W − Q) X‖² through H = XᵀX ("the Hessian", `[in, in]`).
///
/// Follows the reference implementation and GPTQModel step by step, so that
/// codes agree with theirs (research note a.2–a.6):
/// 1. per-row grids of the whole W (used when `groupSize` is nil), taken
///    before dead columns are cleared;
/// 2. dead columns (H[i,i] = 0): H[i,i] = 1 and W[:, i] = 0;
/// 3. with `staticGroups`, every group's grids from W in original column
///    order, before any update;
/// 4. with `actOrder` (desc_act), columns processed by decreasing H[i,i]
///    (a stable sort);
/// 5. H[i,i] += `damp`·mean(diag H); U = the upper Cholesky factor of H⁻¹;
/// 6. lazy blocks of `blockSize` columns: column c's grid is computed when
///    c starts a group, from W[:, c ..< c + groupSize] as it was at the
///    start of c's block (so groups starting inside a block see those
///    columns without the block's earlier updates, exactly as the
///    reference); q = clamp(round(w/s) + z, 0, 2^b − 1), rounding half to
///    even; the error e = (w − ŵ)/U[c,c] updates the rest of the block,
///    then the later columns as one GEMM.
///
/// When H is not positive definite even with damping raised towards 1, the
/// layer is quantized round-to-nearest with the same groups (as GPTQModel
/// does) and `Result.fellBackToRoundToNearest` says so.
///
/// The result's `groupIndex` is GPTQ's g_idx: j / groupSize, or with
/// act-order (without static groups) the processing position of j divided
/// by groupSize; group g's scales are those of the g-th group processed.
///
/// Cost: about 4n³/3 for the factor (Double, nearly all GEMM) plus out·in·(in + blockSize)
/// for the sweep (in the weight's precision, rows in parallel).
public struct GPTQ: Sendable, Equatable {
    /// b, the bits per weight: 2, 3, 4 or 8 are what packed checkpoints
    /// hold; any of 2…8 is accepted for dequantized output.
    public var bits: Int
    /// Input columns per group sharing one grid per row (default 128, the
    /// GPTQ/AWQ convention); nil: one grid per row.
    public var groupSize: Int?
    /// Symmetric grids (zero point 2^(b−1)) instead of min–max (default false).
    public var symmetric: Bool
    /// Process columns by decreasing H[i,i] (desc_act; default false).
    public var actOrder: Bool
    /// Compute every group's grids from the original W before the sweep
    /// (static_groups; needs a group size; default false).
    public var staticGroups: Bool
    /// Damping added to H's diagonal as a fraction of its mean (default
    /// 0.01, the reference's `percdamp`).
    public var damp: Double
    /// Columns per lazy block (default 128, the reference's).
    public var blockSize: Int
    /// Round each scale to the nearest F16 value before choosing zero
    /// points and codes, so a packed checkpoint (F16 scales) holds exactly
    /// the values GPTQ used (default false).
    public var float16Scales: Bool

    /// GPTQ with the reference's defaults: groups of 128, min–max grids,
    /// natural column order, damping 0.01, blocks of 128.
    public init(bits: Int, groupSize: Int? = 128, symmetric: Bool = false, actOrder: Bool = false, staticGroups: Bool = false,
                damp: Double = 0.01, blockSize: Int = 128, float16Scales: Bool = false) {
        self.bits = bits
        self.groupSize = groupSize
        self.symmetric = symmetric
        self.actOrder = actOrder
        self.staticGroups = staticGroups
        self.damp = damp
        self.blockSize = blockSize
        self.float16Scales = float16Scales
    }

    /// What GPTQ made of one layer.
    public struct Result<T: Scalar>: Sendable {
        /// Codes, grids, g_idx and the dequantized weight.
        public var quantized: QuantizedMatrix<T>
        /// Σ (w − ŵ)²/U[c,c]²/2 over all entries: the reference's loss, in
        /// the units of the H given (GPTQModel divides by the token count).
        public var loss: Double
        /// The damping fraction used (larger than asked when H needed more).
        public var damp: Double
        /// Input columns whose H diagonal was 0; their weights were zeroed.
        public var deadColumns: [Int]
        /// H could not be factorised; the layer was quantized round-to-nearest.
        public var fellBackToRoundToNearest: Bool
    }

    func validate(columns: Int) throws {
        guard (2...8).contains(bits) else {
            throw CompressionError.invalidParameter(parameter: .bits, value: "\(bits)", expected: "between 2 and 8")
        }
        if let groupSize, groupSize < 1 {
            throw CompressionError.invalidParameter(parameter: .groupSize, value: "\(groupSize)", expected: "positive")
        }
        guard damp.isFinite, damp >= 0, damp < 1 else {
            throw CompressionError.invalidParameter(parameter: .damp, value: "\(damp)", expected: "in [0, 1)")
        }
        guard blockSize >= 1 else {
            throw CompressionError.invalidParameter(parameter: .blockSize, value: "\(blockSize)", expected: "positive")
        }
        if staticGroups && groupSize == nil {
            throw CompressionError.invalidParameter(parameter: .groupSize, value: "none", expected: "set for static groups")
        }
    }

    /// Quantizes W `[out, in]` given H `[in, in]` (XᵀX summed over the
    /// calibration inputs, or any positive multiple: damping is relative,
    /// so the scale of H changes only `loss`).
    ///
    /// - Throws: `CompressionError.invalidParameter` for bits outside 2…8, a
    ///   group size below 1, damping outside [0, 1), static groups without a
    ///   group size; `.nonFiniteWeights`; `.hessianShape` when H is not
    ///   `[in, in]`; `.nonFiniteHessian`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func quantize<T: Scalar>(_ w: Matrix<T>, hessian h: Matrix<Double>) throws -> Result<T> {
        try validate(columns: w.columns)
        guard w.isFinite else { throw CompressionError.nonFiniteWeights }
        guard h.rows == w.columns, h.columns == w.columns else {
            throw CompressionError.hessianShape(rows: h.rows, columns: h.columns, inputs: w.columns)
        }
        guard h.isFinite else { throw CompressionError.nonFiniteHessian }
        let rows = w.rows, cols = w.columns
        let group = groupSize.map { Swift.min($0, Swift.max(cols, 1)) } ?? Swift.max(cols, 1)
        let groupCount = groupSize == nil ? 1 : (cols + group - 1) / group
        let (bits, symmetric, f16) = (self.bits, self.symmetric, float16Scales)

        // 1. Whole-row grids, from W as given.
        let rowGrids: [QuantizationGrid] = (0..<rows).map { i in
            w.withUnsafeBufferPointer { p in
                QuantizationGrid(UnsafeBufferPointer(rebasing: p[(i * cols)..<((i + 1) * cols)]), bits: bits, symmetric: symmetric, float16Scale: f16)
            }
        }
        guard let factor = InverseHessianFactor<T>.prepare(h, damp: damp, actOrder: actOrder) else {
            let fallback = try RoundToNearest(bits: bits, groupSize: groupSize, symmetric: symmetric, float16Scales: f16).quantizeToCodes(w)
            return Result(quantized: fallback, loss: .nan, damp: damp, deadColumns: [], fellBackToRoundToNearest: true)
        }
        // 2. Dead columns.
        var original = w
        for j in factor.deadColumns { for i in 0..<rows { original[i, j] = 0 } }
        // 3. Static grids from the cleared W, in original column order.
        var staticGrids: [QuantizationGrid] = []
        if staticGroups {
            staticGrids.reserveCapacity(rows * groupCount)
            original.withUnsafeBufferPointer { p in
                for i in 0..<rows {
                    for g in 0..<groupCount {
                        let range = (i * cols + g * group)..<(i * cols + Swift.min((g + 1) * group, cols))
                        staticGrids.append(QuantizationGrid(UnsafeBufferPointer(rebasing: p[range]), bits: bits, symmetric: symmetric, float16Scale: f16))
                    }
                }
            }
        }
        // 4. Processing order.
        let order = factor.order
        var work = actOrder ? Matrix<T>(rows: rows, columns: cols) { i, c in original[i, order[c]] } : original
        let upper = factor.upper

        // Outputs, written by row from the parallel sweep (each row owns its entries).
        let codes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: rows * cols)
        let scales = UnsafeMutableBufferPointer<Double>.allocate(capacity: rows * groupCount)
        let zeros = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: rows * groupCount)
        let values = UnsafeMutableBufferPointer<T>.allocate(capacity: rows * cols)
        // The grid in force for each row: the whole row's, or its current group's.
        let current = UnsafeMutableBufferPointer<QuantizationGrid>.allocate(capacity: rows)
        defer { for p in [UnsafeMutableRawPointer(codes.baseAddress), UnsafeMutableRawPointer(scales.baseAddress),
                          UnsafeMutableRawPointer(zeros.baseAddress), UnsafeMutableRawPointer(values.baseAddress),
                          UnsafeMutableRawPointer(current.baseAddress)] { p?.deallocate() } }
        _ = current.initialize(from: rowGrids)
        if groupSize == nil {
            for i in 0..<rows { scales[i] = rowGrids[i].scale; zeros[i] = UInt8(rowGrids[i].zero) }
        } else if staticGroups {
            for (g, grid) in staticGrids.enumerated() { scales[g] = grid.scale; zeros[g] = UInt8(grid.zero) }
        }
        let grouped = groupSize != nil, staticGroups = self.staticGroups, blockSize = self.blockSize
        let loss = errorFeedbackSweep(&work, upper: upper, blockSize: blockSize) { r, i1, i, block, snapshot in
            let c = i1 + i
            let j = order[c]
            var grid = current[r]
            if staticGroups {
                grid = staticGrids[r * groupCount + j / group]
            } else if grouped && c % group == 0 {
                // The group's columns inside this block as they were at its start; beyond it, W as it is now.
                let end = Swift.min(c + group, cols), blockEnd = Swift.min(i1 + blockSize, cols)
                var lo = 0.0, hi = 0.0
                for k in c..<end {
                    let x = k < blockEnd ? snapshot[k - i1].doubleValue : block[k - i1].doubleValue
                    lo = Swift.min(lo, x)
                    hi = Swift.max(hi, x)
                }
                grid = QuantizationGrid(minimum: lo, maximum: hi, bits: bits, symmetric: symmetric, float16Scale: f16)
                current[r] = grid
                scales[r * groupCount + c / group] = grid.scale
                zeros[r * groupCount + c / group] = UInt8(grid.zero)
            }
            let q = grid.code(block[i].doubleValue)
            codes[r * cols + j] = UInt8(q)
            let v = T(grid.value(code: q))
            values[r * cols + j] = v
            return v
        }
        var position = [Int](repeating: 0, count: cols)
        for (c, j) in order.enumerated() { position[j] = c }
        let groupIndex: [Int32] = (0..<cols).map { j in
            guard grouped else { return 0 }
            return Int32((actOrder && !staticGroups ? position[j] : j) / group)
        }
        let quantized = QuantizedMatrix(bits: bits, groupSize: groupSize, symmetric: symmetric, groupCount: groupCount, codes: Array(codes),
                                        scales: Array(scales), zeros: Array(zeros), groupIndex: groupIndex,
                                        dequantized: Matrix(rows: rows, columns: cols, elements: Array(values)))
        return Result(quantized: quantized, loss: loss, damp: factor.damp, deadColumns: factor.deadColumns, fellBackToRoundToNearest: false)
    }
}
