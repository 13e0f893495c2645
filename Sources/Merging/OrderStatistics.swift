import LinearAlgebra

/// Selection by rank without sorting: which values fall in a range of ranks of
/// the order "by value, then by index" (so ties are broken by position, the same
/// way in Swift and in the numpy reference's stable argsort).
enum OrderStatistics {
    /// The k-th smallest of `values` (0-based), by quickselect with a
    /// median-of-three pivot; `values` is reordered. Cost: O(n) on average.
    @_specialize(where V == Double)
    @_specialize(where V == UInt64)
    static func select<V: Comparable>(_ values: inout [V], _ k: Int) -> V {
        precondition(k >= 0 && k < values.count)
        return values.withUnsafeMutableBufferPointer { v -> V in
            var low = 0, high = v.count - 1
            while low < high {
                let mid = low + (high - low) / 2
                // Median of three as the pivot, which also guards both scans.
                if v[mid] < v[low] { v.swapAt(mid, low) }
                if v[high] < v[low] { v.swapAt(high, low) }
                if v[high] < v[mid] { v.swapAt(high, mid) }
                let pivot = v[mid]
                var i = low, j = high
                while i <= j {
                    while v[i] < pivot { i += 1 }
                    while pivot < v[j] { j -= 1 }
                    if i <= j {
                        v.swapAt(i, j)
                        i += 1
                        j -= 1
                    }
                }
                // Now v[low...j] ≤ pivot ≤ v[i...high], and v[j+1..<i] == pivot.
                if k <= j { high = j } else if k >= i { low = i } else { return v[k] }
            }
            return v[k]
        }
    }

    /// Whether each position's rank lies in `ranks`, ranks counted from 0 in the
    /// order of increasing `values`, equal values in increasing position. Values
    /// must not be NaN. Cost: O(n) on average (two selections and two scans).
    static func inRankRange(_ values: [Double], _ ranks: Range<Int>) -> [Bool] {
        let n = values.count
        let ranks = ranks.clamped(to: 0..<n)
        guard !ranks.isEmpty else { return [Bool](repeating: false, count: n) }
        if ranks == 0..<n { return [Bool](repeating: true, count: n) }
        // A range that reaches an end needs one selection: the other bound is the minimum or the maximum.
        var scratch = values
        let low = ranks.lowerBound == 0 ? values.min()! : select(&scratch, ranks.lowerBound)
        let high = ranks.upperBound == n ? values.max()! : select(&scratch, ranks.upperBound - 1)
        var belowLow = 0, belowHigh = 0
        for x in values {
            if x < low { belowLow += 1 }
            if x < high { belowHigh += 1 }
        }
        // Equal values take consecutive ranks in position order.
        var seenLow = 0, seenHigh = 0
        return values.map { x in
            if x < low || x > high { return false }
            if x == low {
                let rank = belowLow + seenLow
                seenLow += 1
                return ranks.contains(rank)
            }
            if x == high {
                let rank = belowHigh + seenHigh
                seenHigh += 1
                return ranks.contains(rank)
            }
            return true
        }
    }
}

extension OrderStatistics {
    /// Whether each position is among the `k` of largest |value|, equal magnitudes
    /// in increasing position (so ±0 tie, and the earlier of equal values is kept):
    /// the same set as `inRankRange(values.map { -abs($0) }, 0..<k)`. Values must
    /// not be NaN; k is clamped to 0…n.
    ///
    /// A radix select on the bit pattern of |x|, whose order as an unsigned integer
    /// is the order of the magnitudes of non-NaN Doubles: one pass counts the top 16
    /// bits into a histogram, which gives the bucket of the k-th largest; a second
    /// collects that bucket's keys, among which a quickselect finds the threshold;
    /// a third writes the mask. Each pass runs in chunks across threads (`Backend.forEachChunk`),
    /// and the result does not depend on the chunking. Cost: O(n) (three passes over
    /// the values), plus O(b) on average for the b keys of the threshold's bucket;
    /// memory 512 KiB per chunk and b words.
    static func largestMagnitudes(_ values: UnsafeBufferPointer<Double>, count k: Int) -> [Bool] {
        let n = values.count
        if k <= 0 { return [Bool](repeating: false, count: n) }
        if k >= n { return [Bool](repeating: true, count: n) }
        let shift: UInt64 = 47, buckets = 1 << 16
        @inline(__always) func key(_ x: Double) -> UInt64 { x.bitPattern & 0x7FFF_FFFF_FFFF_FFFF }
        let chunks = Swift.max(1, Swift.min(Backend.threadCount, n >> 16))
        func range(_ c: Int) -> Range<Int> { (c * n / chunks)..<((c + 1) * n / chunks) }

        // 1. Histograms of the top 16 bits, one per chunk, then their sum.
        var histograms = [[Int]](repeating: [], count: chunks)
        histograms.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let slots = slots
            Backend.forEachChunk(chunks) { c in
                var h = [Int](repeating: 0, count: buckets)
                h.withUnsafeMutableBufferPointer { h in
                    for i in range(c) { h[Int(truncatingIfNeeded: key(values[i]) >> shift)] += 1 }
                }
                slots[c] = h
            }
        }
        // The bucket of the k-th largest, and how many of the k lie above it.
        var bucket = buckets - 1, above = 0
        while true {
            var inBucket = 0
            for h in histograms { inBucket += h[bucket] }
            if above + inBucket >= k { break }
            above += inBucket
            bucket -= 1
        }
        // 2. That bucket's keys, chunk by chunk in position order.
        var candidates = [[UInt64]](repeating: [], count: chunks)
        candidates.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let slots = slots
            Backend.forEachChunk(chunks) { c in
                var found: [UInt64] = []
                found.reserveCapacity(histograms[c][bucket])
                let b = UInt64(bucket)
                for i in range(c) where key(values[i]) >> shift == b { found.append(key(values[i])) }
                slots[c] = found
            }
        }
        var pool = Array(candidates.joined())
        // The threshold: the (k − above)-th largest of the bucket.
        let threshold = select(&pool, pool.count - (k - above))
        var strictlyAbove = above
        for x in pool where x > threshold { strictlyAbove += 1 }
        // 3. The mask: everything above the threshold, and its first k − strictlyAbove copies.
        var equalBefore = [Int](repeating: 0, count: chunks)
        for c in 1..<Swift.max(1, chunks) {
            equalBefore[c] = equalBefore[c - 1] + candidates[c - 1].reduce(0) { $0 + ($1 == threshold ? 1 : 0) }
        }
        let equalKept = k - strictlyAbove
        return [Bool](unsafeUninitializedCapacity: n) { mask, initialized in
            nonisolated(unsafe) let mask = mask
            Backend.forEachChunk(chunks) { c in
                var seen = equalBefore[c]
                for i in range(c) {
                    let x = key(values[i])
                    var kept = x > threshold
                    if x == threshold {
                        kept = seen < equalKept
                        seen += 1
                    }
                    (mask.baseAddress! + i).initialize(to: kept)
                }
            }
            initialized = n
        }
    }
}
