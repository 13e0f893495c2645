import LinearAlgebra

/// Error measures for a low-rank approximation s·B·A of an update ΔW.
///
/// Notation: X holds calibration inputs as columns and C = X Xᵀ `[in, in]`.
/// The activation energy of a matrix M is ‖M X‖²_F = tr(M C Mᵀ). The
/// functions here never form ΔW·X, and avoid the out·in² product ΔW·C where
/// the caller already knows tr(ΔW C ΔWᵀ): with E = ΔW − sBA,
///
///     tr(E C Eᵀ) = tr(ΔW C ΔWᵀ) − 2s·tr(Bᵀ ΔW (A C)ᵀ) + s²·tr((A C Aᵀ)(BᵀB)),
///
/// which costs r·in² + out·in·r flops. Everything is accumulated in Double.
public enum LowRankMetrics {
    /// ‖M X‖²_F = tr(M C Mᵀ). Cost: out·in² flops (one GEMM in Double).
    public static func activationEnergy<T: Scalar>(_ m: Matrix<T>, covariance c: Matrix<Double>) -> Double {
        precondition(c.rows == m.columns && c.isSquare, "activationEnergy: C is \(c.rows)×\(c.columns), M has \(m.columns) columns")
        guard !m.isEmpty else { return 0 }
        let md = m.converted(to: Double.self)
        return Swift.max(0, sumOfProducts(md * c, md))
    }

    /// ‖M X‖²_F = tr(M C Mᵀ) computed in M's own precision (a Float GEMM for
    /// Float weights: half the time of the Double version, ~1e-6 relative
    /// accuracy, enough for reports).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func activationEnergy<T: Scalar>(_ m: Matrix<T>, covariance c: Matrix<T>) -> Double {
        precondition(c.rows == m.columns && c.isSquare, "activationEnergy: C is \(c.rows)×\(c.columns), M has \(m.columns) columns")
        guard !m.isEmpty else { return 0 }
        let mc = m * c
        return mc.withUnsafeBufferPointer { p in
            m.withUnsafeBufferPointer { q in
                var s = 0.0
                for i in 0..<p.count { s += p[i].doubleValue * q[i].doubleValue }
                return Swift.max(0, s)
            }
        }
    }

    /// ‖(ΔW − sBA) X‖²_F from C and the known ‖ΔW X‖²_F (clamped at 0 against
    /// rounding).
    public static func residualActivationEnergy<T: Scalar>(
        delta: Matrix<T>, factors: LowRankFactors<T>, covariance c: Matrix<Double>, deltaEnergy: Double
    ) -> Double {
        guard factors.rank > 0 else { return deltaEnergy }
        let s = Double(factors.scale)
        let a = factors.a.converted(to: Double.self), b = factors.b.converted(to: Double.self)
        let ac = a * c                                                     // r×in
        let deltaACt = Matrix.product(delta.converted(to: Double.self), .none, ac, .transposed)  // out×r
        let cross = sumOfProducts(deltaACt, b)                             // tr(Bᵀ ΔW (AC)ᵀ)
        let acat = Matrix.product(ac, .none, a, .transposed)               // r×r
        let btb = b.gram()                                                 // r×r
        let quadratic = sumOfProducts(acat, btb)                           // tr((ACAᵀ)(BᵀB)), both symmetric
        return Swift.max(0, deltaEnergy - 2 * s * cross + s * s * quadratic)
    }

    /// ‖(ΔW − sBA) X‖_F / ‖ΔW X‖_F (0 when ΔW X = 0). Cost: out·in² flops
    /// for ‖ΔW X‖; pass `deltaEnergy` when it is known to skip that.
    public static func relativeActivationError<T: Scalar>(
        delta: Matrix<T>, factors: LowRankFactors<T>, covariance c: Matrix<Double>, deltaEnergy: Double? = nil
    ) -> Double {
        let base = deltaEnergy ?? activationEnergy(delta, covariance: c)
        guard base > 0 else { return 0 }
        return (residualActivationEnergy(delta: delta, factors: factors, covariance: c, deltaEnergy: base) / base).squareRoot()
    }

    /// ‖ΔW − sBA‖_F / ‖ΔW‖_F (0 when ΔW = 0), without forming BA:
    /// ‖E‖² = ‖ΔW‖² − 2s·tr(Bᵀ ΔW Aᵀ) + s²·tr((AAᵀ)(BᵀB)).
    public static func relativeFrobeniusError<T: Scalar>(delta: Matrix<T>, factors: LowRankFactors<T>) -> Double {
        let base = delta.withUnsafeBufferPointer(Matrix<T>.sumOfSquares)
        guard base > 0 else { return 0 }
        guard factors.rank > 0 else { return 1 }
        let s = Double(factors.scale)
        let a = factors.a.converted(to: Double.self), b = factors.b.converted(to: Double.self)
        let cross = sumOfProducts(Matrix.product(delta.converted(to: Double.self), .none, a, .transposed), b)
        let quadratic = sumOfProducts(Matrix.product(a, .none, a, .transposed), b.gram())
        return (Swift.max(0, base - 2 * s * cross + s * s * quadratic) / base).squareRoot()
    }
}

/// Σᵢⱼ xᵢⱼ yᵢⱼ = tr(Xᵀ Y).
func sumOfProducts(_ x: Matrix<Double>, _ y: Matrix<Double>) -> Double {
    precondition(x.rows == y.rows && x.columns == y.columns)
    return x.withUnsafeBufferPointer { px in
        y.withUnsafeBufferPointer { py in
            var s = 0.0
            for i in 0..<px.count { s += px[i] * py[i] }
            return s
        }
    }
}
