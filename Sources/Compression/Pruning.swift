import LinearAlgebra

/// Weight pruning: zero a fraction of the weights of a linear layer
/// W `[out, in]`; the kept weights are unchanged.
public enum Pruning: Sendable, Equatable {
    /// N:M semi-structured magnitude pruning: in each run of M consecutive
    /// input weights of a row, keep the N of largest |w| (ties: the lower
    /// column) and zero the rest. 2:4 is the pattern sparse tensor cores run.
    case nOfM(n: Int, m: Int)
    /// Unstructured pruning of the given fraction of weights with the smallest
    /// score: |w| per layer (magnitude), or the Wanda score |w_ij|·‖x_j‖₂ per
    /// output row when `inputNorms` (‖x_j‖₂ = √C_jj) are given.
    case unstructured(sparsity: Double, inputNorms: [Double]?)

    /// The pruned weights: W `[out, in]` with the selected entries set to 0
    /// (same shape and scalar type).
    ///
    /// Cost: N:M, O(out·in·log M); unstructured magnitude, one sort of all
    /// out·in weights, O(out·in·log(out·in)); Wanda, one sort per row,
    /// O(out·in·log in). `count = ⌊sparsity·size⌋` weights are zeroed per
    /// layer (magnitude) or per row (Wanda); ties keep the lower index.
    ///
    /// - Throws: `CompressionError.nonFiniteWeights`; `.invalidParameter`
    ///   for an N:M pattern without 0 ≤ N ≤ M, M ≥ 1 or a sparsity outside
    ///   [0, 1]; `.inputsNotMultipleOfM` when `in` is not a multiple of M;
    ///   `.inputNormCount` when the Wanda norms are not one per input.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func prune<T: Scalar>(_ w: Matrix<T>) throws -> Matrix<T> {
        guard w.isFinite else { throw CompressionError.nonFiniteWeights }
        switch self {
        case .nOfM(let n, let m):
            guard m >= 1, n >= 0, n <= m else { throw CompressionError.invalidParameter(parameter: .pattern, value: "\(n):\(m)", expected: "N:M with 0 ≤ N ≤ M and M ≥ 1") }
            guard w.columns % m == 0 else {
                throw CompressionError.inputsNotMultipleOfM(inputs: w.columns, m: m)
            }
            return pruneNOfM(w, keep: n, of: m)
        case .unstructured(let sparsity, let norms):
            guard (0...1).contains(sparsity) else { throw CompressionError.invalidParameter(parameter: .sparsity, value: "\(sparsity)", expected: "in [0, 1]") }
            if let norms {
                guard norms.count == w.columns else {
                    throw CompressionError.inputNormCount(norms: norms.count, inputs: w.columns)
                }
                return pruneRows(w, sparsity: sparsity) { i, j in w[i, j].doubleValue.magnitude * norms[j] }
            }
            return pruneLayer(w, sparsity: sparsity)
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    private func pruneNOfM<T: Scalar>(_ w: Matrix<T>, keep n: Int, of m: Int) -> Matrix<T> {
        var out = w
        let columns = w.columns
        out.withUnsafeMutableBufferPointer { p in
            for i in 0..<w.rows {
                for start in stride(from: 0, to: columns, by: m) {
                    let order = (start..<(start + m)).sorted { a, b in
                        let (x, y) = (p[i * columns + a].magnitude, p[i * columns + b].magnitude)
                        return x != y ? x > y : a < b
                    }
                    for j in order.dropFirst(n) { p[i * columns + j] = 0 }
                }
            }
        }
        return out
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    private func pruneLayer<T: Scalar>(_ w: Matrix<T>, sparsity: Double) -> Matrix<T> {
        let count = Int((sparsity * Double(w.count)).rounded(.down))
        guard count > 0 else { return w }
        let order = w.elements.indices.sorted { a, b in
            let (x, y) = (w.elements[a].magnitude, w.elements[b].magnitude)
            return x != y ? x < y : a < b
        }
        var out = w
        out.withUnsafeMutableBufferPointer { p in
            for index in order.prefix(count) { p[index] = 0 }
        }
        return out
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    private func pruneRows<T: Scalar>(_ w: Matrix<T>, sparsity: Double, score: (Int, Int) -> Double) -> Matrix<T> {
        let count = Int((sparsity * Double(w.columns)).rounded(.down))
        guard count > 0 else { return w }
        var out = w
        for i in 0..<w.rows {
            let scores = (0..<w.columns).map { score(i, $0) }
            let order = scores.indices.sorted { a, b in scores[a] != scores[b] ? scores[a] < scores[b] : a < b }
            for j in order.prefix(count) { out[i, j] = 0 }
        }
        return out
    }
}
