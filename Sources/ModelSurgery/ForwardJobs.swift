import Foundation
import LinearAlgebra
import Models
import WeightFiles

/// How calibration and evaluation texts become token sequences.
public enum TokenSequences {
    /// GPTQ's sampling for causal LMs: `count` windows of `length` tokens at
    /// seeded random starts in `tokens` (uniform over 0 … N − length; the
    /// same seed gives the same windows). When the text is shorter than
    /// `length`, the whole text is one window.
    public static func randomWindows(of tokens: [Int], count: Int, length: Int, seed: UInt64) -> [[Int]] {
        guard tokens.count > length else { return tokens.isEmpty ? [] : [tokens] }
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let start = Int(generator.next() % UInt64(tokens.count - length + 1))
            return Array(tokens[start..<(start + length)])
        }
    }

    /// The GPTQ paper's perplexity windows: ⌊N / length⌋ non-overlapping
    /// windows of `length` tokens from the start (the tail is dropped), or
    /// the whole text as one window when it is shorter than `length`.
    public static func consecutiveWindows(of tokens: [Int], length: Int) -> [[Int]] {
        guard tokens.count >= length else { return tokens.count > 1 ? [tokens] : [] }
        return (0..<(tokens.count / length)).map { Array(tokens[($0 * length)..<(($0 + 1) * length)]) }
    }

    /// Each sequence cut to at most `maxLength` tokens, keeping its last
    /// token (a tokenizer's closing `[SEP]`), as truncation with special
    /// tokens does.
    public static func truncated(_ sequences: [[Int]], maxLength: Int) -> [[Int]] {
        sequences.map { s in s.count <= maxLength ? s : Array(s.prefix(maxLength - 1)) + [s.last!] }
    }

    /// Sequences grouped into chunks of at most `tokens` tokens (a sequence
    /// longer than that is a chunk of its own), in order.
    static func chunks(_ sequences: [[Int]], tokens limit: Int) -> [[[Int]]] {
        var chunks: [[[Int]]] = [], current: [[Int]] = [], size = 0
        for s in sequences {
            if !current.isEmpty && size + s.count > limit {
                chunks.append(current)
                current = []
                size = 0
            }
            current.append(s)
            size += s.count
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }
}

/// What `calibrate` wrote.
public struct CalibrationReport: Codable, Sendable {
    /// One shared input: the modules reading it and its width.
    public struct Group: Codable, Sendable {
        /// The module whose name the statistics are stored under.
        public var name: String
        /// Every module reading this input (the others point at `name` with `same_as`).
        public var modules: [String]
        /// The input width (the Gram is inputs × inputs).
        public var inputs: Int
    }
    /// The statistics file.
    public var output: String
    /// Its size in bytes.
    public var bytes: Int
    /// Sequences run.
    public var sequences: Int
    /// Tokens summed into every Gram (no padding: sequences are stacked).
    public var tokens: Int
    /// The shared inputs, in model order.
    public var groups: [Group]
    /// Wall-clock seconds.
    public var seconds: Double
}

/// Calibration statistics from a forward pass: for every group of Linear
/// layers sharing an input, the Gram Σ x xᵀ over all calibration tokens
/// (`M.gram`, F32 or F64), the token count (`M.tokens`, I64) and the mean
/// |x| per input channel (`M.abs_mean`, F32), stored under the group's first
/// module; the others get `"M.same_as": "first"` in `__metadata__`
/// (docs/formats.md, calibration statistics).
///
/// The model runs block by block over chunks of about `chunkTokens` tokens:
/// memory holds the hidden states of all sequences at one block boundary,
/// one chunk's activations inside a block, and one block's Grams (written and
/// freed before the next block). Grams are summed per chunk in Float (GEMM)
/// and across chunks in Double.
public struct CalibrateJob {
    /// The network.
    public var model: TransformerModel
    /// The token sequences (windows of a text, or one per line).
    public var sequences: [[Int]]
    /// The safetensors file to write.
    public var output: URL
    /// The Grams' stored dtype: F32 (default) or F64.
    public var dtype: DType
    /// Tokens per forward chunk (default 8192).
    public var chunkTokens: Int
    /// Input files the output must not overwrite.
    public var protecting: [URL]
    /// Entries added to `__metadata__` (provenance).
    public var metadata: [String: String]

