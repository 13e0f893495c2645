import LinearAlgebra

/// How the leading singular triplets are computed.
public enum SVDMethod: Sendable, Equatable {
    /// The exact thin SVD (LAPACK `gesdd`), truncated.
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
public struct TruncatedSVD: Sendable, Equatable {
    public var rank: RankSelection
    public var method: SVDMethod

    public init(rank: RankSelection, method: SVDMethod = .exact) {
        self.rank = rank
        self.method = method
    }

    public init(rank: Int, method: SVDMethod = .exact) {
        self.init(rank: .fixed(rank), method: method)
    }

    /// Factors s·B·A (s = 1) of `m` (out×in).
    ///
    /// - Throws: `LowRankError.nonFiniteWeights` for NaN/∞ entries.
    public func factorize<T: Scalar>(_ m: Matrix<T>) throws -> LowRankFactors<T> {
        guard m.isFinite else { throw LowRankError.nonFiniteWeights(what: "the matrix to factorize") }
        let cap = rank.cap(out: m.rows, in: m.columns)
        let svd = try method.leading(cap, of: m)
        let r: Int
        switch rank {
        case .fixed: r = svd.rank
        case .energy(let fraction, _):
            r = energyRank(svd.singularValues, total: squaredNorm(m), fraction: fraction)
        }
        return splitSquareRoot(svd.truncated(to: r))
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

/// B = U Σ^{1/2}, A = Σ^{1/2} Vᵀ.
func splitSquareRoot<T: Scalar>(_ svd: SVD<T>) -> LowRankFactors<T> {
    let roots = svd.singularValues.map { $0.squareRoot() }
    var b = svd.u, a = svd.vt
    b.scaleColumns(by: roots)
    a.scaleRows(by: roots)
    return LowRankFactors(a: a, b: b)
}

/// ‖M‖²_F accumulated in Double.
@_specialize(where T == Float)
@_specialize(where T == Double)
func squaredNorm<T: Scalar>(_ m: Matrix<T>) -> Double {
    m.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + $1.doubleValue * $1.doubleValue } }
}
