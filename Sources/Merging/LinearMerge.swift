import LinearAlgebra

/// Weighted averaging of parameters: θ* = Σᵢ wᵢ θᵢ / Σᵢ wᵢ (normalised, the
/// default) or Σᵢ wᵢ θᵢ. Equal weights by default (a "model soup").
public struct LinearMerge: Sendable, Equatable {
    /// wᵢ, one per model (nil: equal weights).
    public var weights: [Double]?
    /// Divide by Σᵢ wᵢ (default true); the weights must then not sum to zero.
    public var normalize: Bool

    /// A weighted average with these settings.
    public init(weights: [Double]? = nil, normalize: Bool = true) {
        self.weights = weights
        self.normalize = normalize
    }

    /// Merges one tensor given as flat arrays (any shape), one per model.
    public func merge<T: Scalar>(_ tensors: [[T]], name: String = "tensor") throws -> [T] {
        let w = try resolvedWeights(weights, models: tensors.count)
        try checkSameSize(tensors, name: name)
        let total = w.reduce(0, +)
        if normalize && total == 0 { throw MergingError.invalidParameter(parameter: .weights, value: "\(w)", expected: "of nonzero sum to be normalised") }
        let factors = normalize ? w.map { $0 / total } : w
        return weightedSum(tensors, factors)
    }
}

/// Task arithmetic (Ilharco et al., 2023): θ* = θ_base + λ Σᵢ wᵢ (θᵢ − θ_base),
/// λ = 1 and wᵢ = 1 by default.
public struct TaskArithmetic: Sendable, Equatable {
    /// wᵢ per task vector (nil: all 1).
    public var weights: [Double]?
    /// λ, the scale of the summed task vectors (default 1; may be negative).
    public var lambda: Double

    /// Task arithmetic with these settings.
    public init(weights: [Double]? = nil, lambda: Double = 1) {
        self.weights = weights
        self.lambda = lambda
    }

    /// Merges one tensor: `tensors` are the fine-tuned models, `base` the
    /// shared starting point.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ tensors: [[T]], base: [T], name: String = "tensor") throws -> [T] {
        // One fine-tuned model is enough here: base + λ·(θ₁ − base) scales a task vector.
        guard !tensors.isEmpty else { throw MergingError.tooFewModels(0) }
        let w = weights ?? Array(repeating: 1, count: tensors.count)
        guard w.count == tensors.count else { throw MergingError.weightCount(expected: tensors.count, got: w.count) }
        try checkSameSize(tensors + [base], name: name)
        var out = base.map(\.doubleValue)
        for (t, wi) in zip(tensors, w) {
            for j in out.indices { out[j] += lambda * wi * (t[j].doubleValue - base[j].doubleValue) }
        }
        return out.map { T($0) }
    }
}

/// Σᵢ fᵢ tᵢ accumulated in Double.
@_specialize(where T == Float)
@_specialize(where T == Double)
func weightedSum<T: Scalar>(_ tensors: [[T]], _ factors: [Double]) -> [T] {
    let count = tensors[0].count
    var sum = [Double](repeating: 0, count: count)
    for (t, f) in zip(tensors, factors) {
        t.withUnsafeBufferPointer { p in
            for j in 0..<count { sum[j] += f * p[j].doubleValue }
        }
    }
    return sum.map { T($0) }
}
