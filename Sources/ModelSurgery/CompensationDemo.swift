import Foundation
import Compression
import LinearAlgebra
import LowRank
import WeightFiles

/// The experiment behind `rankwise demo`: quantise every layer of a
/// `SyntheticModel` to `bits` with RTN and with GPTQ (on the layer's
/// calibration Gram), then compensate each with plain SVD and with EoRA at
/// each rank, and measure what each recovers.
///
/// Errors are relative to the layer's output, ‖E X‖_F / ‖W X‖_F, summed over
/// layers as sqrt(Σ‖E X‖² / Σ‖W X‖²), so "quantised only" and the
/// compensated rows share a scale.
public struct CompensationDemo: Sendable {
    /// The model whose layers are quantised (default: `SyntheticModel()`).
    public var model: SyntheticModel
    /// Bits per weight (default 4).
    public var bits: Int
    /// Group size in input columns (default 64).
    public var groupSize: Int
    /// The adapter ranks tried, in order (default 16, 32, 64).
    public var ranks: [Int]
    /// The quantisers compared, in order (default RTN, then GPTQ).
    public var quantizers: [Quantizer]

    /// The experiment on `model` at `bits` bits with groups of `groupSize`,
    /// quantised by each of `quantizers` and compensated at each of `ranks`.
    public init(model: SyntheticModel = SyntheticModel(), bits: Int = 4, groupSize: Int = 64, ranks: [Int] = [16, 32, 64],
                quantizers: [Quantizer] = Quantizer.allCases) {
        self.model = model
        self.bits = bits
        self.groupSize = groupSize
        self.ranks = ranks
        self.quantizers = quantizers
    }

    /// How the weights are quantised; the raw value is its label.
    public enum Quantizer: String, Sendable, Equatable, Hashable, CaseIterable {
        /// Round to nearest, per group (asymmetric).
        case rtn = "RTN"
        /// GPTQ with the layer's calibration Gram (asymmetric, damping 0.01).
        case gptq = "GPTQ"
    }

    /// What a row of the table measures; the raw value is its label.
    public enum Method: String, Sendable, Equatable, CaseIterable {
        /// The quantised weights alone.
        case quantizedOnly = "quantized only"
        /// Plus a plain-SVD adapter of ΔW.
        case svd = "SVD"
        /// Plus an EoRA adapter (activation-aware).
        case eora = "EoRA"
    }

    /// One row of the table.
    public struct Row: Sendable, Equatable {
        /// RTN or GPTQ.
        public var quantizer: Quantizer
        /// Quantised alone, or compensated by plain SVD or EoRA.
        public var method: Method
        /// The adapter rank (0 when quantised alone).
        public var rank: Int
        /// sqrt(Σ‖E X‖² / Σ‖W X‖²) over all layers.
        public var activationError: Double
        /// Adapter parameters over all layers, r·(in + out) each.
        public var adapterParameters: Int
        /// Time spent: quantising all layers (quantised alone) or computing the factors.
        public var seconds: Double
    }

    /// The adapters of one (quantizer, method, rank), layer name → factors.
    public struct Adapter: Sendable {
        /// The quantizer whose error the adapter compensates.
        public var quantizer: Quantizer
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
        /// ‖ΔW X‖ / ‖W X‖ per quantizer: the quantisation's own error on this layer.
        public var quantizationError: [Quantizer: Double]
        /// ‖(ΔW − BA) X‖ / ‖ΔW X‖ of EoRA at the largest rank, per quantizer.
        public var residualAtLargestRank: [Quantizer: Double]
    }

    /// The table and the adapters behind it.
    public struct Result: Sendable {
        /// Per quantizer: alone first, then SVD at each rank, then EoRA at each rank.
        public var rows: [Row]
        /// One adapter per (quantizer, method, rank), in the order of `rows`.
        public var adapters: [Adapter]
    }

