import LinearAlgebra

/// SparseGPT (Frantar & Alistarh, 2023): pruning of a linear layer with the
/// same error feedback as GPTQ — each pruned (and optionally quantized)
/// weight's error is spread over the columns not yet processed, so that the
/// layer's output on the calibration inputs changes least.
///
/// Follows the reference implementation (research note a.9): dead columns,
/// damping and U (the upper Cholesky factor of H⁻¹) as GPTQ; lazy blocks of
/// `blockSize` columns. The saliency of a weight is w²/U[c,c]².
/// - Unstructured (`sparsity` s): at each block's start, the weights of the
///   block whose saliency is at most the ⌊s·count⌋-th smallest of the block
///   are pruned (so about s of each block, ties included, as the reference);
///   s = 0 prunes nothing and s = 1 everything.
/// - N:M (`keep n of m`): in each run of m columns (m must divide the block
///   width, which is rounded up to a multiple of m), when the sweep reaches
///   the run, each row keeps the n weights of largest saliency, using the
///   values as updated so far (ties: the lower column is pruned first).
/// With `bits`, kept weights are also rounded to a per-row min–max grid of
/// the whole W (asymmetric, computed once at the start, as the reference's
/// command line does); pruned weights stay exactly 0.
///
/// Cost: as GPTQ, plus a selection over each block (unstructured).
public struct SparseGPT: Sendable, Equatable {
    /// Which weights are pruned.
    public enum Pattern: Sendable, Equatable {
        /// About this fraction of each block's weights, in [0, 1].
        case unstructured(sparsity: Double)
        /// In each run of `m` consecutive inputs of a row, keep `n` (2:4 keeps two of four).
        case nOfM(n: Int, m: Int)
    }

    /// Which weights are pruned.
    public var pattern: Pattern
    /// Quantize the kept weights to this many bits (2…8); nil keeps them as floats.
    public var bits: Int?
    /// Damping added to H's diagonal as a fraction of its mean (default 0.01).
    public var damp: Double
    /// Columns per lazy block (default 128; rounded up to a multiple of M for N:M).
    public var blockSize: Int

    /// SparseGPT with the reference's defaults: no quantization, damping 0.01, blocks of 128.
    public init(pattern: Pattern, bits: Int? = nil, damp: Double = 0.01, blockSize: Int = 128) {
        self.pattern = pattern
        self.bits = bits
        self.damp = damp
        self.blockSize = blockSize
    }

    /// What SparseGPT made of one layer.
    public struct Result<T: Scalar>: Sendable {
        /// The pruned (and, with `bits`, quantized) weight, `[out, in]`.
        public var weight: Matrix<T>
        /// Σ (w − ŵ)²/U[c,c]²/2, as GPTQ's.
        public var loss: Double
        /// The damping fraction used.
        public var damp: Double
        /// Input columns whose H diagonal was 0; their weights were zeroed.
        public var deadColumns: [Int]
    }

    /// Prunes W `[out, in]` given H `[in, in]` (XᵀX, any positive multiple).
    ///
    /// - Throws: `CompressionError.invalidParameter` for a sparsity outside
    ///   [0, 1], an N:M pattern without 0 ≤ N ≤ M, M ≥ 1, bits outside 2…8,
    ///   damping outside [0, 1); `.inputsNotMultipleOfM`; `.nonFiniteWeights`;
    ///   `.hessianShape`; `.nonFiniteHessian`; `.hessianNotPositiveDefinite`
    ///   when damping up to 1 does not make H positive definite.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func prune<T: Scalar>(_ w: Matrix<T>, hessian h: Matrix<Double>) throws -> Result<T> {
        var width = blockSize
        switch pattern {
        case .unstructured(let s):
            guard s.isFinite, (0...1).contains(s) else {
                throw CompressionError.invalidParameter(parameter: .sparsity, value: "\(s)", expected: "in [0, 1]")
            }
        case .nOfM(let n, let m):
            guard m >= 1, n >= 0, n <= m else {
                throw CompressionError.invalidParameter(parameter: .pattern, value: "\(n):\(m)", expected: "N:M with 0 ≤ N ≤ M and M ≥ 1")
            }
            guard w.columns % m == 0 else { throw CompressionError.inputsNotMultipleOfM(inputs: w.columns, m: m) }
            width = (Swift.max(blockSize, 1) + m - 1) / m * m
        }
        if let bits, !(2...8).contains(bits) {
            throw CompressionError.invalidParameter(parameter: .bits, value: "\(bits)", expected: "between 2 and 8")
        }
        guard damp.isFinite, damp >= 0, damp < 1 else {
            throw CompressionError.invalidParameter(parameter: .damp, value: "\(damp)", expected: "in [0, 1)")
        }
        guard blockSize >= 1 else { throw CompressionError.invalidParameter(parameter: .blockSize, value: "\(blockSize)", expected: "positive") }
        guard w.isFinite else { throw CompressionError.nonFiniteWeights }
        guard h.rows == w.columns, h.columns == w.columns else {
            throw CompressionError.hessianShape(rows: h.rows, columns: h.columns, inputs: w.columns)
        }
        guard h.isFinite else { throw CompressionError.nonFiniteHessian }
        let rows = w.rows, cols = w.columns
        // Per-row grids of the whole W, before dead columns are cleared (as the reference).
        let grids: [QuantizationGrid]? = bits.map { bits in
            (0..<rows).map { i in
                w.withUnsafeBufferPointer { p in
                    QuantizationGrid(UnsafeBufferPointer(rebasing: p[(i * cols)..<((i + 1) * cols)]), bits: bits, symmetric: false)
                }
            }
        }
        guard let factor = InverseHessianFactor<T>.prepare(h, damp: damp, actOrder: false) else {
            throw CompressionError.hessianNotPositiveDefinite
        }
        var work = w
        for j in factor.deadColumns { for i in 0..<rows { work[i, j] = 0 } }
        let upper = factor.upper
        let diagonal = (0..<cols).map { upper[$0, $0].doubleValue }

