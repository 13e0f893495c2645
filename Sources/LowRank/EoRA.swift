import LinearAlgebra

/// EoRA: eigenspace low-rank compensation of a compressed layer (Liu et al., 2024).
///
/// Given W, a compressed Ŵ and the calibration covariance C = X Xᵀ, find the
/// rank-r M ≈ ΔW = W − Ŵ minimising the activation error ‖(ΔW − M) X‖_F:
///
/// 1. C = Q Λ Qᵀ in Double. Eigenvalues λ ≤ max(λ_max, 0)·min(1, in·ε_f32)
///    count as zero: both √λ and 1/√λ become 0 (a truncated pseudo-inverse),
///    which keeps the factors finite for rank-deficient, noisy or slightly
///    indefinite C.
/// 2. ΔW′ = ΔW Q Λ^{1/2}; U Σ Vᵀ = SVD_r(ΔW′).
/// 3. B = U_r Σ_r^{1/2} `[out, r]`, A = Σ_r^{1/2} V_rᵀ Λ^{-1/2} Qᵀ `[r, in]`,
///    deployed as y = Ŵx + B(Ax) with scale 1 (lora_alpha = r).
///
/// With `whitening: .cholesky` any S with S Sᵀ = C gives the same optimum
/// M* = SVD_r(ΔW S) S⁻¹; the fast path takes C + δI = L Lᵀ
/// (δ = 1e-6·tr(C)/in) instead of the eigensolver (and A = Σ^{-1/2}U_rᵀΔW, no
/// triangular solve: see `choleskyPath`), about
/// a tenth of the cost, and pairs well with `.randomized` SVD. If the Cholesky
/// factorisation fails, it falls back to the eigen path and says so.
///
/// Properties (tested): the activation error equals sqrt(Σ_{i>r} σᵢ(ΔW′)²)/‖ΔW X‖
/// and never exceeds plain SVD's; B·A is unchanged when C is scaled; with
/// C ∝ I it equals plain SVD; r ≥ rank(ΔW′) leaves no weighted residual; the
/// factors stay finite for tiny, zero and negative eigenvalues, and C = 0
/// yields zero factors with a note.
public struct EoRA: Sendable, Equatable {
    /// How C is factored.
    public enum Whitening: String, Sendable, Equatable, CaseIterable {
        /// Exact: eigendecomposition of C in Double.
        case eigen
        /// Fast: Cholesky of C + δI in Double, eigen fallback.
        case cholesky
    }

    /// How many directions each layer keeps.
    public var rank: RankSelection
    /// How the SVD of ΔW′ is computed (default `.exact`).
    public var method: SVDMethod
    /// How C is factored (default `.eigen`).
    public var whitening: Whitening

    /// When set, a covariance whose smallest eigenvalue is below
    /// −tolerance·λ_max is refused (`LowRankError.indefiniteCovariance`)
    /// instead of having its negative directions treated as zero: a Gram
    /// Σ x xᵀ cannot have them beyond its rounding, so such a matrix is not
    /// calibration data. Nil (the default) accepts any symmetric C.
    public var indefiniteTolerance: Double?

    /// EoRA keeping `rank` directions, by `method`, whitening with `whitening`;
    /// `indefiniteTolerance` starts nil.
    public init(rank: RankSelection, method: SVDMethod = .exact, whitening: Whitening = .eigen) {
        self.rank = rank
        self.method = method
        self.whitening = whitening
    }

    /// EoRA keeping exactly `rank` directions (clamped to min(out, in)).
    public init(rank: Int, method: SVDMethod = .exact, whitening: Whitening = .eigen) {
        self.init(rank: .fixed(rank), method: method, whitening: whitening)
    }

