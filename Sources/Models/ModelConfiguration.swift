import Foundation

/// What a checkpoint's config.json says about the network, for the
/// architectures Rankwise runs: BERT encoders (`BertModel`, e.g.
/// all-MiniLM-L6-v2) and the Llama family of decoders (Llama, Mistral,
/// Qwen2/2.5, Qwen3, SmolLM2).
public enum ModelConfiguration: Sendable, Equatable {
    /// A post-LayerNorm BERT encoder.
    case bert(BertConfiguration)
    /// A pre-RMSNorm Llama-family decoder.
    case llama(LlamaConfiguration)

    /// Reads config.json's object. `model_type` picks the architecture (`bert`;
    /// `llama`, `mistral`, `qwen2`, `qwen3`); absent fields take Hugging Face's
    /// defaults, a missing required size is an error naming the key.
    ///
    /// - Throws: `ModelError.unsupportedArchitecture` or `.badConfiguration`.
    public init(json: [String: Any], file: String) throws {
        let type = (json["model_type"] as? String ?? "").lowercased()
        var reader = ConfigReader(json: json, file: file)
        switch type {
        case "bert":
            self = .bert(try BertConfiguration(&reader))
        case "llama", "mistral", "qwen2", "qwen3":
            self = .llama(try LlamaConfiguration(&reader, family: type))
        default:
            throw ModelError.unsupportedArchitecture(file: file, modelType: type.isEmpty ? "(none)" : type)
        }
    }

    /// Reads `folder/config.json` (a regular file of at most 16 MiB).
    public init(folder: URL) throws {
        let url = folder.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path), data.count <= 16 << 20 else {
            throw ModelError.badConfiguration(file: url.path, key: nil, reason: "no readable config.json (the model's configuration)")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.badConfiguration(file: url.path, key: nil, reason: "not a JSON object")
        }
        try self.init(json: json, file: url.path)
    }
}

/// BERT's sizes (config.json of `BertModel`).
public struct BertConfiguration: Sendable, Equatable {
    /// H, `hidden_size`.
    public var hiddenSize: Int
    /// Encoder layers, `num_hidden_layers`.
    public var layers: Int
    /// Attention heads, `num_attention_heads` (head size H / heads).
    public var heads: Int
    /// The MLP's inner size, `intermediate_size`.
    public var intermediateSize: Int
    /// `hidden_act` (`gelu`: exact, erf-based).
    public var activation: Activation
    /// LayerNorm ε, `layer_norm_eps` (default 1e-12).
    public var layerNormEpsilon: Float
    /// Learned positions, `max_position_embeddings` (default 512).
    public var maxPositions: Int
    /// Token types, `type_vocab_size` (default 2).
    public var typeVocabularySize: Int
    /// Rows of the word embedding, `vocab_size`.
    public var vocabularySize: Int

    init(_ r: inout ConfigReader) throws {
        hiddenSize = try r.int("hidden_size")
        layers = try r.int("num_hidden_layers")
        heads = try r.int("num_attention_heads")
        intermediateSize = try r.int("intermediate_size")
        activation = try r.activation("hidden_act", default: .gelu)
        layerNormEpsilon = Float(try r.double("layer_norm_eps", default: 1e-12))
        maxPositions = try r.int("max_position_embeddings", default: 512)
        typeVocabularySize = try r.int("type_vocab_size", default: 2)
        vocabularySize = try r.int("vocab_size")
        if let kind = r.json["position_embedding_type"] as? String, kind != "absolute" {
            throw ModelError.badConfiguration(file: r.file, key: "position_embedding_type", reason: "'\(kind)' is not supported (absolute only)")
        }
        guard hiddenSize % heads == 0 else {
            throw ModelError.badConfiguration(file: r.file, key: "num_attention_heads", reason: "\(heads) heads do not divide hidden_size \(hiddenSize)")
        }
    }
}

