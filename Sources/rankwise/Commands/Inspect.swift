import ArgumentParser
import Foundation
import ModelSurgery
import WeightFiles

/// `rankwise inspect MODEL`: tensors with dtype, shape, parameters and bytes;
/// totals by dtype; metadata; for a GPTQ/AWQ model, its packed layers; for a
/// GGUF model, each tensor's GGUF name, type and stored size, and the file.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a model's tensors, totals by dtype, and metadata (and a GPTQ/AWQ model's packing, a GGUF model's storage).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A .safetensors file, a sharded index (.json), a .gguf file, or a folder holding one.")
    var model: String

    func run() throws {
        try global.run { console in
            let summary = ModelSummary(try Checkpoint(path: model), path: model)
            let nameWidth = min(summary.tensors.map(\.name.count).max() ?? 4, 70)
            var out = ["name".padding(nameWidth + 2) + "dtype".padding(6) + "shape".padding(16) + "parameters".padding(14) + "bytes"]
            for t in summary.tensors {
                let shape = shapeText(t.shape)
                let packed = t.packed.map { "  packed \($0.format.rawValue) \($0.bits)-bit, \(formatBytes($0.storedBytes)) stored" } ?? ""
                let gguf = t.gguf.map { g in
                    "  gguf \(g.type) \(g.name), \(formatBytes(g.storedBytes)) stored" + (g.unpermutedHeads.map { ", rows un-permuted (\($0) heads)" } ?? "")
                } ?? ""
                out.append(t.name.padding(nameWidth + 2) + t.dtype.padding(6) + (shape.isEmpty ? "scalar" : shape).padding(16)
                           + String(t.parameters).padding(14) + formatBytes(t.bytes) + packed + gguf)
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
            if let g = summary.gguf {
                let arch = (g.architecture ?? "no architecture") + (g.huggingFaceArchitecture.map { " (\($0))" } ?? " (names as stored: no Hugging Face mapping)")
                let types = g.types.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                var line = "gguf v\(g.version): \(arch)" + (g.name.map { " '\($0)'" } ?? "")
                    + ", \(g.tensors) tensors (\(types)), \(formatBytes(g.storedBytes)) stored, \(formatBytes(g.dequantizedBytes)) as read"
                if g.unpermuted > 0 { line += "; q/k rows un-permuted in \(g.unpermuted) tensors" }
                if g.tiedEmbeddings { line += "; tied embeddings (no output.weight)" }
                if let tokenizer = g.tokenizer { line += "; tokenizer \(tokenizer), \(g.vocabulary ?? 0) tokens" }
                out.append(line)
            }
            if !summary.metadata.isEmpty {
                out.append("metadata: " + summary.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            }
            console.output(out.joined(separator: "\n"))
            try console.emitJSON(summary)
        }
    }
}
