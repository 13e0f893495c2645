import ArgumentParser
import Compression
import Foundation
import LinearAlgebra
import LowRank
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
    @Option(help: "dtype of written tensors (default: the input's).") var dtype: String?
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
            let start = ContinuousClock.now
            let count = try rewriteModel(try Checkpoint(path: model), to: URL(fileURLWithPath: output), selection: layers.selection,
                                         dtype: try parseDType(dtype), maxShardSize: shards.limit, console: console,
                                         metadata: ["rankwise.command": "quantize --bits \(bits) --group-size \(groupSize)\(symmetric ? " --symmetric" : "")"]) { _, w in
                let q = try rtn.quantize(w)
                let error = Double((w - q).frobeniusNorm() / Swift.max(w.frobeniusNorm(), .leastNormalMagnitude))
                return (q, String(format: "%d-bit  rel err %.4f", bits, error))
            }
            console.progress(String(format: "wrote %@: %d layers quantised to %d bits; %.1f s", output, count, bits, secondsSince(start)))
            try console.emitJSON(["output": output, "layers": count, "bits": bits, "group_size": groupSize, "symmetric": symmetric])
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
    @Option(help: "dtype of written tensors (default: the input's).") var dtype: String?
    @Option(name: .shortAndLong, help: "The output .safetensors file.") var output: String
    @OptionGroup var shards: ShardOption

    func validate() throws {
        guard (pattern == nil) != (sparsity == nil) else { throw ValidationError("give exactly one of --pattern N:M or --sparsity S") }
        if let pattern {
            let parts = pattern.split(separator: ":", omittingEmptySubsequences: false).compactMap { Int($0) }
            guard parts.count == 2, (1...(1 << 16)).contains(parts[1]), (0...parts[1]).contains(parts[0]) else {
                throw ValidationError("--pattern must be N:M with 0 ≤ N ≤ M ≤ 65536, e.g. 2:4; got '\(pattern)'")
            }
        }
        if let sparsity { guard (0...1).contains(sparsity) else { throw ValidationError("--sparsity must be in [0, 1], got \(sparsity)") } }
        if calib != nil && pattern != nil { throw ValidationError("--calib (Wanda) goes with --sparsity, not --pattern") }
    }

    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: output), as: .file)
        try global.run { console in
            let calibration = try calib.map { try CalibrationFile(path: URL(fileURLWithPath: $0)) }
            let count = try rewriteModel(try Checkpoint(path: model), to: URL(fileURLWithPath: output), selection: layers.selection,
                                         dtype: try parseDType(dtype), protecting: calibration?.checkpoint.inputURLs ?? [], maxShardSize: shards.limit, console: console,
                                         metadata: ["rankwise.command": "prune"]) { name, w in
                let method: Pruning
                if let pattern {
                    let parts = pattern.split(separator: ":").map { Int($0)! }
                    method = .nOfM(n: parts[0], m: parts[1])
                } else if let calibration {
                    let layer = moduleName(name)
                    guard let c = try calibration.covariance(layer: layer) else {
                        throw CalibrationError.missingLayer(layer: layer, file: calibration.checkpoint.url.path)
                    }
                    method = .unstructured(sparsity: sparsity!, inputNorms: c.gram.diagonalElements.map { Swift.max($0, 0).squareRoot() })
                } else {
                    method = .unstructured(sparsity: sparsity!, inputNorms: nil)
                }
                let pruned = try method.prune(w)
                let zeros = pruned.elements.filter { $0 == 0 }.count
                return (pruned, String(format: "%.1f%% zeros", 100 * Double(zeros) / Double(Swift.max(pruned.count, 1))))
            }
            console.progress("wrote \(output): \(count) layers pruned")
            try console.emitJSON(["output": output, "layers": count])
        }
    }
}
