import Foundation
import LinearAlgebra
import WeightFiles

/// A Llama-family decoder (Llama, Mistral, Qwen2/2.5, Qwen3, SmolLM2) run on
/// the engine's GEMM, its weights read block by block from the mapped
/// checkpoint (safetensors, packed GPTQ/AWQ, or GGUF through `Checkpoint`).
///
/// Forward (pre-RMSNorm, as Hugging Face computes it in Float):
/// h = embed[ids]; per layer a = RMSNorm(h), h += o_proj(Attn(a)),
/// m = RMSNorm(h), h += down(silu(gate(m)) ⊙ up(m)); logits = RMSNorm(h)·Eᵀ
/// (E = `lm_head.weight`, or the embedding when tied). Attention: q, k, v
/// projections (biases for Qwen2), per-head RMSNorm of q and k for Qwen3,
/// RoPE with the rotate-half pairing of Hugging Face checkpoints (positions
/// restart at 0 in every sequence), grouped-query attention (key/value head
/// j serves query heads j·g … j·g + g − 1), causal softmax(QKᵀ/√d)V.
public final class LlamaDecoder: @unchecked Sendable {
    /// The sizes from config.json.
    public let configuration: LlamaConfiguration
    /// Where the weights come from (a `Checkpoint`, or one with a LoRA adapter merged).
    public let weights: WeightProvider
    /// RoPE's inverse frequencies, `[headDimension / 2]` (after scaling).
    let inverseFrequencies: [Double]

