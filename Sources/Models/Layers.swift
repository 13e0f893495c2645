import Foundation
import LinearAlgebra

#if canImport(Glibc)
import Glibc
#endif

/// The token-wise building blocks of the forward passes, on `[tokens, features]`
/// Float matrices (one row per token). All in Float, as Hugging Face computes
/// on CPU; reductions (norms, softmax) accumulate in Double for stability.
enum Layers {
    /// y = x·Wᵀ + b (+ r): x `[tokens, in]`, W `[out, in]` (PyTorch's Linear
    /// layout), b `[out]`, r `[tokens, out]` a residual to add. y starts as
    /// b (and r) and the GEMM accumulates into it, so the sums take no pass
    /// of their own.
    static func linear(_ x: Matrix<Float>, _ w: Matrix<Float>, bias: [Float]? = nil, adding residual: Matrix<Float>? = nil) -> Matrix<Float> {
        let n = w.rows, rows = x.rows
        var y: Matrix<Float>
        if let residual {
            precondition(residual.rows == rows && residual.columns == n, "linear: residual is \(residual.rows)×\(residual.columns), expected \(rows)×\(n)")
            y = residual
            if let bias { y.withUnsafeMutableBufferPointer { p in forEachRow(p, rows: rows, columns: n) { row in for j in 0..<n { row[j] += bias[j] } } } }
        } else if let bias {
            y = Matrix<Float>(rows: rows, columns: n, elements: [Float](unsafeUninitializedCapacity: rows * n) { buffer, count in
                forEachRow(buffer, rows: rows, columns: n) { row in bias.withUnsafeBufferPointer { b in row.update(from: b.baseAddress!, count: n) } }
                count = rows * n
            })
        } else {
            y = Matrix<Float>.zeros(rows: rows, columns: n)
        }
        Matrix.gemm(x, .none, w, .transposed, beta: residual != nil || bias != nil ? 1 : 0, into: &y)
        return y
    }

    /// `body` on every row of the row-major `rows × columns` buffer, rows split across the cores.
    static func forEachRow(_ buffer: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        guard rows > 0, columns > 0, let base = buffer.baseAddress else { return }
        nonisolated(unsafe) let p = base
        let chunks = Swift.max(1, Swift.min(4 * Backend.threadCount, rows * columns / 16_384, rows))
        Backend.forEachChunk(chunks) { chunk in
            for i in (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks) { body(p + i * columns) }
        }
    }

    /// LayerNorm over each row: (x − μ)/√(σ² + ε)·γ + β, σ² the biased variance.
    static func layerNorm(_ x: inout Matrix<Float>, weight: [Float], bias: [Float], epsilon: Float) {
        let n = x.columns, rows = x.rows
        x.withUnsafeMutableBufferPointer { p in
            forEachRow(p, rows: rows, columns: n) { row in
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
            forEachRow(p, rows: x.rows, columns: n) { row in
                var squares = 0.0
                for j in 0..<n { squares += Double(row[j]) * Double(row[j]) }
                let scale = Float(1 / (squares / Double(n) + Double(epsilon)).squareRoot())
                for j in 0..<n { row[j] = row[j] * scale * weight[j] }
            }
        }
        return y
    }

    /// The activation applied elementwise, in place, across the cores (vectorised: `TokenMath`).
    static func activate(_ x: inout Matrix<Float>, _ activation: Activation) {
        x.withUnsafeMutableBufferPointer { buffer in
            switch activation {
            case .gelu: TokenMath.gelu(buffer)
            case .geluTanh: TokenMath.geluTanh(buffer)
            case .silu: TokenMath.silu(buffer)
            case .relu: for i in buffer.indices { buffer[i] = Swift.max(buffer[i], 0) }
            }
        }
    }

    /// Scaled-dot-product attention of every (sequence, query head) pair, in
    /// parallel over the pairs: for query rows i of a sequence,
    /// softmax_j(q_i·k_j/√d) over the keys j it may see (all of them, or
    /// j ≤ i when `causal`), then Σ_j p_ij v_j. q `[tokens, heads·d]`, k and v
    /// `[tokens, kvHeads·d]` (query head h reads key/value head h / (heads/kvHeads)).
    /// Each pair is one `TokenMath.attention` call.
    static func attention(q: Matrix<Float>, k: Matrix<Float>, v: Matrix<Float>, batch: TokenBatch, heads: Int, keyValueHeads: Int,
                          headDimension d: Int, causal: Bool) -> Matrix<Float> {
        let group = heads / keyValueHeads
        let scale = 1 / Float(d).squareRoot()
        let qn = q.columns, kn = k.columns, cn = heads * d
        var context = Matrix<Float>.zeros(rows: q.rows, columns: cn)
        let pairs = batch.sequences.count * heads
        let longest = batch.sequences.map(\.count).max() ?? 0
        context.withUnsafeMutableBufferPointer { cb in
            q.withUnsafeBufferPointer { qb in
                k.withUnsafeBufferPointer { kb in
                    v.withUnsafeBufferPointer { vb in
                        nonisolated(unsafe) let (cp, qp, kp, vp) = (cb.baseAddress!, qb.baseAddress!, kb.baseAddress!, vb.baseAddress!)
                        let chunks = Swift.min(pairs, 64)
                        Backend.forEachChunk(chunks) { chunk in
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: TokenMath.attentionScratch(length: longest, dimension: d))
                            defer { scratch.deallocate() }
                            for pair in (pairs * chunk / chunks)..<(pairs * (chunk + 1) / chunks) {
                                let s = pair / heads, head = pair % heads, kvHead = head / group
                                let first = batch.rows(s).lowerBound
                                TokenMath.attention(q: qp + first * qn + head * d, ldq: qn, k: kp + first * kn + kvHead * d, ldk: kn,
                                                    v: vp + first * kn + kvHead * d, ldv: kn, context: cp + first * cn + head * d, ldc: cn,
                                                    length: batch.sequences[s].count, dimension: d, scale: scale, causal: causal, scratch: scratch)
                            }
                        }
                    }
                }
            }
        }
        return context
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
}
