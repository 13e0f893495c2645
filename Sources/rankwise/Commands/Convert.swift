import ArgumentParser
import Foundation
import ModelSurgery
import WeightFiles

/// `rankwise convert MODEL --dtype bf16 -o OUT.safetensors`.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model's floating tensors to another dtype.",
        discussion: """
            Floating tensors are re-encoded (round to nearest even), integer and bool tensors copied; one tensor in memory at a time. \
            A GGUF model is read under Hugging Face names (block formats dequantized, llama q/k rows in Hugging Face order); \
            only its tensors are written, not a config.json or tokenizer.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A .safetensors file, a sharded index (.json), a .gguf file (read under Hugging Face names), or a folder holding one.")
    var model: String

    @Option(help: "Target dtype for floating tensors: f32, f16, bf16 or f64.")
    var dtype: DTypeArgument

    @Option(name: .shortAndLong, help: "The output .safetensors file.")
    var output: String

    @OptionGroup var shards: ShardOption

    func run() throws {
        try OutputPath.check(URL(fileURLWithPath: output), as: .file)
        try global.run { console in
            let report = try ConvertJob(model: try Checkpoint(path: model), output: URL(fileURLWithPath: output), dtype: dtype.dtype,
                                        maxShardSize: shards.limit)
                .run(observer: console.observer { i, n, r in
                    String(format: "[%3d/%d] %@  %@ -> %@", i + 1, n, r.layer, r.fromDType ?? "", r.toDType ?? "")
                })
            console.progress(String(format: "wrote %@: %d tensors, %@, %.1f s", writtenText(report), report.tensors, formatBytes(report.bytes), report.seconds))
            try console.emitJSON(report)
        }
    }
}
