import Compression
import LinearAlgebra
import ModelSurgery
import WeightFiles

/// One row of the quality table: a way of compressing the demo model, its
/// activation error and its size on disk.
struct QualityRow: Codable {
    var quantizer: String
    var method: String
    var rank: Int
    var activationError: Double
    /// Packed weights (qweight, qzeros, F16 scales, g_idx) plus the adapter in F16.
    var bytes: Int
    /// The F16 model's bytes, for the ratio.
    var modelBytes: Int
}

extension RankwiseBench {
    /// The GPTQ cases: one layer `[n, n]` and a calibration Gram of `tokens`
    /// rows with outlier channels; `Benchmarks/reference/gptq.py` runs the same.
    var gptqCases: [(n: Int, tokens: Int)] { quick ? [(1024, 1024)] : [(4096, 4096)] }

    /// GPTQ (4-bit, groups of 128, asymmetric, damping 0.01) and SparseGPT
    /// (50 % unstructured) of one layer on every backend; the relative
    /// activation error tr(ΔHΔᵀ)/tr(WHWᵀ) is recorded beside each time.
    mutating func gptq() throws {
        for (n, tokens) in gptqCases {
            var w = Matrix<Float>.random(rows: n, columns: n, seed: 11)
            w.scaleColumns(by: (0..<n).map { 1 / Float($0 + 1).squareRoot() })
            var x = Matrix<Float>.random(rows: tokens, columns: n, seed: 12)
            x.scaleColumns(by: (0..<n).map { $0 % 40 == 7 ? 25 : 1 })
            let h = x.gram().converted(to: Double.self)
            let wh = w.converted(to: Double.self)
            let energy = (wh * h).hadamard(wh).elements.reduce(0, +)
            func error(_ q: Matrix<Float>) -> Double {
                let d = (w - q).converted(to: Double.self)
                return ((d * h).hadamard(d).elements.reduce(0, +) / energy).squareRoot()
            }
            let rows: [(String, () throws -> Matrix<Float>)] = [
                ("gptq-4bit-g128", { try GPTQ(bits: 4, groupSize: 128).quantize(w, hessian: h).quantized.dequantized }),
                ("sparsegpt-50%", { try SparseGPT(pattern: .unstructured(sparsity: 0.5)).prune(w, hessian: h).weight }),
            ]
            for (name, run) in rows {
                var results: [String: Matrix<Float>] = [:]
                let first = harness.records.count
                try harness.compare(suite: "gptq", operation: name, dtype: "float32", size: "\(n)x\(n) N=\(tokens)",
                                    backends.map { backend in (backend.rawValue, {
                                        results[backend.rawValue] = try Backend.withCurrent(backend) { try run() }
                                    }) })
                // The error is measured after the timing (it costs two n³ products).
                for i in first..<harness.records.count {
                    harness.records[i].metric = results[harness.records[i].implementation].map(error)
                    harness.records[i].metricName = "activation error"
                }
            }
        }
    }

    /// The demo model (`rankwise demo`'s: 2 Llama-shaped blocks) at 4 bits,
    /// groups of 64: RTN and GPTQ, each alone and with EoRA (and plain SVD)
    /// at rank 32; activation error over all layers and bytes on disk.
    mutating func gptqQuality() throws {
        let demo = CompensationDemo(ranks: [32])
        let result = try demo.run()
        let layers = demo.model.layers
        let modelBytes = layers.map { 2 * $0.out * $0.inFeatures }.reduce(0, +)
        let packedBytes = layers.map { layer in
            PackedLinear.storedLayout(format: .gptqV2, bits: demo.bits, outFeatures: layer.out, inFeatures: layer.inFeatures,
                                      groupCount: layer.inFeatures / demo.groupSize)
                .map { $0.shape.reduce(1, *) * $0.dtype.size }.reduce(0, +)
        }.reduce(0, +)
        for row in result.rows {
            quality.append(QualityRow(quantizer: row.quantizer.rawValue, method: row.method.rawValue, rank: row.rank,
                                      activationError: row.activationError, bytes: packedBytes + 2 * row.adapterParameters,
                                      modelBytes: modelBytes))
        }
    }
}
