/// Selection by rank without sorting: which values fall in a range of ranks of
/// the order "by value, then by index" (so ties are broken by position, the same
/// way in Swift and in the numpy reference's stable argsort).
enum OrderStatistics {
    /// The k-th smallest of `values` (0-based), by quickselect with a
    /// median-of-three pivot; `values` is reordered. Cost: O(n) on average.
    static func select(_ values: inout [Double], _ k: Int) -> Double {
        precondition(k >= 0 && k < values.count)
        return values.withUnsafeMutableBufferPointer { v -> Double in
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
