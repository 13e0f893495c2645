import LinearAlgebra

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A small, deterministic, transformer-shaped model with calibration data:
/// the built-in example of `rankwise demo` and a fixture for tests.
///
/// Each block has the projections of a Llama-style decoder layer
/// (`self_attn.{q,k,v,o}_proj`, `mlp.{gate,up,down}_proj`). Weights have
/// decaying spectra like trained layers (σᵢ ∝ (i + 1)^{-decay} on random
/// orthonormal bases), and calibration inputs have a few outlier channels
/// (about 1 in 40 channels ×25), the feature of LLM activations that makes
/// activation-aware compensation pay off.
public struct SyntheticModel: Sendable {
    /// One linear layer: its name (`M`, weights at `M.weight`) and shapes.
    public struct Layer: Sendable, Equatable {
        /// The module path, e.g. `model.layers.0.mlp.down_proj`.
        public var name: String
        /// Output features (rows of the weight).
        public var out: Int
        /// Input features (columns of the weight).
        public var inFeatures: Int
        /// Which calibration stream feeds it (the hidden state or the MLP's inner activation).
        public var input: Input
    }

    /// The calibration stream a layer reads.
    public enum Input: Sendable, Equatable {
        /// The hidden state, `hidden` wide (attention projections, gate and up).
        case hidden
        /// The MLP's inner activation, `intermediate` wide (down).
        case intermediate
    }

    /// Decoder blocks, seven linear layers each (default 2).
    public var blocks: Int
    /// Hidden size (default 256).
    public var hidden: Int
    /// MLP inner size (default 704, 2.75× hidden as in Llama, and a multiple
    /// of 64 so that groups of 64 and packed 2/3/4/8-bit codes fit).
    public var intermediate: Int
    /// Calibration tokens per stream (default 1024).
    public var tokens: Int
    /// Seed of every weight and input (default 2024).
    public var seed: UInt64
    /// Spectral decay exponent of the weights.
    public var decay: Double

    /// A model of `blocks` blocks with the given sizes; everything is derived
    /// from `seed`, so equal parameters give equal weights and inputs.
    public init(blocks: Int = 2, hidden: Int = 256, intermediate: Int = 704, tokens: Int = 1024, seed: UInt64 = 2024, decay: Double = 0.6) {
        self.blocks = blocks
        self.hidden = hidden
        self.intermediate = intermediate
        self.tokens = tokens
        self.seed = seed
        self.decay = decay
    }

    /// Every linear layer in order.
    public var layers: [Layer] {
        (0..<blocks).flatMap { b -> [Layer] in
            let p = "model.layers.\(b)."
            return [
                Layer(name: p + "self_attn.q_proj", out: hidden, inFeatures: hidden, input: .hidden),
                Layer(name: p + "self_attn.k_proj", out: hidden, inFeatures: hidden, input: .hidden),
                Layer(name: p + "self_attn.v_proj", out: hidden, inFeatures: hidden, input: .hidden),
                Layer(name: p + "self_attn.o_proj", out: hidden, inFeatures: hidden, input: .hidden),
                Layer(name: p + "mlp.gate_proj", out: intermediate, inFeatures: hidden, input: .hidden),
                Layer(name: p + "mlp.up_proj", out: intermediate, inFeatures: hidden, input: .hidden),
                Layer(name: p + "mlp.down_proj", out: hidden, inFeatures: intermediate, input: .intermediate),
            ]
        }
    }

    /// The weight `[out, in]` of layer `index` (deterministic).
    public func weight(_ index: Int) throws -> Matrix<Float> {
        let layer = layers[index]
        let k = Swift.min(layer.out, layer.inFeatures)
        let s = seed &+ UInt64(index) &* 7919
        let u = try Matrix<Double>.random(rows: layer.out, columns: k, seed: s).qr().q
        let v = try Matrix<Double>.random(rows: layer.inFeatures, columns: k, seed: s &+ 1).qr().q
        var us = u
        us.scaleColumns(by: (0..<k).map { 0.5 * pow(Double($0 + 1), -decay) })
        return Matrix.product(us, .none, v, .transposed).converted()
    }

    /// Calibration inputs `[tokens, in]` (rows are tokens, as files store
    /// them) for the given stream and block.
    public func inputs(_ input: Input, block: Int) -> Matrix<Float> {
        let width = input == .hidden ? hidden : intermediate
        let stream = UInt64(block * 2 + (input == .hidden ? 0 : 1))
        // Channels are correlated, as real activations are: Z (I + G/√width), G standard normal.
        var mixing = Matrix<Float>.random(rows: width, columns: width, seed: seed &+ 5_000_011 &+ stream)
        mixing = mixing * Float(1 / Double(width).squareRoot()) + Matrix<Float>.identity(width)
        var x = Matrix<Float>.random(rows: tokens, columns: width, seed: seed &+ 1_000_003 &+ stream) * mixing
        var generator = SeededGenerator(seed: seed &+ 77 &+ UInt64(block))
        let scales: [Float] = (0..<width).map { _ in generator.nextUniform() < 0.025 ? 25 : Float(0.5 + generator.nextUniform()) }
        x.scaleColumns(by: scales)
        return x
    }

    /// C = Xᵀ X `[in, in]` (Double) for layer `index`, over `tokens` inputs.
    /// Cost: tokens·in² flops.
    public func covariance(_ index: Int) -> Matrix<Double> {
        let layer = layers[index]
        let block = index / 7
        return inputs(layer.input, block: block).converted(to: Double.self).gram()
    }
}
