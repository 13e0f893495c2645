import Foundation
import Compression
import LinearAlgebra
import LowRank
import WeightFiles

/// The experiment behind `rankwise demo`: quantise every layer of a
/// `SyntheticModel` to `bits` with RTN, then compensate with plain SVD and
/// with EoRA at each rank, and measure what each recovers.
///
/// Errors are relative to the layer's output, ‖E X‖_F / ‖W X‖_F, summed over
/// layers as sqrt(Σ‖E X‖² / Σ‖W X‖²), so "quantised only" and the
/// compensated rows share a scale.
public struct CompensationDemo: Sendable {
    /// The model whose layers are quantised (default: `SyntheticModel()`).
    public var model: SyntheticModel
    /// RTN bits (default 4).
    public var bits: Int
    /// RTN group size in input columns (default 64).
    public var groupSize: Int
    /// The adapter ranks tried, in order (default 16, 32, 64).
    public var ranks: [Int]

    /// The experiment on `model` at `bits` bits with groups of `groupSize`,
    /// compensated at each of `ranks`.
    public init(model: SyntheticModel = SyntheticModel(), bits: Int = 4, groupSize: Int = 64, ranks: [Int] = [16, 32, 64]) {
        self.model = model
        self.bits = bits
        self.groupSize = groupSize
        self.ranks = ranks
    }

    /// What a row of the table measures; the raw value is its label.
    public enum Method: String, Sendable, Equatable, CaseIterable {
        case quantizedOnly = "RTN only"
        case svd = "SVD"
        case eora = "EoRA"
    }

    /// One row of the table.
    public struct Row: Sendable, Equatable {
        /// RTN alone, or RTN compensated by plain SVD or EoRA.
        public var method: Method
        /// The adapter rank (0 for RTN alone).
        public var rank: Int
        /// sqrt(Σ‖E X‖² / Σ‖W X‖²) over all layers.
        public var activationError: Double
        /// Adapter parameters over all layers, r·(in + out) each.
        public var adapterParameters: Int
        /// Time spent computing the factors (not the shared quantisation).
        public var seconds: Double
    }

    /// The adapters of one (method, rank), layer name → factors.
    public struct Adapter: Sendable {
        /// `.svd` or `.eora`.
        public var method: Method
        /// The rank r of every layer's factors.
        public var rank: Int
        /// Each layer's name (`M`, as in `SyntheticModel.Layer.name`) and its
        /// factors B `[out, r]`, A `[r, in]`, scale 1, in layer order.
        public var layers: [(name: String, factors: LowRankFactors<Float>)]
    }

    /// What one layer gave, for progress reports.
    public struct LayerReport: Sendable {
        /// The layer's position, 0-based.
        public var index: Int
        /// The number of layers.
        public var count: Int
        /// The layer just finished.
        public var layer: SyntheticModel.Layer
        /// ‖ΔW X‖ / ‖W X‖: the quantisation's own error on this layer.
        public var quantizationError: Double
        /// ‖(ΔW − BA) X‖ / ‖ΔW X‖ per method at the largest rank.
        public var residualAtLargestRank: [Method: Double]
    }

    /// The table and the adapters behind it.
    public struct Result: Sendable {
        /// RTN alone first, then SVD at each rank, then EoRA at each rank.
        public var rows: [Row]
        /// One adapter per (method, rank), in the order of `rows`.
        public var adapters: [Adapter]
        /// Time spent quantising all layers.
        public var quantizationSeconds: Double
    }

