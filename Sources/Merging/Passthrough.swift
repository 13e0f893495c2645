import LinearAlgebra

/// mergekit's `passthrough`: one model's tensor, copied (optionally scaled).
///
/// θ* = s · θ with mergekit's per-model `scale` s (default: none, an exact copy).
/// Used with `slices` to stack layers of different models ("frankenmerges"); which
/// source layer feeds which output layer is `LayerSlicePlan`'s part. Cost: O(n).
public struct Passthrough: Sendable, Equatable {
    /// mergekit's optional per-model `scale` (nil: the tensor is copied unchanged).
    public var scale: Double?

    /// Passthrough with an optional scale (checked when merging).
    public init(scale: Double? = nil) { self.scale = scale }

    /// The tensor of exactly one model, scaled if `scale` is set.
    ///
    /// - Throws: `.modelCount` unless exactly one tensor; `.invalidParameter(.scale)`
    ///   if the scale is not finite; `.nonFinite`.
    /// - Complexity: O(n).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ tensors: [[T]], name: String = "tensor") throws -> [T] {
        guard tensors.count == 1 else { throw MergingError.modelCount(method: "passthrough", expected: "exactly one model", got: tensors.count) }
        guard let scale else { return tensors[0] }
        guard scale.isFinite else { throw MergingError.invalidParameter(parameter: .scale, value: "\(scale)", expected: "finite") }
        try checkModels(tensors, base: nil, name: name)
        return tensors[0].map { T(scale * $0.doubleValue) }
    }
}
