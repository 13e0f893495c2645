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
    let names = model.tensorNames
    let selected = names.filter { selection.selects(name: $0, isMatrix: model[$0]!.isMatrix) }
    guard !selected.isEmpty else { throw CLIError("no layer of \(model.url.path) matches the selection (2-D floating *.weight tensors, minus --exclude)") }
    let selectedSet = Set(selected)
    // Every output tensor keeps its shape; the selected ones, and with --dtype
    // every floating one, take the output dtype.
    let layout = names.map { name in
        let info = model[name]!
        let changes = selectedSet.contains(name) || (dtype != nil && info.dtype.isFloatingPoint)
        return TensorLayout(name: name, dtype: changes ? dtype ?? info.dtype : info.dtype, shape: info.shape)
    }
    let writer = try SafetensorsWriter(url: output, protecting: model.inputURLs + protecting, layout: layout,
                                       metadata: model.metadata.merging(metadata) { $1 }, maxShardSize: maxShardSize)
    var done = 0
    for name in names {
        let info = model[name]!
        if selectedSet.contains(name) {
            let start = ContinuousClock.now
            let w: Matrix<Float> = try model.matrix(name)
            guard w.isFinite else { throw CLIError("tensor '\(name)' in \(model.url.path) contains NaN or infinity") }
            let (out, detail) = try transform(name, w)
            try writer.add(name: name, matrix: out, dtype: dtype ?? info.dtype)
            done += 1
            console.step(done - 1, of: selected.count, name: name,
                         String(format: "[%3d/%d] %@  %dx%d  %@  %.1f s", done, selected.count, name, w.rows, w.columns, detail, secondsSince(start)))
        } else if let dtype, info.dtype.isFloatingPoint, info.dtype != dtype {
            try writer.add(name: name, shape: info.shape, dtype: dtype, converting: try model.rawBytes(name), from: info.dtype)
            model.evict(name)
        } else {
            try writer.add(copying: name, from: model)
        }
    }
    try writer.finish()
    warnAboutOverflows(writer, console: console)
    return selected.count
}

/// A warning per tensor whose values exceeded the stored dtype's range.
func warnAboutOverflows(_ writer: SafetensorsWriter, console: Console) {
    for (name, count) in writer.overflows.sorted(by: { naturalOrder($0.key, $1.key) }) {
        console.warning("tensor '\(name)': \(count) value(s) beyond the range of the output dtype were written as ±infinity")
    }
}

/// --dtype for written tensors.
func parseDType(_ name: String?) throws -> DType? {
    guard let name else { return nil }
    guard let d = DType(cliName: name) else { throw CLIError("--dtype must be f32, f16, bf16 or f64, got '\(name)'") }
    return d
}
