import LinearAlgebra

/// mergekit's `nearswap`: take the other model's value where it is close to the
/// base's, keep the base where they differ much.
///
/// Elementwise, w = clamp(t / max(|θ_b − θ|, 1e-6), 0, 1) and θ* = w θ + (1 − w) θ_b:
/// where |θ_b − θ| ≤ t the other model's value is taken whole, beyond it the
/// share falls as t/|θ_b − θ|. Computed in Double. Cost: O(n).
public struct NearSwap: Sendable, Equatable {
    /// mergekit's `t` (required there): the "sameness" threshold, finite. As in
    /// current mergekit, t ≤ 0 makes every w = 0 and returns the base (older
    /// mergekit refused t ≤ 0).
    public var t: Double

    /// NearSwap at threshold `t` (checked when merging).
    public init(t: Double) { self.t = t }

    /// Merges one tensor of the base and one other model (flat arrays, any shape).
    ///
    /// - Throws: `.invalidParameter(.t)` unless t is finite; `.sizeMismatch`, `.nonFinite`.
    /// - Complexity: O(n).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ model: [T], base: [T], name: String = "tensor") throws -> [T] {
        guard t.isFinite else { throw MergingError.invalidParameter(parameter: .t, value: "\(t)", expected: "finite") }
        try checkModels([model], base: base, name: name)
        return (0..<base.count).map { j in
            let a = base[j].doubleValue, b = model[j].doubleValue
            let w = Swift.min(Swift.max(t / Swift.max(abs(a - b), 1e-6), 0), 1)
            return T(w * b + (1 - w) * a)
        }
    }
}
