extension GeneralizedTaskArithmetic {
    /// How each task vector δ = θ − θ_base is thinned before the merge (mergekit's
    /// `sparsify.py`). Every one leaves δ unchanged, unrescaled, when density ≥ 1.
    public enum Sparsification: String, Sendable, Equatable, CaseIterable {
        /// TIES: keep the k = int(density · n) entries of largest |δ| over the
        /// whole tensor (ties by position, first kept), zero the rest; k must be ≥ 1
        /// (mergekit asserts it). Cost: O(n) on average (selection, no sort).
        case magnitude
        /// DARE: keep each entry independently with probability density, uᵢ < density
        /// with uᵢ from `DropRandomness` (mergekit: torch's Bernoulli). Cost: O(n).
        case random
        /// Breadcrumbs: in increasing |δ| (ties by position), drop the n_bot smallest
        /// and the n_top largest: keep = int(density · n), n_top = int(gamma · n),
        /// n_bot = n − keep − n_top, and if n_bot < 0 then n_top += n_bot, n_bot = 0.
        /// Cost: O(n) on average.
        case magnitudeOutliers = "magnitude_outliers"
        /// DELLA's MagPrune: along dimension 1 (within each row of a matrix; a 1-D
        /// tensor is one row; for more dimensions, each fibre along dimension 1),
        /// rank |δ| increasingly from 1 to m (ties by position), r = (rank − 1)/(m − 1),
        /// keep probability p = (density − ε) + r · 2ε, kept when uᵢ < p. Needs
        /// 0 < density − ε and density + ε < 1; density ≤ 0 drops everything.
        /// For m = 1 mergekit divides 0 by 0 (and torch then fails); here r = ½, p = density.
        /// Cost: O(n log m).
        case dellaMagprune = "della_magprune"
    }

    /// How the kept entries of a sparsified δ are scaled back up.
    public enum Rescale: String, Sendable, Equatable, CaseIterable {
        /// Kept entries as they are (mergekit's `rescale: false`).
        case none
        /// Current mergekit's `rescale: true` (since its "generic sparsification
        /// rescaling" change): multiply the kept entries by Σ|δ| / Σ|kept δ|, so the
        /// L1 norm is unchanged; skipped when either sum is below 1e-7.
        case l1
        /// The papers' rule (and mergekit's before early 2024, for DARE): divide each
        /// kept entry by its keep probability: 1/density for DARE (random), 1/pᵢ for
        /// DELLA, and 1/density for magnitude and breadcrumbs (their kept share). Equal
        /// to `l1` in expectation for DARE.
        case inverseKeepProbability = "inverse_keep_probability"
    }
}

/// The kept positions of one task vector and what `inverseKeepProbability`
/// divides each kept entry by.
struct KeepMask: Equatable {
    var keep: [Bool]
    /// One probability for all entries, or one each (DELLA).
    var probability: [Double]

    func probability(at i: Int) -> Double { probability.count == 1 ? probability[0] : probability[i] }
}

/// The sparsifiers, on δ in Double; all validation of their parameters is here.
enum Sparsifier {
    /// TIES' magnitude mask: the int(density · n) largest |δ| (ties: earlier position first).
    static func magnitude(_ delta: [Double], density: Double, name: String) throws -> KeepMask {
        let n = delta.count
        let k = Int(density * Double(n))
        guard k > 0 else {
            throw MergingError.invalidParameter(
                parameter: .density, value: "\(density)",
                expected: "large enough that int(density · n) ≥ 1 for \(name) (n = \(n)); mergekit stops here too")
        }
        let keep = delta.withUnsafeBufferPointer { OrderStatistics.largestMagnitudes($0, count: k) }
        return KeepMask(keep: keep, probability: [density])
    }

