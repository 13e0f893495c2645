/// mergekit's output `slices`: which layers of which models make each output
/// layer, which models every other tensor is merged from, and which parameters
/// and base apply to each tensor (layer stacking, the "frankenmerges" of
/// `passthrough`, and any method run slice by slice).
///
/// Output slices are laid end to end: slice s with sources whose `layer_range`s
/// all span L_s layers contributes output layers o₀ + i (i = 0…L_s − 1, o₀ the
/// layers of the slices before it), and output layer o₀ + i reads layer
/// start + i of every source. Its position within the slice, t = i/(L_s − 1)
/// (t = 1 when L_s = 1), is what gradient parameters are evaluated at
/// (`ParameterSetting`); it restarts at 0 in every slice.
///
/// Tensors outside the layers follow mergekit's planner (`plan.py`), at t = 0:
/// those before the layers (the input embeddings, `precedesLayers(_:)`) are merged
/// from the sources of the first slice, with its parameters and base; those after
/// them (final norm, `lm_head`) from the sources of the last slice, with its
/// parameters and base — but only its first n sources, n being the number of
/// sources of the first slice (mergekit pairs the last slice's models with the
/// first slice's list of tensors, so the extra ones drop out; the same whenever
/// every slice has as many sources).
///
/// Layer tensors are named `prefix` + index + "." + rest, `prefix` being
/// "model.layers." for Llama-family models: output tensor
/// `model.layers.5.mlp.up_proj.weight` reads `model.layers.<source layer>.mlp.up_proj.weight`
/// of each source model.
public struct LayerSlicePlan: Sendable, Equatable {
    /// One input of an output slice: layers `layers` (half-open, mergekit's
    /// `layer_range: [start, end]`) of `model`, with its own `parameters`.
    public struct Source: Sendable, Equatable, Hashable {
        /// The model, as the config names it.
        public var model: String
        /// The source layers [start, end).
        public var layers: Range<Int>
        /// mergekit's `parameters` of this source: per-model settings (`weight`, `density`, `gamma`,
        /// `epsilon`, `scale`) for this model, looked up before the slice's and the top-level ones.
        public var parameters: [String: ParameterSetting]

        /// Layers `layers` of `model`, with per-model `parameters` (default none).
        public init(model: String, layers: Range<Int>, parameters: [String: ParameterSetting] = [:]) {
            self.model = model
            self.layers = layers
            self.parameters = parameters
        }
    }

    /// One output slice: its sources (each model at most once, all as long), its
    /// `parameters` and its `base_model`.
    public struct Slice: Sendable, Equatable {
        /// The inputs, in the config's order.
        public var sources: [Source]
        /// mergekit's slice-level `parameters`: looked up after a source's own and before the top-level ones.
        public var parameters: [String: ParameterSetting]
        /// mergekit's slice-level `base_model` (nil: the plan's `baseModel`).
        public var baseModel: String?

