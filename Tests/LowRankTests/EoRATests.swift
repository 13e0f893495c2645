import Compression
import Testing
import LinearAlgebra
import TestSupport
@testable import LowRank

@Suite("EoRA and SVD compensation (spec P1–P4, fast path)")
struct EoRATests {
    static let out = 48, inFeatures = 40, tokens = 120

    static func setup<T: Scalar>(_: T.Type) throws -> (w: Matrix<T>, wq: Matrix<T>, x: Matrix<Double>, c: Matrix<Double>) {
        let w = weight(T.self, out: out, in: inFeatures, seed: 1)
        let wq = try RoundToNearest(bits: 3, groupSize: 8).quantize(w)
        let (x, c) = calibration(inFeatures: inFeatures, tokens: tokens, seed: 2)
        return (w, wq, x, c)
    }

    /// P1: the reported error equals the explicit ‖(ΔW − BA)X‖/‖ΔW X‖ and the
    /// tail of ΔW′'s spectrum, and never exceeds plain SVD's at the same rank.
    static func p1<T: Scalar>(_: T.Type) throws {
        let (w, wq, x, c) = try setup(T.self)
        let delta = w - wq
        let tol = T.precision == .single ? 2e-4 : 1e-9
        for r in [1, 4, 12, 39] {
            let eora = try EoRA(rank: r).compensate(original: w, compressed: wq, covariance: c)
            #expect(eora.factors.a.rows == r && eora.factors.a.columns == inFeatures && eora.factors.b.rows == out)
            let explicit = activationNorm(delta - eora.factors.product(), x) / activationNorm(delta, x)
            #expect(abs(eora.relativeError - explicit) <= tol, "r = \(r): reported \(eora.relativeError), explicit \(explicit)")
            let metric = LowRankMetrics.relativeActivationError(delta: delta, factors: eora.factors, covariance: c)
            #expect(abs(metric - explicit) <= tol)
            // The tail of σ(ΔW′) with ΔW′ = ΔW Q Λ^{1/2}.
            let eig = try c.symmetricEigen()
            var qRoot = eig.vectors
            qRoot.scaleColumns(by: eig.values.map { Swift.max($0, 0).squareRoot() })
            let sigma = try (delta.converted(to: Double.self) * qRoot).singularValues()
            let tail = sigma.dropFirst(r).map { $0 * $0 }.reduce(0, +).squareRoot()
            #expect(abs(explicit - tail / activationNorm(delta, x)) <= tol * 10)
            let plain = try SVDCompensation(rank: r).compensate(original: w, compressed: wq)
            let plainActivation = activationNorm(delta - plain.factors.product(), x) / activationNorm(delta, x)
            #expect(explicit <= plainActivation + tol, "EoRA is never worse than plain SVD in activation error")
        }
    }

    /// P2: scaling C leaves B·A unchanged; P3: C ∝ I gives plain SVD, and
    /// r ≥ rank(ΔW′) leaves no residual.
    static func p2p3<T: Scalar>(_: T.Type) throws {
        let (w, wq, _, c) = try setup(T.self)
        let tol = T.precision == .single ? 2e-4 : 1e-9
        let r = 6
        let base = try EoRA(rank: r).compensate(original: w, compressed: wq, covariance: c).factors
        for factor in [1e-6, 3.0, 1e5] {
            let scaled = try EoRA(rank: r).compensate(original: w, compressed: wq, covariance: factor * c).factors
            #expect(maxDifference(scaled.product(), base.product()) <= tol * Double(base.product().maxAbs()) * 10, "C × \(factor)")
        }
        let identity = try EoRA(rank: r).compensate(original: w, compressed: wq, covariance: 7 * Matrix<Double>.identity(inFeatures)).factors
        let plain = try SVDCompensation(rank: r).compensate(original: w, compressed: wq).factors
        #expect(maxDifference(identity.product(), plain.product()) <= tol * Double(plain.product().maxAbs()) * 10, "C ∝ I is plain SVD")
        // ΔW of rank 3: r = 3 and r = 5 both leave nothing.
        let lowRankDelta: Matrix<T> = (Matrix<Double>.random(rows: out, columns: 3, seed: 4) * Matrix<Double>.random(rows: 3, columns: inFeatures, seed: 5)).converted()
        for rank in [3, 5] {
            let result = try EoRA(rank: rank).compensate(delta: lowRankDelta, covariance: c)
            #expect(result.relativeError <= tol * 10, "rank(ΔW′) = 3, r = \(rank): residual \(result.relativeError)")
        }
    }

