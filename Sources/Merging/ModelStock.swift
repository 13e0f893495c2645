import LinearAlgebra

/// mergekit's `model_stock` (Jang et al., 2024): the average of the fine-tuned
/// models pulled towards the base by an interpolation factor from the angle
/// between their task vectors.
///
/// With N ≥ 2 models and offsets o_m = θ_m − θ_b, over the whole tensor as one
/// vector (or, with `filterWise`, each fibre along the last dimension, i.e. each
/// row of a matrix; a 1-D tensor is one row):
/// cos_ij = clamp(o_i·o_j / max(‖o_i‖‖o_j‖, 1e-6), −1, 1) for every pair i < j,
/// c = the mean of cos_ij, t = N c / (1 + (N − 1) c), and
/// θ* = t · (Σ_m θ_m)/N + (1 − t) · θ_b.
///
/// Orthogonal task vectors (c = 0) give the base; identical ones (c = 1) the
/// average. Where 1 + (N − 1)c = 0 (two exactly opposite task vectors) mergekit
/// divides by zero; here it is an error. No models returns the base, as mergekit;
/// one model is an error (mergekit drops an optional tensor or fails). Computed in
/// Double. Cost: O(N² n).
public struct ModelStock: Sendable, Equatable {
    /// mergekit's `filter_wise` (default false): one t per row instead of per tensor.
    public var filterWise: Bool

    /// Model Stock with these settings.
    public init(filterWise: Bool = false) { self.filterWise = filterWise }

    /// Merges one tensor.
    ///
    /// - Parameters:
    ///   - tensors: θ_m, the fine-tuned models (flat, row-major), at least two (or none).
    ///   - base: θ_b, same size.
    ///   - shape: the tensor's shape (its rows, with `filterWise`; nil: one dimension).
    ///   - name: the tensor's name, for errors.
    /// - Throws: `.tooFewModels(1)`; `.nonFinite` where t is undefined; `.sizeMismatch`,
    ///   `.invalidParameter(.shape)`.
    /// - Complexity: O(N² n).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ tensors: [[T]], base: [T], shape: [Int]? = nil, name: String = "tensor") throws -> [T] {
        guard !tensors.isEmpty else { return base }
        guard tensors.count >= 2 else { throw MergingError.tooFewModels(tensors.count) }
        try checkModels(tensors, base: base, name: name)
        let n = base.count
        let shape = try checkedShape(shape, count: n, name: name)
        let models = tensors.count
        let b = base.map(\.doubleValue)
        let offsets = tensors.map { t in (0..<n).map { t[$0].doubleValue - b[$0] } }
        let length = filterWise && shape.count >= 2 ? shape[shape.count - 1] : n
        let rows = length == 0 ? 0 : n / length
        var result = [Double](repeating: 0, count: n)
        for r in 0..<rows {
            let range = (r * length)..<((r + 1) * length)
            var norms = [Double](repeating: 0, count: models)
            for m in 0..<models { norms[m] = offsets[m][range].reduce(0) { $0 + $1 * $1 }.squareRoot() }
            var cosines = 0.0, pairs = 0
            for i in 0..<models {
                for j in (i + 1)..<models {
                    var dot = 0.0
                    for k in range { dot += offsets[i][k] * offsets[j][k] }
                    cosines += Swift.min(Swift.max(dot / Swift.max(norms[i] * norms[j], 1e-6), -1), 1)
                    pairs += 1
                }
            }
            let c = cosines / Double(pairs)
            let denominator = 1 + Double(models - 1) * c
            guard denominator != 0 else {
                throw MergingError.nonFinite(tensor: name, what: "model_stock's t = N·c / (1 + (N − 1)·c) (the task vectors point in opposite directions, c = \(c))")
            }
            let t = Double(models) * c / denominator
            for k in range {
                var sum = 0.0
                for m in 0..<models { sum += tensors[m][k].doubleValue }
                result[k] = t * (sum / Double(models)) + (1 - t) * b[k]
            }
        }
        return result.map { T($0) }
    }
}
