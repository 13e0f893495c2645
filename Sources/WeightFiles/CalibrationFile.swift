import Foundation
import LinearAlgebra

/// Calibration statistics for layer M (docs/formats.md): `M.gram` `[in, in]`
/// with `M.tokens`, or raw `M.inputs` `[N, in]`; optionally `M.abs_mean` `[in]`.
/// Layers that read the same input (q/k/v, gate/up) may share one set: the
/// metadata entry `"M.same_as": "N"` makes every lookup for M read N's
/// statistics.
public final class CalibrationFile: @unchecked Sendable {
    /// The statistics file (or sharded set) opened as a checkpoint: per layer M, the tensors `M.gram`, `M.tokens`,
    /// `M.inputs` and `M.abs_mean`.
    public let checkpoint: Checkpoint

    /// Opens the statistics at `path` as `Checkpoint(path:)` does (a file, an index or a folder); throws what that
    /// throws. The tensors are checked only when a layer's statistics are asked for.
    public init(path: URL) throws {
        checkpoint = try Checkpoint(path: path)
        var map: [String: String] = [:]
        for file in checkpoint.files {
            for (key, value) in file.metadata where key.hasSuffix(".same_as") { map[String(key.dropLast(".same_as".count))] = value }
        }
        sameAs = map
    }

    /// `"M.same_as": "N"` entries of every file's metadata.
    private let sameAs: [String: String]

    /// The layer whose statistics stand for `layer`: itself, or where its
    /// `same_as` entries lead (followed up to 8 steps, so a cycle ends).
    public func source(of layer: String) -> String {
        var current = layer
        for _ in 0..<8 {
            guard let next = sameAs[current], next != current else { break }
            current = next
        }
        return current
    }

    /// Whether the file has statistics for layer M (its own or by `same_as`).
    public func contains(layer: String) -> Bool {
        let layer = source(of: layer)
        return checkpoint["\(layer).gram"] != nil || checkpoint["\(layer).inputs"] != nil
    }

    /// The stored dtype of the Gram standing for layer M, nil when it has none
    /// (raw inputs or no statistics).
    public func gramDType(layer: String) -> DType? { checkpoint["\(source(of: layer)).gram"]?.dtype }

    /// C = Σ x xᵀ `[in, in]` in Double and the token count, from `M.gram`
    /// (+ `M.tokens`) or formed from `M.inputs` (XᵀX, accumulated in Double).
    /// Nil when the file has neither.
    ///
    /// A Gram must be what Σ x xᵀ can be, up to the rounding of its stored
    /// dtype: symmetric (|C_ij − C_ji| ≤ τ·max|C|) with a diagonal that is not
    /// negative (C_ii ≥ −τ·max C_ii), τ = min(0.01, 64·ε of the dtype);
    /// otherwise `asymmetric` or `indefinite` names the tensor. A token count,
    /// when present, must be a positive finite number (`badTokens`); with
    /// `requireTokens` (methods that scale by it) it must be present.
    public func covariance(layer: String, requireTokens: Bool = false) throws -> (gram: Matrix<Double>, tokens: Double)? {
        let layer = source(of: layer)
        if let info = checkpoint["\(layer).gram"] {
            let name = "\(layer).gram"
            guard info.shape.count == 2, info.shape[0] == info.shape[1] else {
                throw CalibrationError.badShape(tensor: name, detail: "expected [in, in], found \(info.shape)")
            }
            let gram: Matrix<Double> = try checkpoint.matrix(name)
            guard gram.isFinite else { throw CalibrationError.nonFinite(tensor: name) }
            try Self.checkGram(gram, tensor: name, tolerance: Self.roundingTolerance(info.dtype))
            let count = try tokens(layer: layer)
            if requireTokens && count == nil {
                throw CalibrationError.badTokens(tensor: "\(layer).tokens", detail: "missing: this method scales the Gram by its token count")
            }
            return (gram, count ?? 1)
        }
        if checkpoint["\(layer).inputs"] != nil {
            let x: Matrix<Double> = try checkpoint.matrix("\(layer).inputs")
            guard x.isFinite else { throw CalibrationError.nonFinite(tensor: "\(layer).inputs") }
            return (x.gram(), Double(x.rows))
        }
        return nil
    }

    /// Mean |x| per input channel: `M.abs_mean`, or derived from `M.inputs`.
    public func absMean(layer: String) throws -> [Double]? {
        let layer = source(of: layer)
        if checkpoint["\(layer).abs_mean"] != nil { return try checkpoint.array("\(layer).abs_mean") }
        if checkpoint["\(layer).inputs"] != nil {
            let x: Matrix<Double> = try checkpoint.matrix("\(layer).inputs")
            var sums = [Double](repeating: 0, count: x.columns)
            for i in 0..<x.rows { for j in 0..<x.columns { sums[j] += abs(x[i, j]) } }
            return sums.map { $0 / Double(Swift.max(x.rows, 1)) }
        }
        return nil
    }

