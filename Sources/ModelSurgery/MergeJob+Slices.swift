import Foundation
import Merging
import WeightFiles

extension MergeJob.Method {
    /// mergekit's per-model ("tensor") parameters of the method: one value per input model, looked up from that
    /// model's own settings first.
    var perModelParameterNames: [String] {
        switch self {
        case .linear, .taskArithmetic, .nuslerp: return ["weight"]
        case .ties, .dareTies, .dareLinear: return ["weight", "density"]
        case .breadcrumbs, .breadcrumbsTies: return ["weight", "density", "gamma"]
        case .della, .dellaLinear: return ["weight", "density", "epsilon"]
        case .passthrough: return ["scale"]
        case .slerp, .nearswap, .karcher, .modelStock, .sce, .fisher, .regmean: return []
        }
    }

    /// mergekit's global parameters of the method: one value per tensor.
    var globalParameterNames: [String] {
        switch self {
        case .linear: return ["normalize"]
        case .taskArithmetic: return ["lambda"]
        case .ties, .dareTies, .dareLinear, .breadcrumbs, .breadcrumbsTies, .della, .dellaLinear: return ["normalize", "rescale", "lambda", "int8_mask"]
        case .slerp, .nearswap: return ["t"]
        case .nuslerp: return ["nuslerp_flatten", "nuslerp_row_wise"]
        case .karcher: return ["max_iter", "tol"]
        case .modelStock: return ["filter_wise"]
        case .sce: return ["select_topk", "int8_mask"]
        case .passthrough, .fisher, .regmean: return []
        }
    }

    /// Parameters whose values are booleans (a number counts as Python's truth of it).
    static let flagParameterNames: Set<String> = ["normalize", "rescale", "int8_mask", "filter_wise", "nuslerp_flatten", "nuslerp_row_wise"]
}

/// One output tensor of a slice merge, planned before anything is read: what it is made from and its parameters'
/// values.
struct SliceTensorPlan {
    /// A tensor to read: `tensor` of `model`.
    struct Input {
        var model: Checkpoint
        var tensor: String
    }

    /// The output name.
    var name: String
    var shape: [Int]
    /// The dtype written.
    var dtype: DType
    /// Set when the tensor is written as it is (converted to `dtype`): a non-floating tensor, a slice's single input
    /// that slerp and nuslerp pass through, or the base of a slice with no other model.
    var copy: Input?
    /// The models merged (the base not among them), in source order.
    var models: [Input] = []
    /// The base, for the methods that use one.
    var base: Input?
    /// The set global parameters.
    var global: [String: ParameterValue] = [:]
    /// The set per-model parameters, one dictionary per entry of `models`.
    var perModel: [[String: ParameterValue]] = []
}

extension MergeJob {
    /// How the method uses the inputs of one output tensor of a slice.
    enum SliceRoles {
        /// Input i is written as it is.
        case copy(Int)
        /// The inputs `models` are merged onto input `base` (nil for the methods without a base).
        case merge(base: Int?, models: [Int])
    }

