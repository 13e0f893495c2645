import Foundation
import LinearAlgebra
import WeightFiles

/// A BERT encoder (`BertModel`, e.g. all-MiniLM-L6-v2) run on the engine's
/// GEMM, its weights read block by block from the mapped checkpoint.
///
/// Forward (post-LayerNorm, as Hugging Face computes it in Float):
/// x = LN(word[ids] + position[0…S−1] + tokenType[0]); per layer
/// x = LN(x + Wo·Attn(x) + bo), x = LN(x + W2·act(W1·x + b1) + b2), with
/// attention softmax(QKᵀ/√d)V per head within each sequence (the batch
/// stacks sequences without padding, so no mask is needed). The pooler is
/// not run; `sentenceEmbeddings` mean-pools and L2-normalises as
/// sentence-transformers does.
public final class BertEncoder: @unchecked Sendable {
    /// The sizes from config.json.
    public let configuration: BertConfiguration
    /// Where the weights come from (a `Checkpoint`, or one with a LoRA adapter merged).
    public let weights: WeightProvider
    /// `bert.` when the checkpoint is a BertFor… model, else empty.
    let prefix: String

    /// An encoder over `checkpoint`'s weights; checks the embeddings are
    /// there with the configured shapes (blocks are checked when they run).
    ///
    /// - Throws: `ModelError.badWeight` naming a missing or misshapen tensor.
    public init(weights: WeightProvider, configuration: BertConfiguration) throws {
        self.weights = weights
        self.configuration = configuration
        prefix = weights.shape(of: "bert.embeddings.word_embeddings.weight") != nil ? "bert." : ""
        let h = configuration.hiddenSize
        try expect("embeddings.word_embeddings.weight", [configuration.vocabularySize, h])
        try expect("embeddings.position_embeddings.weight", [configuration.maxPositions, h])
    }

    func expect(_ name: String, _ shape: [Int]) throws {
        guard let stored = weights.shape(of: prefix + name) else {
            throw ModelError.badWeight(file: weights.location, tensor: prefix + name, reason: "missing")
        }
        guard stored == shape || (shape.count == 1 && stored == [1, shape[0]]) else {
            throw ModelError.badWeight(file: weights.location, tensor: prefix + name, reason: "shape \(stored), expected \(shape)")
        }
    }

    func matrix(_ name: String, _ shape: [Int]) throws -> Matrix<Float> {
        try expect(name, shape)
        defer { weights.release(prefix + name) }
        return try weights.matrix(prefix + name)
    }

    func vector(_ name: String, _ count: Int) throws -> [Float] {
        try expect(name, [count])
        defer { weights.release(prefix + name) }
        return try weights.matrix(prefix + name).elements
    }

    /// Encoder layers.
    public var blockCount: Int { configuration.layers }

    /// The module names of block `i`'s Linear layers grouped by shared input,
    /// in the order they run: [query, key, value], [attention output],
    /// [intermediate], [output].
    public func linearInputs(block i: Int) -> [LinearInput] {
        let p = "\(prefix)encoder.layer.\(i)."
        return [
            LinearInput(block: i, modules: ["\(p)attention.self.query", "\(p)attention.self.key", "\(p)attention.self.value"]),
            LinearInput(block: i, modules: ["\(p)attention.output.dense"]),
            LinearInput(block: i, modules: ["\(p)intermediate.dense"]),
            LinearInput(block: i, modules: ["\(p)output.dense"]),
        ]
    }

    /// The embeddings' output `[tokens, H]` for a batch.
    ///
    /// - Throws: `ModelError.badInput` for a sequence longer than the model's
    ///   positions or a token id outside the vocabulary; `.badWeight`.
    public func embed(_ batch: TokenBatch) throws -> Matrix<Float> {
        let c = configuration, h = c.hiddenSize
        if let long = batch.sequences.firstIndex(where: { $0.count > c.maxPositions }) {
            throw ModelError.badInput(reason: "sequence \(long) has \(batch.sequences[long].count) tokens; the model takes at most \(c.maxPositions)")
        }
        for s in batch.sequences {
            if let bad = s.first(where: { $0 < 0 || $0 >= c.vocabularySize }) {
                throw ModelError.badInput(reason: "token id \(bad) is outside the vocabulary (0..<\(c.vocabularySize))")
            }
        }
        let words = try matrix("embeddings.word_embeddings.weight", [c.vocabularySize, h])
        let positions = try matrix("embeddings.position_embeddings.weight", [c.maxPositions, h])
        let types = try matrix("embeddings.token_type_embeddings.weight", [c.typeVocabularySize, h])
        var x = Matrix<Float>.zeros(rows: batch.tokenCount, columns: h)
        x.withUnsafeMutableBufferPointer { p in
            words.withUnsafeBufferPointer { w in
                positions.withUnsafeBufferPointer { pos in
                    types.withUnsafeBufferPointer { t in
                        for (s, ids) in batch.sequences.enumerated() {
                            for (k, id) in ids.enumerated() {
                                let row = (batch.offsets[s] + k) * h
                                for j in 0..<h { p[row + j] = w[id * h + j] + pos[k * h + j] + t[j] }
                            }
                        }
                    }
                }
            }
        }
        Layers.layerNorm(&x, weight: try vector("embeddings.LayerNorm.weight", h), bias: try vector("embeddings.LayerNorm.bias", h),
                         epsilon: c.layerNormEpsilon)
        return x
    }