    /// A job writing `output` from `sequences` run through `model`.
    public init(model: TransformerModel, sequences: [[Int]], output: URL, dtype: DType = .f32, chunkTokens: Int = 8192,
                protecting: [URL] = [], metadata: [String: String] = [:]) {
        self.model = model
        self.sequences = sequences
        self.output = output
        self.dtype = dtype
        self.chunkTokens = chunkTokens
        self.protecting = protecting
        self.metadata = metadata
    }

    /// Runs the forward passes and writes the file. Sends a `.layer` event per
    /// block (`layer` = "block i", `seconds`).
    ///
    /// - Throws: `ModelError` for input the model cannot take or weights it
    ///   lacks; `ModelSurgeryError.invalidParameter` for no sequences or an
    ///   unsupported dtype; what `SafetensorsWriter` throws.
    public func run(observer: JobObserver = { _ in }) throws -> CalibrationReport {
        let start = ContinuousClock.now
        guard !sequences.isEmpty else {
            throw ModelSurgeryError.invalidParameter(parameter: "text", value: "no sequences", expected: "at least one non-empty calibration sequence")
        }
        guard dtype == .f32 || dtype == .f64 else {
            throw ModelSurgeryError.invalidParameter(parameter: "dtype", value: dtype.rawValue, expected: "F32 or F64")
        }
        let chunks = try TokenSequences.chunks(sequences, tokens: Swift.max(chunkTokens, 1)).map { try TokenBatch($0) }
        var states = try chunks.map { try model.embed($0) }
        let writer = try SafetensorsWriter(url: output, protecting: protecting)
        let tokenCount = chunks.map(\.tokenCount).reduce(0, +)
        var groups: [CalibrationReport.Group] = []
        var sameAs: [String: String] = [:]
        for block in 0..<model.blockCount {
            let blockStart = ContinuousClock.now
            let inputs = model.linearInputs(block: block)
            var grams: [Matrix<Double>?] = Array(repeating: nil, count: inputs.count)
            var absoluteSums: [[Double]] = Array(repeating: [], count: inputs.count)
            for (c, batch) in chunks.enumerated() {
                states[c] = try model.block(block, states[c], batch: batch) { input, x in
                    guard let g = inputs.firstIndex(of: input) else { return }
                    let gram = x.gram().converted(to: Double.self)
                    grams[g] = grams[g].map { $0 + gram } ?? gram
                    var sums = absoluteSums[g].isEmpty ? [Double](repeating: 0, count: x.columns) : absoluteSums[g]
                    x.withUnsafeBufferPointer { p in
                        for i in 0..<x.rows { for j in 0..<x.columns { sums[j] += Double(abs(p[i * x.columns + j])) } }
                    }
                    absoluteSums[g] = sums
                }
            }
            for (g, input) in inputs.enumerated() {
                guard let gram = grams[g] else { continue }
                let name = input.modules[0]
                try writer.add(name: "\(name).gram", matrix: gram, dtype: dtype)
                var count = Int64(tokenCount)
                try withUnsafeBytes(of: &count) { try writer.add(name: "\(name).tokens", shape: [], dtype: .i64, rawBytes: $0) }
                try writer.add(name: "\(name).abs_mean", shape: [gram.rows], array: absoluteSums[g].map { $0 / Double(tokenCount) }, dtype: .f32)
                for other in input.modules.dropFirst() { sameAs["\(other).same_as"] = name }
                groups.append(.init(name: name, modules: input.modules, inputs: gram.rows))
            }
            var report = LayerReport(layer: "block \(block)")
            report.seconds = secondsSince(blockStart)
            observer(.layer(index: block, count: model.blockCount, report))
        }
        try writer.finish(metadata: metadata.merging(sameAs) { $1 })
        return CalibrationReport(output: output.path, bytes: totalSize(writer.writtenFiles), sequences: sequences.count, tokens: tokenCount,
                                 groups: groups, seconds: secondsSince(start))
    }
}

/// What `eval` measured.
public struct EvaluationReport: Codable, Sendable {
    /// Causal LMs: exp(mean NLL) over the scored tokens.
    public var perplexity: Double?
    /// Causal LMs: the mean negative log-likelihood (nats per token).
    public var meanNLL: Double?
    /// Causal LMs: tokens scored (each window's first token is not).
    public var scoredTokens: Int?
    /// Encoders: the mean cosine of each sentence's embedding to the reference model's.
    public var meanCosine: Double?
    /// Encoders: the smallest of those cosines.
    public var minCosine: Double?
    /// Sequences run (windows or sentences).
    public var sequences: Int
    /// Wall-clock seconds.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case perplexity, sequences, seconds
        case meanNLL = "mean_nll", scoredTokens = "scored_tokens", meanCosine = "mean_cosine", minCosine = "min_cosine"
    }
}