    /// The roles of a slice's inputs (the models named by `names`, base `base`), as mergekit's methods take them:
    /// passthrough one input; slerp and nuslerp pass a single input through; the methods that use a base need it among
    /// the inputs (with slices mergekit does not add it) and give it back alone; then `modelCountRange` other models.
    func sliceRoles(_ names: [String], base: String?, place: String) throws -> SliceRoles {
        func fail(_ detail: String) -> ModelSurgeryError { .invalidSlice(place: place, detail: detail) }
        let method = method.rawValue
        if self.method == .passthrough {
            guard names.count == 1 else { throw fail("passthrough takes one source per slice, got \(names.count)") }
            return .merge(base: nil, models: [0])
        }
        if names.count == 1 && (self.method == .slerp || self.method == .nuslerp) { return .copy(0) }
        var baseIndex: Int?
        if needsBase || (self.method == .nuslerp && base != nil) {
            guard let base else { throw fail("\(method) needs base_model (the model its task vectors start from)") }
            guard let index = names.firstIndex(of: base) else {
                throw fail("the base model \(base) is not among the sources; with slices mergekit merges only what a slice lists, so list the base as a source")
            }
            baseIndex = index
        }
        let models = names.indices.filter { $0 != baseIndex }
        if let baseIndex, models.isEmpty { return .copy(baseIndex) }
        guard modelCountRange.contains(models.count) else {
            let expected = modelCountRange.upperBound == Int.max ? "at least \(modelCountRange.lowerBound)"
                : modelCountRange.lowerBound == modelCountRange.upperBound ? "exactly \(modelCountRange.lowerBound)"
                : "\(modelCountRange.lowerBound) to \(modelCountRange.upperBound)"
            let besides = baseIndex == nil ? "" : " besides the base"
            throw fail("\(method) merges \(expected) model(s)\(besides), got \(models.count) (the slice lists \(names.count) source\(names.count == 1 ? "" : "s"))")
        }
        return .merge(base: baseIndex, models: models)
    }

