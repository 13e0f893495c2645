import LinearAlgebra

/// How the leading singular triplets are computed.
public enum SVDMethod: Sendable, Equatable {
    /// The exact thin SVD, truncated: `Matrix.svd()` (LAPACK `gesdd`) for
    /// Double matrices; for Float matrices the eigendecomposition, in Double,
    /// of the Gram matrix on the shorter side (see
    /// `TruncatedSVD.truncation(of:totalEnergy:)`).
    case exact
    /// Halko–Martinsson–Tropp randomized SVD: sketch width r + `oversampling`,
    /// `powerIterations` QR-stabilised subspace iterations, Gaussian test
    /// matrix from `seed`. Falls back to exact when r + p ≥ min(m, n).
    case randomized(oversampling: Int = 10, powerIterations: Int = 4, seed: UInt64 = 0)

    /// The leading `rank` triplets of `m` by this method.
    public func leading<T: Scalar>(_ rank: Int, of m: Matrix<T>) throws -> SVD<T> {
        switch self {
        case .exact:
            return try m.svd().truncated(to: rank)
        case .randomized(let oversampling, let powerIterations, let seed):
            return try m.randomizedSVD(rank: rank, oversampling: oversampling, powerIterations: powerIterations, seed: seed)
        }
    }
}

/// How many singular directions to keep.
public enum RankSelection: Sendable, Equatable {
    /// Exactly r (clamped to min(out, in)).
    case fixed(Int)
    /// The smallest r with Σ_{i≤r} σᵢ² ≥ τ·‖M‖²_F, capped at `maxRank`.
    /// The total energy is ‖M‖²_F, so a randomized SVD of width `maxRank`
    /// suffices.
    case energy(fraction: Double, maxRank: Int)

    /// The largest rank this selection can return for an out×in matrix.
    func cap(out: Int, in inFeatures: Int) -> Int {
        switch self {
        case .fixed(let r): return Swift.min(r, out, inFeatures)
        case .energy(_, let maxRank): return Swift.min(maxRank, out, inFeatures)
        }
    }
}

/// Truncated-SVD compression of a matrix into PEFT factors with the √Σ split:
/// M ≈ U_r Σ_r V_rᵀ = B A with B = U_r Σ_r^{1/2} `[out, r]`, A = Σ_r^{1/2} V_rᵀ
/// `[r, in]`, so B and A carry equal norms.
///
/// By Eckart–Young the result is the best rank-r approximation in Frobenius
/// (and spectral) norm; its error is sqrt(Σ_{i>r} σᵢ²).
///
/// This is the one truncated-SVD path of the module: `truncation(of:totalEnergy:)`
/// decides the rank and the leftover energy, and `factorize(_:)`,
/// `SVDCompensation` and both whitening paths of `EoRA` call it.
public struct TruncatedSVD: Sendable, Equatable {
    /// How many singular directions to keep.
    public var rank: RankSelection
    /// How the leading triplets are computed (default `.exact`).
    public var method: SVDMethod

    /// Keeps `rank` directions computed by `method`.
    public init(rank: RankSelection, method: SVDMethod = .exact) {
        self.rank = rank
        self.method = method
    }

    /// Keeps exactly `rank` directions (clamped to min(out, in)).
    public init(rank: Int, method: SVDMethod = .exact) {
        self.init(rank: .fixed(rank), method: method)
    }

    /// Factors s·B·A (s = 1) of `m` (out×in): B `[out, r]`, A `[r, in]` with
    /// the √Σ split, r chosen by `rank`.
    ///
    /// Cost: the SVD of `m` (exact: O(out·in·min(out, in)); randomized:
    /// O(out·in·(r + p)·(q + 1))).
    ///
    /// - Throws: `LowRankError.nonFiniteWeights` for NaN/∞ entries.
    public func factorize<T: Scalar>(_ m: Matrix<T>) throws -> LowRankFactors<T> {
        guard m.isFinite else { throw LowRankError.nonFiniteWeights(what: "the matrix to factorize") }
        return try truncation(of: m).factors
    }

