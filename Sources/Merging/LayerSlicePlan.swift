/// mergekit's output `slices`: which layers of which models make each output
/// layer, and the tensor names that follow from it (layer stacking, the
/// "frankenmerges" of `passthrough`, and any method run slice by slice).
///
/// Output slices are laid end to end: slice s with sources whose `layer_range`s
/// all span L_s layers contributes output layers o₀ + i (i = 0…L_s − 1, o₀ the
/// layers of the slices before it), and output layer o₀ + i reads layer
/// start + i of every source. Its position within the slice, t = i/(L_s − 1)
/// (t = 1 when L_s = 1), is what gradient parameters are evaluated at
/// (`ParameterSetting`); it restarts at 0 in every slice. Tensors outside the
/// layers (embeddings, final norm, head) are not mapped here; mergekit evaluates
/// their parameters at t = 0.
///
/// Layer tensors are named `prefix` + index + "." + rest, `prefix` being
/// "model.layers." for Llama-family models: output tensor
/// `model.layers.5.mlp.up_proj.weight` reads `model.layers.<source layer>.mlp.up_proj.weight`
/// of each source model.
public struct LayerSlicePlan: Sendable, Equatable {
    /// One input of an output slice: layers `layers` (half-open, mergekit's
    /// `layer_range: [start, end]`) of `model`.
    public struct Source: Sendable, Equatable, Hashable {
        /// The model, as the config names it.
        public var model: String
        /// The source layers [start, end).
        public var layers: Range<Int>

        /// Layers `layers` of `model`.
        public init(model: String, layers: Range<Int>) {
            self.model = model
            self.layers = layers
        }
    }

    /// One source layer: layer `layer` of `model`.
    public struct LayerSource: Sendable, Equatable, Hashable {
        /// The model, as the config names it.
        public var model: String
        /// Its layer index.
        public var layer: Int
    }

    /// Where one output layer comes from.
    public struct OutputLayer: Sendable, Equatable {
        /// The output layer's index.
        public var index: Int
        /// The output slice it belongs to.
        public var slice: Int
        /// The source layer of each of the slice's sources, in their order.
        public var sources: [LayerSource]
        /// t = i/(L − 1) within its slice of L layers (1 when L = 1).
        public var position: Double
    }

    /// A tensor to read: `tensor` of `model`.
    public struct TensorSource: Sendable, Equatable, Hashable {
        /// The model, as the config names it.
        public var model: String
        /// The tensor's name in that model.
        public var tensor: String
    }

    /// "model.layers.", the prefix of layer tensors in Llama-family checkpoints.
    public static let defaultLayerPrefix = "model.layers."

    /// The output slices, each a list of sources of equal length.
    public let slices: [[Source]]
    /// Every output layer, in order (`layers[i].index == i`).
    public let layers: [OutputLayer]

    /// The number of output layers (mergekit writes it as `num_hidden_layers`).
    public var layerCount: Int { layers.count }

    /// A plan of the given output slices. Cost: O(total output layers · sources).
    ///
    /// - Throws: `MergingError.invalidParameter(.layerRange)` for a slice without
    ///   sources, a range with start < 0 or end < start, or sources of one slice of
    ///   different lengths.
    public init(slices: [[Source]]) throws {
        var layers: [OutputLayer] = []
        for (s, sources) in slices.enumerated() {
            guard let first = sources.first else {
                throw MergingError.invalidParameter(parameter: .layerRange, value: "slice \(s + 1) has no sources", expected: "at least one source per slice")
            }
            for source in sources {
                guard source.layers.lowerBound >= 0 else {
                    throw MergingError.invalidParameter(parameter: .layerRange, value: "[\(source.layers.lowerBound), \(source.layers.upperBound)] of \(source.model)",
                                                        expected: "0 ≤ start ≤ end")
                }
                guard source.layers.count == first.layers.count else {
                    throw MergingError.invalidParameter(
                        parameter: .layerRange,
                        value: "[\(source.layers.lowerBound), \(source.layers.upperBound)] of \(source.model) (\(source.layers.count) layers)",
                        expected: "as long as every other source of slice \(s + 1) (\(first.layers.count) layers)")
                }
            }
            let count = first.layers.count
            for i in 0..<count {
                layers.append(OutputLayer(index: layers.count, slice: s,
                                          sources: sources.map { LayerSource(model: $0.model, layer: $0.layers.lowerBound + i) },
                                          position: count == 1 ? 1 : Double(i) / Double(count - 1)))
            }
        }
        self.slices = slices
        self.layers = layers
    }

    /// A layer stack: one source per output slice, as `passthrough` configs list them.
    ///
    /// - Throws: as `init(slices:)`.
    public init(stacking sources: [Source]) throws {
        try self.init(slices: sources.map { [$0] })
    }

    /// The layer index of a layer tensor's name (`prefix` + digits + "."), or nil
    /// for tensors outside the layers. Cost: O(name length).
    public static func layerIndex(of name: String, prefix: String = defaultLayerPrefix) -> Int? {
        layerDigits(of: name, prefix: prefix)?.index
    }

    /// `name` with its layer index replaced by `layer`, or nil if it is not a layer
    /// tensor. Cost: O(name length).
    public static func renaming(_ name: String, toLayer layer: Int, prefix: String = defaultLayerPrefix) -> String? {
        guard let (_, digits) = layerDigits(of: name, prefix: prefix) else { return nil }
        return prefix + String(layer) + name.dropFirst(prefix.count + digits)
    }

    /// The layer index and how many characters spell it.
    private static func layerDigits(of name: String, prefix: String) -> (index: Int, digits: Int)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, rest.dropFirst(digits.count).first == ".", let index = Int(digits) else { return nil }
        return (index, digits.count)
    }

    /// The tensors that output tensor `name` is merged from (one per source of its
    /// slice), or nil if `name` is not a layer tensor or its layer is past the plan.
    /// Cost: O(sources + name length).
    public func sources(forOutputTensor name: String, prefix: String = defaultLayerPrefix) -> [TensorSource]? {
        guard let index = Self.layerIndex(of: name, prefix: prefix), index < layers.count else { return nil }
        return layers[index].sources.map { TensorSource(model: $0.model, tensor: Self.renaming(name, toLayer: $0.layer, prefix: prefix)!) }
    }
}
