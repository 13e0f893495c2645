import Foundation
import Testing
@testable import Merging

@Suite("Layer slice plans and parameter gradients")
struct SlicesAndGradientsTests {
    typealias Source = LayerSlicePlan.Source

    @Test("a passthrough stack maps output layers to source layers and renames tensors") func stack() throws {
        // mergekit's examples/orcamini-platy-44layer.yml: [0, 24) of A, then [20, 40) of B.
        let plan = try LayerSlicePlan(stacking: [Source(model: "A", layers: 0..<24), Source(model: "B", layers: 20..<40)])
        #expect(plan.layerCount == 44)
        #expect(plan.layers[23].sources == [.init(model: "A", layer: 23)])
        #expect(plan.layers[24].sources == [.init(model: "B", layer: 20)] && plan.layers[24].slice == 1)
        #expect(plan.layers[43].sources == [.init(model: "B", layer: 39)])
        #expect(plan.layers.enumerated().allSatisfy { $0.offset == $0.element.index })
        // Positions restart per slice: 0 … 1 over 24 layers, then over 20.
        #expect(plan.layers[0].position == 0 && plan.layers[23].position == 1 && plan.layers[24].position == 0)
        #expect(plan.layers[25].position == 1.0 / 19)
        #expect(plan.sources(forOutputTensor: "model.layers.30.mlp.up_proj.weight")
            == [.init(model: "B", tensor: "model.layers.26.mlp.up_proj.weight")])
        #expect(plan.sources(forOutputTensor: "model.embed_tokens.weight") == nil)
        #expect(plan.sources(forOutputTensor: "model.layers.44.mlp.up_proj.weight") == nil, "past the plan")
        // A layer repeated (a duplicated block) is read twice.
        let twice = try LayerSlicePlan(stacking: [Source(model: "A", layers: 0..<2), Source(model: "A", layers: 1..<3)])
        #expect(twice.layers.map { $0.sources[0].layer } == [0, 1, 1, 2])
        // One-layer slices sit at t = 1, as mergekit.
        #expect(try LayerSlicePlan(stacking: [Source(model: "A", layers: 5..<6)]).layers[0].position == 1)
    }

    @Test("slices of several sources; errors name layer_range") func slices() throws {
        let plan = try LayerSlicePlan(slices: [[Source(model: "A", layers: 0..<4), Source(model: "base", layers: 0..<4)],
                                               [Source(model: "B", layers: 10..<12), Source(model: "base", layers: 4..<6)]])
        #expect(plan.layerCount == 6)
        #expect(plan.layers[5].sources == [.init(model: "B", layer: 11), .init(model: "base", layer: 5)])
        #expect(plan.sources(forOutputTensor: "model.layers.4.self_attn.q_proj.weight")
            == [.init(model: "B", tensor: "model.layers.10.self_attn.q_proj.weight"), .init(model: "base", tensor: "model.layers.4.self_attn.q_proj.weight")])
        #expect(throws: MergingError.self) { try LayerSlicePlan(slices: [[Source(model: "A", layers: 0..<4), Source(model: "B", layers: 0..<3)]]) }
        #expect(throws: MergingError.self) { try LayerSlicePlan(slices: [[]]) }
        do {
            _ = try LayerSlicePlan(slices: [[Source(model: "A", layers: 0..<4), Source(model: "B", layers: 2..<5)]])
            Issue.record("sources of different lengths were accepted")
        } catch MergingError.invalidParameter(let parameter, _, _) {
            #expect(parameter == .layerRange)
        }
    }

    @Test("layer names: index, renaming, prefixes") func names() {
        #expect(LayerSlicePlan.layerIndex(of: "model.layers.12.mlp.down_proj.weight") == 12)
        #expect(LayerSlicePlan.layerIndex(of: "model.layers.x.mlp") == nil)
        #expect(LayerSlicePlan.layerIndex(of: "model.layers.3") == nil, "needs the dot after the index")
        #expect(LayerSlicePlan.layerIndex(of: "lm_head.weight") == nil)
        #expect(LayerSlicePlan.renaming("model.layers.7.input_layernorm.weight", toLayer: 31) == "model.layers.31.input_layernorm.weight")
        #expect(LayerSlicePlan.renaming("model.layers.007.a", toLayer: 2) == "model.layers.2.a")
        #expect(LayerSlicePlan.renaming("model.norm.weight", toLayer: 2) == nil)
        #expect(LayerSlicePlan.renaming("transformer.h.3.attn.c_attn.weight", toLayer: 9, prefix: "transformer.h.") == "transformer.h.9.attn.c_attn.weight")
    }

    @Test("gradients: piecewise linear through evenly spaced points, hand-computed") func gradients() {
        let g = ParameterSetting.gradient([.number(0), .number(0.5), .number(0.3), .number(0.7), .number(1)])
        func value(_ t: Double) -> Double { g.evaluate(tensor: "w", position: t)!.number! }
        #expect(value(0) == 0 && value(1) == 1 && value(0.25) == 0.5 && value(0.5) == 0.3 && value(0.75) == 0.7)
        // t = 0.1: s = 0.4 → 0.6·0 + 0.4·0.5 = 0.2; t = 0.6: s = 2.4 → 0.6·0.3 + 0.4·0.7 = 0.46.
        #expect(abs(value(0.1) - 0.2) < 1e-15 && abs(value(0.6) - 0.46) < 1e-15)
        // Layer 10 of 32 (t = 10/31): s = 40/31, i₀ = 1, f = 9/31 → (22/31)·0.5 + (9/31)·0.3 = 13.7/31.
        let plan = try! LayerSlicePlan(stacking: [.init(model: "A", layers: 0..<32)])
        #expect(abs(value(plan.layers[10].position) - 13.7 / 31) < 1e-15)
        // Outside [0, 1] clamps; one value is constant; booleans interpolate as 0/1 (Python's bool is an int).
        #expect(value(-1) == 0 && value(2) == 1)
        #expect(ParameterSetting.gradient([.number(3)]).evaluate(tensor: "w", position: 0.7) == .number(3))
        let bools = ParameterSetting.gradient([.bool(false), .bool(true)])
        #expect(bools.evaluate(tensor: "w", position: 0.25) == .number(0.25))
        #expect(bools.evaluate(tensor: "w", position: 0.25)?.bool == true && bools.evaluate(tensor: "w", position: 0)?.bool == false)
        // A string among the values: the value at int(t(n − 1)), no interpolation.
        let strings = ParameterSetting.gradient([.string("a"), .number(1), .string("c")])
        #expect(strings.evaluate(tensor: "w", position: 0.49) == .string("a") && strings.evaluate(tensor: "w", position: 0.5) == .number(1))
        #expect(strings.evaluate(tensor: "w", position: 1) == .string("c"))
        #expect(ParameterSetting.gradient([]).evaluate(tensor: "w", position: 0.5) == nil)
    }

    @Test("filters: the first matching entry decides, substrings of the tensor name, then precedence") func filters() {
        // mergekit's examples/gradient-slerp.yml.
        let t = ParameterSetting.filtered([
            .init(filter: "self_attn", value: .gradient([.number(0), .number(0.5), .number(0.3), .number(0.7), .number(1)])),
            .init(filter: "mlp", value: .gradient([.number(1), .number(0.5), .number(0.7), .number(0.3), .number(0)])),
            .init(filter: nil, value: .value(.number(0.5))),
        ])
        #expect(t.evaluate(tensor: "model.layers.3.self_attn.q_proj.weight", position: 0.25) == .number(0.5))
        #expect(t.evaluate(tensor: "model.layers.3.mlp.up_proj.weight", position: 0.75) == .number(0.3))
        #expect(t.evaluate(tensor: "model.layers.3.input_layernorm.weight", position: 0.75) == .number(0.5))
        // No catch-all: "not set", so the next level decides.
        let attentionOnly = ParameterSetting.filtered([.init(filter: "self_attn", value: .value(.number(0.9)))])
        #expect(attentionOnly.evaluate(tensor: "model.norm.weight", position: 0) == nil)
        #expect(ParameterSetting.filtered([.init(filter: "*", value: .value(.bool(true)))]).evaluate(tensor: "x", position: 0) == .bool(true))
        // The first match wins even over a later, more specific one.
        let order = ParameterSetting.filtered([.init(filter: "mlp", value: .value(.number(1))), .init(filter: "mlp.up", value: .value(.number(2)))])
        #expect(order.evaluate(tensor: "model.layers.0.mlp.up_proj.weight", position: 0) == .number(1))
        // An empty tensor name matches only nil or "*".
        #expect(order.evaluate(tensor: "", position: 0) == nil)
        // Precedence: source, slice, module, top level; the first that is set.
        let resolved = ParameterSetting.resolve([attentionOnly, nil, .value(.number(0.2))], tensor: "model.norm.weight", position: 0)
        #expect(resolved == .number(0.2))
        #expect(ParameterSetting.resolve([attentionOnly, .value(.number(0.2))], tensor: "model.layers.1.self_attn.o_proj.weight", position: 0) == .number(0.9))
        #expect(ParameterSetting.resolve([nil, attentionOnly], tensor: "lm_head.weight", position: 0) == nil)
    }

    @Test("where every output tensor comes from: layers by slice, embeddings from the first slice, the rest from the last") func inputs() throws {
        // Two slices of A and base: layers 0–3 of both, then 10–11 of B with 4–5 of base; slice 1 has its own base.
        let plan = try LayerSlicePlan([.init(sources: [Source(model: "A", layers: 0..<4), Source(model: "base", layers: 0..<4)]),
                                       .init(sources: [Source(model: "B", layers: 10..<12), Source(model: "base", layers: 4..<6)], baseModel: "B")],
                                      baseModel: "base")
        let layer = plan.inputs(forOutputTensor: "model.layers.5.mlp.up_proj.weight")!
        #expect(layer.slice == 1 && layer.position == 1 && layer.baseModel == "B")
        #expect(layer.sources == [.init(model: "B", tensor: "model.layers.11.mlp.up_proj.weight"), .init(model: "base", tensor: "model.layers.5.mlp.up_proj.weight")])
        let early = plan.inputs(forOutputTensor: "model.layers.2.self_attn.q_proj.weight")!
        #expect(early.slice == 0 && early.position == 2.0 / 3 && early.baseModel == "base")
        // Embeddings: the first slice, t = 0; final norm and head: the last slice (its base), t = 0.
        let embed = plan.inputs(forOutputTensor: "model.embed_tokens.weight")!
        #expect(embed.slice == 0 && embed.position == 0 && embed.sources.map(\.model) == ["A", "base"] && embed.sources[0].tensor == "model.embed_tokens.weight")
        for name in ["model.norm.weight", "lm_head.weight"] {
            let post = plan.inputs(forOutputTensor: name)!
            #expect(post.slice == 1 && post.position == 0 && post.baseModel == "B" && post.sources.map(\.model) == ["B", "base"], "\(name)")
        }
        #expect(plan.inputs(forOutputTensor: "model.layers.6.mlp.up_proj.weight") == nil, "past the plan")
        // mergekit pairs the last slice's models with as many tensors as the first slice has sources: a frankenmerge
        // whose last slice merges two models takes its final norm from the first of them only.
        let mixed = try LayerSlicePlan(slices: [[Source(model: "A", layers: 0..<2)], [Source(model: "A", layers: 2..<4), Source(model: "B", layers: 2..<4)]])
        #expect(mixed.inputs(forOutputTensor: "lm_head.weight")!.sources.map(\.model) == ["A"])
        #expect(mixed.inputs(forOutputTensor: "model.layers.3.mlp.up_proj.weight")!.sources.map(\.model) == ["A", "B"])
        // Which tensors come before the layers: input embeddings only.
        for name in ["model.embed_tokens.weight", "transformer.wte.weight", "transformer.wpe.weight", "embeddings.word_embeddings.weight",
                     "bert.embeddings.LayerNorm.weight", "gpt_neox.embed_in.weight", "token_embd.weight"] {
            #expect(LayerSlicePlan.precedesLayers(name), "\(name)")
        }
        for name in ["model.norm.weight", "lm_head.weight", "embed_out.weight", "transformer.ln_f.weight", "model.position_ids"] {
            #expect(!LayerSlicePlan.precedesLayers(name), "\(name)")
        }
        // A model twice in one slice (mergekit keys a slice's inputs by model), or no slice at all, is refused.
        #expect(throws: MergingError.invalidParameter(parameter: .sources, value: "A twice in slice 1",
                                                      expected: "each model at most once per slice (mergekit keys a slice's inputs by model)")) {
            try LayerSlicePlan(slices: [[Source(model: "A", layers: 0..<2), Source(model: "A", layers: 2..<4)]])
        }
        #expect(throws: MergingError.self) { try LayerSlicePlan([]) }
    }

    @Test("parameter lookup: the source's, the slice's, then the top level; per-model ones by the input's name, global ones by the output's")
    func parameterLookup() throws {
        let number = { (x: Double) in ParameterSetting.value(.number(x)) }
        // Output layers 0–3 read A's layers 20–23 and base's 0–3.
        let plan = try LayerSlicePlan([
            .init(sources: [Source(model: "A", layers: 20..<24, parameters: ["weight": .filtered([.init(filter: "layers.22.", value: number(0.25))])]),
                            Source(model: "base", layers: 0..<4)],
                  parameters: ["weight": .gradient([.number(1), .number(0)]), "t": .filtered([.init(filter: "layers.2.", value: number(0.9)), .init(filter: "mlp", value: number(0.1))])]),
        ])
        let top: [String: ParameterSetting] = ["weight": number(7), "t": number(0.5), "density": number(0.3)]
        // Output layer 2 is A's layer 22: the source's filter matches the input name (…layers.22.…), not the output's.
        let layer2 = plan.inputs(forOutputTensor: "model.layers.2.mlp.up_proj.weight")!
        #expect(plan.parameter("weight", input: 0, of: layer2, topLevel: top) == .number(0.25))
        // Base's input is layer 2: no source setting, the slice's gradient at t = 2/3 → 1/3.
        #expect(abs(plan.parameter("weight", input: 1, of: layer2, topLevel: top)!.number! - 1.0 / 3) < 1e-15)
        // Global t matches the output name: "layers.2." first.
        #expect(plan.parameter("t", input: nil, of: layer2, topLevel: top) == .number(0.9))
        // Output layer 1 (A's 21): the source's filter does not match, the slice's gradient at t = 1/3 → 2/3; t by "mlp".
        let layer1 = plan.inputs(forOutputTensor: "model.layers.1.mlp.up_proj.weight")!
        #expect(abs(plan.parameter("weight", input: 0, of: layer1, topLevel: top)!.number! - 2.0 / 3) < 1e-15)
        #expect(plan.parameter("t", input: nil, of: layer1, topLevel: top) == .number(0.1))
        // Neither the source nor the slice sets density: the top level; t of a norm: no slice filter matches → top level.
        #expect(plan.parameter("density", input: 0, of: layer1, topLevel: top) == .number(0.3))
        let norm = plan.inputs(forOutputTensor: "model.layers.1.input_layernorm.weight")!
        #expect(plan.parameter("t", input: nil, of: norm, topLevel: top) == .number(0.5))
        #expect(plan.parameter("gamma", input: 0, of: norm, topLevel: top) == nil, "unset: the method's default")
        // The source's parameters are per-model only: they do not answer a global lookup.
        let global = try LayerSlicePlan([.init(sources: [Source(model: "A", layers: 0..<1, parameters: ["t": number(0.1)])])])
        #expect(global.parameter("t", input: nil, of: global.inputs(forOutputTensor: "model.layers.0.mlp.up_proj.weight")!, topLevel: top) == .number(0.5))
    }
}