    /// A decoder over `checkpoint`'s weights; checks the embedding and the
    /// output head are there with the configured shapes (a file without
    /// `lm_head.weight` is tied, whatever config.json says).
    ///
    /// - Throws: `ModelError.badWeight`.
    public init(weights: WeightProvider, configuration: LlamaConfiguration) throws {
        self.weights = weights
        var c = configuration
        if weights.shape(of: "lm_head.weight") == nil { c.tiedEmbeddings = true }
        self.configuration = c
        let d = c.headDimension
        var frequencies = (0..<(d / 2)).map { i in 1 / pow(c.ropeTheta, Double(2 * i) / Double(d)) }
        switch c.ropeScaling {
        case .linear(let factor): frequencies = frequencies.map { $0 / factor }
        case .llama3(let factor, let low, let high, let context):
            let lowWavelength = context / low, highWavelength = context / high
            frequencies = frequencies.map { f in
                let wavelength = 2 * Double.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / factor }
                let s = (context / wavelength - low) / (high - low)
                return (1 - s) * f / factor + s * f
            }
        case nil: break
        }
        inverseFrequencies = frequencies
        try expect("model.embed_tokens.weight", [c.vocabularySize, c.hiddenSize])
        if !c.tiedEmbeddings { try expect("lm_head.weight", [c.vocabularySize, c.hiddenSize]) }
    }

    func expect(_ name: String, _ shape: [Int]) throws {
        guard let stored = weights.shape(of: name) else { throw ModelError.badWeight(file: weights.location, tensor: name, reason: "missing") }
        guard stored == shape || (shape.count == 1 && stored == [1, shape[0]]) else {
            throw ModelError.badWeight(file: weights.location, tensor: name, reason: "shape \(stored), expected \(shape)")
        }
    }

    func matrix(_ name: String, _ shape: [Int]) throws -> Matrix<Float> {
        try expect(name, shape)
        defer { weights.release(name) }
        return try weights.matrix(name)
    }

    func vector(_ name: String, _ count: Int) throws -> [Float] {
        try expect(name, [count])
        defer { weights.release(name) }
        return try weights.matrix(name).elements
    }

    /// Decoder layers.
    public var blockCount: Int { configuration.layers }

    /// Block `i`'s Linear layers grouped by shared input, in the order they
    /// run (GPTQModel's subsets): [q, k, v], [o], [gate, up], [down].
    public func linearInputs(block i: Int) -> [LinearInput] {
        let p = "model.layers.\(i)."
        return [
            LinearInput(block: i, modules: ["\(p)self_attn.q_proj", "\(p)self_attn.k_proj", "\(p)self_attn.v_proj"]),
            LinearInput(block: i, modules: ["\(p)self_attn.o_proj"]),
            LinearInput(block: i, modules: ["\(p)mlp.gate_proj", "\(p)mlp.up_proj"]),
            LinearInput(block: i, modules: ["\(p)mlp.down_proj"]),
        ]
    }

    /// The embedding rows `[tokens, H]` of a batch.
    ///
    /// - Throws: `ModelError.badInput` for a token id outside the vocabulary.
    public func embed(_ batch: TokenBatch) throws -> Matrix<Float> {
        let c = configuration, h = c.hiddenSize
        for s in batch.sequences {
            if let bad = s.first(where: { $0 < 0 || $0 >= c.vocabularySize }) {
                throw ModelError.badInput(reason: "token id \(bad) is outside the vocabulary (0..<\(c.vocabularySize))")
            }
        }
        let table = try matrix("model.embed_tokens.weight", [c.vocabularySize, h])
        var x = Matrix<Float>.zeros(rows: batch.tokenCount, columns: h)
        x.withUnsafeMutableBufferPointer { p in
            table.withUnsafeBufferPointer { t in
                for (s, ids) in batch.sequences.enumerated() {
                    for (k, id) in ids.enumerated() {
                        let row = (batch.offsets[s] + k) * h
                        for j in 0..<h { p[row + j] = t[id * h + j] }
                    }
                }
            }
        }
        return x
    }

    /// Block `i` applied to x `[tokens, H]`; `observer` sees each Linear input.
    ///
    /// - Throws: `ModelError.badWeight` for a missing or misshapen weight.
    public func block(_ i: Int, _ x: Matrix<Float>, batch: TokenBatch, observer: LinearInputObserver? = nil) throws -> Matrix<Float> {
        let c = configuration, h = c.hiddenSize, d = c.headDimension
        let qWidth = c.heads * d, kvWidth = c.keyValueHeads * d
        let p = "model.layers.\(i)."
        let inputs = linearInputs(block: i)
        let a = Layers.rmsNorm(x, weight: try vector(p + "input_layernorm.weight", h), epsilon: c.rmsNormEpsilon)
        observer?(inputs[0], a)
        // q, k and v from one GEMM on the stacked weights; a bias part absent from the checkpoint is zero.
        let parts = [("q_proj", qWidth), ("k_proj", kvWidth), ("v_proj", kvWidth)]
        let stacked = Layers.stacked(try parts.map { try matrix(p + "self_attn.\($0.0).weight", [$0.1, h]) })
        let biased = c.attentionBias && parts.contains { weights.shape(of: p + "self_attn.\($0.0).bias") != nil }
        let bias: [Float]? = biased ? try parts.flatMap { name, width in
            weights.shape(of: p + "self_attn.\(name).bias") != nil ? try vector(p + "self_attn.\(name).bias", width) : [Float](repeating: 0, count: width)
        } : nil
        var qkv = Layers.linear(a, stacked, bias: bias)
        if c.queryKeyNorm {
            Layers.rmsNormSegments(&qkv, columnStart: 0, count: c.heads, weight: try vector(p + "self_attn.q_norm.weight", d), epsilon: c.rmsNormEpsilon)
            Layers.rmsNormSegments(&qkv, columnStart: qWidth, count: c.keyValueHeads, weight: try vector(p + "self_attn.k_norm.weight", d),
                                   epsilon: c.rmsNormEpsilon)
        }
        rotate(&qkv, columnStart: 0, heads: c.heads, batch: batch)
        rotate(&qkv, columnStart: qWidth, heads: c.keyValueHeads, batch: batch)
        let context = Layers.attention(qkv, query: 0, key: qWidth, value: qWidth + kvWidth, batch: batch, heads: c.heads,
                                       keyValueHeads: c.keyValueHeads, headDimension: d, causal: true)
        observer?(inputs[1], context)
        let y = Layers.linear(context, try matrix(p + "self_attn.o_proj.weight", [h, qWidth]), adding: x)
        let m = Layers.rmsNorm(y, weight: try vector(p + "post_attention_layernorm.weight", h), epsilon: c.rmsNormEpsilon)
        observer?(inputs[2], m)
        let gateUp = Layers.linear(m, Layers.stacked([try matrix(p + "mlp.gate_proj.weight", [c.intermediateSize, h]),
                                                      try matrix(p + "mlp.up_proj.weight", [c.intermediateSize, h])]))
        let inner = Layers.gated(gateUp, width: c.intermediateSize, activation: c.activation)
        observer?(inputs[3], inner)
        return Layers.linear(inner, try matrix(p + "mlp.down_proj.weight", [h, c.intermediateSize]), adding: y)
    }

    /// RoPE in place on the `heads` heads starting at column `columnStart`,
    /// rotate-half pairing: for i < d/2, (x_i, x_{i+d/2}) turns by the angle
    /// p·inv_freq_i, p the token's position in its sequence. Rows across the cores.
    func rotate(_ x: inout Matrix<Float>, columnStart: Int, heads: Int, batch: TokenBatch) {
        let d = configuration.headDimension, half = d / 2, n = x.columns
        let frequencies = inverseFrequencies
        let longest = batch.sequences.map(\.count).max() ?? 0
        // cos/sin per position and frequency, computed as Hugging Face does: Float angles.
        var cosines = [Float](repeating: 0, count: longest * half), sines = cosines
        for position in 0..<longest {
            for i in 0..<half {
                let angle = Float(position) * Float(frequencies[i])
                cosines[position * half + i] = cos(angle)
                sines[position * half + i] = sin(angle)
            }
        }
        var positions = [Int](repeating: 0, count: x.rows)
        for s in 0..<batch.sequences.count { for (position, row) in batch.rows(s).enumerated() { positions[row] = position } }
        x.withUnsafeMutableBufferPointer { px in
            Layers.forEachRow(px, rows: px.count / Swift.max(n, 1), columns: n) { row, base in
                let position = positions[row]
                for head in 0..<heads {
                    let h = base + columnStart + head * d
                    for i in 0..<half {
                        let c = cosines[position * half + i], si = sines[position * half + i]
                        let a = h[i], b = h[i + half]
                        h[i] = a * c - b * si
                        h[i + half] = b * c + a * si
                    }
                }
            }
        }
    }

    /// The final norm and the output head: logits `[tokens, vocab]` for hidden states x `[tokens, H]`.
    public func logits(_ x: Matrix<Float>) throws -> Matrix<Float> {
        let c = configuration
        let normed = Layers.rmsNorm(x, weight: try vector("model.norm.weight", c.hiddenSize), epsilon: c.rmsNormEpsilon)
        let head = try matrix(c.tiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight", [c.vocabularySize, c.hiddenSize])
        return Layers.linear(normed, head)
    }

    /// The logits `[tokens, vocab]` of a batch (every block), with `observer` on every Linear input.
    public func logits(_ batch: TokenBatch, observer: LinearInputObserver? = nil) throws -> Matrix<Float> {
        var x = try embed(batch)
        for i in 0..<blockCount { x = try block(i, x, batch: batch, observer: observer) }
        return try logits(x)
    }

    /// The shifted-label NLL (as `negativeLogLikelihood(logits:batch:)`) from
    /// the last hidden states x `[tokens, H]`: the final norm, then the output
    /// head `columnsPerStep` vocabulary rows at a time for all tokens at once,
    /// each row's log-sum-exp carried across the steps (running max and
    /// rescaled sum, as online softmax). So the `[tokens, vocab]` logits never
    /// exist at once (49152 columns × 2048 rows would be 400 MB) and the head
    /// is read, and packed for the GEMM, once. Default step: 16M logits' worth
    /// of memory at most (64 MB), and at least 256 columns.
    public func negativeLogLikelihood(hidden x: Matrix<Float>, batch: TokenBatch, columnsPerStep: Int? = nil) throws -> (sum: Double, count: Int) {
        let c = configuration, vocabulary = c.vocabularySize
        let head = try matrix(c.tiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight", [vocabulary, c.hiddenSize])
        let normed = Layers.rmsNorm(x, weight: try vector("model.norm.weight", c.hiddenSize), epsilon: c.rmsNormEpsilon)
        var rows: [Int] = [], labels: [Int] = []
        for (s, ids) in batch.sequences.enumerated() where ids.count > 1 {
            rows += (0..<(ids.count - 1)).map { batch.offsets[s] + $0 }
            labels += ids[1...]
        }
        guard !rows.isEmpty else { return (0, 0) }
        let tokens = normed.rows
        let step = Swift.max(1, Swift.min(vocabulary, columnsPerStep ?? Swift.max(256, (16 << 20) / Swift.max(tokens, 1))))
        // Per scored row: the running max, the sum of e^{logit − max} so far, and the label's logit.
        var top = [Float](repeating: -.infinity, count: rows.count), sums = [Double](repeating: 0, count: rows.count)
        var target = [Float](repeating: 0, count: rows.count)
        var start = 0
        while start < vocabulary {
            let end = Swift.min(start + step, vocabulary), width = end - start
            let part = Layers.columns(head, rows: start..<end, start: 0, width: head.columns)
            let logits = Layers.linear(normed, part)
            logits.withUnsafeBufferPointer { p in
                top.withUnsafeMutableBufferPointer { tp in
                    sums.withUnsafeMutableBufferPointer { sp in
                        target.withUnsafeMutableBufferPointer { lp in
                            nonisolated(unsafe) let (logitsBase, topBase, sumBase, targetBase) = (p.baseAddress!, tp.baseAddress!, sp.baseAddress!, lp.baseAddress!)
                            let chunks = Swift.max(1, Swift.min(4 * Backend.threadCount, rows.count))
                            Backend.forEachChunk(chunks) { chunk in
                                for r in (rows.count * chunk / chunks)..<(rows.count * (chunk + 1) / chunks) {
                                    let row = UnsafeBufferPointer(start: logitsBase + rows[r] * width, count: width)
                                    if (start..<end).contains(labels[r]) { targetBase[r] = row[labels[r] - start] }
                                    let newTop = Swift.max(topBase[r], TokenMath.maximum(row))
                                    let sum = TokenMath.shiftedExponentialSum(row, shift: newTop)
                                    sumBase[r] = sumBase[r] * Foundation.exp(Double(topBase[r]) - Double(newTop)) + sum
                                    topBase[r] = newTop
                                }
                            }
                        }
                    }
                }
            }
            start = end
        }
        var total = 0.0
        for r in rows.indices { total += log(sums[r]) + Double(top[r]) - Double(target[r]) }
        return (total, rows.count)
    }

    /// Σ −log softmax(logits[t])[labels[t]] over the rows: per row, the max,
    /// then Σ e^{x−max} by the vectorised eˣ (`TokenMath`), then log; rows
    /// across the cores.
    static func negativeLogLikelihood(logits: Matrix<Float>, labels: [Int]) -> Double {
        negativeLogLikelihood(logits: logits, rows: Array(labels.indices), labels: labels)
    }

    /// The terms of `rows` of `logits` with their `labels`, summed (see above).
    static func negativeLogLikelihood(logits: Matrix<Float>, rows: [Int], labels: [Int]) -> Double {
        let vocabulary = logits.columns, count = rows.count
        guard count > 0, vocabulary > 0 else { return 0 }
        let chunks = Swift.max(1, Swift.min(4 * Backend.threadCount, count))
        var partial = [Double](repeating: 0, count: chunks)
        logits.withUnsafeBufferPointer { p in
            partial.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let (logitsBase, sums) = (p.baseAddress!, out.baseAddress!)
                Backend.forEachChunk(chunks) { chunk in
                    var total = 0.0
                    for t in (count * chunk / chunks)..<(count * (chunk + 1) / chunks) {
                        let row = UnsafeBufferPointer(start: logitsBase + rows[t] * vocabulary, count: vocabulary)
                        let top = TokenMath.maximum(row)
                        total += log(TokenMath.shiftedExponentialSum(row, shift: top)) + Double(top) - Double(row[labels[t]])
                    }
                    sums[chunk] = total
                }
            }
        }
        return partial.reduce(0, +)
    }

    /// Σ −log p(token_{t+1} | tokens ≤ t) over each sequence's positions
    /// 0 … n−2 (shifted labels), and the count of terms, from logits
    /// `[tokens, vocab]`: what perplexity exp(Σ/count) is made of.
    public static func negativeLogLikelihood(logits: Matrix<Float>, batch: TokenBatch) -> (sum: Double, count: Int) {
        var rows: [Int] = [], labels: [Int] = []
        for (s, ids) in batch.sequences.enumerated() where ids.count > 1 {
            rows += (0..<(ids.count - 1)).map { batch.offsets[s] + $0 }
            labels += ids[1...]
        }
        return (negativeLogLikelihood(logits: logits, rows: rows, labels: labels), rows.count)
    }
}
