import ArgumentParser
import Foundation
import LinearAlgebra
import WeightFiles

/// `rankwise convert MODEL --dtype bf16 -o OUT.safetensors`: floating tensors
/// re-encoded (round to nearest even), integer and bool tensors copied as is;
/// one tensor in memory at a time.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Convert a model's floating tensors to another dtype.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A .safetensors file, a sharded index (.json), or a folder holding one.")
    var model: String

    @Option(help: "Target dtype for floating tensors: f32, f16, bf16 or f64.")
    var dtype: String

    @Option(name: .shortAndLong, help: "The output .safetensors file.")
    var output: String

    @OptionGroup var shards: ShardOption

    func validate() throws {
        guard DType(cliName: dtype) != nil else { throw ValidationError("--dtype must be f32, f16, bf16 or f64, got '\(dtype)'") }
    }

    func run() throws {
        let target = DType(cliName: dtype)!
        try OutputPath.check(URL(fileURLWithPath: output), as: .file)
        try global.run { console in
            let start = ContinuousClock.now
            let checkpoint = try Checkpoint(path: model)
            let names = checkpoint.tensorNames
            var metadata = checkpoint.metadata
            metadata["rankwise.converted_from"] = model
            let layout = names.map { name in
                let info = checkpoint[name]!
                return TensorLayout(name: name, dtype: info.dtype.isFloatingPoint ? target : info.dtype, shape: info.shape)
            }
            let writer = try SafetensorsWriter(url: URL(fileURLWithPath: output), protecting: checkpoint.inputURLs,
                                               layout: layout, metadata: metadata, maxShardSize: shards.limit)
            for (i, name) in names.enumerated() {
                let info = checkpoint[name]!
                if info.dtype.isFloatingPoint && info.dtype != target {
                    try writer.add(name: name, shape: info.shape, dtype: target, converting: try checkpoint.rawBytes(name), from: info.dtype)
                    checkpoint.evict(name)
                } else {
                    try writer.add(copying: name, from: checkpoint)
                }
                console.step(i, of: names.count, name: name,
                             String(format: "[%3d/%d] %@  %@ -> %@", i + 1, names.count, name, info.dtype.rawValue,
                                    info.dtype.isFloatingPoint ? target.rawValue : info.dtype.rawValue))
            }
            try writer.finish()
            warnAboutOverflows(writer, console: console)
            let size = writer.writtenFiles.compactMap { (try? FileManager.default.attributesOfItem(atPath: $0.path)[.size]) as? Int }.reduce(0, +)
            let written = writer.writtenFiles.count == 1 ? output : "\(writer.writtenFiles.count - 1) shards + \(writer.writtenFiles.last!.lastPathComponent)"
            console.progress(String(format: "wrote %@: %d tensors, %@, %.1f s", written, names.count, formatBytes(size), secondsSince(start)))
            try console.emitJSON(["output": output, "tensors": names.count, "bytes": size, "dtype": target.rawValue])
        }
    }
}
