import ArgumentParser
import Foundation
import LinearAlgebra
import LowRank
import ModelSurgery
import Compression
import WeightFiles

/// `rankwise demo`: the built-in example. A deterministic Llama-shaped model
/// and calibration set, quantised to 4 bits with RTN and with GPTQ, each then
/// compensated with plain SVD and with EoRA at ranks 16/32/64; prints a table
/// of activation error, adapter size and time, and writes the model, its
/// calibration statistics, a packed GPTQ checkpoint and the adapters.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the built-in example: 4-bit RTN and GPTQ, each with SVD and EoRA compensation (no input, no network).",
        discussion: """
            Writes into the output folder: model/ (the synthetic model, F16), calibration.safetensors (its Grams), \
            gptq-<bits>bit/ (the model as a packed GPTQ checkpoint, written by the quantize job) and one PEFT adapter \
            per quantizer, method and rank (rtn-eora-r32/, gptq-eora-r32/, …).
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Folder for the model, its packed GPTQ checkpoint and the adapters.", valueName: "dir"))
    var output: String = "demo-output"

    @Option(parsing: .unconditional, help: "Decoder blocks in the built-in model (1 to 16).")
    var blocks = 2

    @Option(parsing: .unconditional, help: "Quantisation bits (2, 3, 4 or 8: what packed checkpoints hold).")
    var bits = 4

    @Option(help: "Ranks to compare, comma-separated.")
    var ranks = "16,32,64"

    var rankList: [Int] { ranks.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard (1...16).contains(blocks) else { throw ValidationError("--blocks must be between 1 and 16, got \(blocks)") }
        guard [2, 3, 4, 8].contains(bits) else { throw ValidationError("--bits must be 2, 3, 4 or 8, got \(bits)") }
        let list = rankList
        guard !list.isEmpty, list.count == ranks.split(separator: ",").count, list.allSatisfy({ (1...256).contains($0) }) else {
            throw ValidationError("--ranks must be comma-separated integers between 1 and 256, got '\(ranks)'")
        }
    }

    func run() throws {
        // Before the computing, not after: everything goes here.
        let folder = URL(fileURLWithPath: output)
        try OutputPath.check(folder, as: .folder)
        try global.run { console in
            let model = SyntheticModel(blocks: blocks)
            let demo = CompensationDemo(model: model, bits: bits, groupSize: 64, ranks: rankList)
            let start = ContinuousClock.now
            console.progress("Built-in model: \(blocks) Llama-shaped blocks (hidden \(model.hidden), MLP \(model.intermediate)), "
                             + "\(model.layers.count) linear layers, \(model.tokens) calibration tokens with outlier channels")
            console.progress("\(bits)-bit RTN and GPTQ (group 64), then plain SVD and EoRA compensation at ranks \(ranks), backend \(Backend.current)")
            let result = try demo.run { report in
                let largest = rankList.max()!
                console.step(report.index, of: report.count, name: report.layer.name,
                             String(format: "[%2d/%d] %@  %dx%d  error RTN %.4f GPTQ %.4f  EoRA r=%d leaves %.3f / %.3f", report.index + 1, report.count,
                                    report.layer.name, report.layer.out, report.layer.inFeatures, report.quantizationError[.rtn] ?? 0,
                                    report.quantizationError[.gptq] ?? 0, largest, report.residualAtLargestRank[.rtn] ?? 0,
                                    report.residualAtLargestRank[.gptq] ?? 0))
            }
            let weightParameters = model.layers.map { $0.out * $0.inFeatures }.reduce(0, +)
            var lines = ["", "quantizer  method           rank   activation error   adapter (F32)          time"]
            for row in result.rows {
                let size = row.adapterParameters == 0 ? "—" : String(format: "%.2f MB (%.1f%%)", Double(row.adapterParameters * 4) / 1e6,
                                                                 100 * Double(row.adapterParameters) / Double(weightParameters))
                if row.method == .quantizedOnly && row.quantizer != result.rows.first?.quantizer { lines.append("") }
                lines.append(String(format: "%@ %@ %@ %@ %@ %@", row.quantizer.rawValue.padding(10), row.method.rawValue.padding(16),
                                    (row.rank == 0 ? "—" : "\(row.rank)").padding(6), String(format: "%.4f", row.activationError).padding(18),
                                    size.padding(22), String(format: "%.2f s", row.seconds)))
            }
            lines.append("")
            lines.append("activation error: ‖(W − Ŵ − BA) X‖ / ‖W X‖ over all layers, X the calibration inputs.")

            // The model, its statistics, the packed GPTQ checkpoint (through the quantize job), the adapters.
            let modelFolder = folder.appendingPathComponent("model"), calibration = folder.appendingPathComponent("calibration.safetensors")
            try demo.writeModel(folder: modelFolder, calibration: calibration)
            let packedFolder = folder.appendingPathComponent("gptq-\(bits)bit")
            let packed = try QuantizeJob(rewrite: ModelRewrite(model: try Checkpoint(path: modelFolder), output: packedFolder,
                                                               metadata: ["rankwise.command": "demo"]),
                                         method: .gptq(GPTQ(bits: bits, groupSize: 64), calibration: try CalibrationFile(path: calibration)),
                                         format: .gptq).run()
            for adapter in result.adapters { try adapter.write(into: folder) }
            lines.append(String(format: "model: %@/model (F16, %@), calibration.safetensors; packed GPTQ checkpoint: %@/%@ (%@, %.1fx smaller)",
                                output, formatBytes(packed.inputBytes ?? 0), output, packedFolder.lastPathComponent, formatBytes(packed.bytes),
                                Double(packed.inputBytes ?? 0) / Double(Swift.max(packed.bytes, 1))))
            lines.append("adapters (PEFT layout) in \(output)/: \(result.adapters.map(\.folderName).joined(separator: ", "))")
            lines.append("try: rankwise compensate --original \(output)/model --compressed \(output)/\(packedFolder.lastPathComponent) "
                         + "--calib \(output)/calibration.safetensors --rank 32 -o \(output)/my-eora")
            console.output(lines.joined(separator: "\n"))
            try console.emitJSON(object: [
                "model": ["blocks": blocks, "hidden": model.hidden, "intermediate": model.intermediate, "tokens": model.tokens],
                "bits": bits,
                "rows": result.rows.map { ["quantizer": $0.quantizer.rawValue, "method": $0.method.rawValue, "rank": $0.rank,
                                            "activation_error": $0.activationError, "adapter_parameters": $0.adapterParameters,
                                            "seconds": $0.seconds] as [String: Any] },
                "packed": ["folder": packedFolder.path, "bytes": packed.bytes, "model_bytes": packed.inputBytes ?? 0],
            ])
            console.progress(String(format: "done in %.1f s", secondsSince(start)))
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