/// A Llama-family decoder's sizes (config.json of `LlamaForCausalLM` and kin).
public struct LlamaConfiguration: Sendable, Equatable {
    /// `model_type`: llama, mistral, qwen2 or qwen3.
    public var family: String
    /// H, `hidden_size`.
    public var hiddenSize: Int
    /// Decoder layers, `num_hidden_layers`.
    public var layers: Int
    /// Query heads, `num_attention_heads`.
    public var heads: Int
    /// Key/value heads, `num_key_value_heads` (default: heads; fewer is grouped-query attention).
    public var keyValueHeads: Int
    /// Per-head size, `head_dim` when given, else H / heads.
    public var headDimension: Int
    /// The MLP's inner size, `intermediate_size`.
    public var intermediateSize: Int
    /// RMSNorm ε, `rms_norm_eps` (default 1e-6).
    public var rmsNormEpsilon: Float
    /// RoPE base θ, `rope_theta` (or `rope_parameters.rope_theta`; default 10000).
    public var ropeTheta: Double
    /// `rope_scaling` of type `llama3` or `linear` (nil: none).
    public var ropeScaling: RopeScaling?
    /// Rows of the embedding and of the output head, `vocab_size`.
    public var vocabularySize: Int
    /// The output head is the embedding (`tie_word_embeddings`, or no `lm_head.weight` in the file).
    public var tiedEmbeddings: Bool
    /// `hidden_act` (`silu` for the whole family).
    public var activation: Activation
    /// q/k/v projections carry biases (Qwen2 always; others by `attention_bias`).
    public var attentionBias: Bool
    /// Per-head RMSNorm of q and k before RoPE (Qwen3).
    public var queryKeyNorm: Bool

    /// RoPE frequency scaling (static: applied at every length).
    public enum RopeScaling: Sendable, Equatable {
        /// inv_freq / factor.
        case linear(factor: Double)
        /// Llama 3.1/3.2: long wavelengths divided by `factor`, short ones kept, a blend between.
        case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Double)
    }

    init(_ r: inout ConfigReader, family: String) throws {
        self.family = family
        hiddenSize = try r.int("hidden_size")
        layers = try r.int("num_hidden_layers")
        heads = try r.int("num_attention_heads")
        keyValueHeads = try r.int("num_key_value_heads", default: heads)
        headDimension = try r.int("head_dim", default: heads > 0 ? hiddenSize / heads : 0)
        intermediateSize = try r.int("intermediate_size")
        rmsNormEpsilon = Float(try r.double("rms_norm_eps", default: 1e-6))
        let parameters = r.json["rope_parameters"] as? [String: Any]
        let theta = try r.double("rope_theta", default: 10000)
        ropeTheta = (parameters?["rope_theta"] as? NSNumber)?.doubleValue ?? theta
        vocabularySize = try r.int("vocab_size")
        tiedEmbeddings = (r.json["tie_word_embeddings"] as? Bool) ?? false
        activation = try r.activation("hidden_act", default: .silu)
        attentionBias = family == "qwen2" || ((r.json["attention_bias"] as? Bool) ?? false)
        queryKeyNorm = family == "qwen3"
        guard heads > 0, keyValueHeads > 0, heads % keyValueHeads == 0 else {
            throw ModelError.badConfiguration(file: r.file, key: "num_key_value_heads", reason: "\(keyValueHeads) key/value heads must divide \(heads) heads")
        }
        guard headDimension > 0, headDimension % 2 == 0 else {
            throw ModelError.badConfiguration(file: r.file, key: "head_dim", reason: "the head size \(headDimension) must be even (RoPE rotates pairs)")
        }
        if (r.json["partial_rotary_factor"] as? NSNumber).map({ $0.doubleValue != 1 }) ?? false {
            throw ModelError.badConfiguration(file: r.file, key: "partial_rotary_factor", reason: "partial rotary embeddings are not supported")
        }
        let scaling = (r.json["rope_scaling"] as? [String: Any]) ?? parameters
        let kind = (scaling?["rope_type"] as? String) ?? (scaling?["type"] as? String) ?? "default"
        func number(_ key: String, _ fallback: Double? = nil) throws -> Double {
            if let value = (scaling?[key] as? NSNumber)?.doubleValue { return value }
            if let fallback { return fallback }
            throw ModelError.badConfiguration(file: r.file, key: "rope_scaling.\(key)", reason: "missing")
        }
        switch kind {
        case "default": ropeScaling = nil
        case "linear": ropeScaling = .linear(factor: try number("factor"))
        case "llama3":
            ropeScaling = .llama3(factor: try number("factor"), lowFrequencyFactor: try number("low_freq_factor", 1),
                                  highFrequencyFactor: try number("high_freq_factor", 4),
                                  originalContext: try number("original_max_position_embeddings", 8192))
        case "dynamic": ropeScaling = nil   // only changes lengths beyond max_position_embeddings
        default:
            throw ModelError.badConfiguration(file: r.file, key: "rope_scaling", reason: "RoPE scaling '\(kind)' is not supported (linear, llama3, dynamic)")
        }
    }
}

