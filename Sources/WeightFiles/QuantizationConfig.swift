import Foundation

/// How a GPTQ or AWQ checkpoint was quantized and stored: the `quantization_config` of its `config.json`, or its
/// `quantize_config.json` (AutoGPTQ, GPTQModel).
///
/// Keys read (docs/formats.md, "Quantized checkpoints"): `quant_method` (`gptq` or `awq`; absent: `awq` when the
/// AutoAWQ spellings `w_bit`/`version` are there, else `gptq`), `bits` (alias `w_bit`), `group_size` (alias
/// `q_group_size`; −1 means one group of all inputs, stored as nil; absent: 128, the transformers and AutoAWQ
/// default), `desc_act` (default false), `sym` (default true), `checkpoint_format` or `format` (`gptq`, `gptq_v2`;
/// absent: `gptq`, i.e. v1), and for AWQ `zero_point` (must be true: GEMM stores zero points) and `version` (`gemm`,
/// any case; absent: gemm). `damp_percent`, `static_groups` and `true_sequential` are read at the top level or
/// under `meta`, where GPTQModel writes them.
public struct QuantizationConfig: Sendable, Equatable {
    /// `gptq` or `awq`.
    public var quantMethod: String
    /// Bits per code: 2, 3, 4 or 8 (AWQ: 4).
    public var bits: Int
    /// Inputs per group; nil for `group_size: -1` (one group of all inputs).
    public var groupSize: Int?
    /// GPTQ act-order (`desc_act`): columns quantized in order of decreasing Hessian diagonal, so groups are
    /// scattered (`g_idx` not `k / groupSize`). Always false for AWQ.
    public var descAct: Bool
    /// Symmetric quantization (`sym`; AWQ: `zero_point` false, which GEMM checkpoints never are).
    public var symmetric: Bool
    /// The stored layout: `gptq` (v1), `gptqV2` or `awq`.
    public var format: PackedFormat
    /// `damp_percent`: the damping added to the Hessian diagonal, as a fraction of its mean; nil when not recorded.
    public var damp: Double?
    /// `static_groups`: group parameters computed before the GPTQ updates; nil when not recorded.
    public var staticGroups: Bool?
    /// `true_sequential`: the Linears of a block quantized in dependency order; nil when not recorded.
    public var trueSequential: Bool?

    /// A configuration for writing; `quantMethod` follows `format` (`awq` for AWQ, else `gptq`). Nothing is checked
    /// here (the packed layers are checked when packed).
    public init(format: PackedFormat, bits: Int, groupSize: Int?, descAct: Bool = false, symmetric: Bool,
                damp: Double? = nil, staticGroups: Bool? = nil, trueSequential: Bool? = nil) {
        self.quantMethod = format == .awq ? "awq" : "gptq"
        self.bits = bits
        self.groupSize = groupSize
        self.descAct = descAct
        self.symmetric = symmetric
        self.format = format
        self.damp = damp
        self.staticGroups = staticGroups
        self.trueSequential = trueSequential
    }