    /// Runs the experiment; `progress` is called after each layer.
    ///
    /// Cost per layer and quantizer: one RTN pass or one GPTQ (an in×in
    /// factorisation and out·in² for the sweep), and per rank one plain SVD
    /// of ΔW and one EoRA (an in×in eigendecomposition and an SVD of ΔW′).
    ///
    /// - Throws: `CompressionError` for bits or group size out of range;
    ///   `LowRankError` from the compensations.
    public func run(progress: (LayerReport) -> Void = { _ in }) throws -> Result {
        let clock = ContinuousClock()
        var outputEnergy = 0.0
        struct Key: Hashable { var quantizer: Quantizer, method: Method, rank: Int }
        var energy: [Key: Double] = [:], seconds: [Key: Double] = [:]
        var parameters: [Int: Int] = [:]
        var adapters: [Key: [(name: String, factors: LowRankFactors<Float>)]] = [:]
        for (index, layer) in model.layers.enumerated() {
            let w = try model.weight(index)
            let c = model.covariance(index)
            outputEnergy += LowRankMetrics.activationEnergy(w, covariance: c)
            for r in ranks { parameters[r, default: 0] += r * (layer.out + layer.inFeatures) }
            var quantizationError: [Quantizer: Double] = [:], largest: [Quantizer: Double] = [:]
            for quantizer in quantizers {
                var wq = w
                let alone = Key(quantizer: quantizer, method: .quantizedOnly, rank: 0)
                seconds[alone, default: 0] += try clock.measure {
                    switch quantizer {
                    case .rtn: wq = try RoundToNearest(bits: bits, groupSize: groupSize).quantize(w)
                    case .gptq: wq = try GPTQ(bits: bits, groupSize: groupSize).quantize(w, hessian: c).quantized.dequantized
                    }
                }.seconds
                let delta = w - wq
                let deltaEnergy = LowRankMetrics.activationEnergy(delta, covariance: c)
                energy[alone, default: 0] += deltaEnergy
                quantizationError[quantizer] = (deltaEnergy / Swift.max(LowRankMetrics.activationEnergy(w, covariance: c), .leastNormalMagnitude)).squareRoot()
                for r in ranks {
                    for method in [Method.svd, .eora] {
                        var factors = LowRankFactors<Float>.zeros(rank: 0, out: layer.out, in: layer.inFeatures)
                        let key = Key(quantizer: quantizer, method: method, rank: r)
                        seconds[key, default: 0] += try clock.measure {
                            factors = method == .svd
                                ? try SVDCompensation(rank: r).compensate(delta: delta).factors
                                : try EoRA(rank: r).compensate(delta: delta, covariance: c).factors
                        }.seconds
                        let left = LowRankMetrics.residualActivationEnergy(delta: delta, factors: factors, covariance: c, deltaEnergy: deltaEnergy)
                        energy[key, default: 0] += left
                        adapters[key, default: []].append((layer.name, factors))
                        if r == ranks.last && method == .eora { largest[quantizer] = deltaEnergy > 0 ? (left / deltaEnergy).squareRoot() : 0 }
                    }
                }
            }
            progress(LayerReport(index: index, count: model.layers.count, layer: layer, quantizationError: quantizationError,
                                 residualAtLargestRank: largest))
        }
        var rows: [Row] = [], result: [Adapter] = []
        for quantizer in quantizers {
            let alone = Key(quantizer: quantizer, method: .quantizedOnly, rank: 0)
            rows.append(Row(quantizer: quantizer, method: .quantizedOnly, rank: 0, activationError: (energy[alone]! / outputEnergy).squareRoot(),
                            adapterParameters: 0, seconds: seconds[alone]!))
            for method in [Method.svd, .eora] {
                for r in ranks {
                    let key = Key(quantizer: quantizer, method: method, rank: r)
                    rows.append(Row(quantizer: quantizer, method: method, rank: r, activationError: (energy[key]! / outputEnergy).squareRoot(),
                                    adapterParameters: parameters[r]!, seconds: seconds[key]!))
                    result.append(Adapter(quantizer: quantizer, method: method, rank: r, layers: adapters[key]!))
                }
            }
        }
        return Result(rows: rows, adapters: result)
    }

    /// Writes the model as a checkpoint folder (`model.safetensors` in F16, as
    /// trained checkpoints are stored, and a config.json recording its
    /// shapes) and its calibration statistics (one Gram per distinct input,
    /// the other layers pointing at it with `same_as`, and the token count),
    /// so the command line can be tried on them.
    public func writeModel(folder: URL, calibration: URL) throws {
        let writer = try SafetensorsWriter(url: folder.appendingPathComponent("model.safetensors"))
        for (index, layer) in model.layers.enumerated() {
            try writer.add(name: "\(layer.name).weight", matrix: try model.weight(index), dtype: .f16)
        }
        try writer.finish(metadata: ["rankwise.command": "demo"])
        let config: [String: Any] = [
            "architectures": ["RankwiseSyntheticModel"], "model_type": "rankwise-demo", "torch_dtype": "float16",
            "hidden_size": model.hidden, "intermediate_size": model.intermediate, "num_hidden_layers": model.blocks,
            "note": "the linear layers of rankwise demo's synthetic Llama-shaped model (no embeddings, norms or head)",
        ]
        let companions = ModelFolderCompanions(directory: folder)
        try companions.stageJSON(config, as: "config.json")
        try companions.commit()
        let statistics = try SafetensorsWriter(url: calibration)
        var sameAs: [String: String] = [:]
        var sources: [String: String] = [:]   // a block's stream → the layer that holds its Gram
        for (index, layer) in model.layers.enumerated() {
            let stream = "\(index / 7)-\(layer.input)"   // the synthetic layers of a block read two streams
            if let source = sources[stream] {
                sameAs["\(layer.name).same_as"] = source
                continue
            }
            sources[stream] = layer.name
            try statistics.add(name: "\(layer.name).gram", matrix: model.covariance(index), dtype: .f32)
            try statistics.add(name: "\(layer.name).tokens", shape: [], array: [Double(model.tokens)], dtype: .f64)
        }
        try statistics.finish(metadata: sameAs.merging(["rankwise.command": "demo"]) { $1 })
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

extension CompensationDemo.Adapter {
    /// The adapter's folder name: `rtn-svd-r16`, `gptq-eora-r32`, …
    public var folderName: String { "\(quantizer.rawValue.lowercased())-\(method.rawValue.lowercased())-r\(rank)" }

    /// Writes the adapter as a PEFT LoRA folder `folder/folderName`
    /// (lora_alpha = r, base model `rankwise-demo`).
    public func write(into folder: URL) throws {
        let writer = try PEFTAdapterWriter(directory: folder.appendingPathComponent(folderName),
                                           configuration: .init(rank: rank, alpha: Double(rank), baseModel: "rankwise-demo"), base: nil)
        for layer in layers { try writer.add(module: layer.name, a: layer.factors.a, b: layer.factors.b) }
        try writer.finish(metadata: ["rankwise.command": "demo"])
    }
}
