import Foundation
import Testing
import LinearAlgebra
import Merging
import ModelSurgery
import TestSupport
import WeightFiles

/// mergekit's example configs (arcee-ai/mergekit `examples/`, read at a6e4028), run unchanged on small generated
/// models in folders named as the Hub ids the configs use, and checked tensor by tensor against the `Merging`
/// primitives at parameter values worked out by hand for each layer.
@Suite("mergekit's example configs on generated 40-layer models")
struct MergekitExampleTests {
    /// Layers of the generated models: as the 13B models the examples name, so their layer ranges apply unchanged.
    static let layers = 40

    /// A Llama-shaped model folder of `layers` layers (hidden 16, MLP 24, vocabulary 32, F32; norms of 16 values, so
    /// that ties.yml's smallest density, 0.1, keeps one of them as mergekit requires): `base` plus `spread`
    /// times seeded noise, so models made from one base are fine-tunes of it. config.json and tokenizer.json beside.
    static func writeModel(_ folder: URL, seed: UInt64, base: URL? = nil, spread: Float = 0.2) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = try base.map { try Checkpoint(path: $0) }
        var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [32, 16]), ("model.norm.weight", [16]), ("lm_head.weight", [32, 16])]
        for l in 0..<layers {
            for p in ["q", "k", "v", "o"] { shapes.append(("model.layers.\(l).self_attn.\(p)_proj.weight", [16, 16])) }
            shapes += [("model.layers.\(l).mlp.gate_proj.weight", [24, 16]), ("model.layers.\(l).mlp.up_proj.weight", [24, 16]),
                       ("model.layers.\(l).mlp.down_proj.weight", [16, 24]),
                       ("model.layers.\(l).input_layernorm.weight", [16]), ("model.layers.\(l).post_attention_layernorm.weight", [16])]
        }
        let writer = try SafetensorsWriter(url: folder.appendingPathComponent("model.safetensors"))
        for (k, (name, shape)) in shapes.enumerated() {
            let count = shape.reduce(1, *)
            let noise = Matrix<Float>.random(rows: 1, columns: count, seed: seed &* 100_003 &+ UInt64(k)).elements
            var values: [Float] = try source?.array(name) ?? Array(repeating: 0, count: count)
            for i in values.indices { values[i] += (source == nil ? 1 : spread) * noise[i] }
            try writer.add(name: name, shape: shape, array: values, dtype: .f32)
        }
        try writer.finish()
        let config = #"{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 16, "intermediate_size": 24, "#
            + #""num_hidden_layers": \#(layers), "vocab_size": 32, "seed": \#(seed)}"#
        try config.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try "{}".write(to: folder.appendingPathComponent("tokenizer.json"), atomically: true, encoding: .utf8)
    }

    /// The models the examples name: a Llama-2 base and fine-tunes of it; a Mistral base and two fine-tunes.
    static let llamaBase = "TheBloke/Llama-2-13B-fp16", orca = "psmathur/orca_mini_v3_13b", platypus = "garage-bAInd/Platypus2-13B",
        wizardLM = "WizardLM/WizardLM-13B-V1.2", wizardMath = "WizardLM/WizardMath-13B-V1.0",
        mistral = "mistralai/Mistral-7B-v0.1", mistralInstruct = "mistralai/Mistral-7B-Instruct-v0.2", bioMistral = "BioMistral/BioMistral-7B"

    /// A folder holding every model above.
    static func models() throws -> URL {
        let dir = temporaryFolder()
        try writeModel(dir.appendingPathComponent(llamaBase), seed: 1)
        for (i, name) in [orca, platypus, wizardLM, wizardMath].enumerated() {
            try writeModel(dir.appendingPathComponent(name), seed: UInt64(10 + i), base: dir.appendingPathComponent(llamaBase))
        }
        try writeModel(dir.appendingPathComponent(mistral), seed: 2)
        for (i, name) in [mistralInstruct, bioMistral].enumerated() {
            try writeModel(dir.appendingPathComponent(name), seed: UInt64(20 + i), base: dir.appendingPathComponent(mistral))
        }
        return dir
    }

    /// Runs the config `yaml` (written as `name` in `dir`) into `dir/out-name`; returns the merged model.
    static func merge(_ yaml: String, _ name: String, in dir: URL) throws -> (Checkpoint, URL) {
        let config = dir.appendingPathComponent(name)
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out-" + name)
        _ = try MergeConfig.job(fromYAML: config.path, output: out).run()
        return (try Checkpoint(path: out), out)
    }

    /// mergekit's gradient value (`config.py` evaluate_setting) at layer `layer` of a slice of `count` layers,
    /// spelled out here in Python's order of operations so the bits match.
    static func gradient(_ v: [Double], layer: Int, of count: Int) -> Double {
        let t = count > 1 ? Double(layer) / Double(count - 1) : 1
        let scaled = t * Double(v.count - 1)
        let i0 = Int(scaled), i1 = min(v.count - 1, i0 + 1)
        let fraction = scaled - Double(i0)
        return (1 - fraction) * v[i0] + fraction * v[i1]
    }

    /// `values` rounded to float16 as stored.
    static func f16(_ values: [Float]) -> [Float] { values.map { HalfPrecision.float(float16Bits: HalfPrecision.float16Bits($0)) } }

    /// The models opened so far, by folder.
    nonisolated(unsafe) static var opened: [String: Checkpoint] = [:]
    static let lock = NSLock()

    /// A tensor of a model folder in `dir`.
    static func tensor(_ model: String, _ name: String, in dir: URL) throws -> [Float] {
        let path = dir.appendingPathComponent(model).path
        let checkpoint = try lock.withLock {
            if let open = opened[path] { return open }
            let open = try Checkpoint(path: path)
            opened[path] = open
            return open
        }
        return try checkpoint.array(name)
    }

    static func config(_ out: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
    }

    @Test("linear.yml: a weighted mean of three models, every tensor; the config from the first model")
    func linear() throws {
        let dir = try Self.models()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            models:
              - model: psmathur/orca_mini_v3_13b
                parameters:
                  weight: 1.0
              - model: WizardLM/WizardLM-13B-V1.2
                parameters:
                  weight: 0.3
              - model: garage-bAInd/Platypus2-13B
                parameters:
                  weight: 0.5
            merge_method: linear
            dtype: float16

            """
        let (merged, out) = try Self.merge(yaml, "linear.yml", in: dir)
        let inputs = [Self.orca, Self.wizardLM, Self.platypus]
        for name in merged.tensorNames {
            #expect(merged[name]!.dtype == .f16)
            let expected = try LinearMerge(weights: [1.0, 0.3, 0.5]).merge(try inputs.map { try Self.tensor($0, name, in: dir) })
            #expect(try merged.array(name, as: Float.self) == Self.f16(expected), "\(name)")
        }
        #expect(merged.tensorNames.count == 3 + 9 * Self.layers)
        #expect(try Self.config(out)["seed"] as? Int == 10, "config.json of the first model")
    }

    @Test("ties.yml: density and weight gradients, a filtered weight; values per layer worked out by hand")
    func ties() throws {
        let dir = try Self.models()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            models:
              - model: psmathur/orca_mini_v3_13b
                parameters:
                  density: [1, 0.7, 0.1] # density gradient
                  weight: 1.0
              - model: garage-bAInd/Platypus2-13B
                parameters:
                  density: 0.5
                  weight: [0, 0.3, 0.7, 1] # weight gradient
              - model: WizardLM/WizardMath-13B-V1.0
                parameters:
                  density: 0.33
                  weight:
                    - filter: mlp
                      value: 0.5
                    - value: 0
            merge_method: ties
            base_model: TheBloke/Llama-2-13B-fp16
            parameters:
              normalize: true
              int8_mask: true
            dtype: float16

            """
        let (merged, out) = try Self.merge(yaml, "ties.yml", in: dir)
        // Layer l of 40 sits at t = l/39: orca's density [1, 0.7, 0.1] and platypus' weight [0, 0.3, 0.7, 1] by hand.
        let hand: [(layer: Int, orcaDensity: Double, platypusWeight: Double)] = [(0, 1, 0), (13, 0.8, 0.3), (26, 0.5, 0.7), (39, 0.1, 1)]
        for (layer, density, weight) in hand {
            let d = Self.gradient([1, 0.7, 0.1], layer: layer, of: 40), w = Self.gradient([0, 0.3, 0.7, 1], layer: layer, of: 40)
            #expect(abs(d - density) < 1e-12 && abs(w - weight) < 1e-12, "layer \(layer): \(d), \(w)")
            for part in ["self_attn.q_proj", "mlp.up_proj", "mlp.down_proj", "post_attention_layernorm"] {
                let name = "model.layers.\(layer).\(part).weight"
                let expected = try GeneralizedTaskArithmetic(.ties, weight: [1, w, part.hasPrefix("mlp") ? 0.5 : 0], density: [d, 0.5, 0.33], normalize: true)
                    .merge(try [Self.orca, Self.platypus, Self.wizardMath].map { try Self.tensor($0, name, in: dir) },
                           base: try Self.tensor(Self.llamaBase, name, in: dir), shape: merged[name]!.shape)
                #expect(try merged.array(name, as: Float.self) == Self.f16(expected), "\(name)")
            }
        }
        // Outside the layers t = 0: orca's density 1, platypus' weight 0, WizardMath's 0 (no mlp in the name).
        for name in ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"] {
            let expected = try GeneralizedTaskArithmetic(.ties, weight: [1, 0, 0], density: [1, 0.5, 0.33])
                .merge(try [Self.orca, Self.platypus, Self.wizardMath].map { try Self.tensor($0, name, in: dir) },
                       base: try Self.tensor(Self.llamaBase, name, in: dir), shape: merged[name]!.shape)
            #expect(try merged.array(name, as: Float.self) == Self.f16(expected), "\(name)")
        }
        #expect(try Self.config(out)["seed"] as? Int == 1, "config.json of the base")
    }

    @Test("bio-merge.yml: ties without normalisation, the base not among the models")
    func bioMerge() throws {
        let dir = try Self.models()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            models:
              - model: mistralai/Mistral-7B-Instruct-v0.2
                parameters:
                  density: 0.5
                  weight: 0.5
              - model: BioMistral/BioMistral-7B
                parameters:
                  density: 0.5
                  weight: 0.5
            merge_method: ties
            base_model: mistralai/Mistral-7B-v0.1
            parameters:
              normalize: false
              int8_mask: true
            dtype: float16

            """
        let (merged, _) = try Self.merge(yaml, "bio-merge.yml", in: dir)
        for name in merged.tensorNames {
            let expected = try GeneralizedTaskArithmetic(.ties, weight: 0.5, density: 0.5, normalize: false)
                .merge(try [Self.mistralInstruct, Self.bioMistral].map { try Self.tensor($0, name, in: dir) },
                       base: try Self.tensor(Self.mistral, name, in: dir), shape: merged[name]!.shape)
            #expect(try merged.array(name, as: Float.self) == Self.f16(expected), "\(name)")
        }
    }

    /// The merged tensor `output` equals slerp(orca's `input`, Platypus's `input`, t) at float16 rounding.
    static func expectSlerp(_ merged: Checkpoint, _ output: String, from input: String? = nil, t: Double, in dir: URL) throws {
        let input = input ?? output
        let expected = try Slerp(t: t).merge(try tensor(platypus, input, in: dir), base: try tensor(orca, input, in: dir))
        #expect(try merged.array(output, as: Float.self) == f16(expected), "\(output) from \(input) at t = \(t)")
    }

    @Test("gradient-slerp.yml: one slice of two 40-layer sources, t filtered by module and graded over the layers")
    func gradientSlerp() throws {
        let dir = try Self.models()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            slices:
              - sources:
                  - model: psmathur/orca_mini_v3_13b
                    layer_range: [0, 40]
                  - model: garage-bAInd/Platypus2-13B
                    layer_range: [0, 40]
            # or, the equivalent models: syntax:
            # models:
            #   - model: psmathur/orca_mini_v3_13b
            #   - model: garage-bAInd/Platypus2-13B
            merge_method: slerp
            base_model: psmathur/orca_mini_v3_13b
            parameters:
              t:
                - filter: self_attn
                  value: [0, 0.5, 0.3, 0.7, 1]
                - filter: mlp
                  value: [1, 0.5, 0.7, 0.3, 0]
                - value: 0.5 # fallback for rest of tensors
            dtype: float16

            """
        let (merged, out) = try Self.merge(yaml, "gradient-slerp.yml", in: dir)
        // t = l/39; s = 4t; by hand: layer 10 → s = 40/39, f = 1/39; layer 20 → s = 80/39, f = 2/39.
        let hand: [(layer: Int, attention: Double, mlp: Double)] = [(0, 0, 1), (10, 19.3 / 39, 19.7 / 39), (20, 12.5 / 39, 26.5 / 39), (39, 1, 0)]
        for (layer, attention, mlp) in hand {
            #expect(abs(Self.gradient([0, 0.5, 0.3, 0.7, 1], layer: layer, of: 40) - attention) < 1e-12)
            #expect(abs(Self.gradient([1, 0.5, 0.7, 0.3, 0], layer: layer, of: 40) - mlp) < 1e-12)
            for (part, t) in [("self_attn.k_proj", Self.gradient([0, 0.5, 0.3, 0.7, 1], layer: layer, of: 40)),
                              ("mlp.gate_proj", Self.gradient([1, 0.5, 0.7, 0.3, 0], layer: layer, of: 40)), ("input_layernorm", 0.5)] {
                try Self.expectSlerp(merged, "model.layers.\(layer).\(part).weight", t: t, in: dir)
            }
        }
        for name in ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"] { try Self.expectSlerp(merged, name, t: 0.5, in: dir) }
        // t = 0 is the base, t = 1 the other model (to float16 rounding).
        let q0 = "model.layers.0.self_attn.q_proj.weight", q39 = "model.layers.39.self_attn.q_proj.weight"
        #expect(try merged.array(q0, as: Float.self) == Self.f16(try Self.tensor(Self.orca, q0, in: dir)))
        for (got, other) in zip(try merged.array(q39, as: Float.self), Self.f16(try Self.tensor(Self.platypus, q39, in: dir))) {
            #expect(abs(got - other) <= 1e-3 * max(1, abs(other)))
        }
        #expect(try Self.config(out)["num_hidden_layers"] as? Int == 40 && Self.config(out)["seed"] as? Int == 10)
    }

    @Test("gradient slerp over two slices (44 layers): t restarts per slice; a slice's own filter; norm and head from the last slice")
    func gradientSlerpTwoSlices() throws {
        let dir = try Self.models()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            slices:
              - sources:
                  - model: psmathur/orca_mini_v3_13b
                    layer_range: [0, 24]
                  - model: garage-bAInd/Platypus2-13B
                    layer_range: [0, 24]
              - sources:
                  - model: psmathur/orca_mini_v3_13b
                    layer_range: [20, 40]
                  - model: garage-bAInd/Platypus2-13B
                    layer_range: [20, 40]
                parameters:
                  t:
                    - filter: mlp
                      value: 0.9
            merge_method: slerp
            base_model: psmathur/orca_mini_v3_13b
            parameters:
              t:
                - filter: self_attn
                  value: [0, 0.5, 0.3, 0.7, 1]
                - filter: mlp
                  value: [1, 0.5, 0.7, 0.3, 0]
                - value: 0.5
            dtype: float16

            """
        let (merged, out) = try Self.merge(yaml, "two-slices.yml", in: dir)
        #expect(merged.tensorNames.count == 3 + 9 * 44)
        // (output layer, source layer, t of self_attn, t of mlp, t of the norms), by hand:
        // slice 0 has 24 layers: layer 12 → s = 48/23, f = 2/23; layer 23 → t = 1.
        // slice 1 has 20: output 24 is its layer 0 (t = 0); output 30 its layer 6 → s = 24/19, f = 5/19; output 43 t = 1.
        // The slice's mlp filter (0.9) wins over the top level there; its norms fall through to the top-level 0.5.
        let hand: [(out: Int, source: Int, attention: Double, mlp: Double)] = [
            (0, 0, 0, 1), (12, 12, 7.7 / 23, 15.3 / 23), (23, 23, 1, 0), (24, 20, 0, 0.9), (30, 26, 8.5 / 19, 0.9), (43, 39, 1, 0.9),
        ]
        for (o, source, attention, mlp) in hand {
            let (index, count) = o < 24 ? (o, 24) : (o - 24, 20)
            #expect(abs(Self.gradient([0, 0.5, 0.3, 0.7, 1], layer: index, of: count) - attention) < 1e-12, "layer \(o)")
            if o < 24 { #expect(abs(Self.gradient([1, 0.5, 0.7, 0.3, 0], layer: index, of: count) - mlp) < 1e-12, "layer \(o)") }
            for (part, t) in [("self_attn.v_proj", Self.gradient([0, 0.5, 0.3, 0.7, 1], layer: index, of: count)),
                              ("mlp.down_proj", o < 24 ? Self.gradient([1, 0.5, 0.7, 0.3, 0], layer: index, of: count) : 0.9),
                              ("post_attention_layernorm", 0.5)] {
                try Self.expectSlerp(merged, "model.layers.\(o).\(part).weight", from: "model.layers.\(source).\(part).weight", t: t, in: dir)
            }
        }
        for name in ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"] { try Self.expectSlerp(merged, name, t: 0.5, in: dir) }
        #expect(try Self.config(out)["num_hidden_layers"] as? Int == 44)
    }

    @Test("a ties slice of several sources: per-source, slice and top-level parameters in mergekit's order; a slice's own base_model")
    func tiesSlices() throws {
        let dir = try Self.models()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            merge_method: ties
            base_model: TheBloke/Llama-2-13B-fp16
            slices:
              - sources:
                  - model: TheBloke/Llama-2-13B-fp16
                    layer_range: [0, 20]
                  - model: psmathur/orca_mini_v3_13b
                    layer_range: [0, 20]
                    parameters:
                      weight: [1, 0.5]
                      density: 0.5
                  - model: WizardLM/WizardMath-13B-V1.0
                    layer_range: [0, 20]
                    parameters:
                      weight:
                        - filter: mlp
                          value: 0.25
                        - value: 1
                parameters:
                  density: 0.7
              - sources:
                  - model: TheBloke/Llama-2-13B-fp16
                    layer_range: [20, 40]
                  - model: psmathur/orca_mini_v3_13b
                    layer_range: [20, 40]
                  - model: garage-bAInd/Platypus2-13B
                    layer_range: [10, 30]
                    parameters:
                      density: [0.9, 0.3]
                base_model: psmathur/orca_mini_v3_13b
                parameters:
                  normalize: false
            parameters:
              weight: 0.5
              density: 0.6
            dtype: float32

            """
        let (merged, out) = try Self.merge(yaml, "ties-slices.yml", in: dir)
        func expect(_ output: String, base: (String, String), models: [(String, String)], weight: [Double], density: [Double], normalize: Bool? = nil) throws {
            let expected = try GeneralizedTaskArithmetic(.ties, weight: .each(weight), density: .each(density), normalize: normalize)
                .merge(try models.map { try Self.tensor($0.0, $0.1, in: dir) }, base: try Self.tensor(base.0, base.1, in: dir), shape: merged[output]!.shape)
            #expect(try merged.array(output, as: Float.self) == expected, "\(output)")
        }
        // Slice 0, output layer 19 (t = 1): orca weight 0.5 (its gradient's end), density 0.5 (its own);
        // WizardMath weight 0.25 in the MLP, 1 elsewhere, density 0.7 (the slice's); normalize: ties' default.
        for part in ["mlp.up_proj", "self_attn.o_proj"] {
            let name = "model.layers.19.\(part).weight"
            try expect(name, base: (Self.llamaBase, name), models: [(Self.orca, name), (Self.wizardMath, name)],
                       weight: [0.5, part.hasPrefix("mlp") ? 0.25 : 1], density: [0.5, 0.7])
        }
        // Layer 7 (t = 7/19): orca's weight [1, 0.5] → 1 − 0.5·7/19 = 31/38.
        let w7 = Self.gradient([1, 0.5], layer: 7, of: 20)
        #expect(abs(w7 - 31.0 / 38) < 1e-12)
        try expect("model.layers.7.mlp.down_proj.weight", base: (Self.llamaBase, "model.layers.7.mlp.down_proj.weight"),
                   models: [(Self.orca, "model.layers.7.mlp.down_proj.weight"), (Self.wizardMath, "model.layers.7.mlp.down_proj.weight")],
                   weight: [w7, 0.25], density: [0.5, 0.7])
        // Slice 1 merges onto orca (its base_model): Llama-2 and Platypus, weight 0.5 (top level), densities 0.6 (top level) and
        // Platypus' own [0.9, 0.3] at t = 5/19 → (14·0.9 + 5·0.3)/19 = 14.1/19; normalize false (the slice's).
        // Output layer 25 is layer 25 of Llama-2 and orca, layer 15 of Platypus.
        let d5 = Self.gradient([0.9, 0.3], layer: 5, of: 20)
        #expect(abs(d5 - 14.1 / 19) < 1e-12)
        try expect("model.layers.25.mlp.gate_proj.weight", base: (Self.orca, "model.layers.25.mlp.gate_proj.weight"),
                   models: [(Self.llamaBase, "model.layers.25.mlp.gate_proj.weight"), (Self.platypus, "model.layers.15.mlp.gate_proj.weight")],
                   weight: [0.5, 0.5], density: [0.6, d5], normalize: false)
        // Embeddings: slice 0 at t = 0 (orca weight 1, WizardMath 1 by the catch-all); final norm and head: slice 1 at t = 0.
        try expect("model.embed_tokens.weight", base: (Self.llamaBase, "model.embed_tokens.weight"),
                   models: [(Self.orca, "model.embed_tokens.weight"), (Self.wizardMath, "model.embed_tokens.weight")], weight: [1, 1], density: [0.5, 0.7])
        for name in ["model.norm.weight", "lm_head.weight"] {
            try expect(name, base: (Self.orca, name), models: [(Self.llamaBase, name), (Self.platypus, name)], weight: [0.5, 0.5], density: [0.6, 0.9],
                       normalize: false)
        }
        #expect(try Self.config(out)["num_hidden_layers"] as? Int == 40 && Self.config(out)["seed"] as? Int == 1, "config.json of the top-level base")
    }

    @Test("orcamini-platy-44layer.yml: a passthrough frankenmerge of 24 + 20 layers")
    func frankenmerge() throws {
        let dir = try Self.models()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            slices:
              - sources:
                - model: psmathur/orca_mini_v3_13b
                  layer_range: [0, 24]
              - sources:
                - model: garage-bAInd/Platypus2-13B
                  layer_range: [20, 40]
            merge_method: passthrough
            dtype: float16

            """
        let (merged, out) = try Self.merge(yaml, "orcamini-platy-44layer.yml", in: dir)
        #expect(merged.tensorNames.count == 3 + 9 * 44)
        for name in merged.tensorNames {
            #expect(merged[name]!.dtype == .f16)
            let (model, input): (String, String)
            if let layer = LayerSlicePlan.layerIndex(of: name) {
                (model, input) = layer < 24 ? (Self.orca, name) : (Self.platypus, LayerSlicePlan.renaming(name, toLayer: layer - 4)!)
            } else {
                (model, input) = (name == "model.embed_tokens.weight" ? Self.orca : Self.platypus, name)
            }
            #expect(try merged.array(name, as: Float.self) == Self.f16(try Self.tensor(model, input, in: dir)), "\(name) from \(model) \(input)")
        }
        #expect(try Self.config(out)["num_hidden_layers"] as? Int == 44)
    }

    @Test("slice configs that cannot merge are refused naming the config and the place, before anything is written")
    func refusals() throws {
        let dir = try Self.models()
        defer { try? FileManager.default.removeItem(at: dir) }
        func slice(_ sources: String, method: String = "slerp", extra: String = "parameters: {t: 0.5}\n") -> String {
            "merge_method: \(method)\nbase_model: psmathur/orca_mini_v3_13b\n\(extra)slices:\n  - sources:\n\(sources)"
        }
        let orca = "      - {model: psmathur/orca_mini_v3_13b, layer_range: [0, 40]}\n"
        let cases: [(String, [String])] = [
            (slice(orca + "      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 32]}\n"),
             ["slices[0].sources[1].layer_range", "spans 32 layers", "sources[0] spans 40"]),
            (slice(orca + "      - {model: garage-bAInd/Platypus2-13B, layer_range: [8, 48]}\n"),
             ["slices[0].sources[1].layer_range", "needs layer 40", "layers 0–39"]),
            (slice("      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40]}\n      - {model: WizardLM/WizardLM-13B-V1.2, layer_range: [0, 40]}\n"),
             ["slices[0]", "base model", "not among the sources"]),
            (slice(orca + "      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40]}\n      - {model: WizardLM/WizardLM-13B-V1.2, layer_range: [0, 40]}\n"),
             ["slices[0]", "slerp merges exactly 1 model(s) besides the base, got 2"]),
            (slice(orca + "      - {model: ./psmathur/orca_mini_v3_13b/, layer_range: [0, 40]}\n"), ["slices[0].sources[1].model", "already slices[0].sources[0]"]),
            (slice(orca + "      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40], parameters: {t: 0.3}}\n"),
             ["slices[0].sources[1].parameters", "unknown key 't'", "not per model"]),
            (slice(orca + "      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40]}\n    parameters: {seed: 1}\n"),
             ["slices[0].parameters", "unknown key 'seed'", "top-level"]),
            (slice(orca + "      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40]}\n    merge_method: ties\n"), ["slices[0]", "unknown key 'merge_method'"]),
            (slice(orca + "      - {model: garage-bAInd/Platypus2-2B, layer_range: [0, 40]}\n"), ["slices[0].sources[1].model", "Platypus2-2B"]),
            (slice(orca + "      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40]}\n", extra: "parameters: {t: [{filter: mlp, value: 0.5}]}\n"),
             ["slices[0]", "t is not set for tensor '", "slerp needs it"]),
            (slice(orca + "      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40]}\n", extra: "parameters: {t: [0, abc]}\n"),
             ["parameters.t", "must be a finite number", "'abc'"]),
            (slice(orca + "      - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40], parameters: {weight: [{filter: mlp, value: x}]}}\n",
                   method: "dare_ties", extra: ""),
             ["slices[0].sources[1].parameters.weight", "must be a finite number", "'x'"]),
        ]
        for (text, mentions) in cases {
            let config = dir.appendingPathComponent("bad.yml"), out = dir.appendingPathComponent("bad-out")
            try text.write(to: config, atomically: true, encoding: .utf8)
            do {
                _ = try MergeConfig.job(fromYAML: config.path, output: out).run()
                Issue.record("accepted:\n\(text)")
            } catch {
                let message = "\(error)"
                #expect(message.hasPrefix(config.path + ": "), "\(message)")
                for m in mentions { #expect(message.contains(m), "'\(m)' not in: \(message)") }
                #expect(!message.contains("\n"))
            }
            #expect(!FileManager.default.fileExists(atPath: out.path), "nothing written")
        }
    }
}