    /// Block `i` applied to x `[tokens, H]`; `observer` sees each Linear input.
    ///
    /// - Throws: `ModelError.badWeight` for a missing or misshapen weight.
    public func block(_ i: Int, _ x: Matrix<Float>, batch: TokenBatch, observer: LinearInputObserver? = nil) throws -> Matrix<Float> {
        let c = configuration, h = c.hiddenSize, inner = c.intermediateSize
        let p = "encoder.layer.\(i)."
        let inputs = linearInputs(block: i)
        observer?(inputs[0], x)
        let parts = ["query", "key", "value"]
        let qkv = Layers.linear(x, Layers.stacked(try parts.map { try matrix(p + "attention.self.\($0).weight", [h, h]) }),
                                bias: try parts.flatMap { try vector(p + "attention.self.\($0).bias", h) })
        let context = Layers.attention(qkv, query: 0, key: h, value: 2 * h, batch: batch, heads: c.heads, keyValueHeads: c.heads,
                                       headDimension: h / c.heads, causal: false)
        observer?(inputs[1], context)
        var y = Layers.linear(context, try matrix(p + "attention.output.dense.weight", [h, h]), bias: try vector(p + "attention.output.dense.bias", h),
                              adding: x)
        Layers.layerNorm(&y, weight: try vector(p + "attention.output.LayerNorm.weight", h), bias: try vector(p + "attention.output.LayerNorm.bias", h),
                         epsilon: c.layerNormEpsilon)
        observer?(inputs[2], y)
        var m = Layers.linear(y, try matrix(p + "intermediate.dense.weight", [inner, h]), bias: try vector(p + "intermediate.dense.bias", inner))
        Layers.activate(&m, c.activation)
        observer?(inputs[3], m)
        var out = Layers.linear(m, try matrix(p + "output.dense.weight", [h, inner]), bias: try vector(p + "output.dense.bias", h), adding: y)
        Layers.layerNorm(&out, weight: try vector(p + "output.LayerNorm.weight", h), bias: try vector(p + "output.LayerNorm.bias", h),
                         epsilon: c.layerNormEpsilon)
        return out
    }

    /// The last hidden state `[tokens, H]` of a batch (every block), with `observer` on every Linear input.
    public func hiddenStates(_ batch: TokenBatch, observer: LinearInputObserver? = nil) throws -> Matrix<Float> {
        var x = try embed(batch)
        for i in 0..<blockCount { x = try block(i, x, batch: batch, observer: observer) }
        return x
    }

    /// Sentence embeddings as sentence-transformers computes them for
    /// all-MiniLM-style models: the mean of each sequence's last hidden
    /// states (every token, [CLS] and [SEP] included), divided by its L2
    /// norm (at least 1e-12). One `[H]` vector per sequence.
    public func sentenceEmbeddings(_ batch: TokenBatch) throws -> [[Float]] {
        Self.meanPooled(try hiddenStates(batch), batch: batch)
    }

    /// Mean pooling over each sequence's rows of x, then L2 normalisation.
    public static func meanPooled(_ x: Matrix<Float>, batch: TokenBatch) -> [[Float]] {
        (0..<batch.sequences.count).map { s in
            let rows = batch.rows(s)
            var mean = [Double](repeating: 0, count: x.columns)
            for i in rows { for j in 0..<x.columns { mean[j] += Double(x[i, j]) } }
            let norm = Swift.max((mean.map { $0 * $0 }.reduce(0, +)).squareRoot(), 1e-12 * Double(rows.count))
            return mean.map { Float($0 / norm) }
        }
    }
}
