import Foundation
import LinearAlgebra

/// Calibration statistics for layer M (spec/formats.md): `M.gram` `[in, in]`
/// with `M.tokens`, or raw `M.inputs` `[N, in]`; optionally `M.abs_mean` `[in]`.
public final class CalibrationFile: @unchecked Sendable {
    public let checkpoint: Checkpoint

    public init(path: URL) throws { checkpoint = try Checkpoint(path: path) }

    /// Whether the file has statistics for layer M.
    public func contains(layer: String) -> Bool {
        checkpoint["\(layer).gram"] != nil || checkpoint["\(layer).inputs"] != nil
    }

    /// C = Σ x xᵀ `[in, in]` in Double and the token count, from `M.gram`
    /// (+ `M.tokens`) or formed from `M.inputs` (XᵀX, accumulated in Double).
    /// Nil when the file has neither.
    public func covariance(layer: String) throws -> (gram: Matrix<Double>, tokens: Double)? {
        if let info = checkpoint["\(layer).gram"] {
            guard info.shape.count == 2, info.shape[0] == info.shape[1] else {
                throw CalibrationError.badShape(tensor: "\(layer).gram", detail: "expected [in, in], found \(info.shape)")
            }
            let gram: Matrix<Double> = try checkpoint.matrix("\(layer).gram")
            guard gram.isFinite else { throw CalibrationError.nonFinite(tensor: "\(layer).gram") }
            return (gram, try tokens(layer: layer) ?? 1)
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
        if checkpoint["\(layer).abs_mean"] != nil { return try checkpoint.array("\(layer).abs_mean") }
        if checkpoint["\(layer).inputs"] != nil {
            let x: Matrix<Double> = try checkpoint.matrix("\(layer).inputs")
            var sums = [Double](repeating: 0, count: x.columns)
            for i in 0..<x.rows { for j in 0..<x.columns { sums[j] += abs(x[i, j]) } }
            return sums.map { $0 / Double(Swift.max(x.rows, 1)) }
        }
        return nil
    }

    private func tokens(layer: String) throws -> Double? {
        guard let info = checkpoint["\(layer).tokens"] else { return nil }
        let bytes = try checkpoint.rawBytes("\(layer).tokens")
        guard info.elementCount == 1 else { throw CalibrationError.badShape(tensor: "\(layer).tokens", detail: "expected a scalar") }
        switch info.dtype {
        case .i64: return Double(bytes.loadUnaligned(as: Int64.self).littleEndian)
        case .i32: return Double(bytes.loadUnaligned(as: Int32.self).littleEndian)
        default: return try checkpoint.array("\(layer).tokens", as: Double.self).first
        }
    }
}

public enum CalibrationError: Error, Equatable, Sendable, CustomStringConvertible {
    case badShape(tensor: String, detail: String)
    case nonFinite(tensor: String)
    case missingLayer(layer: String, file: String)

    public var description: String {
        switch self {
        case .badShape(let t, let d): return "calibration tensor '\(t)': \(d)"
        case .nonFinite(let t): return "calibration tensor '\(t)' contains NaN or infinity"
        case .missingLayer(let layer, let file):
            return "\(file) has no calibration statistics for layer '\(layer)' (no '\(layer).gram' or '\(layer).inputs'); pass --allow-missing-calib to fall back to plain SVD for such layers"
        }
    }
}