    /// The leading triplets of `m` (out×in) chosen by `rank` and computed by
    /// `method`, and the energy they leave, ‖M − U_r Σ_r V_rᵀ‖²_F.
    ///
    /// - The kept rank r is min(cap, rank of the computed SVD) for `.fixed`,
    ///   with cap = min(r, out, in); for `.energy(τ, maxRank)` it is the
    ///   smallest r ≤ min(maxRank, out, in) with Σ_{i≤r} σᵢ² ≥ τ·total.
    /// - The residual: with `.exact` the full spectrum is computed and the tail
    ///   Σ_{i>r} σᵢ² is summed directly (no cancellation); a randomized SVD is
    ///   an orthogonal projection, so its residual is max(0, total − Σ_{i≤r} σᵢ²).
    /// - `.exact` on a Float matrix M (out×in, k = min(out, in)): M is widened
    ///   to Double, G = MMᵀ or MᵀM (k×k) formed and eigendecomposed in Double;
    ///   σᵢ = √λᵢ, the kept vectors on the short side are G's eigenvectors and
    ///   those on the long side the columns of M·v (or Mᵀ·u) orthonormalised
    ///   by QR. The Gram squares the condition number, but in Double: σᵢ has
    ///   absolute error about ε_Double·σ₁²/σᵢ, below the Float SVD's ε_Float·σ₁
    ///   for every σᵢ > 1e-9·σ₁, and the vectors of a gap δ in σ are accurate
    ///   to about ε_Double·σ₁/δ. Double's eigensolver on k×k takes 0.6–0.75 of
    ///   a Float SVD's time (measured at 2048² and 4096²; 0.5 at 384×1536).
    ///
    /// `totalEnergy` is ‖M‖²_F unless the caller knows a better total (EoRA's
    /// Cholesky path passes the unshifted ‖ΔW X‖²); it sets the energy
    /// threshold and, for `.randomized`, the residual. `m` must be finite.
    ///
    /// Cost: exact, one thin SVD of `m`, O(out·in·min(out, in)); randomized,
    /// O(out·in·(cap + p)·(q + 1)).
    public func truncation<T: Scalar>(of m: Matrix<T>, totalEnergy: Double? = nil) throws -> Truncation<T> {
        let total = totalEnergy ?? m.withUnsafeBufferPointer(Matrix<T>.sumOfSquares)
        let cap = rank.cap(out: m.rows, in: m.columns)
        let computed: SVD<T>
        let squares: [Double]
        if method == .exact && T.precision == .single && cap > 0 {
            (computed, squares) = try Self.leadingThroughDoubleGram(m, count: cap)
        } else {
            computed = method == .exact ? try m.svd() : try method.leading(cap, of: m)
            squares = computed.singularValues.map { $0.doubleValue * $0.doubleValue }
        }
        var r = Swift.min(cap, computed.rank)
        if case .energy(let fraction, _) = rank {
            r = energyRank(Array(computed.singularValues.prefix(r)), total: total, fraction: fraction)
        }
        let residual = method == .exact
            ? squares.dropFirst(r).reduce(0, +)
            : Swift.max(0, total - squares.prefix(r).reduce(0, +))
        return Truncation(triplets: computed.truncated(to: r), totalEnergy: total, residualEnergy: residual)
    }

    /// The leading `count` (1...min(out, in)) singular triplets of m through
    /// the Double eigendecomposition of its Gram matrix on the shorter side,
    /// and every σᵢ² (descending, k = min(out, in) of them). See
    /// `truncation(of:totalEnergy:)`.
    static func leadingThroughDoubleGram<T: Scalar>(_ m: Matrix<T>, count: Int) throws -> (SVD<T>, [Double]) {
        let wide = m.rows <= m.columns
        let d = m.converted(to: Double.self)
        let eig = try (wide ? Matrix.product(d, .none, d, .transposed) : d.gram()).symmetricEigen()
        let k = eig.values.count
        let squares = eig.values.reversed().map { Swift.max($0, 0) }
        // Short side: the eigenvectors of the `count` largest eigenvalues, largest first.
        let short = Matrix<Double>(rows: k, columns: count) { i, j in eig.vectors[i, k - 1 - j] }
        // Long side: M·v (or Mᵀ·u) is σ times the partner vector; QR orthonormalises it (and completes
        // a basis where σ = 0), with signs taken so that R's diagonal is non-negative.
        let factorization = try Matrix.product(d, wide ? .transposed : .none, short, .none).qr()
        var long = factorization.q
        long.scaleColumns(by: (0..<count).map { factorization.r[$0, $0] < 0 ? -1 : 1 })
        let sigma = squares.prefix(count).map { T($0.squareRoot()) }
        let svd = wide
            ? SVD(u: short.converted(to: T.self), singularValues: sigma, vt: long.transposed().converted(to: T.self))
            : SVD(u: long.converted(to: T.self), singularValues: sigma, vt: short.transposed().converted(to: T.self))
        return (svd, squares)
    }
}

/// The result of `TruncatedSVD.truncation(of:totalEnergy:)`: the kept
/// singular triplets of a matrix M (out×in) and the energy they leave.
public struct Truncation<Element: Scalar>: Sendable {
    /// U_r `[out, r]`, σ₁ ≥ … ≥ σ_r, V_rᵀ `[r, in]`.
    public var triplets: SVD<Element>
    /// The total energy the rank was chosen against, ‖M‖²_F by default.
    public var totalEnergy: Double
    /// ‖M − U_r Σ_r V_rᵀ‖²_F (see `TruncatedSVD.truncation(of:totalEnergy:)`).
    public var residualEnergy: Double

    /// Wraps triplets and their energies.
    public init(triplets: SVD<Element>, totalEnergy: Double, residualEnergy: Double) {
        self.triplets = triplets
        self.totalEnergy = totalEnergy
        self.residualEnergy = residualEnergy
    }

    /// The kept rank r.
    public var rank: Int { triplets.rank }

    /// The √Σ split, B = U_r Σ_r^{1/2} `[out, r]` and A = Σ_r^{1/2} V_rᵀ
    /// `[r, in]`, scale 1. Cost: O((out + in)·r) (copies and scales U_r, V_rᵀ).
    public var factors: LowRankFactors<Element> {
        let roots = triplets.singularValues.map { $0.squareRoot() }
        var b = triplets.u, a = triplets.vt
        b.scaleColumns(by: roots)
        a.scaleRows(by: roots)
        return LowRankFactors(a: a, b: b)
    }
}

/// Smallest r with Σ_{i≤r} σᵢ² ≥ τ·total (all of `singularValues` if never reached).
@_specialize(where T == Float)
@_specialize(where T == Double)
func energyRank<T: Scalar>(_ singularValues: [T], total: Double, fraction: Double) -> Int {
    guard total > 0 else { return 0 }
    var captured = 0.0
    for (i, s) in singularValues.enumerated() {
        captured += s.doubleValue * s.doubleValue
        if captured >= fraction * total { return i + 1 }
    }
    return singularValues.count
}
