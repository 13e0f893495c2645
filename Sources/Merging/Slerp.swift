import LinearAlgebra

/// mergekit's `slerp`: spherical interpolation between the base and one other
/// model, the whole tensor as one vector.
///
/// With a = θ_base, b = θ_model (flattened), â = a/‖a‖ if ‖a‖ > 1e-8 else a (same
/// for b), d = Σ âᵢ b̂ᵢ:
/// - if |d| > 0.9995 (`colinearThreshold`; nearly parallel or antiparallel) the
///   result is the linear (1 − t) a + t b;
/// - else Ω = arccos d and the result is sin(Ω − tΩ)/sin Ω · a + sin(tΩ)/sin Ω · b.
///
/// The norms only measure the angle: the coefficients multiply the raw tensors, so
/// the result's norm is not interpolated. t = 0 gives the base, t = 1 the model,
/// exactly; t outside [0, 1] extrapolates. mergekit passes a tensor that only one
/// model has through unchanged (the caller's part). Computed in Double (mergekit:
/// numpy float32). Cost: O(n).
public struct Slerp: Sendable, Equatable {
    /// mergekit's threshold on |cos Ω| above which the tensors count as colinear.
    public static let colinearThreshold = 0.9995
    /// Norms at or below this are not divided by when measuring the angle.
    public static let normEpsilon = 1e-8

    /// mergekit's `t` (required there): 0 is the base, 1 the other model.
    public var t: Double

    /// Slerp at `t` (checked when merging).
    public init(t: Double) { self.t = t }

    /// Merges one tensor of the base and one other model (flat arrays, any shape).
    ///
    /// - Throws: `MergingError.invalidParameter(.t)` for a non-finite t; `.sizeMismatch`,
    ///   `.nonFinite` naming `name`.
    /// - Complexity: O(n), two passes.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ model: [T], base: [T], name: String = "tensor") throws -> [T] {
        guard t.isFinite else { throw MergingError.invalidParameter(parameter: .t, value: "\(t)", expected: "finite") }
        try checkModels([model], base: base, name: name)
        var aa = 0.0, bb = 0.0, ab = 0.0
        for j in base.indices {
            let a = base[j].doubleValue, b = model[j].doubleValue
            aa += a * a
            bb += b * b
            ab += a * b
        }
        let na = aa.squareRoot(), nb = bb.squareRoot()
        let dot = ab / ((na > Self.normEpsilon ? na : 1) * (nb > Self.normEpsilon ? nb : 1))
        let (s0, s1): (Double, Double)
        if abs(dot) > Self.colinearThreshold {
            (s0, s1) = (1 - t, t)
        } else {
            let omega = _acos(dot)
            let sinOmega = _sin(omega)
            let omegaT = omega * t
            (s0, s1) = (_sin(omega - omegaT) / sinOmega, _sin(omegaT) / sinOmega)
        }
        // Elementwise: chunks of 64K values across threads.
        let n = base.count, chunk = 1 << 16, chunks = (n + chunk - 1) / chunk
        return [T](unsafeUninitializedCapacity: n) { result, initialized in
            base.withUnsafeBufferPointer { a in
                model.withUnsafeBufferPointer { b in
                    nonisolated(unsafe) let result = result.baseAddress
                    Backend.forEachChunk(chunks) { c in
                        for j in (c * chunk)..<Swift.min(n, (c + 1) * chunk) {
                            (result! + j).initialize(to: T(s0 * a[j].doubleValue + s1 * b[j].doubleValue))
                        }
                    }
                }
            }
            initialized = n
        }
    }
}

/// mergekit's `nuslerp`: spherical interpolation of two models, or of their task
/// vectors when a base is given, per tensor or per row.
///
/// t = w₂/(w₁ + w₂) from the two models' `weight`s (0.5 if |w₁ + w₂| < 1e-6). With
/// a base, θ* = θ_b + slerp_t(θ₁ − θ_b, θ₂ − θ_b); without, θ* = slerp_t(θ₁, θ₂),
/// where for each vector pair v₀, v₁: uᵢ = vᵢ / max(‖vᵢ‖, 1e-7), c = clamp(u₀·u₁, −1, 1),
/// θ = arccos c, and the result is (sin((1 − t)θ) v₀ + sin(tθ) v₁) / sin θ, or the
/// linear (1 − t) v₀ + t v₁ where |sin θ| < 1e-8 (no 0.9995 threshold, unlike `Slerp`).
///
/// The vectors: the whole tensor with `flatten` (mergekit's `nuslerp_flatten`,
/// default true); otherwise the fibres along the last dimension (each row of an
/// `[out, in]` weight), or with `rowWise` (`nuslerp_row_wise`, default false) along
/// dimension 0 (each column: mergekit's naming is the reverse of its effect). A 1-D
/// tensor is one vector either way. Computed in Double (mergekit: in the input dtype).
/// Cost: O(n).
public struct NuSlerp: Sendable, Equatable {
    /// Below this |sin θ| the pair counts as colinear and is interpolated linearly.
    public static let colinearEpsilon = 1e-8