/// The MLP activations Hugging Face names in `hidden_act`.
public enum Activation: String, Sendable, Equatable, CaseIterable {
    /// 0.5·x·(1 + erf(x/√2)) (BERT; also `gelu_python`).
    case gelu
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    case geluTanh = "gelu_new"
    /// x·sigmoid(x) (`silu`, `swish`).
    case silu
    /// max(x, 0).
    case relu
}

/// Typed reads of config.json fields, naming the key on failure.
struct ConfigReader {
    let json: [String: Any]
    let file: String

    func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let value = json[key] else {
            if let fallback { return fallback }
            throw ModelError.badConfiguration(file: file, key: key, reason: "missing")
        }
        guard let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
              (1...(1 << 24)).contains(number.intValue) else {
            throw ModelError.badConfiguration(file: file, key: key, reason: "must be an integer between 1 and 2^24, got \(value)")
        }
        return number.intValue
    }

    func double(_ key: String, default fallback: Double) throws -> Double {
        guard let value = json[key], !(value is NSNull) else { return fallback }
        guard let number = value as? NSNumber, number.doubleValue.isFinite, number.doubleValue > 0 else {
            throw ModelError.badConfiguration(file: file, key: key, reason: "must be a positive number, got \(value)")
        }
        return number.doubleValue
    }

    func activation(_ key: String, default fallback: Activation) throws -> Activation {
        guard let name = (json[key] as? String) ?? (json["hidden_activation"] as? String) else { return fallback }
        switch name {
        case "gelu", "gelu_python": return .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": return .geluTanh
        case "silu", "swish": return .silu
        case "relu": return .relu
        default: throw ModelError.badConfiguration(file: file, key: key, reason: "activation '\(name)' is not supported")
        }
    }
}

/// A model that cannot be run: an unsupported architecture, a configuration
/// or weight that does not fit, or input it cannot take.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// config.json's `model_type` is not one Rankwise runs.
    case unsupportedArchitecture(file: String, modelType: String)
    /// A config.json field is missing or wrong (`key` nil: the file itself).
    case badConfiguration(file: String, key: String?, reason: String)
    /// A weight the architecture needs is missing or has the wrong shape.
    case badWeight(file: String, tensor: String, reason: String)
    /// An input sequence the model cannot take (empty, too long, a token id out of range).
    case badInput(reason: String)

    /// One line naming the file, key or tensor.
    public var description: String {
        switch self {
        case .unsupportedArchitecture(let file, let type):
            return "\(file): model_type '\(type)' is not supported (bert, llama, mistral, qwen2, qwen3)"
        case .badConfiguration(let file, let key, let reason): return key.map { "\(file): '\($0)': \(reason)" } ?? "\(file): \(reason)"
        case .badWeight(let file, let tensor, let reason): return "\(file): tensor '\(tensor)': \(reason)"
        case .badInput(let reason): return reason
        }
    }
}
