import ArgumentParser
import Compression
import Foundation
import LowRank
import ModelSurgery
import WeightFiles

/// `rankwise quantize`: round-to-nearest fake quantisation.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Round-to-nearest fake quantisation (weights stored dequantised, in the input dtype).",
        discussion: "Per row, per group of input columns; min-max asymmetric by default.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The model.") var model: String
    @Option(parsing: .unconditional, help: "Bits, 2 to 8.") var bits: Int
    @Option(parsing: .unconditional, help: "Input columns per quantisation group (0: the whole row).") var groupSize = 128
    @Flag(help: "Symmetric grid around zero instead of min-max.") var symmetric = false
    @OptionGroup var layers: LayerSelectionOptions
    @Option(help: "dtype of written tensors (default: the input's).") var dtype: DTypeArgument?
    @Option(name: .shortAndLong, help: "The output .safetensors file.") var output: String
    @OptionGroup var shards: ShardOption

    func validate() throws {
        guard (2...8).contains(bits) else { throw ValidationError("--bits must be between 2 and 8, got \(bits)") }
        guard (0...(1 << 30)).contains(groupSize) else { throw ValidationError("--group-size must be between 0 and 2^30, got \(groupSize)") }
    }

    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: output), as: .file)
        let rtn = RoundToNearest(bits: bits, groupSize: groupSize == 0 ? nil : groupSize, symmetric: symmetric)
        try global.run { console in
            let rewrite = ModelRewrite(model: try Checkpoint(path: model), output: URL(fileURLWithPath: output), selection: try layers.selection(),
                                       dtype: dtype?.dtype, maxShardSize: shards.limit,
                                       metadata: ["rankwise.command": "quantize --bits \(bits) --group-size \(groupSize)\(symmetric ? " --symmetric" : "")"])
            let report = try QuantizeJob(rewrite: rewrite, quantizer: rtn).run(observer: console.observer { i, n, r in
                String(format: "[%3d/%d] %@  %@  %d-bit  rel err %.4f  %.1f s", i + 1, n, r.layer, shapeText(r.shape), r.bits ?? 0,
                       r.relativeError ?? 0, r.seconds ?? 0)
            })
            console.progress(String(format: "wrote %@: %d layers quantised to %d bits; %.1f s", writtenText(report), report.layers.count, bits, report.seconds))
            try console.emitJSON(report)
        }
    }
}

/// `rankwise prune`: N:M or unstructured (magnitude or Wanda) pruning.
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Prune weights: N:M magnitude (--pattern 2:4) or unstructured (--sparsity, Wanda with --calib).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The model.") var model: String
    @Option(help: "N:M semi-structured pattern, e.g. 2:4.") var pattern: String?
    @Option(parsing: .unconditional, help: "Fraction of weights to zero (unstructured), 0 to 1.") var sparsity: Double?
    @Option(help: "Calibration statistics: Wanda scores |W|·‖x‖ instead of |W|.") var calib: String?
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

    func validate() throws {
        guard (pattern == nil) != (sparsity == nil) else { throw ValidationError("give exactly one of --pattern N:M or --sparsity S") }
        if let pattern, patternParts == nil {
            throw ValidationError("--pattern must be N:M with 0 ≤ N ≤ M ≤ 65536, e.g. 2:4; got '\(pattern)'")
        }
        if let sparsity { guard (0...1).contains(sparsity) else { throw ValidationError("--sparsity must be in [0, 1], got \(sparsity)") } }
        if calib != nil && pattern != nil { throw ValidationError("--calib (Wanda) goes with --sparsity, not --pattern") }
    }

    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: output), as: .file)
        try global.run { console in
            let method: PruneJob.Method
            if let parts = patternParts {
                method = .nOfM(n: parts.n, m: parts.m)
            } else if let calib {
                method = .wanda(sparsity: sparsity!, calibration: try CalibrationFile(path: URL(fileURLWithPath: calib)))
            } else {
                method = .magnitude(sparsity: sparsity!)
            }
            let rewrite = ModelRewrite(model: try Checkpoint(path: model), output: URL(fileURLWithPath: output), selection: try layers.selection(),
                                       dtype: dtype?.dtype, maxShardSize: shards.limit, metadata: ["rankwise.command": "prune"])
            let report = try PruneJob(rewrite: rewrite, method: method).run(observer: console.observer { i, n, r in
                String(format: "[%3d/%d] %@  %@  %.1f%% zeros  %.1f s", i + 1, n, r.layer, shapeText(r.shape), 100 * (r.zeroFraction ?? 0), r.seconds ?? 0)
            })
            console.progress("wrote \(writtenText(report)): \(report.layers.count) layers pruned")
            try console.emitJSON(report)
        }
    }
}
