import LinearAlgebra

/// mergekit's `sce` (Select, Calculate, Erase; Wan et al., 2024): task vectors
/// restricted to the positions where the models disagree most, weighted by their
/// energy, after erasing minority signs.
///
/// With τ_m = θ_m − θ_b for N models:
/// 1. Select (only if `selectTopK` < 1): the population variance of τ_m at each
///    position over the models; k = int(selectTopK · (number of positions of
///    nonzero variance)); keep the k positions of largest variance (ties by
///    position), the same positions in every model; k = 0 (or selectTopK ≤ 0)
///    zeroes every τ_m.
/// 2. Calculate: λ_m = mean(τ_m²) / Σ_m mean(τ_m²) over the selected τ (1/N each
///    if that sum is below 1e-6).
/// 3. Erase: the TIES `sum` sign election on the (selected, unweighted) τ:
///    σ = +1 where Σ_m τ_m ≥ 0, else −1; mask_m = (sign τ_m = σ).
/// 4. θ* = θ_b + Σ_m λ_m mask_m τ_m / max(Σ_m λ_m mask_m, 1e-6).
///
/// mergekit's `int8_mask` only changes its masks' dtype and has no counterpart.
/// The variance is the two-pass Σ(τ − mean)²/N; positions where every model agrees
/// exactly have variance 0. Computed in Double. Cost: O(N n) on average.
public struct SCE: Sendable, Equatable {
    /// mergekit's `select_topk` (default 1: no selection), the share of
    /// nonzero-variance positions kept.
    public var selectTopK: Double

    /// SCE with these settings (checked when merging).
    public init(selectTopK: Double = 1) { self.selectTopK = selectTopK }

    /// Merges one tensor (flat arrays, any shape); no models returns the base.
    ///
    /// - Throws: `.invalidParameter(.selectTopK)` if negative or not finite;
    ///   `.sizeMismatch`, `.nonFinite`.
    /// - Complexity: O(N n) on average.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ tensors: [[T]], base: [T], name: String = "tensor") throws -> [T] {
        guard selectTopK.isFinite && selectTopK >= 0 else {
            throw MergingError.invalidParameter(parameter: .selectTopK, value: "\(selectTopK)", expected: "finite and ≥ 0")
        }
        try checkModels(tensors, base: base, name: name)
        guard !tensors.isEmpty else { return base }
        let n = base.count, models = tensors.count
        let b = base.map(\.doubleValue)
        var tau = tensors.map { t in (0..<n).map { t[$0].doubleValue - b[$0] } }
        if selectTopK < 1 {
            let selected = Self.selection(tau, share: selectTopK)
            for m in 0..<models { for j in 0..<n where !selected[j] { tau[m][j] = 0 } }
        }
        var energies = tau.map { t in n == 0 ? 0 : t.reduce(0) { $0 + $1 * $1 } / Double(n) }
        let total = energies.reduce(0, +)
        energies = abs(total) < 1e-6 ? energies.map { _ in 1 / Double(models) } : energies.map { $0 / total }
        var result = [Double](repeating: 0, count: n)
        for j in 0..<n {
            var vote = 0.0
            for m in 0..<models { vote += tau[m][j] }
            let majority: Double = vote >= 0 ? 1 : -1
            var sum = 0.0, weights = 0.0
            for m in 0..<models where signum(tau[m][j]) == majority {
                sum += energies[m] * tau[m][j]
                weights += energies[m]
            }
            result[j] = b[j] + sum / Swift.max(weights, 1e-6)
        }
        return result.map { T($0) }
    }

    /// The positions kept by step 1: the int(share · nonzero) of largest variance.
    static func selection(_ tau: [[Double]], share: Double) -> [Bool] {
        let n = tau.first?.count ?? 0
        guard share > 0 else { return [Bool](repeating: false, count: n) }
        let models = Double(tau.count)
        var variance = [Double](repeating: 0, count: n)
        var nonzero = 0
        for j in 0..<n {
            var sum = 0.0
            for t in tau { sum += t[j] }
            let mean = sum / models
            var squares = 0.0
            for t in tau { squares += (t[j] - mean) * (t[j] - mean) }
            variance[j] = squares / models
            if variance[j] != 0 { nonzero += 1 }
        }
        let k = Int(share * Double(nonzero))
        // Largest variance first, ties by position: increasing −variance.
        return OrderStatistics.inRankRange(variance.map { -$0 }, 0..<k)
    }
}