    /// Every output tensor of the slice merge in natural order, checked and with its parameters evaluated: layer
    /// ranges within their models, every input present with the first input's shape, the method's model counts and
    /// base per slice, parameter values of the right kind, required ones set.
    ///
    /// - Throws: `ModelSurgeryError.invalidSlice` naming the place (`slices[1].sources[0].layer_range`,
    ///   `slices[0].parameters.t`, …).
    func planSlices() throws -> [SliceTensorPlan] {
        guard let plan = slicePlan else { return [] }
        guard method != .fisher && method != .regmean else {
            throw ModelSurgeryError.invalidSlice(place: "slices", detail: "\(method.rawValue) merges whole models (models:), not slices")
        }
        guard aim == nil else { throw ModelSurgeryError.invalidSlice(place: "slices", detail: "AIM relaxes whole models (models:), not slices") }
        func model(_ name: String, _ place: String) throws -> Checkpoint {
            guard let model = sliceModels[name] else { throw ModelSurgeryError.invalidSlice(place: place, detail: "no model given for '\(name)'") }
            return model
        }
        // Each model's layer tensors by layer, and its layer ranges checked.
        var layerTensors: [String: [Int: [String]]] = [:]
        for (s, slice) in plan.outputSlices.enumerated() {
            for (j, source) in slice.sources.enumerated() {
                let place = "slices[\(s)].sources[\(j)]"
                let checkpoint = try model(source.model, place)
                if layerTensors[source.model] == nil {
                    var byLayer: [Int: [String]] = [:]
                    for name in checkpoint.tensorNames {
                        if let layer = LayerSlicePlan.layerIndex(of: name) { byLayer[layer, default: []].append(name) }
                    }
                    layerTensors[source.model] = byLayer
                }
                let present = layerTensors[source.model]!
                if let missing = source.layers.first(where: { present[$0] == nil }) {
                    let has = present.keys.sorted()
                    let span = has.isEmpty ? "no layers \(LayerSlicePlan.defaultLayerPrefix)N.…" : "layers \(has.first!)–\(has.last!)"
                    throw ModelSurgeryError.invalidSlice(place: place + ".layer_range",
                                                         detail: "[\(source.layers.lowerBound), \(source.layers.upperBound)] needs layer \(missing), which \(checkpoint.url.path) does not have (it has \(span))")
                }
            }
            if let base = slice.baseModel { _ = try model(base, "slices[\(s)].base_model") }
        }

        // The output names: embeddings from the first slice's first model, the layers renumbered, the rest from the last slice's.
        let first = try model(plan.outputSlices[0].sources[0].model, "slices[0].sources[0]")
        let last = try model(plan.outputSlices[plan.outputSlices.count - 1].sources[0].model, "slices[\(plan.outputSlices.count - 1)].sources[0]")
        var names = first.tensorNames.filter { LayerSlicePlan.layerIndex(of: $0) == nil && LayerSlicePlan.precedesLayers($0) }
        names += last.tensorNames.filter { LayerSlicePlan.layerIndex(of: $0) == nil && !LayerSlicePlan.precedesLayers($0) }
        for layer in plan.layers {
            let source = layer.sources[0]
            names += layerTensors[source.model]![source.layer]!.map { LayerSlicePlan.renaming($0, toLayer: layer.index)! }
        }
        names.sort(by: naturalOrder)

        var roles: [[Int]: SliceRoles] = [:]   // by [slice, inputs]
        var plans: [SliceTensorPlan] = []
        plans.reserveCapacity(names.count)
        for name in names {
            let tensor = plan.inputs(forOutputTensor: name)!
            let s = tensor.slice
            let inputs = try tensor.sources.enumerated().map { j, source in
                SliceTensorPlan.Input(model: try model(source.model, "slices[\(s)].sources[\(j)]"), tensor: source.tensor)
            }
            let reference = inputs[0].model[inputs[0].tensor]!
            for (j, input) in inputs.enumerated().dropFirst() {
                let place = "slices[\(s)].sources[\(j)]"
                guard let info = input.model[input.tensor] else {
                    throw ModelSurgeryError.invalidSlice(place: place, detail: "\(input.model.url.path) has no tensor '\(input.tensor)' "
                                                         + "(output tensor '\(name)'; slices[\(s)].sources[0] has '\(inputs[0].tensor)')")
                }
                guard info.shape == reference.shape, info.dtype.isFloatingPoint == reference.dtype.isFloatingPoint else {
                    throw ModelSurgeryError.invalidSlice(place: place, detail: "'\(input.tensor)' of \(input.model.url.path) is \(info.dtype.rawValue) \(info.shape), "
                                                         + "slices[\(s)].sources[0]'s '\(inputs[0].tensor)' is \(reference.dtype.rawValue) \(reference.shape)")
                }
            }
            guard reference.dtype.isFloatingPoint else {
                plans.append(SliceTensorPlan(name: name, shape: reference.shape, dtype: reference.dtype, copy: inputs[0]))
                continue
            }
            let key = [s, inputs.count]
            if roles[key] == nil {
                let place = inputs.count == plan.outputSlices[s].sources.count ? "slices[\(s)]"
                    : "slices[\(s)] (its first \(inputs.count) sources, which the tensors after the layers come from, as in mergekit)"
                roles[key] = try sliceRoles(tensor.sources.map(\.model), base: tensor.baseModel, place: place)
            }
            switch roles[key]! {
            case .copy(let i):
                plans.append(SliceTensorPlan(name: name, shape: reference.shape, dtype: dtype ?? inputs[i].model[inputs[i].tensor]!.dtype, copy: inputs[i]))
            case .merge(let baseIndex, let modelIndices):
                var planned = SliceTensorPlan(name: name, shape: reference.shape,
                                              dtype: dtype ?? inputs[baseIndex ?? modelIndices[0]].model[inputs[baseIndex ?? modelIndices[0]].tensor]!.dtype,
                                              models: modelIndices.map { inputs[$0] }, base: baseIndex.map { inputs[$0] })
                for i in modelIndices {
                    var values: [String: ParameterValue] = [:]
                    for key in method.perModelParameterNames {
                        if let value = plan.parameter(key, input: i, of: tensor, topLevel: parameters) {
                            values[key] = try checked(value, key, input: i, tensor, plan)
                        }
                    }
                    planned.perModel.append(values)
                }
                for key in method.globalParameterNames {
                    if let value = plan.parameter(key, input: nil, of: tensor, topLevel: parameters) {
                        planned.global[key] = try checked(value, key, input: nil, tensor, plan)
                    }
                }
                if (method == .slerp || method == .nearswap) && planned.global["t"] == nil {
                    throw ModelSurgeryError.invalidSlice(place: "slices[\(s)]",
                                                         detail: "t is not set for tensor '\(name)' (\(method.rawValue) needs it; no value or filter of the slice's or the top-level parameters applies)")
                }
                plans.append(planned)
            }
        }
        return plans
    }

