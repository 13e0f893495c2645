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
        func projection(_ name: String, _ out: Int) throws -> Matrix<Float> {
            let bias = c.attentionBias && weights.shape(of: p + "self_attn.\(name).bias") != nil ? try vector(p + "self_attn.\(name).bias", out) : nil
            return Layers.linear(a, try matrix(p + "self_attn.\(name).weight", [out, h]), bias: bias)
        }
        var q = try projection("q_proj", qWidth), k = try projection("k_proj", kvWidth)
        let v = try projection("v_proj", kvWidth)
        if c.queryKeyNorm {
            q = Self.headNorm(q, weight: try vector(p + "self_attn.q_norm.weight", d), heads: c.heads, epsilon: c.rmsNormEpsilon)
            k = Self.headNorm(k, weight: try vector(p + "self_attn.k_norm.weight", d), heads: c.keyValueHeads, epsilon: c.rmsNormEpsilon)
        }
        rotate(&q, heads: c.heads, batch: batch)
        rotate(&k, heads: c.keyValueHeads, batch: batch)
        let context = Layers.attention(q: q, k: k, v: v, batch: batch, heads: c.heads, keyValueHeads: c.keyValueHeads, headDimension: d, causal: true)
        observer?(inputs[1], context)
        let y = Layers.linear(context, try matrix(p + "self_attn.o_proj.weight", [h, qWidth]), adding: x)
        let m = Layers.rmsNorm(y, weight: try vector(p + "post_attention_layernorm.weight", h), epsilon: c.rmsNormEpsilon)
        observer?(inputs[2], m)
        var gate = Layers.linear(m, try matrix(p + "mlp.gate_proj.weight", [c.intermediateSize, h]))
        let up = Layers.linear(m, try matrix(p + "mlp.up_proj.weight", [c.intermediateSize, h]))
        Layers.activate(&gate, c.activation)
        let inner = gate.hadamard(up)
        observer?(inputs[3], inner)
        return Layers.linear(inner, try matrix(p + "mlp.down_proj.weight", [h, c.intermediateSize]), adding: y)
    }

    /// RMSNorm over each head's `d` features (Qwen3's q/k norm).
    static func headNorm(_ x: Matrix<Float>, weight: [Float], heads: Int, epsilon: Float) -> Matrix<Float> {
        let d = weight.count
        let reshaped = Matrix<Float>(rows: x.rows * heads, columns: d, elements: x.elements)
        return Matrix(rows: x.rows, columns: x.columns, elements: Layers.rmsNorm(reshaped, weight: weight, epsilon: epsilon).elements)
    }

    /// RoPE in place, rotate-half pairing: for i < d/2, (x_i, x_{i+d/2}) turns
    /// by the angle p·inv_freq_i, p the token's position in its sequence.
    func rotate(_ x: inout Matrix<Float>, heads: Int, batch: TokenBatch) {
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
        x.withUnsafeMutableBufferPointer { px in
            for s in 0..<batch.sequences.count {
                for (position, row) in batch.rows(s).enumerated() {
                    for head in 0..<heads {
                        let base = px.baseAddress! + row * n + head * d
                        for i in 0..<half {
                            let c = cosines[position * half + i], si = sines[position * half + i]
                            let a = base[i], b = base[i + half]
                            base[i] = a * c - b * si
                            base[i + half] = b * c + a * si
                        }
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
    /// the last hidden states x `[tokens, H]`, the final norm and output head
    /// applied `rowsPerStep` rows at a time so that the `[tokens, vocab]`
    /// logits never exist at once (49152 columns × 2048 rows would be 400 MB).
    public func negativeLogLikelihood(hidden x: Matrix<Float>, batch: TokenBatch, rowsPerStep: Int = 256) throws -> (sum: Double, count: Int) {
        let c = configuration
        let norm = try vector("model.norm.weight", c.hiddenSize)
        let head = try matrix(c.tiedEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight", [c.vocabularySize, c.hiddenSize])
        var total = 0.0, count = 0
        for (s, ids) in batch.sequences.enumerated() where ids.count > 1 {
            let rows = batch.rows(s)
            var start = rows.lowerBound
            while start < rows.upperBound - 1 {
                let end = Swift.min(start + rowsPerStep, rows.upperBound - 1)
                let part = Layers.columns(x, rows: start..<end, start: 0, width: x.columns)
                let logits = Layers.linear(Layers.rmsNorm(part, weight: norm, epsilon: c.rmsNormEpsilon), head)
                // Labels: the next token of the same sequence.
                let labels = Array(ids[(start - rows.lowerBound + 1)...(end - rows.lowerBound)])
                let step = Self.negativeLogLikelihood(logits: logits, labels: labels)
                total += step
                count += labels.count
                start = end
            }
        }
        return (total, count)
    }

    /// Σ −log softmax(logits[t])[labels[t]] over the rows: per row, the max,
    /// e^{x−max} with the vectorised eˣ (`TokenMath.exp`), summed in Double,
    /// then log; rows across the cores.
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
                    var shifted = [Float](repeating: 0, count: vocabulary)
                    var total = 0.0
                    for t in (count * chunk / chunks)..<(count * (chunk + 1) / chunks) {
                        let row = logitsBase + rows[t] * vocabulary
                        var top = -Float.infinity
                        for j in 0..<vocabulary { top = Swift.max(top, row[j]) }
                        shifted.withUnsafeMutableBufferPointer { e in
                            for j in 0..<vocabulary { e[j] = row[j] - top }
                            TokenMath.exp(e)
                        }
                        var sum = 0.0
                        for value in shifted { sum += Double(value) }
                        total += log(sum) + Double(top) - Double(row[labels[t]])
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