    /// Runs the experiment; `progress` is called after each layer.
    ///
    /// Cost per layer: one RTN pass, and per rank one plain SVD of ΔW and one
    /// EoRA (an in×in eigendecomposition and an SVD of ΔW′), O(out·in·min(out, in) + in³).
    ///
    /// - Throws: `CompressionError` for bits or group size out of range;
    ///   `LowRankError` from the compensations.
    public func run(progress: (LayerReport) -> Void = { _ in }) throws -> Result {
        let clock = ContinuousClock()
        var outputEnergy = 0.0
        var quantizedEnergy = 0.0
        var residual: [Method: [Int: Double]] = [.svd: [:], .eora: [:]]
        var seconds: [Method: [Int: Double]] = [.svd: [:], .eora: [:]]
        var parameters: [Int: Int] = [:]
        var adapters: [Method: [Int: [(name: String, factors: LowRankFactors<Float>)]]] = [.svd: [:], .eora: [:]]
        var quantizationTime = Duration.zero
        let rtn = RoundToNearest(bits: bits, groupSize: groupSize)
        for (index, layer) in model.layers.enumerated() {
            let w = try model.weight(index)
            let c = model.covariance(index)
            var wq = w
            quantizationTime += try clock.measure { wq = try rtn.quantize(w) }
            let delta = w - wq
            let energy = LowRankMetrics.activationEnergy(w, covariance: c)
            outputEnergy += energy
            let deltaEnergy = LowRankMetrics.activationEnergy(delta, covariance: c)
            quantizedEnergy += deltaEnergy
            var largest: [Method: Double] = [:]
            for r in ranks {
                parameters[r, default: 0] += r * (layer.out + layer.inFeatures)
                for method in [Method.svd, .eora] {
                    var factors = LowRankFactors<Float>.zeros(rank: 0, out: layer.out, in: layer.inFeatures)
                    let elapsed = try clock.measure {
                        factors = method == .svd
                            ? try SVDCompensation(rank: r).compensate(delta: delta).factors
                            : try EoRA(rank: r).compensate(delta: delta, covariance: c).factors
                    }
                    let left = LowRankMetrics.residualActivationEnergy(delta: delta, factors: factors, covariance: c, deltaEnergy: deltaEnergy)
                    residual[method]![r, default: 0] += left
                    seconds[method]![r, default: 0] += elapsed.seconds
                    adapters[method]![r, default: []].append((layer.name, factors))
                    if r == ranks.last { largest[method] = deltaEnergy > 0 ? (left / deltaEnergy).squareRoot() : 0 }
                }
            }
            progress(LayerReport(index: index, count: model.layers.count, layer: layer,
                                 quantizationError: energy > 0 ? (deltaEnergy / energy).squareRoot() : 0,
                                 residualAtLargestRank: largest))
        }
        var rows = [Row(method: .quantizedOnly, rank: 0, activationError: (quantizedEnergy / outputEnergy).squareRoot(),
                        adapterParameters: 0, seconds: 0)]
        var result: [Adapter] = []
        for method in [Method.svd, .eora] {
            for r in ranks {
                rows.append(Row(method: method, rank: r, activationError: (residual[method]![r]! / outputEnergy).squareRoot(),
                                adapterParameters: parameters[r]!, seconds: seconds[method]![r]!))
                result.append(Adapter(method: method, rank: r, layers: adapters[method]![r]!))
            }
        }
        return Result(rows: rows, adapters: result, quantizationSeconds: quantizationTime.seconds)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

extension CompensationDemo.Adapter {
    /// The adapter's folder name: `svd-r16`, `eora-r32`, …
    public var folderName: String { "\(method.rawValue.lowercased())-r\(rank)" }

    /// Writes the adapter as a PEFT LoRA folder `folder/folderName`
    /// (lora_alpha = r, base model `rankwise-demo`).
    public func write(into folder: URL) throws {
        let writer = try PEFTAdapterWriter(directory: folder.appendingPathComponent(folderName),
                                           configuration: .init(rank: rank, alpha: Double(rank), baseModel: "rankwise-demo"), base: nil)
        for layer in layers { try writer.add(module: layer.name, a: layer.factors.a, b: layer.factors.b) }
        try writer.finish(metadata: ["rankwise.command": "demo"])
    }
}
