import LinearAlgebra

/// AIM relaxation (Nobari et al., 2025), applied after any merge: input
/// channels the base model uses heavily keep more of the base weights.
///
/// a = mean |x| per input channel of the base model, a ← a / max(a),
/// ρ = 1 − a(1 − ω) with ω ∈ [0, 1] (default 0.4), and
/// W_final = W_base + (W_merged − W_base) ⊙ ρ, ρ broadcast along the input
/// (column) axis. ω = 1 returns the merge unchanged.
public struct AIM: Sendable, Equatable {
    /// ω ∈ [0, 1] (default 0.4, the paper's): how much of the merge the
    /// busiest channel keeps.
    public var omega: Double

    /// AIM with the given ω (checked when relaxing).
    public init(omega: Double = 0.4) { self.omega = omega }

    /// The relaxed weight for a linear layer `[out, in]` with per-input
    /// activation magnitudes `absMean` (length in). Cost: O(out·in).
    ///
    /// - Throws: `MergingError.invalidParameter(.omega)` for ω outside [0, 1];
    ///   `.sizeMismatch` and `.nonFinite` naming `name`.
    public func relax<T: Scalar>(merged: Matrix<T>, base: Matrix<T>, absMean: [Double], name: String = "tensor") throws -> Matrix<T> {
        guard (0...1).contains(omega) else { throw MergingError.invalidParameter(parameter: .omega, value: "\(omega)", expected: "in [0, 1]") }
        guard merged.rows == base.rows && merged.columns == base.columns else {
            throw MergingError.sizeMismatch(tensor: name, detail: "merged is \(merged.rows)×\(merged.columns), base is \(base.rows)×\(base.columns)")
        }
        guard absMean.count == merged.columns else {
            throw MergingError.sizeMismatch(tensor: name, detail: "\(absMean.count) activation means for \(merged.columns) inputs")
        }
        guard absMean.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw MergingError.nonFinite(tensor: name, what: "the activation means (they must be finite and ≥ 0)")
        }
        let peak = absMean.max() ?? 0
        guard peak > 0 else { return merged }
        let rho = absMean.map { T(1 - ($0 / peak) * (1 - omega)) }
        var delta = merged - base
        delta.scaleColumns(by: rho)
        return base + delta
    }
}
