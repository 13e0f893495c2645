import Foundation
import LinearAlgebra

#if canImport(Glibc)
import Glibc
#endif

/// The token-wise building blocks of the forward passes, on `[tokens, features]`
/// Float matrices (one row per token). All in Float, as Hugging Face computes
/// on CPU; reductions (norms, softmax) accumulate in Double for stability.
enum Layers {
    /// y = x·Wᵀ + b: x `[tokens, in]`, W `[out, in]` (PyTorch's Linear layout), b `[out]`.
    static func linear(_ x: Matrix<Float>, _ w: Matrix<Float>, bias: [Float]? = nil) -> Matrix<Float> {
        var y = Matrix<Float>.zeros(rows: x.rows, columns: w.rows)
        Matrix.gemm(x, .none, w, .transposed, into: &y)
        if let bias {
            let n = y.columns
            y.withUnsafeMutableBufferPointer { p in
                for i in 0..<x.rows { for j in 0..<n { p[i * n + j] += bias[j] } }
            }
        }
        return y
    }

    /// LayerNorm over each row: (x − μ)/√(σ² + ε)·γ + β, σ² the biased variance.
    static func layerNorm(_ x: inout Matrix<Float>, weight: [Float], bias: [Float], epsilon: Float) {
        let n = x.columns, rows = x.rows
        x.withUnsafeMutableBufferPointer { p in
            for i in 0..<rows {
                let row = p.baseAddress! + i * n
                var sum = 0.0
                for j in 0..<n { sum += Double(row[j]) }
                let mean = sum / Double(n)
                var squares = 0.0
                for j in 0..<n { let d = Double(row[j]) - mean; squares += d * d }
                let scale = Float(1 / (squares / Double(n) + Double(epsilon)).squareRoot())
                let m = Float(mean)
                for j in 0..<n { row[j] = (row[j] - m) * scale * weight[j] + bias[j] }
            }
        }
    }

    /// RMSNorm over each row: x/√(mean(x²) + ε)·w.
    static func rmsNorm(_ x: Matrix<Float>, weight: [Float], epsilon: Float) -> Matrix<Float> {
        var y = x
        let n = x.columns
        y.withUnsafeMutableBufferPointer { p in
            for i in 0..<x.rows {
                let row = p.baseAddress! + i * n
                var squares = 0.0
                for j in 0..<n { squares += Double(row[j]) * Double(row[j]) }
                let scale = Float(1 / (squares / Double(n) + Double(epsilon)).squareRoot())
                for j in 0..<n { row[j] = row[j] * scale * weight[j] }
            }
        }
        return y
    }

    /// The activation applied elementwise, in place, in parallel chunks.
    static func activate(_ x: inout Matrix<Float>, _ activation: Activation) {
        let count = x.count
        x.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let p = buffer
            let chunks = Swift.max(1, Swift.min(64, count / 16384))
            Backend.forEachChunk(chunks) { chunk in
                let range = (count * chunk / chunks)..<(count * (chunk + 1) / chunks)
                switch activation {
                case .gelu: for i in range { let v = p[i]; p[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
                case .geluTanh:
                    for i in range { let v = p[i]; p[i] = 0.5 * v * (1 + tanhf(0.7978845608028654 * (v + 0.044715 * v * v * v))) }
                case .silu: for i in range { let v = p[i]; p[i] = v / (1 + expf(-v)) }
                case .relu: for i in range { p[i] = Swift.max(p[i], 0) }
                }
            }
        }
    }

    /// Σ a[t]·b[t] over `count` floats, eight lanes at a time (a scalar loop
    /// would not vectorise: reordering a float sum needs permission).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var t = 0
        while t + 8 <= count {
            let x = UnsafeRawPointer(a + t).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(b + t).loadUnaligned(as: SIMD8<Float>.self)
            lanes += x * y
            t += 8
        }
        var sum = lanes.sum()
        while t < count { sum += a[t] * b[t]; t += 1 }
        return sum
    }

