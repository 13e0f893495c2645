import Foundation
import Merging
import WeightFiles
import Yams
// libyaml (Yams' own C target) for counting alias expansion from the event
// stream before Yams composes and hashes the tree.
import CYaml

/// mergekit-style YAML configs, read strictly: a file of at most 1 MiB whose
/// alias expansion stays under `maxNodes`, only the keys we implement
/// (unknown keys, unsupported methods and parameter forms are errors naming
/// the key and its place), numbers finite, booleans real YAML booleans.
public enum MergeConfig {
    static let maxBytes = 1 << 20
    static let maxNodes = 10_000

    /// mergekit methods we do not implement yet.
    static let unsupportedMethods: Set<String> = ["arcee_fusion", "multislerp", "task_arithmetic_sce", "ram"]
    static let methodNames: [String: MergeJob.Method] = {
        var names = ["task_arithmetic": MergeJob.Method.taskArithmetic]
        for method in MergeJob.Method.allCases { names[method.rawValue] = method }
        return names
    }()
    static let topKeys: Set<String> = ["merge_method", "models", "slices", "base_model", "parameters", "dtype", "out_dtype", "tokenizer_source"]
    static let entryKeys: Set<String> = ["model", "parameters"]
    static let modelParameters: Set<String> = ["weight", "density", "gamma", "epsilon", "scale", "fisher", "gram"]
    /// The parameters a slice source may set: mergekit's per-model ones.
    static let sourceParameters: Set<String> = ["weight", "density", "gamma", "epsilon", "scale"]
    static let globalParameters: Set<String> = ["weight", "density", "gamma", "epsilon", "normalize", "lambda", "rescale", "int8_mask", "t",
                                                "select_topk", "filter_wise", "max_iter", "tol", "nuslerp_flatten", "nuslerp_row_wise", "scale",
                                                "fisher_floor", "floor_all", "nondiag_alpha", "aim", "omega", "seed"]
    /// Parameters read per tensor (plain values, gradients over the layers, filter lists); the others are plain.
    static let tensorParameters: Set<String> = ["weight", "density", "gamma", "epsilon", "normalize", "lambda", "rescale", "int8_mask", "t",
                                                "select_topk", "filter_wise", "max_iter", "tol", "nuslerp_flatten", "nuslerp_row_wise", "scale"]