    /// The token count `M.tokens`, nil when absent; refused unless positive and finite.
    public func tokens(layer: String) throws -> Double? {
        let name = "\(source(of: layer)).tokens"
        guard let info = checkpoint[name] else { return nil }
        let bytes = try checkpoint.rawBytes(name)
        guard info.elementCount == 1 else { throw CalibrationError.badShape(tensor: name, detail: "expected a scalar") }
        let value: Double?
        switch info.dtype {
        case .i64: value = Double(bytes.loadUnaligned(as: Int64.self).littleEndian)
        case .i32: value = Double(bytes.loadUnaligned(as: Int32.self).littleEndian)
        case .f16, .bf16, .f32, .f64: value = try checkpoint.array(name, as: Double.self).first
        default: throw CalibrationError.badTokens(tensor: name, detail: "dtype \(info.dtype.rawValue); expected I64, I32 or a float")
        }
        guard let value, value.isFinite, value > 0 else {
            throw CalibrationError.badTokens(tensor: name, detail: "\(value.map { "\($0)" } ?? "no value"); the token count must be positive")
        }
        return value
    }

    /// The relative rounding a Gram stored as `dtype` may carry.
    static func roundingTolerance(_ dtype: DType) -> Double { Swift.min(0.01, 64 * dtype.roundingUnit) }

    /// Symmetry and a non-negative diagonal, within `tolerance` (relative).
    static func checkGram(_ c: Matrix<Double>, tensor: String, tolerance: Double) throws {
        let n = c.rows
        var largest = 0.0, largestDiagonal = 0.0
        for i in 0..<n {
            largestDiagonal = Swift.max(largestDiagonal, c[i, i])
            for j in 0..<n { largest = Swift.max(largest, abs(c[i, j])) }
        }
        for i in 0..<n where c[i, i] < -tolerance * largestDiagonal || (largestDiagonal == 0 && c[i, i] < 0) {
            throw CalibrationError.indefinite(tensor: tensor, detail: "diagonal entry \(i) is \(c[i, i]) (largest \(largestDiagonal)); a Gram Σ x xᵀ has no negative diagonal")
        }
        // Upper against lower triangle in 64×64 tiles, so the transposed reads stay in cache.
        let tile = 64
        for i0 in stride(from: 0, to: n, by: tile) {
            for j0 in stride(from: i0, to: n, by: tile) {
                for i in i0..<Swift.min(i0 + tile, n) {
                    for j in Swift.max(j0, i + 1)..<Swift.max(Swift.min(j0 + tile, n), Swift.max(j0, i + 1))
                    where abs(c[i, j] - c[j, i]) > tolerance * largest {
                        throw CalibrationError.asymmetric(tensor: tensor, detail: "entries [\(i), \(j)] = \(c[i, j]) and [\(j), \(i)] = \(c[j, i]) differ beyond rounding")
                    }
                }
            }
        }
    }
}

/// Calibration statistics that cannot be used for a layer, naming the tensor (`M.gram`, `M.tokens`, `M.inputs`) or
/// the layer and file.
public enum CalibrationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The tensor has the wrong shape: a Gram that is not square `[in, in]`, or a token count that is not a scalar.
    case badShape(tensor: String, detail: String)
    /// The Gram or the raw inputs hold NaN or ±infinity.
    case nonFinite(tensor: String)
    /// The file has neither `layer.gram` nor `layer.inputs` for a layer a job needs (thrown by the jobs, unless
    /// they are told to fall back for such layers).
    case missingLayer(layer: String, file: String)
    /// The Gram's entries [i, j] and [j, i] differ by more than its dtype's rounding (relative to max |C|).
    case asymmetric(tensor: String, detail: String)
    /// A diagonal entry of the Gram is negative beyond rounding, which Σ x xᵀ cannot be (only the diagonal is
    /// checked, not full positive semi-definiteness).
    case indefinite(tensor: String, detail: String)
    /// The token count is not a positive finite number, has a dtype other than I64, I32 or a float, or is missing
    /// where the method scales by it.
    case badTokens(tensor: String, detail: String)

    public var description: String {
        switch self {
        case .badShape(let t, let d): return "calibration tensor '\(t)': \(d)"
        case .nonFinite(let t): return "calibration tensor '\(t)' contains NaN or infinity"
        case .asymmetric(let t, let d): return "calibration tensor '\(t)' is not symmetric: \(d)"
        case .indefinite(let t, let d): return "calibration tensor '\(t)' is not positive semi-definite: \(d)"
        case .badTokens(let t, let d): return "calibration tensor '\(t)': \(d)"
        case .missingLayer(let layer, let file):
            return "\(file) has no calibration statistics for layer '\(layer)' (no '\(layer).gram' or '\(layer).inputs'); pass --allow-missing-calib to fall back to plain SVD for such layers"
        }
    }
}