    /// Compensation for `compressed` ≈ `original` (both out×in) under
    /// covariance C (in×in): the factors of ΔW = original − compressed.
    ///
    /// - Throws: `LowRankError.shapeMismatch` when the two weights differ in
    ///   shape; otherwise as `compensate(delta:covariance:)`.
    public func compensate<T: Scalar>(original: Matrix<T>, compressed: Matrix<T>, covariance: Matrix<Double>) throws -> Compensation<T> {
        guard original.rows == compressed.rows && original.columns == compressed.columns else {
            throw LowRankError.shapeMismatch(operand: "the compressed weight", shape: [compressed.rows, compressed.columns],
                                             expected: [original.rows, original.columns])
        }
        return try compensate(delta: original - compressed, covariance: covariance)
    }

    /// Compensation of an update ΔW (out×in) under covariance C (in×in):
    /// B `[out, r]`, A `[r, in]`, scale 1, with ‖ΔW X‖² and the residual
    /// ‖(ΔW − BA) X‖² measured under C.
    ///
    /// Cost: eigen, an in×in eigendecomposition (O(in³)) and the SVD of ΔW′
    /// (O(out·in·min(out, in)) exact); Cholesky, O(in³/3) plus the SVD, about
    /// a tenth of the eigen path with `.randomized`.
    ///
    /// - Throws: `LowRankError.shapeMismatch` when C is not in×in;
    ///   `.nonFiniteWeights`, `.nonFiniteCovariance` for NaN or ±∞;
    ///   `.indefiniteCovariance` when `indefiniteTolerance` is set and exceeded.
    public func compensate<T: Scalar>(delta: Matrix<T>, covariance c: Matrix<Double>) throws -> Compensation<T> {
        guard c.isSquare && c.rows == delta.columns else {
            throw LowRankError.shapeMismatch(operand: "the covariance", shape: [c.rows, c.columns], expected: [delta.columns, delta.columns])
        }
        guard delta.isFinite else { throw LowRankError.nonFiniteWeights(what: "the weight difference") }
        guard c.isFinite else { throw LowRankError.nonFiniteCovariance }
        if whitening == .cholesky {
            do {
                return try choleskyPath(delta: delta, covariance: c)
            } catch LinearAlgebraError.notPositiveDefinite(let pivot) {
                var result = try eigenPath(delta: delta, covariance: c)
                result.path = .choleskyFellBackToEigen
                result.notes.insert("Cholesky of C + δI failed at pivot \(pivot); used the eigendecomposition", at: 0)
                return result
            }
        }
        return try eigenPath(delta: delta, covariance: c)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func eigenPath<T: Scalar>(delta: Matrix<T>, covariance c: Matrix<Double>) throws -> Compensation<T> {
        let (out, n) = (delta.rows, delta.columns)
        let eig = try c.symmetricEigen()
        let lambdaMax = Swift.max(eig.values.last ?? 0, 0)
        if let tolerance = indefiniteTolerance, let smallest = eig.values.first, smallest < -tolerance * lambdaMax || (lambdaMax == 0 && smallest < 0) {
            throw LowRankError.indefiniteCovariance(smallest: smallest, largest: eig.values.last ?? 0)
        }
        let cutoff = lambdaMax * Swift.min(1, Double(n) * Double(Float.ulpOfOne))
        let kept = eig.values.map { $0 > cutoff && $0 > 0 }
        var notes: [String] = []
        guard kept.contains(true) else {
            notes.append("the covariance is zero: no input direction to compensate, the adapter is zero")
            return Compensation(factors: .zeros(rank: rank.cap(out: out, in: n), out: out, in: n), path: .eigen,
                                deltaEnergy: 0, residualEnergy: 0, notes: notes)
        }
        let dropped = kept.filter { !$0 }.count
        if dropped > 0 { notes.append("\(dropped) of \(n) covariance eigenvalues ≤ \(cutoff) treated as zero") }
        // ΔW Q Λ₊^{1/2} over every positive eigenvalue, so that ‖·‖² is the
        // true ‖ΔW X‖²; the columns of cut-off directions are then set aside:
        // their energy is left uncompensated and counted in the residual.
        var qRoot = eig.vectors
        qRoot.scaleColumns(by: eig.values.map { Swift.max($0, 0).squareRoot() })
        var deltaPrime = delta * qRoot.converted(to: T.self)
        let deltaEnergy = deltaPrime.withUnsafeBufferPointer(Matrix<T>.sumOfSquares)
        var droppedEnergy = 0.0
        if dropped > 0 {
            deltaPrime.withUnsafeMutableBufferPointer { p in
                for i in 0..<out {
                    for j in 0..<n where !kept[j] {
                        droppedEnergy += p[i * n + j].doubleValue * p[i * n + j].doubleValue
                        p[i * n + j] = 0
                    }
                }
            }
        }
        let truncation = try svd.truncation(of: deltaPrime, totalEnergy: deltaEnergy - droppedEnergy)
        let residual = truncation.residualEnergy + droppedEnergy
        var factors = truncation.factors
        // A = Σ^{1/2} Vᵀ Λ^{-1/2} Qᵀ, formed in Double.
        var scaledVt = factors.a.converted(to: Double.self)
        scaledVt.scaleColumns(by: zip(eig.values, kept).map { $1 ? 1 / $0.squareRoot() : 0 })
        factors.a = Matrix.product(scaledVt, .none, eig.vectors, .transposed).converted()
        return Compensation(factors: factors, path: .eigen, deltaEnergy: deltaEnergy, residualEnergy: residual, notes: notes)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func choleskyPath<T: Scalar>(delta: Matrix<T>, covariance c: Matrix<Double>) throws -> Compensation<T> {
        let n = delta.columns
        let shift = 1e-6 * c.trace() / Double(n)
        let l = try c.addingToDiagonal(shift).cholesky()
        let deltaPrime = delta * l.converted(to: T.self)
        // ‖ΔW L‖² = tr(ΔW (C + δI) ΔWᵀ): remove the shift to get ‖ΔW X‖².
        let deltaEnergy = Swift.max(0, deltaPrime.withUnsafeBufferPointer(Matrix<T>.sumOfSquares)
                                           - shift * delta.withUnsafeBufferPointer(Matrix<T>.sumOfSquares))
        // The truncation's own residual is ‖ΔW L − U_rΣ_rV_rᵀ‖², measured with
        // C + δI and for the √Σ split; the factors below differ (A from ΔW),
        // so the residual is measured on them under C itself.
        let svd = try self.svd.truncation(of: deltaPrime, totalEnergy: deltaEnergy).triplets
        // A = Σ^{1/2} Vᵀ L⁻¹ = Σ^{-1/2} Uᵀ ΔW, because ΔW L = U Σ Vᵀ gives
        // Vᵀ = Σ⁻¹ Uᵀ ΔW L (for the exact SVD, and for the randomized one,
        // whose U Σ Vᵀ is the projection U Uᵀ ΔW L). One r×out×in GEMM instead
        // of a triangular solve with L, and no amplification by cond(L):
        // B A = U_r U_rᵀ ΔW, the projection of ΔW onto the leading left
        // singular vectors of ΔW L. Directions with σ ≈ 0 carry no energy and
        // get a zero row.
        let sigmaCut = (svd.singularValues.first ?? 0).doubleValue * Double(T.ulpOfOne) * Double(Swift.max(delta.rows, n))
        var a = Matrix.product(svd.u, .transposed, delta, .none)
        a.scaleRows(by: svd.singularValues.map { $0.doubleValue > sigmaCut ? 1 / $0.squareRoot() : 0 })
        var b = svd.u
        b.scaleColumns(by: svd.singularValues.map { $0.squareRoot() })
        let factors = LowRankFactors(a: a, b: b)
        let residual = LowRankMetrics.residualActivationEnergy(delta: delta, factors: factors, covariance: c, deltaEnergy: deltaEnergy)
        return Compensation(factors: factors, path: .cholesky, deltaEnergy: deltaEnergy, residualEnergy: residual,
                            notes: ["C + δI with δ = \(shift)"])
    }

    /// The truncated SVD of the whitened difference ΔW′, with this EoRA's
    /// rank selection and SVD method.
    var svd: TruncatedSVD { TruncatedSVD(rank: rank, method: method) }
}

/// The result of a compensation: the factors and what it took.
public struct Compensation<Element: Scalar>: Sendable {
    /// How the factors were computed.
    public enum Path: String, Sendable, Equatable {
        /// EoRA with the eigendecomposition of C.
        case eigen
        /// EoRA with the Cholesky factor of C + δI.
        case cholesky
        /// Cholesky was asked for, C + δI was not positive definite, the eigen path ran.
        case choleskyFellBackToEigen = "cholesky→eigen"
        /// `SVDCompensation`: no covariance.
        case plainSVD = "svd"
    }

    /// B `[out, r]` and A `[r, in]`, scale 1.
    public var factors: LowRankFactors<Element>
    /// How the factors were computed.
    public var path: Path
    /// ‖ΔW X‖²_F (or ‖ΔW‖²_F for plain SVD).
    public var deltaEnergy: Double
    /// ‖(ΔW − BA) X‖²_F (or ‖ΔW − BA‖²_F for plain SVD).
    public var residualEnergy: Double
    /// Warnings and remarks for reports (zero covariance, dropped eigenvalues, fallbacks).
    public var notes: [String]

    /// A result from its parts (the energies as defined above).
    public init(factors: LowRankFactors<Element>, path: Path, deltaEnergy: Double, residualEnergy: Double, notes: [String] = []) {
        self.factors = factors
        self.path = path
        self.deltaEnergy = deltaEnergy
        self.residualEnergy = residualEnergy
        self.notes = notes
    }

    /// ‖(ΔW − BA) X‖ / ‖ΔW X‖ (Frobenius for plain SVD); 0 when ΔW X = 0.
    public var relativeError: Double {
        deltaEnergy > 0 ? (residualEnergy / deltaEnergy).squareRoot() : 0
    }
}

/// Plain SVD compensation, the baseline without calibration data:
/// B A = SVD_r(ΔW) with the √Σ split, the best rank-r approximation of ΔW in
/// Frobenius norm; its residual is the spectral tail Σ_{i>r} σᵢ(ΔW)² (see
/// `TruncatedSVD.truncation(of:totalEnergy:)`).
public struct SVDCompensation: Sendable, Equatable {
    /// The rank selection and SVD method.
    public var svd: TruncatedSVD

    /// Plain SVD keeping `rank` directions, computed by `method`.
    public init(rank: RankSelection, method: SVDMethod = .exact) {
        svd = TruncatedSVD(rank: rank, method: method)
    }

    /// Plain SVD keeping exactly `rank` directions (clamped to min(out, in)).
    public init(rank: Int, method: SVDMethod = .exact) {
        self.init(rank: .fixed(rank), method: method)
    }

    /// Compensation of ΔW = original − compressed (both out×in).
    ///
    /// - Throws: `LowRankError.shapeMismatch` when the shapes differ;
    ///   `.nonFiniteWeights` for NaN or ±∞ in ΔW.
    public func compensate<T: Scalar>(original: Matrix<T>, compressed: Matrix<T>) throws -> Compensation<T> {
        guard original.rows == compressed.rows && original.columns == compressed.columns else {
            throw LowRankError.shapeMismatch(operand: "the compressed weight", shape: [compressed.rows, compressed.columns],
                                             expected: [original.rows, original.columns])
        }
        return try compensate(delta: original - compressed)
    }

    /// Compensation of ΔW (out×in): factors B `[out, r]`, A `[r, in]`,
    /// `deltaEnergy` = ‖ΔW‖²_F and `residualEnergy` = ‖ΔW − BA‖²_F.
    /// Cost: one SVD of ΔW.
    ///
    /// - Throws: `LowRankError.nonFiniteWeights` for NaN or ±∞ in ΔW.
    public func compensate<T: Scalar>(delta: Matrix<T>) throws -> Compensation<T> {
        guard delta.isFinite else { throw LowRankError.nonFiniteWeights(what: "the weight difference") }
        let truncation = try svd.truncation(of: delta)
        return Compensation(factors: truncation.factors, path: .plainSVD,
                            deltaEnergy: truncation.totalEnergy, residualEnergy: truncation.residualEnergy)
    }
}