        // Unstructured: the block's mask, set at its start.
        let mask = UnsafeMutableBufferPointer<Bool>.allocate(capacity: rows * width)
        defer { mask.deallocate() }
        let pattern = self.pattern
        let loss = errorFeedbackSweep(&work, upper: upper, blockSize: width, beginBlock: { i1, i2, current in
            guard case .unstructured(let sparsity) = pattern else { return }
            let count = rows * (i2 - i1)
            var saliency = [Double](repeating: 0, count: count)
            current.withUnsafeBufferPointer { p in
                for r in 0..<rows {
                    for c in i1..<i2 {
                        let x = p[r * cols + c].doubleValue
                        saliency[r * (i2 - i1) + c - i1] = x * x / (diagonal[c] * diagonal[c])
                    }
                }
            }
            let k = Int((sparsity * Double(count)).rounded(.down))
            let threshold: Double
            if sparsity == 0 || count == 0 {
                threshold = -.infinity
            } else if k >= count {
                threshold = .infinity
            } else {
                threshold = kthSmallest(saliency, k)
            }
            for index in 0..<count { mask[index] = saliency[index] <= threshold }
        }) { r, i1, i, block, _ in
            let c = i1 + i
            var pruned: Bool
            switch pattern {
            case .unstructured:
                pruned = mask[r * (Swift.min(i1 + width, cols) - i1) + i]
            case .nOfM(let n, let m):
                // At the start of each run, mark its m − n least salient weights (from the current values).
                if i % m == 0 {
                    let order = (0..<m).sorted { a, b in
                        let sa = block[i + a].doubleValue * block[i + a].doubleValue / (diagonal[c + a] * diagonal[c + a])
                        let sb = block[i + b].doubleValue * block[i + b].doubleValue / (diagonal[c + b] * diagonal[c + b])
                        return sa != sb ? sa < sb : a < b
                    }
                    for a in 0..<m { mask[r * width + i + a] = false }
                    for a in order.prefix(m - n) { mask[r * width + i + a] = true }
                }
                pruned = mask[r * width + i]
            }
            var v = pruned ? T.zero : block[i]
            if let grids { v = T(grids[r].fakeQuantized(v.doubleValue)) }
            return v
        }
        return Result(weight: work, loss: loss, damp: factor.damp, deadColumns: factor.deadColumns)
    }
}

/// The k-th smallest value (0-based) of `values`, by quickselect
/// (median-of-three pivots, Hoare partitions). Expected cost O(n).
func kthSmallest(_ values: [Double], _ k: Int) -> Double {
    var a = values
    var lo = 0, hi = a.count - 1
    while lo < hi {
        let mid = lo + (hi - lo) / 2
        // Median of three as the pivot value.
        let x = a[lo], y = a[mid], z = a[hi]
        let pivot = Swift.max(Swift.min(x, y), Swift.min(Swift.max(x, y), z))
        var i = lo, j = hi
        while i <= j {
            while a[i] < pivot { i += 1 }
            while a[j] > pivot { j -= 1 }
            if i <= j {
                a.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if k <= j { hi = j } else if k >= i { lo = i } else { return a[k] }
    }
    return a[k]
}