    /// mergekit's per-model `weight` of the two models (required there; nil: equal, t = ½).
    public var weights: [Double]?
    /// mergekit's `nuslerp_flatten` (default true): the whole tensor is one vector.
    public var flatten: Bool
    /// mergekit's `nuslerp_row_wise` (default false): without `flatten`, vectors run
    /// along dimension 0 (columns) instead of the last dimension (rows).
    public var rowWise: Bool

    /// NuSlerp with these settings (checked when merging).
    public init(weights: [Double]? = nil, flatten: Bool = true, rowWise: Bool = false) {
        self.weights = weights
        self.flatten = flatten
        self.rowWise = rowWise
    }

    /// t = w₂/(w₁ + w₂), or ½ when |w₁ + w₂| < 1e-6.
    ///
    /// - Throws: `.weightCount` unless two weights, `.invalidParameter(.weights)` if not finite.
    public func interpolationFactor() throws -> Double {
        guard let w = weights else { return 0.5 }
        guard w.count == 2 else { throw MergingError.weightCount(expected: 2, got: w.count) }
        guard w.allSatisfy(\.isFinite) else { throw MergingError.invalidParameter(parameter: .weights, value: "\(w)", expected: "finite") }
        let sum = w[0] + w[1]
        return abs(sum) < 1e-6 ? 0.5 : w[1] / sum
    }

    /// Merges one tensor of exactly two models, with an optional base.
    ///
    /// - Parameters:
    ///   - tensors: θ₁, θ₂ (flat, row-major), in the order of `weights`.
    ///   - base: θ_b, or nil to interpolate the models themselves.
    ///   - shape: the tensor's shape (the vectors' layout when not flattened; nil: one dimension).
    ///   - name: the tensor's name, for errors.
    /// - Throws: `.modelCount` unless two models; `.weightCount`, `.invalidParameter`
    ///   (weights, shape), `.sizeMismatch`, `.nonFinite`.
    /// - Complexity: O(n).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ tensors: [[T]], base: [T]? = nil, shape: [Int]? = nil, name: String = "tensor") throws -> [T] {
        guard tensors.count == 2 else { throw MergingError.modelCount(method: "nuslerp", expected: "exactly two models (and an optional base)", got: tensors.count) }
        let t = try interpolationFactor()
        try checkModels(tensors, base: base, name: name)
        let n = tensors[0].count
        let shape = try checkedShape(shape, count: n, name: name)
        var v0 = tensors[0].map(\.doubleValue), v1 = tensors[1].map(\.doubleValue)
        if let base {
            for j in 0..<n {
                let b = base[j].doubleValue
                v0[j] -= b
                v1[j] -= b
            }
        }
        // Vectors: `count` of them, `length` values `stride` apart, vector i starting at start(i).
        let (count, length, stride): (Int, Int, Int)
        let start: (Int) -> Int
        if flatten || shape.count < 2 {
            (count, length, stride) = (n == 0 ? 0 : 1, n, 1)
            start = { _ in 0 }
        } else if rowWise {
            let inner = n / Swift.max(shape[0], 1)
            (count, length, stride) = (shape[0] == 0 ? 0 : inner, shape[0], inner)
            start = { $0 }
        } else {
            let last = shape[shape.count - 1]
            (count, length, stride) = (last == 0 ? 0 : n / last, last, 1)
            start = { $0 * last }
        }
        var result = [Double](repeating: 0, count: n)
        for i in 0..<count {
            let s = start(i)
            var n0 = 0.0, n1 = 0.0, dot = 0.0
            for k in 0..<length {
                let a = v0[s + k * stride], b = v1[s + k * stride]
                n0 += a * a
                n1 += b * b
                dot += a * b
            }
            let cosine = Swift.min(Swift.max(dot / (Swift.max(n0.squareRoot(), 1e-7) * Swift.max(n1.squareRoot(), 1e-7)), -1), 1)
            let theta = _acos(cosine)
            let sinTheta = _sin(theta)
            let (c0, c1): (Double, Double)
            if abs(sinTheta) < Self.colinearEpsilon {
                (c0, c1) = (1 - t, t)
            } else {
                (c0, c1) = (_sin((1 - t) * theta) / sinTheta, _sin(t * theta) / sinTheta)
            }
            for k in 0..<length {
                let j = s + k * stride
                result[j] = c0 * v0[j] + c1 * v1[j]
            }
        }
        if let base { for j in 0..<n { result[j] += base[j].doubleValue } }
        return result.map { T($0) }
    }
}