        /// A slice of `sources` with optional `parameters` and `baseModel`.
        public init(sources: [Source], parameters: [String: ParameterSetting] = [:], baseModel: String? = nil) {
            self.sources = sources
            self.parameters = parameters
            self.baseModel = baseModel
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

    /// mergekit's plan for one output tensor: what it is merged from, and where its
    /// parameters and base come from.
    public struct TensorInputs: Sendable, Equatable {
        /// The output tensor's name.
        public var output: String
        /// The output slice whose sources, `parameters` and `base_model` apply: the
        /// layer's slice, the first slice before the layers, the last after them.
        public var slice: Int
        /// The layer position t that gradients are evaluated at (0 outside the layers).
        public var position: Double
        /// One input per source used, in the slice's source order (input i is source i of
        /// the slice): the model and the tensor read from it.
        public var sources: [TensorSource]
        /// The base model: the slice's `base_model`, else the plan's (nil: none). It may
        /// or may not be among `sources`; methods that need it require it there.
        public var baseModel: String?
    }

    /// "model.layers.", the prefix of layer tensors in Llama-family checkpoints.
    public static let defaultLayerPrefix = "model.layers."

    /// The output slices, with their parameters and bases.
    public let outputSlices: [Slice]
    /// The top-level `base_model` (each slice may name its own).
    public let baseModel: String?
    /// Every output layer, in order (`layers[i].index == i`).
    public let layers: [OutputLayer]

    /// The output slices' sources, each a list of sources of equal length.
    public var slices: [[Source]] { outputSlices.map(\.sources) }

    /// The number of output layers (mergekit writes it as `num_hidden_layers`).
    public var layerCount: Int { layers.count }

    /// A plan of the given output slices, with the top-level `baseModel` (mergekit's
    /// `base_model`; with slices it is not added as a source: list it where a method
    /// needs it). Cost: O(total output layers · sources).
    ///
    /// - Throws: `MergingError.invalidParameter(.sources)` for no slice, a slice
    ///   without sources or naming a model twice; `.invalidParameter(.layerRange)` for a
    ///   range with start < 0 or end < start, or sources of one slice of different
    ///   lengths.
    public init(_ slices: [Slice], baseModel: String? = nil) throws {
        guard !slices.isEmpty else {
            throw MergingError.invalidParameter(parameter: .sources, value: "no output slice", expected: "at least one slice")
        }
        var layers: [OutputLayer] = []
        for (s, slice) in slices.enumerated() {
            let sources = slice.sources
            guard let first = sources.first else {
                throw MergingError.invalidParameter(parameter: .sources, value: "slice \(s + 1) has no sources", expected: "at least one source per slice")
            }
            var seen: Set<String> = []
            for source in sources {
                guard seen.insert(source.model).inserted else {
                    throw MergingError.invalidParameter(parameter: .sources, value: "\(source.model) twice in slice \(s + 1)",
                                                        expected: "each model at most once per slice (mergekit keys a slice's inputs by model)")
                }
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
        self.outputSlices = slices
        self.baseModel = baseModel
        self.layers = layers
    }

    /// A plan of output slices given as their sources only (no slice parameters, no base).
    ///
    /// - Throws: as `init(_:baseModel:)`.
    public init(slices: [[Source]]) throws {
        try self.init(slices.map { Slice(sources: $0) })
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

    /// The base model of output slice `slice`: its own `base_model`, else the plan's.
    public func baseModel(ofSlice slice: Int) -> String? {
        outputSlices[slice].baseModel ?? baseModel
    }

    /// Whether a tensor outside the layers comes before them in mergekit's plan: an
    /// input embedding (a name part `embed_tokens`, `embed_in`, `embeddings`,
    /// `word_embeddings`, `position_embeddings`, `tok_embeddings`, `token_embd`, `wte` or
    /// `wpe`, as mergekit's architecture files list them among the "pre" weights).
    /// Everything else outside the layers (final norm, `lm_head`, buffers) comes after.
    /// Cost: O(name length).
    public static func precedesLayers(_ name: String) -> Bool {
        let embeddings: Set<Substring> = ["embed_tokens", "embed_in", "embeddings", "word_embeddings", "position_embeddings",
                                          "tok_embeddings", "token_embd", "wte", "wpe"]
        return name.split(separator: ".").contains { embeddings.contains($0) }
    }

    /// mergekit's plan for output tensor `name`: a layer tensor reads the same tensor
    /// of its layer's sources (renumbered) at the layer's position; any other tensor
    /// reads itself from the first slice's sources (`precedesLayers`) or from the first
    /// n sources of the last slice (n = the first slice's source count), at t = 0.
    /// nil for a layer tensor past the plan's layers. Cost: O(sources + name length).
    public func inputs(forOutputTensor name: String, prefix: String = defaultLayerPrefix) -> TensorInputs? {
        if let index = Self.layerIndex(of: name, prefix: prefix) {
            guard index < layers.count else { return nil }
            let layer = layers[index]
            return TensorInputs(output: name, slice: layer.slice, position: layer.position,
                                sources: layer.sources.map { TensorSource(model: $0.model, tensor: Self.renaming(name, toLayer: $0.layer, prefix: prefix)!) },
                                baseModel: baseModel(ofSlice: layer.slice))
        }
        let slice = Self.precedesLayers(name) ? 0 : outputSlices.count - 1
        let count = Swift.min(outputSlices[0].sources.count, outputSlices[slice].sources.count)
        return TensorInputs(output: name, slice: slice, position: 0,
                            sources: outputSlices[slice].sources.prefix(count).map { TensorSource(model: $0.model, tensor: name) },
                            baseModel: baseModel(ofSlice: slice))
    }

    /// mergekit's parameter lookup (`ConfigReader.parameter`) for one tensor: the first
    /// setting that is present and set among
    /// - for a per-model parameter (`input` = the input's index in `tensor.sources`):
    ///   that source's `parameters`, its slice's `parameters`, then `topLevel`, each
    ///   evaluated against the input's own tensor name (its source layer);
    /// - for a global parameter (`input` nil): the slice's `parameters`, then `topLevel`,
    ///   evaluated against the output tensor name;
    /// all at `tensor.position`. nil: not set (the method's default applies). Cost: the
    /// evaluations'.
    public func parameter(_ key: String, input: Int?, of tensor: TensorInputs, topLevel: [String: ParameterSetting]) -> ParameterValue? {
        let slice = outputSlices[tensor.slice]
        if let input {
            return ParameterSetting.resolve([slice.sources[input].parameters[key], slice.parameters[key], topLevel[key]],
                                            tensor: tensor.sources[input].tensor, position: tensor.position)
        }
        return ParameterSetting.resolve([slice.parameters[key], topLevel[key]], tensor: tensor.output, position: tensor.position)
    }
}