    /// The merge that the YAML config at `path` describes, writing `output`.
    /// Paths in the config are relative to its folder.
    public static func job(fromYAML path: String, output: URL) throws -> MergeJob {
        let url = URL(fileURLWithPath: path)
        let data = try readRegularFile(url, limit: maxBytes)
        guard let text = String(data: data, encoding: .utf8) else { throw ModelSurgeryError.invalidConfig(file: path, place: "", detail: "the config is not UTF-8 text") }
        // Count what aliases expand to before Yams builds (and hashes) the tree.
        let expanded = expandedNodeCount(text, bound: maxNodes)
        guard expanded <= maxNodes else {
            throw ModelSurgeryError.invalidConfig(file: path, place: "", detail: "the config expands to more than \(maxNodes) YAML nodes (aliases nested too deep?); refused")
        }
        let composed: Node?
        do { composed = try Yams.compose(yaml: text) } catch {
            // Yams' message: location, context and problem, then a snippet of the source; keep the first part, on one line.
            var parts: [String] = []
            for line in "\(error)".split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                if line == "Context:" { break }
                parts.append(line)
                if line.hasSuffix(":") { break }
            }
            var message = parts.joined(separator: " ")
            if message.hasSuffix(":") { message.removeLast() }
            throw ModelSurgeryError.invalidConfig(file: path, place: "", detail: "not valid YAML: \(message.prefix(300))")
        }
        guard let root = composed else { throw ModelSurgeryError.invalidConfig(file: path, place: "", detail: "the config is empty") }
        var budget = maxNodes
        try countNodes(root, budget: &budget, path: path)
        return try Reader(path: path, folder: url.deletingLastPathComponent(), text: text).job(root, output: output)
    }

    /// Nodes of the stream once every alias is expanded, counted from libyaml's
    /// events (an alias counts as the size of the node it names); stops
    /// counting past `bound`. Syntax errors end the count: Yams reports them.
    static func expandedNodeCount(_ text: String, bound: Int) -> Int {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return 0 }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer -> Int in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var total = 0
            var sizes: [String: Int] = [:]
            var open: [(start: Int, anchor: String?)] = []
            func name(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
            while total <= bound {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return total }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return total
                case YAML_SCALAR_EVENT:
                    total += 1
                    if let a = name(event.data.scalar.anchor) { sizes[a] = 1 }
                case YAML_ALIAS_EVENT:
                    total += name(event.data.alias.anchor).flatMap { sizes[$0] } ?? 1
                case YAML_SEQUENCE_START_EVENT:
                    open.append((total, name(event.data.sequence_start.anchor)))
                    total += 1
                case YAML_MAPPING_START_EVENT:
                    open.append((total, name(event.data.mapping_start.anchor)))
                    total += 1
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    if let frame = open.popLast(), let a = frame.anchor { sizes[a] = total - frame.start }
                default:
                    break
                }
            }
            return total
        }
    }

    /// Walks the composed tree (shared alias targets counted each time they
    /// are reached), refusing past the node budget.
    static func countNodes(_ node: Node, budget: inout Int, path: String) throws {
        budget -= 1
        guard budget >= 0 else { throw ModelSurgeryError.invalidConfig(file: path, place: "", detail: "the config expands to more than \(maxNodes) YAML nodes (aliases nested too deep?); refused") }
        switch node {
        case .scalar, .alias: break
        case .sequence(let s): for child in s { try countNodes(child, budget: &budget, path: path) }
        case .mapping(let m): for (k, v) in m { try countNodes(k, budget: &budget, path: path); try countNodes(v, budget: &budget, path: path) }
        }
    }

    /// Typed access with errors naming the file, the place and the key.
    struct Reader {
        var path: String
        var folder: URL
        /// The config's text (kept beside a merged model folder as mergekit_config.yml).
        var text: String

        func fail(_ place: String, _ message: String) -> ModelSurgeryError { ModelSurgeryError.invalidConfig(file: path, place: place, detail: message) }

        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : folder.appendingPathComponent(p).path }

        func show(_ node: Node) -> String {
            switch node {
            case .scalar(let s): return "'" + String(s.string.prefix(40)).replacingOccurrences(of: "\n", with: "\\n") + "'"
            case .sequence: return "a list"
            case .mapping: return "a mapping"
            case .alias: return "an alias"
            }
        }

        /// The mapping's pairs (keys must be plain scalars), refusing keys outside `allowed`.
        func mapping(_ node: Node, _ place: String, allowed: Set<String>, hint: (String) -> String? = { _ in nil }) throws -> [String: Node] {
            guard case .mapping(let m) = node else { throw fail(place, "must be a mapping, got \(show(node))") }
            var out: [String: Node] = [:]
            for (k, v) in m {
                guard case .scalar(let key) = k else { throw fail(place, "keys must be plain names, got \(show(k))") }
                guard allowed.contains(key.string) else {
                    let name = String(key.string.prefix(40))
                    throw fail(place, "unknown key '\(name)'" + (hint(key.string).map { " (\($0))" } ?? ""))
                }
                out[key.string] = v
            }
            return out
        }

        /// The resolved tag (a quoted scalar is always a string).
        func tagName(_ node: Node) -> Tag.Name { Tag.Name(rawValue: node.tag.rawValue) }

        func string(_ node: Node, _ place: String) throws -> String {
            guard case .scalar(let s) = node, tagName(node) != .null, !s.string.isEmpty else { throw fail(place, "must be a string, got \(show(node))") }
            return s.string
        }

        func number(_ node: Node, _ place: String) throws -> Double {
            guard case .scalar(let s) = node else { throw fail(place, "must be a number, got \(show(node))") }
            let value: Double?
            switch tagName(node) {
            case .int: value = Int.construct(from: s).map(Double.init) ?? Double(s.string)
            case .float: value = Double.construct(from: s)
            default: value = nil
            }
            guard let value else { throw fail(place, "must be a number, got \(show(node))") }
            guard value.isFinite else { throw fail(place, "must be a finite number, got \(show(node))") }
            return value
        }

        func bool(_ node: Node, _ place: String) throws -> Bool {
            guard case .scalar(let s) = node, tagName(node) == .bool, let value = Bool.construct(from: s) else {
                throw fail(place, "must be true or false (a YAML boolean, unquoted), got \(show(node))")
            }
            return value
        }

        /// A parameter setting: a number, boolean or string; a gradient list of them over the layers; or a filter
        /// list `[{filter: name part, value: …}, …]` (mergekit's forms).
        func setting(_ node: Node, _ place: String) throws -> ParameterSetting {
            func scalar(_ node: Node, _ place: String) throws -> ParameterValue {
                guard case .scalar(let s) = node else { throw fail(place, "must be a number, boolean or string, got \(show(node))") }
                switch tagName(node) {
                case .bool: return .bool(try bool(node, place))
                case .int, .float: return .number(try number(node, place))
                case .null: throw fail(place, "must be a value, got null")
                default: return .string(s.string)
                }
            }
            switch node {
            case .sequence(let items):
                guard !items.isEmpty else { throw fail(place, "an empty list has no value") }
                if items.allSatisfy({ if case .mapping = $0 { return true } else { return false } }) {
                    return .filtered(try items.enumerated().map { i, item in
                        let fields = try mapping(item, "\(place)[\(i)]", allowed: ["filter", "value"])
                        guard let value = fields["value"] else { throw fail("\(place)[\(i)]", "has no 'value'") }
                        return ParameterSetting.Filtered(filter: try fields["filter"].map { try string($0, "\(place)[\(i)].filter") },
                                                         value: try setting(value, "\(place)[\(i)].value"))
                    })
                }
                return .gradient(try items.enumerated().map { i, item in try scalar(item, "\(place)[\(i)]") })
            case .mapping:
                throw fail(place, "a mapping is not a parameter value (filter lists are lists: [{filter: …, value: …}, …])")
            default:
                return .value(try scalar(node, place))
            }
        }

        /// A per-model or global `weight` as one number for the methods that take only that (Fisher, RegMean), or nil
        /// for a gradient or filter list (read per tensor instead).
        func weight(_ node: Node, _ place: String) throws -> Double? {
            if case .scalar = node { return try number(node, place) }
            _ = try setting(node, place)
            return nil
        }

        func hint(forModelParameter key: String) -> String? {
            if MergeConfig.globalParameters.contains(key) { return "'\(key)' is a global parameter: put it under the top-level parameters" }
            if ["lambda", "select_topk", "t"].contains(key) { return "a global parameter of the method: put it under the top-level parameters" }
            return nil
        }

        /// `parameters.seed`: a whole number in [0, 2⁵³] (exact as a YAML number).
        func seedValue(_ node: Node) throws -> UInt64 {
            let value = try number(node, "parameters.seed")
            guard value == value.rounded(), value >= 0, value <= 0x1p53 else {
                throw fail("parameters.seed", "must be a whole number from 0 to 2^53, got \(value)")
            }
            return UInt64(value)
        }

        /// A model's key in a slice plan: its path, resolved against the config's folder and standardised, so that
        /// `base`, `./base` and `base/` name one model.
        func modelKey(_ name: String) -> String { URL(fileURLWithPath: resolve(name)).standardizedFileURL.path }

        /// The job of a `slices:` config: every slice's sources (model, layer_range, per-model parameters), its
        /// parameters and base_model read and checked, the models opened, then the whole plan validated (layer ranges
        /// against the models, tensors, model counts and bases, parameter kinds), errors naming their place.
        func sliceJob(_ node: Node, method: MergeJob.Method, top: [String: Node], global: [String: Node],
                      settings: [String: ParameterSetting], dtype: DType?, output: URL) throws -> MergeJob {
            guard method != .fisher && method != .regmean else {
                throw fail("slices", "\(method.rawValue) merges whole models with their statistics: use 'models', not 'slices'")
            }
            guard global["aim"] == nil else { throw fail("parameters.aim", "AIM relaxes whole models: use 'models', not 'slices'") }
            guard case .sequence(let slices) = node, !slices.isEmpty else { throw fail("slices", "must be a non-empty list of {sources: […]}") }
            var checkpoints: [String: Checkpoint] = [:]
            func open(_ modelNode: Node, _ place: String) throws -> String {
                let key = modelKey(try string(modelNode, place))
                if checkpoints[key] == nil {
                    do { checkpoints[key] = try Checkpoint(path: key) } catch { throw fail(place, "\(error)") }
                }
                return key
            }
            func parameterSettings(_ node: Node?, _ place: String, allowed: Set<String>, hint: @escaping (String) -> String?) throws -> [String: ParameterSetting] {
                guard let node else { return [:] }
                var out: [String: ParameterSetting] = [:]
                for (key, value) in try mapping(node, place, allowed: allowed, hint: hint) { out[key] = try setting(value, "\(place).\(key)") }
                return out
            }
            let baseKey = try top["base_model"].map { try open($0, "base_model") }
            var plan: [LayerSlicePlan.Slice] = []
            for (i, slice) in slices.enumerated() {
                let fields = try mapping(slice, "slices[\(i)]", allowed: ["sources", "parameters", "base_model"]) { key in
                    key == "residual_weight" ? "mergekit reads it but never uses it; leave it out" : nil
                }
                guard let sourcesNode = fields["sources"], case .sequence(let sources) = sourcesNode, !sources.isEmpty else {
                    throw fail("slices[\(i)]", "needs 'sources', a non-empty list of {model, layer_range}")
                }
                var list: [LayerSlicePlan.Source] = []
                for (j, source) in sources.enumerated() {
                    let place = "slices[\(i)].sources[\(j)]"
                    let entry = try mapping(source, place, allowed: ["model", "layer_range", "parameters"])
                    guard let modelNode = entry["model"] else { throw fail(place, "has no 'model'") }
                    let model = try open(modelNode, place + ".model")
                    guard let rangeNode = entry["layer_range"], case .sequence(let bounds) = rangeNode, bounds.count == 2 else {
                        throw fail(place + ".layer_range", "must be [start, end]")
                    }
                    let start = try number(bounds[0], place + ".layer_range[0]"), end = try number(bounds[1], place + ".layer_range[1]")
                    guard start == start.rounded(), end == end.rounded(), start >= 0, end >= start, end <= 1_000_000 else {
                        throw fail(place + ".layer_range", "must be whole numbers with 0 ≤ start ≤ end, got [\(start), \(end)]")
                    }
                    if let other = list.firstIndex(where: { $0.model == model }) {
                        throw fail(place + ".model", "\(model) is already slices[\(i)].sources[\(other)]; a slice lists each model once (mergekit keys a slice's inputs by model)")
                    }
                    let layers = Int(start)..<Int(end)
                    if let firstRange = list.first?.layers, firstRange.count != layers.count {
                        throw fail(place + ".layer_range", "[\(Int(start)), \(Int(end))] spans \(layers.count) layers, slices[\(i)].sources[0] spans \(firstRange.count); "
                                   + "every source of a slice must span as many")
                    }
                    let parameters = try parameterSettings(entry["parameters"], place + ".parameters", allowed: MergeConfig.sourceParameters) { key in
                        MergeConfig.tensorParameters.contains(key) ? "'\(key)' is one value per tensor, not per model: put it under slices[\(i)].parameters or the top-level parameters" : nil
                    }
                    list.append(LayerSlicePlan.Source(model: model, layers: layers, parameters: parameters))
                }
                let parameters = try parameterSettings(fields["parameters"], "slices[\(i)].parameters", allowed: MergeConfig.tensorParameters) { key in
                    MergeConfig.globalParameters.contains(key) ? "'\(key)' applies to the whole merge: put it under the top-level parameters" : nil
                }
                let base = try fields["base_model"].map { try open($0, "slices[\(i)].base_model") }
                plan.append(LayerSlicePlan.Slice(sources: list, parameters: parameters, baseModel: base))
            }
            let layerPlan: LayerSlicePlan
            do { layerPlan = try LayerSlicePlan(plan, baseModel: baseKey) } catch let error as MergingError { throw fail("slices", error.description) }
            guard layerPlan.layerCount > 0 else { throw fail("slices", "the slices select no layer") }
            var job = MergeJob(method: method, models: [], dtype: dtype, output: output)
            job.slicePlan = layerPlan
            job.sliceModels = checkpoints
            job.parameters = settings
            if let seed = global["seed"] { job.seed = try seedValue(seed) }
            job.extraInputs = [URL(fileURLWithPath: path)]
            job.configText = text
            do { try job.validate() } catch ModelSurgeryError.invalidSlice(let place, let detail) { throw fail(place, detail) }
            return job
        }

        func job(_ root: Node, output: URL) throws -> MergeJob {
            let top = try mapping(root, "the top level", allowed: MergeConfig.topKeys) { key in
                switch key {
                case "merge_method_sequence", "modules": return "not supported yet"
                default: return nil
                }
            }
            guard let methodNode = top["merge_method"] else { throw ModelSurgeryError.invalidConfig(file: path, place: "", detail: "missing merge_method") }
            let methodName = try string(methodNode, "merge_method")
            guard let method = MergeConfig.methodNames[methodName] else {
                if MergeConfig.unsupportedMethods.contains(methodName) {
                    throw fail("merge_method", "'\(methodName)' is not supported yet")
                }
                throw fail("merge_method", "unknown method \(show(methodNode)) (supported: \(MergeConfig.methodNames.keys.sorted().joined(separator: ", ")))")
            }
            if let source = top["tokenizer_source"] {
                let value = try string(source, "tokenizer_source")
                guard value == "base" else { throw fail("tokenizer_source", "'\(value.prefix(40))' is not supported yet (only 'base', or leave it out)") }
            }
            func dtypeValue(_ key: String) throws -> DType? {
                guard let node = top[key] else { return nil }
                let name = try string(node, key)
                guard let d = DType(cliName: name) else { throw fail(key, "must be float32, float16, bfloat16 or float64, got '\(name.prefix(40))'") }
                return d
            }
            // mergekit: dtype is the working precision, out_dtype (default dtype) the written one.
            let computeDType = try dtypeValue("dtype"), outDType = try dtypeValue("out_dtype")

            let global = try top["parameters"].map { try mapping($0, "parameters", allowed: MergeConfig.globalParameters) { key in
                MergeConfig.modelParameters.contains(key) ? "'\(key)' is a per-model parameter: put it under models[i].parameters" : nil
            } } ?? [:]
            var globalSettings: [String: ParameterSetting] = [:]
            for (key, node) in global where MergeConfig.tensorParameters.contains(key) { globalSettings[key] = try setting(node, "parameters.\(key)") }
            let defaultWeight = try global["weight"].map { try weight($0, "parameters.weight") } ?? nil

            if let slicesNode = top["slices"] {
                guard top["models"] == nil else { throw fail("slices", "give either 'slices' or 'models', not both") }
                return try sliceJob(slicesNode, method: method, top: top, global: global, settings: globalSettings,
                                    dtype: outDType ?? computeDType, output: output)
            }
            guard let modelsNode = top["models"] else { throw ModelSurgeryError.invalidConfig(file: path, place: "", detail: "missing 'models' (a list of {model, parameters}) or 'slices'") }
            guard case .sequence(let entries) = modelsNode, !entries.isEmpty else { throw fail("models", "must be a non-empty list of {model, parameters}, got \(show(modelsNode))") }
            var models: [Checkpoint] = [], weights: [Double] = [], fishers: [Checkpoint] = [], grams: [CalibrationFile] = []
            var fisherCount = 0, gramCount = 0
            // Parse every entry before reading any model, so a typo is reported at once.
            var parsed: [(model: String, weight: Double?, fisher: String?, gram: String?, settings: [String: ParameterSetting])] = []
            for (i, entry) in entries.enumerated() {
                let place = "models[\(i)]"
                let fields = try mapping(entry, place, allowed: MergeConfig.entryKeys)
                guard let modelNode = fields["model"] else { throw fail(place, "has no 'model'") }
                let model = try string(modelNode, place + ".model")
                let parameters = try fields["parameters"].map {
                    try mapping($0, place + ".parameters", allowed: MergeConfig.modelParameters, hint: hint(forModelParameter:))
                } ?? [:]
                let w: Double? = try parameters["weight"].map { try weight($0, place + ".parameters.weight") } ?? (global["weight"] == nil ? 1 : defaultWeight)
                let f = try parameters["fisher"].map { try string($0, place + ".parameters.fisher") }
                let g = try parameters["gram"].map { try string($0, place + ".parameters.gram") }
                if f != nil { fisherCount += 1 }
                if g != nil { gramCount += 1 }
                var settings: [String: ParameterSetting] = [:]
                for (key, node) in parameters where key != "fisher" && key != "gram" { settings[key] = try setting(node, "\(place).parameters.\(key)") }
                parsed.append((model, w, f, g, settings))
            }
            let normalize = try global["normalize"].map { try bool($0, "parameters.normalize") } ?? true
            let lambda = try global["lambda"].map { try number($0, "parameters.lambda") } ?? 1
            let fisherFloor = try global["fisher_floor"].map { try number($0, "parameters.fisher_floor") } ?? 1e-6
            guard fisherFloor >= 0 else { throw fail("parameters.fisher_floor", "must be ≥ 0, got \(fisherFloor)") }
            let floorAll = try global["floor_all"].map { try bool($0, "parameters.floor_all") } ?? false
            let alpha = try global["nondiag_alpha"].map { try number($0, "parameters.nondiag_alpha") } ?? 1
            guard (0...1).contains(alpha) else { throw fail("parameters.nondiag_alpha", "must be in [0, 1], got \(alpha)") }
            let omega = try global["omega"].map { try number($0, "parameters.omega") } ?? 0.4
            guard (0...1).contains(omega) else { throw fail("parameters.omega", "must be in [0, 1], got \(omega)") }
            let aimPath = try global["aim"].map { try string($0, "parameters.aim") }
            let basePath = try top["base_model"].map { try string($0, "base_model") }
            if fisherCount != 0 && fisherCount != parsed.count { throw fail("models", "give a fisher file for every model or for none (\(fisherCount) of \(parsed.count))") }
            if gramCount != 0 && gramCount != parsed.count { throw fail("models", "give a gram file for every model or for none (\(gramCount) of \(parsed.count))") }

            // Methods that start from the base take it from base_model; listed among the models too (as mergekit's
            // examples do), it is the base, not a model (its task vector is zero).
            let probe = MergeJob(method: method, models: [], output: output)
            if probe.needsBase, let basePath {
                parsed.removeAll { resolve($0.model) == resolve(basePath) || URL(fileURLWithPath: resolve($0.model)).standardizedFileURL == URL(fileURLWithPath: resolve(basePath)).standardizedFileURL }
            }
            var modelSettings: [[String: ParameterSetting]] = []
            for entry in parsed {
                models.append(try Checkpoint(path: resolve(entry.model)))
                weights.append(entry.weight ?? 1)
                modelSettings.append(entry.settings)
                if let f = entry.fisher { fishers.append(try Checkpoint(path: resolve(f))) }
                if let g = entry.gram { grams.append(try CalibrationFile(path: URL(fileURLWithPath: resolve(g)))) }
            }
            if parsed.contains(where: { $0.weight == nil }) && (method == .fisher || method == .regmean) {
                throw fail("models", "\(method.rawValue) takes one number per model as weight, not a gradient or filter list")
            }
            var job = MergeJob(method: method, models: models, base: try basePath.map { try Checkpoint(path: resolve($0)) },
                               weights: weights, normalize: normalize, lambda: lambda,
                               fishers: fishers, fisherFloor: fisherFloor, floorAll: floorAll,
                               grams: grams, nonDiagonalAlpha: alpha,
                               aim: try aimPath.map { try CalibrationFile(path: URL(fileURLWithPath: resolve($0))) },
                               omega: omega, dtype: outDType ?? computeDType, output: output)
            job.extraInputs = [URL(fileURLWithPath: path)]
            job.parameters = globalSettings
            job.modelParameters = modelSettings
            if let seed = global["seed"] { job.seed = try seedValue(seed) }
            job.configText = text
            return job
        }
    }
}
