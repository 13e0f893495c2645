import Compression
import LinearAlgebra
import LowRank

extension RankwiseBench {
    /// One layer `[n, n]` quantised to 4 bits, calibration Gram of `tokens`
    /// rows with outlier channels; exact EoRA and the fast path at rank 128.
    /// The relative activation error is recorded beside each time.
    mutating func eora() throws {
        let n = quick ? 1024 : 4096, tokens = quick ? 1024 : 4096, rank = 128
        var w = Matrix<Float>.random(rows: n, columns: n, seed: 11)
        w.scaleColumns(by: (0..<n).map { 1 / Float($0 + 1).squareRoot() })
        let compressed = try RoundToNearest(bits: 4, groupSize: 128).quantize(w)
        let delta = w - compressed
        var x = Matrix<Float>.random(rows: tokens, columns: n, seed: 12)
        x.scaleColumns(by: (0..<n).map { $0 % 40 == 7 ? 25 : 1 })
        let covariance = x.gram().converted(to: Double.self)
        let configurations: [(String, EoRA)] = [
            ("eora exact r=\(rank)", EoRA(rank: rank)),
            ("eora fast r=\(rank)", EoRA(rank: rank, method: .randomized(), whitening: .cholesky)),
        ]
        for (name, config) in configurations {
            var error = 0.0
            try harness.measure(suite: "eora", operation: name, dtype: "float32", size: "\(n)x\(n) N=\(tokens)",
                                implementation: Backend.current.rawValue, metricName: "activation error", metric: { error }) {
                error = try config.compensate(delta: delta, covariance: covariance).relativeError
            }
        }
    }
}