    /// The configuration of the model in `modelFolder`: `config.json`'s `quantization_config` when present, else
    /// `quantize_config.json`; nil when neither says anything (no file, or a `config.json` without
    /// `quantization_config` and no `quantize_config.json`). Files are read only if they are regular files under
    /// 16 MiB.
    ///
    /// - Throws: `QuantizationConfigError` naming the file for JSON that is not an object, a `quantization_config`
    ///   that is not one, an unsupported method, format, AWQ version or bit width, or a key of the wrong type;
    ///   `FileAccessError` for a file that cannot be read.
    public init?(modelFolder: URL) throws {
        let config = modelFolder.appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: config.path) {
            let object = try Self.readObject(config)
            if let value = object["quantization_config"], !(value is NSNull) {
                guard let dictionary = value as? [String: Any] else {
                    throw QuantizationConfigError(file: config.path, reason: "\"quantization_config\" is not a JSON object")
                }
                try self.init(json: dictionary, file: config.path)
                return
            }
        }
        let legacy = modelFolder.appendingPathComponent("quantize_config.json")
        guard FileManager.default.fileExists(atPath: legacy.path) else { return nil }
        try self.init(json: try Self.readObject(legacy), file: legacy.path)
    }

    /// Parses a configuration dictionary (as in the files) read from `file` (named in errors). See the type's
    /// documentation for the keys and defaults.
    ///
    /// - Throws: `QuantizationConfigError` for an unsupported method, format, version or width, or a mistyped key.
    public init(json: [String: Any], file: String) throws {
        func fail(_ reason: String) -> QuantizationConfigError { QuantizationConfigError(file: file, reason: reason) }
        let meta = json["meta"] as? [String: Any] ?? [:]
        func value(_ keys: [String], inMeta: Bool = false) -> Any? {
            for key in keys { if let v = json[key], !(v is NSNull) { return v } }
            if inMeta { for key in keys { if let v = meta[key], !(v is NSNull) { return v } } }
            return nil
        }
        func integer(_ keys: [String]) throws -> Int? {
            guard let v = value(keys) else { return nil }
            guard let number = v as? NSNumber, !isJSONBoolean(v), let exact = Int(exactly: number.doubleValue) else {
                throw fail("\"\(keys[0])\" is \(v), not an integer")
            }
            return exact
        }
        func flag(_ keys: [String], inMeta: Bool = false) throws -> Bool? {
            guard let v = value(keys, inMeta: inMeta) else { return nil }
            guard let b = v as? Bool else { throw fail("\"\(keys[0])\" is \(v), not true or false") }
            return b
        }
        func text(_ keys: [String]) throws -> String? {
            guard let v = value(keys) else { return nil }
            guard let s = v as? String else { throw fail("\"\(keys[0])\" is \(v), not a string") }
            return s
        }
        let method: String
        if let m = try text(["quant_method"]) {
            method = m.lowercased()
        } else {
            method = json["w_bit"] != nil || json["version"] != nil ? "awq" : "gptq"
        }
        guard method == "gptq" || method == "awq" else {
            throw fail("quant_method \"\(method)\" is not supported (Rankwise reads gptq and awq packed layers)")
        }
        let format: PackedFormat
        var symmetric: Bool
        if method == "awq" {
            let version = try text(["version"])?.lowercased() ?? "gemm"
            guard version == "gemm" else {
                throw fail("AWQ version \"\(version)\" is not supported (Rankwise reads the GEMM layout, \"version\": \"gemm\")")
            }
            guard try flag(["zero_point"]) ?? true else { throw fail("AWQ with \"zero_point\": false is not supported (GEMM stores zero points)") }
            format = .awq
            symmetric = false
        } else {
            let name = try text(["checkpoint_format", "format"]) ?? "gptq"
            switch name.lowercased() {
            case "gptq": format = .gptq
            case "gptq_v2": format = .gptqV2
            default: throw fail("checkpoint_format \"\(name)\" is not supported (Rankwise reads gptq and gptq_v2)")
            }
            symmetric = try flag(["sym"]) ?? true
        }
        guard let bits = try integer(["bits", "w_bit"]) else { throw fail("no \"bits\"") }
        guard format.supportedBits.contains(bits) else {
            throw fail("\(bits)-bit \(method) is not supported (\(format.supportedBits.map(String.init).joined(separator: ", ")))")
        }
        let size = try integer(["group_size", "q_group_size"]) ?? 128
        guard size == -1 || size >= 1 else { throw fail("group_size \(size) is invalid (at least 1, or -1 for one group)") }
        self.quantMethod = method
        self.bits = bits
        self.groupSize = size == -1 ? nil : size
        self.descAct = method == "awq" ? false : try flag(["desc_act"]) ?? false
        self.symmetric = symmetric
        self.format = format
        if let d = value(["damp_percent"], inMeta: true) {
            guard let number = d as? NSNumber, !isJSONBoolean(d) else { throw fail("\"damp_percent\" is \(d), not a number") }
            self.damp = number.doubleValue
        } else {
            self.damp = nil
        }
        self.staticGroups = try flag(["static_groups"], inMeta: true)
        self.trueSequential = try flag(["true_sequential"], inMeta: true)
    }

    /// The dictionary a writer stores as `config.json`'s `quantization_config` and as `quantize_config.json`.
    ///
    /// GPTQ (the minimal file of GPTQModel 2–4 that transformers, optimum, GPTQModel and vLLM read):
    /// `quant_method`, `bits`, `group_size` (−1 for nil), `desc_act`, `sym`, `lm_head: false`, `checkpoint_format`,
    /// `pack_dtype: "int32"`, `true_sequential`, `damp_percent` and `static_groups` when known, and
    /// `meta: {quantizer: [quantizer], damp_percent, static_groups}` (the last two when known). AWQ (what AutoAWQ
    /// writes): `quant_method: "awq"`, `zero_point: true`, `group_size`, `bits`, `version: "gemm"`,
    /// `modules_to_not_convert: null`. `quantizer` names the tool, e.g. `rankwise:0.4.0`.
    public func jsonObject(quantizer: String) -> [String: Any] {
        let size: Int = groupSize ?? -1
        if format == .awq {
            return ["quant_method": "awq", "zero_point": true, "group_size": size, "bits": bits, "version": "gemm",
                    "modules_to_not_convert": NSNull()]
        }
        var meta: [String: Any] = ["quantizer": [quantizer]]
        var object: [String: Any] = [
            "quant_method": "gptq", "bits": bits, "group_size": size, "desc_act": descAct, "sym": symmetric, "lm_head": false,
            "checkpoint_format": format.rawValue, "pack_dtype": "int32",
        ]
        if let trueSequential { object["true_sequential"] = trueSequential }
        if let damp {
            object["damp_percent"] = damp
            meta["damp_percent"] = damp
        }
        if let staticGroups {
            object["static_groups"] = staticGroups
            meta["static_groups"] = staticGroups
        }
        object["meta"] = meta
        return object
    }

    /// Config files are a few kB; anything past this is not one.
    static let sizeLimit = 16 << 20

    private static func readObject(_ url: URL) throws -> [String: Any] {
        let data = try readRegularFile(url, limit: sizeLimit)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw QuantizationConfigError(file: url.path, reason: "not a JSON object")
        }
        return object
    }
}

/// Whether a value from `JSONSerialization` is `true` or `false` (an integer 0 or 1 also casts to Bool, so the
/// type is compared instead).
private func isJSONBoolean(_ value: Any) -> Bool {
    ObjectIdentifier(type(of: value)) == ObjectIdentifier(type(of: NSNumber(value: true)))
}

/// A quantization config file that Rankwise cannot use: the file and why.
public struct QuantizationConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The config file's path.
    public var file: String
    /// What is wrong, in words.
    public var reason: String
    /// An error about `file`.
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
    public var description: String { "\(file): \(reason)" }
}
