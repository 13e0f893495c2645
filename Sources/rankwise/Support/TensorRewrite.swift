import Foundation
import LinearAlgebra
import WeightFiles

/// Copies a model tensor by tensor into a new safetensors file, replacing the
/// selected 2-D floating tensors by `transform(name, W)` (stored in the input
/// dtype unless `dtype` says otherwise) and copying everything else
/// unchanged. One tensor in memory at a time; atomic output.
func rewriteModel(_ model: Checkpoint, to output: URL, selection: LayerSelection, dtype: DType?, protecting: [URL] = [],
                  maxShardSize: Int? = nil, console: Console, metadata: [String: String],
                  transform: (String, Matrix<Float>) throws -> (Matrix<Float>, String)) throws -> Int {
    let writer = try SafetensorsWriter(url: output, protecting: model.inputURLs + protecting)
    writer.maxShardSize = maxShardSize
    let names = model.tensorNames
    let selected = names.filter { selection.selects(name: $0, isMatrix: model[$0]!.isMatrix) }
    guard !selected.isEmpty else { throw CLIError("no layer of \(model.url.path) matches the selection (2-D floating *.weight tensors, minus --exclude)") }
    var done = 0
    for name in names {
        let info = model[name]!
        if selected.contains(name) {
            let start = ContinuousClock.now
            let w: Matrix<Float> = try model.matrix(name)
            guard w.isFinite else { throw CLIError("tensor '\(name)' in \(model.url.path) contains NaN or infinity") }
            let (out, detail) = try transform(name, w)
            try writer.add(name: name, matrix: out, dtype: dtype ?? info.dtype)
            done += 1
            console.progress(String(format: "[%3d/%d] %@  %dx%d  %@  %.1f s", done, selected.count, name, w.rows, w.columns, detail, secondsSince(start)))
        } else if let dtype, info.dtype.isFloatingPoint, info.dtype != dtype {
            try writer.add(name: name, shape: info.shape, array: try model.array(name, as: Float.self), dtype: dtype)
        } else {
            try writer.add(name: name, shape: info.shape, dtype: info.dtype, rawBytes: try model.rawBytes(name))
            model.evict(name)
        }
    }
    try writer.finish(metadata: model.metadata.merging(metadata) { $1 })
    return selected.count
}

/// --dtype for written tensors.
func parseDType(_ name: String?) throws -> DType? {
    guard let name else { return nil }
    guard let d = DType(cliName: name) else { throw CLIError("--dtype must be f32, f16, bf16 or f64, got '\(name)'") }
    return d
}