    /// A parameter value checked to be of its kind (a boolean for flags, a finite number otherwise), or an error naming
    /// where it was set.
    private func checked(_ value: ParameterValue, _ key: String, input: Int?, _ tensor: LayerSlicePlan.TensorInputs,
                         _ plan: LayerSlicePlan) throws -> ParameterValue {
        let isFlag = Method.flagParameterNames.contains(key)
        if isFlag ? value.bool != nil : value.number?.isFinite == true { return value }
        let slice = plan.outputSlices[tensor.slice]
        let name = input.map { tensor.sources[$0].tensor } ?? tensor.output
        func set(_ setting: ParameterSetting?) -> Bool { setting?.evaluate(tensor: name, position: tensor.position) != nil }
        let place = input.flatMap { set(slice.sources[$0].parameters[key]) ? "slices[\(tensor.slice)].sources[\($0)].parameters.\(key)" : nil }
            ?? (set(slice.parameters[key]) ? "slices[\(tensor.slice)].parameters.\(key)" : "parameters.\(key)")
        throw ModelSurgeryError.invalidSlice(place: place, detail: "must be \(isFlag ? "true or false" : "a finite number"), got '\(value)' (tensor '\(name)')")
    }

    /// The slice merge: each planned tensor copied, or read from its inputs, merged and written, one at a time.
    func runSlices(observer: JobObserver) throws -> MergeReport {
        let start = ContinuousClock.now
        let plan = slicePlan!
        let planned = try planSlices()
        let donorName = plan.baseModel.flatMap { sliceModels[$0] != nil ? $0 : nil } ?? plan.outputSlices[0].sources[0].model
        let layout = planned.map { TensorLayout(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        let inputs = extraInputs + sliceModels.values.flatMap(\.inputURLs)
        let destination = try MergeDestination(job: self, layout: layout, inputs: inputs,
                                               metadata: ["rankwise.command": "merge --method \(method.rawValue) (slices)"],
                                               companionSource: sliceModels[donorName]!) { config in
            config["num_hidden_layers"] = plan.layerCount
        }
        let writer = destination.writer
        for (index, tensor) in planned.enumerated() {
            let tensorStart = ContinuousClock.now
            if let copy = tensor.copy {
                try writer.add(copying: copy.tensor, from: copy.model, as: tensor.name, dtype: tensor.dtype)
            } else {
                let arrays: [[Float]] = try tensor.models.map { try $0.model.array($0.tensor) }
                let base: [Float]? = try tensor.base.map { try $0.model.array($0.tensor) }
                let merged = try mergeTensor(arrays, base: base, name: tensor.name, shape: tensor.shape,
                                             weights: tensor.perModel.map { $0["weight"]?.number ?? 1 },
                                             global: { tensor.global[$0] }, perModel: { key in tensor.perModel.map { $0[key]?.number } })
                guard ValueScan(merged).allFinite else {
                    throw ModelSurgeryError.nonFinite(tensor: tensor.name, file: nil, what: "the merged tensor (the weights and λ make it overflow)")
                }
                try writer.add(name: tensor.name, shape: tensor.shape, array: merged, dtype: tensor.dtype)
            }
            observer(.layer(index: index, count: planned.count, LayerReport(layer: tensor.name, shape: tensor.shape, seconds: secondsSince(tensorStart))))
        }
        let written = try destination.finish(tensors: planned.count, start: start, observer: observer)
        return MergeReport(output: output.path, files: written.files, method: method.rawValue, models: sliceModels.count, tensors: planned.count,
                           bytes: written.bytes, regmeanLeastSquares: [], aimLayers: 0, fisherNorms: nil, overflows: written.overflows,
                           seconds: secondsSince(start))
    }
}
