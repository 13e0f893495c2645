import ArgumentParser
import Foundation
import LinearAlgebra
import Models
import ModelSurgery
import WeightFiles

/// Reads a calibration or evaluation text (a regular file, at most 1 GiB).
func readText(_ path: String, flag: String) throws -> String {
    let data = try readRegularFile(URL(fileURLWithPath: path), limit: 1 << 30)
    guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("\(flag) \(path): not UTF-8 text") }
    return text
}

/// `rankwise calibrate`: per-Linear input statistics from a forward pass over a text.
struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Calibration statistics (a Gram per shared Linear input) from running the model on a text.",
        discussion: """
            Causal LMs (Llama, Mistral, Qwen2/3, SmolLM2; safetensors folder or GGUF) take --samples random windows of \
            --seq-len tokens of the tokenized text (seeded, as GPTQ does); encoders (BERT) take each non-empty line as one \
            input, cut to the model's maximum length. The output holds M.gram, M.tokens and M.abs_mean for the first module \
            of each group sharing an input, the others pointing at it with same_as; compensate, quantize --method gptq, \
            prune --method sparsegpt and merge --method regmean read it.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The model: a folder (config.json, weights, tokenizer.json) or a .gguf file.") var model: String
    @Option(help: "The calibration text (UTF-8).") var text: String
    @Option(parsing: .unconditional, help: "Causal LMs: how many windows (1 to 100000).") var samples = 128
    @Option(parsing: .unconditional, help: "Causal LMs: tokens per window (2 to 131072).") var seqLen = 2048
    @Option(parsing: .unconditional, help: "Causal LMs: the seed of the window starts.") var seed: UInt64 = 0
    @Option(help: "Stored dtype of the Grams: f32 or f64.") var dtype = DTypeArgument(.f32)
    @Option(name: .shortAndLong, help: "The calibration .safetensors file.") var output: String

    func validate() throws {
        guard (1...100_000).contains(samples) else { throw ValidationError("--samples must be between 1 and 100000, got \(samples)") }
        guard (2...131_072).contains(seqLen) else { throw ValidationError("--seq-len must be between 2 and 131072, got \(seqLen)") }
        guard dtype.dtype == .f32 || dtype.dtype == .f64 else { throw ValidationError("--dtype must be f32 or f64 for calibration Grams") }
    }

    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: output), as: .file)
        try global.run { console in
            let loaded = try LoadedModel(url: URL(fileURLWithPath: model))
            let corpus = try readText(text, flag: "--text")
            let tokens = loaded.sequences(of: corpus)
            let sequences = loaded.isCausal ? TokenSequences.randomWindows(of: tokens.whole, count: samples, length: seqLen, seed: seed) : tokens.lines
            if loaded.isCausal && tokens.whole.count <= seqLen {
                console.warning("the text has \(tokens.whole.count) tokens, not more than --seq-len \(seqLen): one window of the whole text")
            }
            console.progress("\(sequences.count) sequences, \(sequences.map(\.count).reduce(0, +)) tokens; \(loaded.isCausal ? "causal LM" : "encoder"), backend \(Backend.current)")
            let job = CalibrateJob(model: try loaded.network(), sequences: sequences, output: URL(fileURLWithPath: output), dtype: dtype.dtype,
                                   protecting: loaded.checkpoint.inputURLs + [URL(fileURLWithPath: text)],
                                   metadata: ["rankwise.command": "calibrate --samples \(samples) --seq-len \(seqLen) --seed \(seed)",
                                              "rankwise.model": model])
            let report = try job.run(observer: console.observer { i, n, r in String(format: "[%3d/%d] %@  %.1f s", i + 1, n, r.layer, r.seconds ?? 0) })
            console.progress(String(format: "wrote %@: %d input groups, %d tokens, %@; %.1f s", output, report.groups.count, report.tokens,
                                    formatBytes(report.bytes), report.seconds))
            try console.emitJSON(report)
        }
    }
}

/// `rankwise eval`: perplexity of a causal LM, or embedding agreement of an encoder with its reference.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on a text: perplexity (causal LMs) or mean embedding cosine to --reference (encoders).",
        discussion: """
            Causal LMs: the text is tokenized once and cut into non-overlapping windows of --seq-len tokens (the GPTQ \
            paper's protocol; a shorter text is one window); every window is scored with shifted labels and the \
            perplexity is exp of the mean NLL. Encoders: each non-empty line is a sentence; its embedding (mean pooling, \
            L2 norm) is compared with --reference's, and the mean cosine printed. --adapter merges a PEFT LoRA adapter into \
            the model on the fly (W + s·BA), so quantize → compensate → eval is one toolchain.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The model: a folder (config.json, weights, tokenizer.json) or a .gguf file.") var model: String
    @Option(help: "A PEFT LoRA adapter folder to merge into the model.") var adapter: String?
    @Option(help: "Encoders: the reference model (e.g. the original) to compare embeddings with.") var reference: String?
    @Option(help: "The evaluation text (UTF-8).") var text: String
    @Option(parsing: .unconditional, help: "Causal LMs: tokens per window (2 to 131072).") var seqLen = 2048

    func validate() throws {
        guard (2...131_072).contains(seqLen) else { throw ValidationError("--seq-len must be between 2 and 131072, got \(seqLen)") }
    }

    func run() throws {
        try global.run { console in
            let loaded = try LoadedModel(url: URL(fileURLWithPath: model))
            var weights: WeightProvider = loaded.checkpoint
            if let adapter { weights = try LoRAMergedWeights(base: loaded.checkpoint, adapter: try PEFTAdapter(directory: URL(fileURLWithPath: adapter))) }
            let corpus = try readText(text, flag: "--text")
            let tokens = loaded.sequences(of: corpus)
            let report: EvaluationReport
            switch try loaded.network(weights: weights) {
            case let decoder as LlamaDecoder:
                let windows = TokenSequences.consecutiveWindows(of: tokens.whole, length: seqLen)
                console.progress("\(windows.count) window(s) of \(windows.first?.count ?? 0) tokens (\(tokens.whole.count) tokens in the text), backend \(Backend.current)")
                report = try PerplexityJob(model: decoder, windows: windows).run(observer: console.observer { i, n, r in
                    String(format: "[%3d/%d] %@  %.1f s", i + 1, n, r.layer, r.seconds ?? 0) })
                console.output(String(format: "perplexity %.4f (mean NLL %.5f nats over %d tokens)", report.perplexity!, report.meanNLL!, report.scoredTokens!))
            case let encoder as BertEncoder:
                guard let reference else { throw ValidationError("an encoder is evaluated against --reference (the model to compare embeddings with)") }
                let other = try LoadedModel(url: URL(fileURLWithPath: reference))
                guard case .bert = other.configuration, let referenceEncoder = try other.network() as? BertEncoder else {
                    throw ValidationError("--reference \(reference) is not an encoder like the model")
                }
                report = try EmbeddingAgreementJob(model: encoder, reference: referenceEncoder, sentences: tokens.lines).run(observer: console.observer { i, n, r in
                    String(format: "[%3d/%d] %@", i + 1, n, r.layer) })
                console.output(String(format: "mean cosine %.6f (min %.6f) over %d sentences", report.meanCosine!, report.minCosine!, report.sequences))
            default:
                throw ValidationError("unsupported model")
            }
            try console.emitJSON(report)
        }
    }
}