    /// P4: finite factors for covariances with tiny, zero and negative
    /// eigenvalues, and zero factors (with a note) for C = 0.
    static func p4<T: Scalar>(_: T.Type) throws {
        let (w, wq, _, _) = try setup(T.self)
        let (_, lowRankC) = calibration(inFeatures: inFeatures, tokens: 5, seed: 9)  // rank 5 of 40
        var indefinite = lowRankC
        for i in 0..<inFeatures { indefinite[i, i] -= 1e-9 * Double(i % 3) }  // slightly negative eigenvalues
        let tiny = 1e-300 * lowRankC
        for (label, c) in [("rank 5", lowRankC), ("indefinite", indefinite), ("tiny", tiny)] {
            for whitening in EoRA.Whitening.allCases {
                let result = try EoRA(rank: 8, whitening: whitening).compensate(original: w, compressed: wq, covariance: c)
                #expect(result.factors.a.isFinite && result.factors.b.isFinite, "\(label), \(whitening): finite")
                #expect(result.relativeError <= 1 + 1e-6)
            }
        }
        let zero = try EoRA(rank: 8).compensate(original: w, compressed: wq, covariance: .zeros(rows: inFeatures, columns: inFeatures))
        #expect(zero.factors.product().maxAbs() == 0 && zero.factors.rank == 8)
        #expect(zero.notes.contains { $0.contains("zero") })
        // As many tokens as inputs, with outliers: the eigenvalue cut-off binds,
        // and the reported error must still be the true ‖(ΔW − BA)X‖/‖ΔW X‖.
        let (x, square) = calibration(inFeatures: inFeatures, tokens: inFeatures, seed: 13)
        let delta = w - wq
        for whitening in EoRA.Whitening.allCases {
            let result = try EoRA(rank: 8, whitening: whitening).compensate(delta: delta, covariance: square)
            let explicit = activationNorm(delta - result.factors.product(), x) / activationNorm(delta, x)
            #expect(abs(result.relativeError - explicit) <= (T.precision == .single ? 1e-3 : 1e-8), "\(whitening): \(result.relativeError) vs \(explicit)")
        }
        let fast = try EoRA(rank: 8, whitening: .cholesky).compensate(original: w, compressed: wq, covariance: .zeros(rows: inFeatures, columns: inFeatures))
        #expect(fast.path == .choleskyFellBackToEigen && fast.factors.product().maxAbs() == 0)
    }

    /// The fast path (Cholesky + randomized SVD) lands within 1% of exact EoRA.
    static func fastPath<T: Scalar>(_: T.Type) throws {
        let out = 160, inFeatures = 128
        let w = weight(T.self, out: out, in: inFeatures, seed: 11)
        let wq = try RoundToNearest(bits: 4, groupSize: 32).quantize(w)
        let (_, c) = calibration(inFeatures: inFeatures, tokens: 400, seed: 12)
        for r in [8, 16, 32] {
            let exact = try EoRA(rank: r).compensate(original: w, compressed: wq, covariance: c)
            let fast = try EoRA(rank: r, method: .randomized(), whitening: .cholesky).compensate(original: w, compressed: wq, covariance: c)
            #expect(fast.path == .cholesky)
            #expect(fast.relativeError <= exact.relativeError * 1.01, "r = \(r): fast \(fast.relativeError) vs exact \(exact.relativeError)")
            let checked = LowRankMetrics.relativeActivationError(delta: w - wq, factors: fast.factors, covariance: c)
            #expect(abs(checked - fast.relativeError) <= 1e-3)
        }
    }

    @Test("P1: error equals the spectral tail and never exceeds plain SVD", arguments: testBackends, ScalarKind.allCases)
    func testP1(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.p1($0) } }
    }

    @Test("P2/P3: C-scale invariance, C ∝ I is plain SVD, exact low rank", arguments: testBackends, ScalarKind.allCases)
    func testP2P3(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.p2p3($0) } }
    }

    @Test("P4: degenerate covariances", arguments: testBackends, ScalarKind.allCases)
    func testP4(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.p4($0) } }
    }

    @Test("fast path within 1% of exact EoRA", arguments: testBackends, ScalarKind.allCases)
    func testFastPath(backend: Backend, scalar: ScalarKind) throws {
        try Backend.withCurrent(backend) { try withScalar(scalar) { try Self.fastPath($0) } }
    }

    @Test("errors: non-finite weights or covariance, mismatched shapes")
    func errors() throws {
        let (w, wq, _, c) = try Self.setup(Float.self)
        var bad = w
        bad[0, 0] = .nan
        #expect(throws: LowRankError.nonFiniteWeights(what: "the weight difference")) { try EoRA(rank: 2).compensate(original: bad, compressed: wq, covariance: c) }
        var badC = c
        badC[1, 1] = .infinity
        #expect(throws: LowRankError.nonFiniteCovariance) { try EoRA(rank: 2).compensate(original: w, compressed: wq, covariance: badC) }
        #expect(throws: LowRankError.self) { try EoRA(rank: 2).compensate(original: w, compressed: wq, covariance: .identity(3)) }
        #expect(throws: LowRankError.self) { try SVDCompensation(rank: 2).compensate(original: w, compressed: wq.leadingRows(3)) }
    }

    @Test("ΔW = 0 and r ≥ min(out, in)")
    func degenerateRanks() throws {
        let (w, _, _, c) = try Self.setup(Double.self)
        let none = try EoRA(rank: 4).compensate(original: w, compressed: w, covariance: c)
        #expect(none.relativeError == 0 && none.factors.product().maxAbs() < 1e-12)
        let full = try EoRA(rank: 500).compensate(original: w, compressed: .zeros(rows: Self.out, columns: Self.inFeatures), covariance: c)
        #expect(full.factors.rank == Self.inFeatures && full.relativeError < 1e-8)
    }
}
