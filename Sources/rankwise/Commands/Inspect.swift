import ArgumentParser
import Foundation
import WeightFiles

/// `rankwise inspect MODEL`: tensors with dtype, shape, parameters and bytes;
/// totals by dtype; metadata.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a model's tensors, totals by dtype, and metadata.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A .safetensors file, a sharded index (.json), or a folder holding one.")
    var model: String

    func run() throws {
        try global.run { console in
            let checkpoint = try Checkpoint(path: model)
            var totals: [DType: (tensors: Int, parameters: Int, bytes: Int)] = [:]
            var rows: [[String: Any]] = []
            var lines: [String] = []
            let nameWidth = min(checkpoint.tensorNames.map(\.count).max() ?? 4, 70)
            for name in checkpoint.tensorNames {
                let info = checkpoint[name]!
                let shape = info.shape.map(String.init).joined(separator: "x")
                totals[info.dtype, default: (0, 0, 0)].tensors += 1
                totals[info.dtype]!.parameters += info.elementCount
                totals[info.dtype]!.bytes += info.byteCount
                rows.append(["name": name, "dtype": info.dtype.rawValue, "shape": info.shape, "parameters": info.elementCount, "bytes": info.byteCount])
                lines.append(name.padding(nameWidth + 2) + info.dtype.rawValue.padding(6) + (shape.isEmpty ? "scalar" : shape).padding(16)
                             + String(info.elementCount).padding(14) + formatBytes(info.byteCount))
            }
            let allParameters = totals.values.map(\.parameters).reduce(0, +), allBytes = totals.values.map(\.bytes).reduce(0, +)
            var out = ["name".padding(nameWidth + 2) + "dtype".padding(6) + "shape".padding(16) + "parameters".padding(14) + "bytes"] + lines
            out.append("")
            for (dtype, t) in totals.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                out.append("\(dtype.rawValue.padding(5)) \(t.tensors) tensors, \(t.parameters) parameters, \(formatBytes(t.bytes))")
            }
            out.append("total \(checkpoint.tensorNames.count) tensors, \(allParameters) parameters, \(formatBytes(allBytes)) in \(checkpoint.files.count) file(s)")
            if !checkpoint.metadata.isEmpty {
                out.append("metadata: " + checkpoint.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            }
            console.output(out.joined(separator: "\n"))
            try console.emitJSON([
                "path": model, "files": checkpoint.files.map(\.url.path), "tensors": rows,
                "totals": Dictionary(uniqueKeysWithValues: totals.map { ($0.key.rawValue, ["tensors": $0.value.tensors, "parameters": $0.value.parameters, "bytes": $0.value.bytes]) }),
                "parameters": allParameters, "bytes": allBytes, "metadata": checkpoint.metadata,
            ])
        }
    }
}

/// 1.5 GB, 12.0 MB, 512 B.
func formatBytes(_ n: Int) -> String {
    let units = [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
    for (size, unit) in units where Double(n) >= size { return String(format: "%.1f %@", Double(n) / size, unit) }
    return "\(n) B"
}