    /// Breadcrumbs' mask. With `emptyWhenNoOutliers`, n_top = 0 keeps nothing, as
    /// mergekit's slice `[n_bot:-n_top]` does.
    static func magnitudeOutliers(_ delta: [Double], density: Double, gamma: Double, emptyWhenNoOutliers: Bool) -> KeepMask {
        let n = delta.count
        let keepCount = Int(density * Double(n))
        var top = Int(gamma * Double(n))
        var bottom = n - keepCount - top
        if bottom < 0 {
            top += bottom
            bottom = 0
        }
        if emptyWhenNoOutliers && top == 0 { return KeepMask(keep: [Bool](repeating: false, count: n), probability: [density]) }
        let keep = OrderStatistics.inRankRange(delta.map(abs), bottom..<Swift.max(bottom, n - top))
        return KeepMask(keep: keep, probability: [density])
    }

    /// DARE's mask: uᵢ < density, uᵢ from `DropRandomness` (drawn, not stored).
    static func random(count: Int, density: Double, seed: UInt64, tensor: String, model: Int) -> KeepMask {
        KeepMask(keep: DropRandomness.keepMask(count: count, probability: density, seed: seed, tensor: tensor, model: model), probability: [density])
    }

    /// DELLA's keep probabilities pᵢ (see `Sparsification.dellaMagprune`).
    static func dellaProbabilities(_ delta: [Double], shape: [Int], density: Double, epsilon: Double) -> [Double] {
        // Fibres along dimension 1: `outer` groups of `length` values `inner` apart.
        let (outer, length, inner): (Int, Int, Int)
        if shape.count < 2 {
            (outer, length, inner) = (1, delta.count, 1)
        } else {
            let rest = shape.dropFirst(2).reduce(1, *)
            (outer, length, inner) = (shape[0], shape[1], rest)
        }
        var p = [Double](repeating: density, count: delta.count)
        guard length > 1 else { return p }
        var order = [Int](repeating: 0, count: length)
        var magnitudes = [Double](repeating: 0, count: length)
        for o in 0..<outer {
            for k in 0..<inner {
                let start = o * length * inner + k
                for j in 0..<length { magnitudes[j] = abs(delta[start + j * inner]) }
                for j in 0..<length { order[j] = j }
                order.sort { magnitudes[$0] < magnitudes[$1] || (magnitudes[$0] == magnitudes[$1] && $0 < $1) }
                for (position, j) in order.enumerated() {
                    // rank − min over max − min, with ranks 1…m.
                    let r = Swift.min(Swift.max((Double(position + 1) - 1) / (Double(length) - 1), 0), 1)
                    p[start + j * inner] = (density - epsilon) + r * 2 * epsilon
                }
            }
        }
        return p
    }

    /// x where `keep`, else +0, without a branch (the masks are random, so a branch
    /// mispredicts): the bits of x and-ed with all ones or with zero.
    @inline(__always)
    static func kept(_ x: Double, _ keep: Bool) -> Double {
        Double(bitPattern: x.bitPattern & (0 &- UInt64(unsafeBitCast(keep, to: UInt8.self))))
    }

    /// δ with `mask` applied and rescaled by `rule`, in place: dropped entries
    /// become +0; `l1` multiplies the kept ones by Σ|δ| / Σ|kept δ| (both sums over
    /// the whole δ, in position order); `inverseKeepProbability` divides each by its
    /// probability. One pass (two for `l1`), no copy. Cost: O(n).
    static func apply(_ delta: inout [Double], _ mask: KeepMask, rescale rule: GeneralizedTaskArithmetic.Rescale) {
        let n = delta.count
        mask.keep.withUnsafeBufferPointer { keep in
            delta.withUnsafeMutableBufferPointer { d in
                switch rule {
                case .none:
                    for i in 0..<n { d[i] = kept(d[i], keep[i]) }
                case .l1:
                    var before = 0.0, after = 0.0
                    for i in 0..<n {
                        before += abs(d[i])
                        after += abs(kept(d[i], keep[i]))
                    }
                    if before < 1e-7 || after < 1e-7 {
                        for i in 0..<n { d[i] = kept(d[i], keep[i]) }
                    } else {
                        // Dropped entries as 0 · factor = +0.
                        let factor = before / after
                        for i in 0..<n { d[i] = kept(d[i] * factor, keep[i]) }
                    }
                case .inverseKeepProbability:
                    for i in 0..<n { d[i] = keep[i] ? d[i] / mask.probability(at: i) : 0 }
                }
            }
        }
    }
}
