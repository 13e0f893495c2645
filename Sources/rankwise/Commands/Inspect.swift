import ArgumentParser
import Foundation
import ModelSurgery
import WeightFiles

/// `rankwise inspect MODEL`: tensors with dtype, shape, parameters and bytes;
/// totals by dtype; metadata; for a GPTQ/AWQ model, its packed layers.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a model's tensors, totals by dtype, and metadata (and a GPTQ/AWQ model's packing).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A .safetensors file, a sharded index (.json), or a folder holding one.")
    var model: String

    func run() throws {
        try global.run { console in
            let summary = ModelSummary(try Checkpoint(path: model), path: model)
            let nameWidth = min(summary.tensors.map(\.name.count).max() ?? 4, 70)
            var out = ["name".padding(nameWidth + 2) + "dtype".padding(6) + "shape".padding(16) + "parameters".padding(14) + "bytes"]
            for t in summary.tensors {
                let shape = shapeText(t.shape)
                let packed = t.packed.map { "  packed \($0.format.rawValue) \($0.bits)-bit, \(formatBytes($0.storedBytes)) stored" } ?? ""
                out.append(t.name.padding(nameWidth + 2) + t.dtype.padding(6) + (shape.isEmpty ? "scalar" : shape).padding(16)
                           + String(t.parameters).padding(14) + formatBytes(t.bytes) + packed)
            }
            out.append("")
            for (dtype, t) in summary.totals.sorted(by: { $0.key < $1.key }) {
                out.append("\(dtype.padding(5)) \(t.tensors) tensors, \(t.parameters) parameters, \(formatBytes(t.bytes))")
            }
            out.append("total \(summary.tensors.count) tensors, \(summary.parameters) parameters, \(formatBytes(summary.bytes)) in \(summary.files.count) file(s)")
            if let q = summary.quantization {
                let group = q.groupSize.map { "group size \($0)" } ?? "one group per row"
                out.append("packed: \(q.layers) layers, \(q.format) \(q.bits)-bit, \(group), act-order \(q.actOrder ? "yes" : "no")"
                           + (q.uniform ? "" : " (first layer; layers differ)") + (q.inferred ? " (inferred from shapes: no quantization config)" : "")
                           + "; \(formatBytes(q.storedBytes)) stored, \(formatBytes(q.dequantizedBytes)) dequantized")
            }
            if !summary.metadata.isEmpty {
                out.append("metadata: " + summary.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            }
            console.output(out.joined(separator: "\n"))
            try console.emitJSON(summary)
        }
    }
}
