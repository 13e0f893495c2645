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
            y = uninitialized(rows: rows, columns: n)   // β = 0 below overwrites every entry
        }
        Matrix.gemm(x, .none, w, .transposed, beta: residual != nil || bias != nil ? 1 : 0, into: &y)
        return y
    }

    /// `body` on every row of the row-major `rows × columns` buffer, rows split across the cores.
    static func forEachRow(_ buffer: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        forEachRow(buffer, rows: rows, columns: columns) { _, row in body(row) }
    }

    /// `body(i, row i)` for every row, rows split across the cores.
    static func forEachRow(_ buffer: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int, _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        guard rows > 0, columns > 0, let base = buffer.baseAddress else { return }
        nonisolated(unsafe) let p = base
        let chunks = Swift.max(1, Swift.min(4 * Backend.threadCount, rows * columns / 16_384, rows))
        Backend.forEachChunk(chunks) { chunk in
            for i in (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks) { body(i, p + i * columns) }
        }
    }

    /// The matrices' rows one after another (Linear weights `[out, in]` with
    /// a common input, stacked so that one GEMM computes all their outputs).
    static func stacked(_ parts: [Matrix<Float>]) -> Matrix<Float> {
        let count = parts.reduce(0) { $0 + $1.count }
        return Matrix(rows: parts.reduce(0) { $0 + $1.rows }, columns: parts[0].columns, elements: [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for part in parts {
                part.withUnsafeBufferPointer { buffer.baseAddress!.advanced(by: initialized).update(from: $0.baseAddress!, count: $0.count) }
                initialized += part.count
            }
        })
    }

    /// A `rows × columns` matrix whose entries are all about to be written
    /// (a GEMM output with β = 0, an attention context): no zero-fill pass.
    static func uninitialized(rows: Int, columns: Int) -> Matrix<Float> {
        Matrix(rows: rows, columns: columns, elements: [Float](unsafeUninitializedCapacity: rows * columns) { _, initialized in initialized = rows * columns })
    }

    /// act(g)·u for x = [g | u] `[tokens, 2·width]` (a gated MLP's two
    /// projections from one GEMM): `[tokens, width]`, rows across the cores.
    static func gated(_ x: Matrix<Float>, width: Int, activation: Activation) -> Matrix<Float> {
        precondition(x.columns == 2 * width, "gated: \(x.columns) columns, expected 2·\(width)")
        var out = uninitialized(rows: x.rows, columns: width)
        x.withUnsafeBufferPointer { xb in
            nonisolated(unsafe) let source = xb.baseAddress!
            out.withUnsafeMutableBufferPointer { ob in
                forEachRow(ob, rows: x.rows, columns: width) { i, row in
                    let gate = source + i * 2 * width, up = gate + width
                    row.update(from: gate, count: width)
                    let buffer = UnsafeMutableBufferPointer(start: row, count: width)
                    switch activation {   // on one row: each call stays on this thread
                    case .gelu: TokenMath.gelu(buffer)
                    case .geluTanh: TokenMath.geluTanh(buffer)
                    case .silu: TokenMath.silu(buffer)
                    case .relu: for j in 0..<width { row[j] = Swift.max(row[j], 0) }
                    }
                    for j in 0..<width { row[j] *= up[j] }
                }
            }
        }
        return out
    }

    /// RMSNorm of `count` consecutive `weight.count`-wide segments of each row
    /// starting at `columnStart`, in place (Qwen3's per-head q/k norm).
    static func rmsNormSegments(_ x: inout Matrix<Float>, columnStart: Int, count: Int, weight: [Float], epsilon: Float) {
        let n = x.columns, d = weight.count
        x.withUnsafeMutableBufferPointer { p in
            forEachRow(p, rows: p.count / Swift.max(n, 1), columns: n) { row in
                for segment in 0..<count {
                    let base = row + columnStart + segment * d
                    var squares = 0.0
                    for j in 0..<d { squares += Double(base[j]) * Double(base[j]) }
                    let scale = Float(1 / (squares / Double(d) + Double(epsilon)).squareRoot())
                    for j in 0..<d { base[j] = base[j] * scale * weight[j] }
                }
            }
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
    /// j ≤ i when `causal`), then Σ_j p_ij v_j. The queries `[tokens, heads·d]`,
    /// keys and values `[tokens, kvHeads·d]` are column ranges of one matrix
    /// (the fused q/k/v projection) starting at `query`, `key` and `value`;
    /// query head h reads key/value head h / (heads/kvHeads). Each pair is one
    /// `TokenMath.attention` call. Returns `[tokens, heads·d]`.
    static func attention(_ qkv: Matrix<Float>, query: Int, key: Int, value: Int, batch: TokenBatch, heads: Int, keyValueHeads: Int,
                          headDimension d: Int, causal: Bool) -> Matrix<Float> {
        let group = heads / keyValueHeads
        let scale = 1 / Float(d).squareRoot()
        let n = qkv.columns, cn = heads * d
        var context = uninitialized(rows: qkv.rows, columns: cn)   // every head of every row is written
        let pairs = batch.sequences.count * heads
        let longest = batch.sequences.map(\.count).max() ?? 0
        context.withUnsafeMutableBufferPointer { cb in
            qkv.withUnsafeBufferPointer { xb in
                nonisolated(unsafe) let (cp, xp) = (cb.baseAddress!, xb.baseAddress!)
                let chunks = Swift.min(pairs, 64)
                Backend.forEachChunk(chunks) { chunk in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: TokenMath.attentionScratch(length: longest, dimension: d))
                    defer { scratch.deallocate() }
                    for pair in (pairs * chunk / chunks)..<(pairs * (chunk + 1) / chunks) {
                        let s = pair / heads, head = pair % heads, kvHead = head / group
                        let first = xp + batch.rows(s).lowerBound * n
                        TokenMath.attention(q: first + query + head * d, ldq: n, k: first + key + kvHead * d, ldk: n,
                                            v: first + value + kvHead * d, ldv: n, context: cp + batch.rows(s).lowerBound * cn + head * d, ldc: cn,
                                            length: batch.sequences[s].count, dimension: d, scale: scale, causal: causal, scratch: scratch)
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