    /// Scaled-dot-product attention of every (sequence, query head) pair, in
    /// parallel over the pairs: for query rows i of a sequence,
    /// softmax_j(q_i·k_j·scale) over the keys j it may see (all of them, or
    /// j ≤ i when `causal`), then Σ_j p_ij v_j. q `[tokens, heads·d]`, k and v
    /// `[tokens, kvHeads·d]` (query head h reads key/value head h / (heads/kvHeads)).
    static func attention(q: Matrix<Float>, k: Matrix<Float>, v: Matrix<Float>, batch: TokenBatch, heads: Int, keyValueHeads: Int,
                          headDimension d: Int, causal: Bool) -> Matrix<Float> {
        let group = heads / keyValueHeads
        let scale = 1 / Float(d).squareRoot()
        let qn = q.columns, kn = k.columns
        var context = Matrix<Float>.zeros(rows: q.rows, columns: heads * d)
        let pairs = batch.sequences.count * heads
        context.withUnsafeMutableBufferPointer { cb in
            q.withUnsafeBufferPointer { qb in
                k.withUnsafeBufferPointer { kb in
                    v.withUnsafeBufferPointer { vb in
                        nonisolated(unsafe) let (cp, qp, kp, vp) = (cb.baseAddress!, qb.baseAddress!, kb.baseAddress!, vb.baseAddress!)
                        let chunks = Swift.min(pairs, 64)
                        Backend.forEachChunk(chunks) { chunk in
                            var scores = [Float]()
                            for pair in (pairs * chunk / chunks)..<(pairs * (chunk + 1) / chunks) {
                                let s = pair / heads, head = pair % heads, kvHead = head / group
                                let rows = batch.rows(s), length = rows.count
                                if scores.count < length { scores = [Float](repeating: 0, count: length) }
                                for i in 0..<length {
                                    let qi = qp + (rows.lowerBound + i) * qn + head * d
                                    let visible = causal ? i + 1 : length
                                    var top = -Float.infinity
                                    for j in 0..<visible {
                                        let kj = kp + (rows.lowerBound + j) * kn + kvHead * d
                                        let dot = Layers.dot(qi, kj, count: d)
                                        scores[j] = dot * scale
                                        top = Swift.max(top, scores[j])
                                    }
                                    var sum: Float = 0
                                    for j in 0..<visible { let e = expf(scores[j] - top); scores[j] = e; sum += e }
                                    let inverse = 1 / sum
                                    let ci = cp + (rows.lowerBound + i) * (heads * d) + head * d
                                    for j in 0..<visible {
                                        let weight = scores[j] * inverse
                                        let vj = vp + (rows.lowerBound + j) * kn + kvHead * d
                                        for t in 0..<d { ci[t] += weight * vj[t] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return context
    }

    /// Row-wise softmax in place over the first `count` entries of each row
    /// (the rest, masked, set to 0), max subtracted first.
    static func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int, valid: (Int) -> Int) {
        for i in 0..<rows {
            let row = p + i * columns
            let count = valid(i)
            var top = -Float.infinity
            for j in 0..<count { top = Swift.max(top, row[j]) }
            var sum = 0.0
            for j in 0..<count { let e = expf(row[j] - top); row[j] = e; sum += Double(e) }
            let inverse = Float(1 / sum)
            for j in 0..<count { row[j] *= inverse }
            for j in count..<columns { row[j] = 0 }
        }
    }

    /// The columns `start ..< start + width` of x, as a matrix (one head's slice).
    static func columns(_ x: Matrix<Float>, rows: Range<Int>, start: Int, width: Int) -> Matrix<Float> {
        var out = Matrix<Float>.zeros(rows: rows.count, columns: width)
        let n = x.columns
        out.withUnsafeMutableBufferPointer { o in
            x.withUnsafeBufferPointer { p in
                for (k, i) in rows.enumerated() {
                    for j in 0..<width { o[k * width + j] = p[i * n + start + j] }
                }
            }
        }
        return out
    }

    /// Writes `block` into x's rows `rows.lowerBound…` at columns `start…`.
    static func place(_ block: Matrix<Float>, into x: inout Matrix<Float>, rowStart: Int, columnStart: Int) {
        let n = x.columns, width = block.columns
        x.withUnsafeMutableBufferPointer { p in
            block.withUnsafeBufferPointer { b in
                for i in 0..<block.rows {
                    for j in 0..<width { p[(rowStart + i) * n + columnStart + j] = b[i * width + j] }
                }
            }
        }
    }
}