/// Perplexity of a causal LM over token windows (the GPTQ paper's protocol
/// when the windows are `TokenSequences.consecutiveWindows`): every window
/// scored with shifted labels, exp of the mean NLL over all scored tokens.
/// Block by block over chunks, like `CalibrateJob`.
public struct PerplexityJob {
    /// The network.
    public var model: LlamaDecoder
    /// The windows.
    public var windows: [[Int]]
    /// Tokens per forward chunk (default 8192).
    public var chunkTokens: Int

    /// A job scoring `windows` with `model`.
    public init(model: LlamaDecoder, windows: [[Int]], chunkTokens: Int = 8192) {
        self.model = model
        self.windows = windows
        self.chunkTokens = chunkTokens
    }

    /// Runs it; a `.layer` event per block.
    ///
    /// - Throws: `ModelSurgeryError.invalidParameter` without a window of two or more tokens; `ModelError`.
    public func run(observer: JobObserver = { _ in }) throws -> EvaluationReport {
        let start = ContinuousClock.now
        let usable = windows.filter { $0.count > 1 }
        guard !usable.isEmpty else {
            throw ModelSurgeryError.invalidParameter(parameter: "text", value: "fewer than 2 tokens", expected: "a text of at least two tokens")
        }
        let chunks = try TokenSequences.chunks(usable, tokens: Swift.max(chunkTokens, 1)).map { try TokenBatch($0) }
        var states = try chunks.map { try model.embed($0) }
        for block in 0..<model.blockCount {
            let blockStart = ContinuousClock.now
            for (c, batch) in chunks.enumerated() { states[c] = try model.block(block, states[c], batch: batch, observer: nil) }
            var report = LayerReport(layer: "block \(block)")
            report.seconds = secondsSince(blockStart)
            observer(.layer(index: block, count: model.blockCount, report))
        }
        var total = 0.0, count = 0
        for (c, batch) in chunks.enumerated() {
            let part = try model.negativeLogLikelihood(hidden: states[c], batch: batch)
            total += part.sum
            count += part.count
        }
        let mean = total / Double(count)
        return EvaluationReport(perplexity: exp(mean), meanNLL: mean, scoredTokens: count, meanCosine: nil, minCosine: nil,
                                sequences: usable.count, seconds: secondsSince(start))
    }
}

/// How close an encoder's sentence embeddings stay to a reference model's:
/// the cosine of each sentence's two embeddings (mean pooling, L2 norm),
/// averaged. For a compressed model against its original.
public struct EmbeddingAgreementJob {
    /// The model measured (e.g. quantized, or with an adapter merged).
    public var model: BertEncoder
    /// The reference (e.g. the original).
    public var reference: BertEncoder
    /// One token sequence per sentence.
    public var sentences: [[Int]]
    /// Tokens per forward chunk (default 8192).
    public var chunkTokens: Int

    /// A job comparing `model` with `reference` on `sentences`.
    public init(model: BertEncoder, reference: BertEncoder, sentences: [[Int]], chunkTokens: Int = 8192) {
        self.model = model
        self.reference = reference
        self.sentences = sentences
        self.chunkTokens = chunkTokens
    }

    /// Runs both models; a `.layer` event per chunk.
    ///
    /// - Throws: `ModelSurgeryError.invalidParameter` without sentences; `ModelError`.
    public func run(observer: JobObserver = { _ in }) throws -> EvaluationReport {
        let start = ContinuousClock.now
        guard !sentences.isEmpty else {
            throw ModelSurgeryError.invalidParameter(parameter: "text", value: "no sentences", expected: "at least one non-empty line")
        }
        let chunks = try TokenSequences.chunks(sentences, tokens: Swift.max(chunkTokens, 1)).map { try TokenBatch($0) }
        var cosines: [Double] = []
        for (c, batch) in chunks.enumerated() {
            let a = try model.sentenceEmbeddings(batch), b = try reference.sentenceEmbeddings(batch)
            for (x, y) in zip(a, b) { cosines.append(zip(x, y).map { Double($0) * Double($1) }.reduce(0, +)) }
            observer(.layer(index: c, count: chunks.count, LayerReport(layer: "sentences \(cosines.count)")))
        }
        return EvaluationReport(perplexity: nil, meanNLL: nil, scoredTokens: nil, meanCosine: cosines.reduce(0, +) / Double(cosines.count),
                                minCosine: cosines.min(), sequences: sentences.count, seconds: secondsSince(start))
    }
}
