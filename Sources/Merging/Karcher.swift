import LinearAlgebra

/// mergekit's `karcher`: the Karcher (Riemannian, Fréchet) mean of the models'
/// directions on the unit sphere, scaled by their mean norm.
///
/// Each tensor is one vector θ_i with norm n_i and direction u_i = θ_i/n_i (u_i = 0
/// when n_i = 0); every model weighs α_i = 1/N (mergekit has no weights). Only
/// models with n_i > tol take part, their α renormalised to ᾱ (none: the result is
/// zero). Start from u = Σ ᾱ_i u_i normalised (the first such u_i if ‖u‖ < tol),
/// then up to `maxIter` times: c_i = clamp(u·u_i, −1, 1), φ_i = arccos c_i,
/// T = Σ_{φ_i ≥ tol} ᾱ_i (φ_i / sin φ_i)(u_i − c_i u) (the mean of the log maps);
/// stop if ‖T‖ < tol, else u ← cos‖T‖ u + sin‖T‖ T/‖T‖, renormalised (if its norm
/// exceeds tol). The result is (Σ_i α_i n_i) u, with the original α (zero tensors
/// included, as mergekit).
///
/// Identical tensors give that tensor; a single tensor is returned as it is.
/// Computed in Double (mergekit: norms in float32, the rest in the tensors' dtype).
/// Cost: O(maxIter · N · n).
public struct Karcher: Sendable, Equatable {
    /// mergekit's `max_iter` (default 10): the most gradient steps on the sphere.
    public var maxIter: Int
    /// mergekit's `tol` (default 1e-5): the step norm that ends the iteration, and the
    /// norm and angle below which a model or a term is ignored.
    public var tol: Double

    /// A Karcher mean with these settings (checked when merging).
    public init(maxIter: Int = 10, tol: Double = 1e-5) {
        self.maxIter = maxIter
        self.tol = tol
    }

    /// Merges one tensor of every model (flat arrays, any shape; at least one).
    ///
    /// - Throws: `.tooFewModels(0)`; `.invalidParameter` naming `max_iter` (< 0) or
    ///   `tol` (negative or not finite); `.sizeMismatch`, `.nonFinite`.
    /// - Complexity: O(maxIter · N · n).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ tensors: [[T]], name: String = "tensor") throws -> [T] {
        guard maxIter >= 0 else { throw MergingError.invalidParameter(parameter: .maxIter, value: "\(maxIter)", expected: "≥ 0") }
        guard tol.isFinite && tol >= 0 else { throw MergingError.invalidParameter(parameter: .tol, value: "\(tol)", expected: "finite and ≥ 0") }
        guard !tensors.isEmpty else { throw MergingError.tooFewModels(0) }
        try checkModels(tensors, base: nil, name: name)
        if tensors.count == 1 { return tensors[0] }
        let n = tensors[0].count
        let alpha = 1 / Double(tensors.count)
        var norms: [Double] = []
        var units: [[Double]] = []
        for t in tensors {
            let x = t.map(\.doubleValue)
            let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
            norms.append(norm)
            units.append(norm == 0 ? [Double](repeating: 0, count: n) : x.map { $0 / norm })
        }
        let valid = norms.indices.filter { norms[$0] > tol }
        guard let first = valid.first else { return [T](repeating: 0, count: n) }
        let alphaSum = Double(valid.count) * alpha
        let weights = valid.map { _ in alpha / alphaSum }

        var mean = [Double](repeating: 0, count: n)
        for (w, i) in zip(weights, valid) { for j in 0..<n { mean[j] += w * units[i][j] } }
        let meanNorm = norm(mean)
        if meanNorm < tol { mean = units[first] } else { for j in 0..<n { mean[j] /= meanNorm } }

        for _ in 0..<maxIter {
            var tangent = [Double](repeating: 0, count: n)
            for (w, i) in zip(weights, valid) {
                var dot = 0.0
                for j in 0..<n { dot += mean[j] * units[i][j] }
                let c = Swift.min(Swift.max(dot, -1), 1)
                let phi = _acos(c)
                if phi < tol { continue }
                let factor = w * (phi / _sin(phi))
                for j in 0..<n { tangent[j] += factor * (units[i][j] - c * mean[j]) }
            }
            let step = norm(tangent)
            if step < tol { break }
            let (cosStep, sinStep) = (_cos(step), _sin(step))
            for j in 0..<n { mean[j] = cosStep * mean[j] + sinStep * (tangent[j] / step) }
            let length = norm(mean)
            if length > tol { for j in 0..<n { mean[j] /= length } }
        }
        let scale = norms.reduce(0) { $0 + alpha * $1 }
        return mean.map { T(scale * $0) }
    }

    private func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
