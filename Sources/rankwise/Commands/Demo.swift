import ArgumentParser
import Foundation
import LinearAlgebra
import LowRank
import ModelSurgery
import WeightFiles

/// `rankwise demo`: the built-in example. A deterministic Llama-shaped model
/// and calibration set, quantised to 4 bits with RTN, then compensated with
/// plain SVD and with EoRA at ranks 16/32/64; prints a table of activation
/// error, adapter size and time, and writes the adapters.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the built-in example: 4-bit RTN, then SVD vs EoRA compensation (no input, no network)."
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Folder for the adapters (PEFT layout), one per method and rank.", valueName: "dir"))
    var output: String = "demo-output"

    @Option(parsing: .unconditional, help: "Decoder blocks in the built-in model (1 to 16).")
    var blocks = 2

    @Option(parsing: .unconditional, help: "Quantisation bits (2 to 8).")
    var bits = 4

    @Option(help: "Ranks to compare, comma-separated.")
    var ranks = "16,32,64"

    var rankList: [Int] { ranks.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard (1...16).contains(blocks) else { throw ValidationError("--blocks must be between 1 and 16, got \(blocks)") }
        guard (2...8).contains(bits) else { throw ValidationError("--bits must be between 2 and 8, got \(bits)") }
        let list = rankList
        guard !list.isEmpty, list.count == ranks.split(separator: ",").count, list.allSatisfy({ (1...256).contains($0) }) else {
            throw ValidationError("--ranks must be comma-separated integers between 1 and 256, got '\(ranks)'")
        }
    }

    func run() throws {
        // Before 15 s of computing, not after: the adapters go here.
        try OutputPath.check(URL(fileURLWithPath: output), as: .folder)
        try global.run { console in
            let model = SyntheticModel(blocks: blocks)
            let demo = CompensationDemo(model: model, bits: bits, groupSize: 64, ranks: rankList)
            let start = ContinuousClock.now
            console.progress("Built-in model: \(blocks) Llama-shaped blocks (hidden \(model.hidden), MLP \(model.intermediate)), "
                             + "\(model.layers.count) linear layers, \(model.tokens) calibration tokens with outlier channels")
            console.progress("\(bits)-bit RTN (group 64), then plain SVD and EoRA compensation at ranks \(ranks), backend \(Backend.current)")
            let result = try demo.run { report in
                let largest = rankList.max()!
                let svd = report.residualAtLargestRank[.svd] ?? 0, eora = report.residualAtLargestRank[.eora] ?? 0
                console.step(report.index, of: report.count, name: report.layer.name,
                             String(format: "[%2d/%d] %@  %dx%d  RTN err %.4f  residual at r=%d: SVD %.3f  EoRA %.3f",
                                    report.index + 1, report.count, report.layer.name, report.layer.out, report.layer.inFeatures,
                                    report.quantizationError, largest, svd, eora))
            }
            let weightParameters = model.layers.map { $0.out * $0.inFeatures }.reduce(0, +)
            var lines = ["", "method     rank   activation error   adapter (F32)          time"]
            for row in result.rows {
                let size = row.adapterParameters == 0 ? "—" : String(format: "%.2f MB (%.1f%%)", Double(row.adapterParameters * 4) / 1e6,
                                                                 100 * Double(row.adapterParameters) / Double(weightParameters))
                lines.append(String(format: "%@ %@ %@ %@ %@", row.method.rawValue.padding(10), (row.rank == 0 ? "—" : "\(row.rank)").padding(6),
                                    String(format: "%.4f", row.activationError).padding(18), size.padding(22),
                                    row.method == .quantizedOnly ? String(format: "%.2f s", result.quantizationSeconds) : String(format: "%.2f s", row.seconds)))
            }
            lines.append("")
            lines.append("activation error: ‖(W − Ŵ − BA) X‖ / ‖W X‖ over all layers, X the calibration inputs.")
            // One PEFT adapter per method and rank.
            for adapter in result.adapters { try adapter.write(into: URL(fileURLWithPath: output)) }
            lines.append("adapters: \(result.adapters.map(\.folderName).joined(separator: ", ")) in \(output)/ (PEFT layout)")
            console.output(lines.joined(separator: "\n"))
            try console.emitJSON(object: [
                "model": ["blocks": blocks, "hidden": model.hidden, "intermediate": model.intermediate, "tokens": model.tokens],
                "bits": bits,
                "rows": result.rows.map { ["method": $0.method.rawValue, "rank": $0.rank, "activation_error": $0.activationError,
                                            "adapter_parameters": $0.adapterParameters, "seconds": $0.seconds] as [String: Any] },
            ])
            console.progress(String(format: "done in %.1f s", secondsSince(start)))
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
