import ArgumentParser
import Compression
import Foundation
import LowRank
import ModelSurgery
import Models
import WeightFiles

/// `rankwise quantize`: round-to-nearest or GPTQ, stored dequantized or as a packed GPTQ checkpoint.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize weights: round-to-nearest or GPTQ; dequantized floats or a packed GPTQ checkpoint folder.",
        discussion: """
            Per row, per group of input columns; min-max (asymmetric) grids by default, --sym for GPTQ's symmetric ones. \
            GPTQ needs the layers' input statistics (--calib: M.gram + M.tokens or M.inputs, as compensate reads). \
            --format gptq writes a folder that transformers, optimum, GPTQModel and vLLM load: qweight, qzeros, scales, \
            g_idx per layer (bits 2, 3, 4 or 8), config.json with quantization_config, quantize_config.json and the \
            tokenizer files of the model's folder; --format dequantized (the default) writes one safetensors file (or \
            shards) of floats in the model's layout.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The model.") var model: String
    @Option(help: "rtn (round to nearest) or gptq (needs --calib).") var method: QuantizeMethod = .rtn
    @Option(parsing: .unconditional, help: "Bits per weight: 2 to 8 (packed: 2, 3, 4 or 8).") var bits = 4
    @Option(parsing: .unconditional, help: "Input columns per quantization group; -1 (or 0): one group per row.") var groupSize = 128
    @Flag(name: [.customLong("sym"), .customLong("symmetric")], help: "Symmetric grids around zero (GPTQ's sym=True).") var symmetric = false
    @Flag(name: .customLong("asym"), help: "Min-max grids (the default).") var asymmetric = false
    @Flag(name: .customLong("act-order"), help: "GPTQ: process columns by decreasing input energy (desc_act).") var actOrder = false
    @Flag(name: .customLong("static-groups"), help: "GPTQ: every group's grid from the original weights (static_groups).") var staticGroups = false
    @Option(parsing: .unconditional, help: "GPTQ: damping of the Gram, a fraction of its mean diagonal in [0, 1).") var damp = 0.01
    @Option(help: "GPTQ: calibration statistics (M.gram + M.tokens, or M.inputs).") var calib: String?
    @Option(help: "GPTQ: a calibration text; GPTQ then runs sequentially through the model (needs config.json and tokenizer.json, or a GGUF).")
    var calibText: String?
    @Option(parsing: .unconditional, help: "With --calib-text, causal LMs: windows (1 to 100000).") var samples = 128
    @Option(parsing: .unconditional, help: "With --calib-text, causal LMs: tokens per window (2 to 131072).") var seqLen = 2048
    @Option(parsing: .unconditional, help: "With --calib-text, causal LMs: the seed of the window starts.") var seed: UInt64 = 0
    @Option(help: "dequantized (floats, a .safetensors file) or gptq (a packed checkpoint folder).") var format: QuantizeJob.Format = .dequantized
    @OptionGroup var layers: LayerSelectionOptions
    @Option(help: "dtype of written float tensors (default: the input's).") var dtype: DTypeArgument?
    @Option(name: .shortAndLong, help: "The output: a .safetensors file, or a folder with --format gptq.") var output: String
    @OptionGroup var shards: ShardOption

    func validate() throws {
        guard (2...8).contains(bits) else { throw ValidationError("--bits must be between 2 and 8, got \(bits)") }
        if format == .gptq && ![2, 3, 4, 8].contains(bits) {
            throw ValidationError("--bits must be 2, 3, 4 or 8 with --format gptq (what loaders read), got \(bits)")
        }
        guard (-1...(1 << 30)).contains(groupSize) else { throw ValidationError("--group-size must be -1 (one group per row) or between 1 and 2^30, got \(groupSize)") }
        if symmetric && asymmetric { throw ValidationError("give at most one of --sym and --asym") }
        guard damp.isFinite, (0..<1).contains(damp) else { throw ValidationError("--damp must be in [0, 1), got \(damp)") }
        if method == .gptq && (calib == nil) == (calibText == nil) {
            throw ValidationError("--method gptq needs one of --calib (statistics) or --calib-text (a text to run the model on)")
        }
        guard (1...100_000).contains(samples) else { throw ValidationError("--samples must be between 1 and 100000, got \(samples)") }
        guard (2...131_072).contains(seqLen) else { throw ValidationError("--seq-len must be between 2 and 131072, got \(seqLen)") }
        if method == .rtn {
            if calib != nil || calibText != nil { throw ValidationError("--calib and --calib-text go with --method gptq; round-to-nearest uses no statistics") }
            if actOrder || staticGroups { throw ValidationError("--act-order and --static-groups go with --method gptq") }
        }
        if staticGroups && groupSize <= 0 { throw ValidationError("--static-groups needs a --group-size") }
    }

    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: output), as: format == .gptq ? .folder : .file)
        let group = groupSize <= 0 ? nil : groupSize
        try global.run { console in
            let quantizer: QuantizeJob.Method
            switch method {
            case .rtn: quantizer = .roundToNearest(RoundToNearest(bits: bits, groupSize: group, symmetric: symmetric))
            case .gptq:
                let gptq = GPTQ(bits: bits, groupSize: group, symmetric: symmetric, actOrder: actOrder, staticGroups: staticGroups, damp: damp)
                if let calibText {
                    let loaded = try LoadedModel(url: URL(fileURLWithPath: model))
                    let tokens = loaded.sequences(of: try readText(calibText, flag: "--calib-text"))
                    let sequences = loaded.isCausal ? TokenSequences.randomWindows(of: tokens.whole, count: samples, length: seqLen, seed: seed) : tokens.lines
                    console.progress("sequential GPTQ: \(sequences.count) sequences, \(sequences.map(\.count).reduce(0, +)) tokens")
                    let configuration = loaded.configuration
                    quantizer = .sequentialGPTQ(gptq, model: { weights in
                        switch configuration {
                        case .bert(let c): return try BertEncoder(weights: weights, configuration: c)
                        case .llama(let c): return try LlamaDecoder(weights: weights, configuration: c)
                        }
                    }, sequences: sequences)
                } else {
                    quantizer = .gptq(gptq, calibration: try CalibrationFile(path: URL(fileURLWithPath: calib!)))
                }
            }
            let command = "quantize --method \(method.rawValue) --bits \(bits) --group-size \(groupSize)\(symmetric ? " --sym" : "")"
                + (actOrder ? " --act-order" : "") + (staticGroups ? " --static-groups" : "") + (method == .gptq ? " --damp \(damp)" : "")
            let rewrite = ModelRewrite(model: try Checkpoint(path: model), output: URL(fileURLWithPath: output), selection: try layers.selection(),
                                       dtype: dtype?.dtype, maxShardSize: shards.limit, metadata: ["rankwise.command": command])
            let report = try QuantizeJob(rewrite: rewrite, method: quantizer, format: format).run(observer: console.observer { i, n, r in
                var line = String(format: "[%3d/%d] %@  %@  %d-bit  rel err %.4f", i + 1, n, r.layer, shapeText(r.shape), r.bits ?? 0, r.relativeError ?? 0)
                if let a = r.activationError { line += String(format: "  act err %.4f", a) }
                return line + String(format: "  %.1f s", r.seconds ?? 0)
            })
            let written = format == .gptq ? "\(report.output)/ (\(report.files.count) files)" : writtenText(report)
            var summary = String(format: "wrote %@: %d layers quantized to %d bits", written, report.layers.count, bits)
            if let before = report.inputBytes {
                summary += String(format: " (%@, the input was %@: %.2fx smaller)", formatBytes(report.bytes), formatBytes(before),
                                  Double(before) / Double(Swift.max(report.bytes, 1)))
            }
            console.progress(summary + String(format: "; %.1f s", report.seconds))
            try console.emitJSON(report)
        }
    }
}

/// `--method` of `rankwise quantize`.
enum QuantizeMethod: String, ExpressibleByArgument, CaseIterable {
    case rtn, gptq
}

extension QuantizeJob.Format: ExpressibleByArgument {}

/// `rankwise prune`: N:M or unstructured pruning by magnitude, Wanda or SparseGPT.
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prune weights: magnitude, Wanda or SparseGPT; N:M (--pattern 2:4) or unstructured (--sparsity).",
        discussion: """
            magnitude zeroes the smallest |w|; wanda the smallest |w|·‖x‖ per row (needs --calib); sparsegpt prunes with \
            GPTQ's error feedback on the layers' input statistics (needs --calib) and with --bits also quantizes the kept \
            weights (per-row min-max grid). Without --method: wanda when --calib is given, else magnitude.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The model.") var model: String
    @Option(help: "magnitude, wanda or sparsegpt.") var method: PruneMethod?
    @Option(help: "N:M semi-structured pattern (keep N of every M), e.g. 2:4.") var pattern: String?
    @Option(parsing: .unconditional, help: "Fraction of weights to zero (unstructured), 0 to 1.") var sparsity: Double?
    @Option(parsing: .unconditional, help: "SparseGPT: also quantize the kept weights to this many bits (2 to 8).") var bits: Int?
    @Option(parsing: .unconditional, help: "SparseGPT: damping of the Gram, a fraction of its mean diagonal in [0, 1).") var damp = 0.01
    @Option(help: "Calibration statistics (wanda and sparsegpt).") var calib: String?
    @OptionGroup var layers: LayerSelectionOptions
    @Option(help: "dtype of written tensors (default: the input's).") var dtype: DTypeArgument?
    @Option(name: .shortAndLong, help: "The output .safetensors file.") var output: String
    @OptionGroup var shards: ShardOption

    var patternParts: (n: Int, m: Int)? {
        guard let pattern else { return nil }
        let parts = pattern.split(separator: ":", omittingEmptySubsequences: false).compactMap { Int($0) }
        guard parts.count == 2, (1...(1 << 16)).contains(parts[1]), (0...parts[1]).contains(parts[0]) else { return nil }
        return (parts[0], parts[1])
    }

    var resolvedMethod: PruneMethod { method ?? (calib == nil ? .magnitude : .wanda) }

    func validate() throws {
        guard (pattern == nil) != (sparsity == nil) else { throw ValidationError("give exactly one of --pattern N:M or --sparsity S") }
        if let pattern, patternParts == nil {
            throw ValidationError("--pattern must be N:M with 0 ≤ N ≤ M ≤ 65536, e.g. 2:4; got '\(pattern)'")
        }
        if let sparsity { guard sparsity.isFinite, (0...1).contains(sparsity) else { throw ValidationError("--sparsity must be in [0, 1], got \(sparsity)") } }
        switch resolvedMethod {
        case .magnitude:
            if calib != nil { throw ValidationError("--calib goes with --method wanda or sparsegpt") }
        case .wanda:
            if calib == nil { throw ValidationError("--method wanda needs --calib") }
            if pattern != nil { throw ValidationError("--calib (Wanda) goes with --sparsity, not --pattern") }
        case .sparsegpt:
            if calib == nil { throw ValidationError("--method sparsegpt needs --calib (the layers' input statistics)") }
        }
        if let bits {
            guard resolvedMethod == .sparsegpt else { throw ValidationError("--bits goes with --method sparsegpt") }
            guard (2...8).contains(bits) else { throw ValidationError("--bits must be between 2 and 8, got \(bits)") }
        }
        guard damp.isFinite, (0..<1).contains(damp) else { throw ValidationError("--damp must be in [0, 1), got \(damp)") }
    }

    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: output), as: .file)
        try global.run { console in
            let job: PruneJob.Method
            switch resolvedMethod {
            case .magnitude:
                job = patternParts.map { .nOfM(n: $0.n, m: $0.m) } ?? .magnitude(sparsity: sparsity!)
            case .wanda:
                job = .wanda(sparsity: sparsity!, calibration: try CalibrationFile(path: URL(fileURLWithPath: calib!)))
            case .sparsegpt:
                let shape: SparseGPT.Pattern = patternParts.map { .nOfM(n: $0.n, m: $0.m) } ?? .unstructured(sparsity: sparsity!)
                job = .sparseGPT(SparseGPT(pattern: shape, bits: bits, damp: damp), calibration: try CalibrationFile(path: URL(fileURLWithPath: calib!)))
            }
            let command = "prune --method \(resolvedMethod.rawValue)" + (pattern.map { " --pattern \($0)" } ?? "")
                + (sparsity.map { " --sparsity \($0)" } ?? "") + (bits.map { " --bits \($0)" } ?? "")
            let rewrite = ModelRewrite(model: try Checkpoint(path: model), output: URL(fileURLWithPath: output), selection: try layers.selection(),
                                       dtype: dtype?.dtype, maxShardSize: shards.limit, metadata: ["rankwise.command": command])
            let report = try PruneJob(rewrite: rewrite, method: job).run(observer: console.observer { i, n, r in
                var line = String(format: "[%3d/%d] %@  %@  %.1f%% zeros", i + 1, n, r.layer, shapeText(r.shape), 100 * (r.zeroFraction ?? 0))
                if let a = r.activationError { line += String(format: "  act err %.4f", a) }
                return line + String(format: "  %.1f s", r.seconds ?? 0)
            })
            console.progress("wrote \(writtenText(report)): \(report.layers.count) layers pruned")
            try console.emitJSON(report)
        }
    }
}

/// `--method` of `rankwise prune`.
enum PruneMethod: String, ExpressibleByArgument, CaseIterable {
    case magnitude, wanda, sparsegpt
}
