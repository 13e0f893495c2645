import Compression
import LinearAlgebra
import LowRank

extension RankwiseBench {
    /// The EoRA cases: a layer `[out, in]` quantised to 4 bits, a calibration
    /// Gram of `tokens` rows with outlier channels, compensated at `rank`.
    /// `Benchmarks/reference/eora.py` runs the same list.
    var eoraCases: [(out: Int, in: Int, tokens: Int, rank: Int)] {
        let minilm = [(out: 1536, in: 384, tokens: 12288, rank: 32), (out: 384, in: 1536, tokens: 12288, rank: 32)]
        return quick ? [(1024, 1024, 1024, 128)] + minilm
                     : [(4096, 4096, 4096, 128), (2048, 2048, 4096, 64)] + minilm
    }

    /// Exact EoRA and the fast path (Cholesky whitening, randomized SVD) for
    /// every case, on every backend; the relative activation error is
    /// recorded beside each time.
    mutating func eora() throws {
        for (out, inFeatures, tokens, rank) in eoraCases {
            var w = Matrix<Float>.random(rows: out, columns: inFeatures, seed: 11)
            w.scaleColumns(by: (0..<inFeatures).map { 1 / Float($0 + 1).squareRoot() })
            let compressed = try RoundToNearest(bits: 4, groupSize: 128).quantize(w)
            let delta = w - compressed
            var x = Matrix<Float>.random(rows: tokens, columns: inFeatures, seed: 12)
            x.scaleColumns(by: (0..<inFeatures).map { $0 % 40 == 7 ? 25 : 1 })
            let covariance = x.gram().converted(to: Double.self)
            let configurations: [(String, EoRA)] = [
                ("eora exact r=\(rank)", EoRA(rank: rank)),
                ("eora fast r=\(rank)", EoRA(rank: rank, method: .randomized(), whitening: .cholesky)),
            ]
            for (name, config) in configurations {
                var errors: [String: Double] = [:]
                let first = harness.records.count
                try harness.compare(suite: "eora", operation: name, dtype: "float32", size: "\(out)x\(inFeatures) N=\(tokens)",
                                    backends.map { backend in (backend.rawValue, {
                                        errors[backend.rawValue] = try Backend.withCurrent(backend) {
                                            try config.compensate(delta: delta, covariance: covariance).relativeError
                                        }
                                    }) })
                for i in first..<harness.records.count {
                    harness.records[i].metric = errors[harness.records[i].implementation]
                    harness.records[i].metricName = "activation error"
                }
            }
        }
    }
}
