import Foundation

/// A GGUF tensor as a Hugging Face checkpoint of the same model would hold it: its name, and how its rows are
/// reordered (see `GGUFFile.huggingFaceTensors()`).
public struct GGUFMappedTensor: Sendable, Equatable {
    /// The Hugging Face name (`model.layers.0.self_attn.q_proj.weight`), or the GGUF name when there is none.
    public var name: String
    /// The stored tensor.
    public var source: GGUFTensorInfo
    /// For a `llama` q/k weight or bias, the number of heads whose rows are put back in Hugging Face's order
    /// (`n_heads` for q, `n_kv_heads` for k); nil when rows are presented as stored.
    public var unpermutedHeads: Int?
    /// The dtype the tensor is presented in: F32 for block formats (dequantized), the stored type for F32, F16,
    /// BF16, F64 and the integer types.
    public var dtype: DType

    /// The shape in PyTorch order (`source.shape`).
    public var shape: [Int] { source.shape }

    /// The stored row (or, for a 1-D bias, element) that presented row `row` comes from. Within each head of
    /// `d = rows / heads` rows, llama.cpp's converter stores Hugging Face row `i` at `2i` and row `i + d/2` at
    /// `2i + 1` (interleaved RoPE pairs); this undoes it.
    public func sourceRow(_ row: Int) -> Int {
        guard let heads = unpermutedHeads else { return row }
        let rows = shape.first ?? 1
        let d = rows / heads, half = d / 2
        let head = row / d, i = row % d
        return head * d + (i < half ? 2 * i : 2 * (i - half) + 1)
    }
}

/// The tokenizer a GGUF file carries in its `tokenizer.*` metadata, as plain data (building a tokenizer from it is
/// another module's job).
public struct GGUFTokenizerMetadata: Sendable, Equatable {
    /// `tokenizer.ggml.model`: `gpt2` (byte-level BPE), `llama` (SentencePiece BPE), `bert` (WordPiece), `t5`
    /// (Unigram), ….
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer's name in llama.cpp (`smollm`, `llama-bpe`, `qwen2`, …).
    public var pre: String?
    /// `tokenizer.ggml.tokens`: the vocabulary, by id.
    public var tokens: [String]
    /// `tokenizer.ggml.merges`: BPE merges as `"a b"`, highest priority first; empty when absent.
    public var merges: [String]
    /// `tokenizer.ggml.token_type` by id (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte);
    /// empty when absent.
    public var tokenTypes: [Int]
    /// `tokenizer.ggml.scores` by id (SentencePiece scores); empty when absent.
    public var scores: [Float]
    /// `tokenizer.ggml.bos_token_id`, `eos_token_id`, `unknown_token_id`, `padding_token_id`.
    public var bosTokenID: Int?, eosTokenID: Int?, unknownTokenID: Int?, paddingTokenID: Int?
    /// Every `tokenizer.ggml.*_token_id` key by its middle part (`bos`, `eos`, `unknown`, `padding`, `eot`,
    /// `seperator` (llama.cpp's spelling), `mask`, `fim_pre`, …).
    public var specialTokenIDs: [String: Int]
    /// `tokenizer.ggml.add_bos_token`, `add_eos_token`, `add_space_prefix`; nil when absent.
    public var addBOS: Bool?, addEOS: Bool?, addSpacePrefix: Bool?
    /// `tokenizer.chat_template` (a Jinja template); nil when absent.
    public var chatTemplate: String?
}

extension GGUFFile {
    /// The architectures whose tensors are mapped to Hugging Face names, with the class and `model_type` a
    /// Hugging Face config names them by. `mistral` is accepted for the name; llama.cpp itself writes Mistral
    /// models as `llama`.
    public static let huggingFaceArchitectures: [String: (architecture: String, modelType: String)] = [
        "llama": ("LlamaForCausalLM", "llama"),
        "mistral": ("MistralForCausalLM", "mistral"),
        "qwen2": ("Qwen2ForCausalLM", "qwen2"),
        "qwen3": ("Qwen3ForCausalLM", "qwen3"),
    ]

    /// Architectures whose q/k rows llama.cpp's converter permutes (for its interleaved RoPE), so that reading them
    /// as Hugging Face weights must undo it. Not `qwen2`/`qwen3`, whose rows are stored as Hugging Face has them.
    public static let permutedArchitectures: Set<String> = ["llama", "mistral"]

    /// Whether this file's architecture has a Hugging Face view (`huggingFaceArchitectures`).
    public var hasHuggingFaceNames: Bool { architecture.map { Self.huggingFaceArchitectures[$0] != nil } ?? false }

    /// The Hugging Face name of a llama.cpp tensor name, for the decoder-only architectures of
    /// `huggingFaceArchitectures`; nil for a name with no counterpart (`rope_freqs.weight`, …):
    ///
    /// | GGUF | Hugging Face |
    /// |---|---|
    /// | `token_embd.weight` | `model.embed_tokens.weight` |
    /// | `output_norm.weight` | `model.norm.weight` |
    /// | `output.weight` | `lm_head.weight` |
    /// | `blk.N.attn_norm` | `model.layers.N.input_layernorm` |
    /// | `blk.N.attn_q` / `attn_k` / `attn_v` / `attn_output` | `model.layers.N.self_attn.q_proj` / `k_proj` / `v_proj` / `o_proj` |
    /// | `blk.N.attn_q_norm` / `attn_k_norm` | `model.layers.N.self_attn.q_norm` / `k_norm` |
    /// | `blk.N.ffn_norm` | `model.layers.N.post_attention_layernorm` |
    /// | `blk.N.ffn_gate` / `ffn_up` / `ffn_down` | `model.layers.N.mlp.gate_proj` / `up_proj` / `down_proj` |
    ///
    /// Block names keep their `.weight` or `.bias` suffix.
    public static func huggingFaceName(forGGUFName name: String) -> String? {
        switch name {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", let block = Int(parts[1]), block >= 0, String(block) == parts[1],
              parts[3] == "weight" || parts[3] == "bias" else { return nil }
        let module: String
        switch parts[2] {
        case "attn_norm": module = "input_layernorm"
        case "attn_q": module = "self_attn.q_proj"
        case "attn_k": module = "self_attn.k_proj"
        case "attn_v": module = "self_attn.v_proj"
        case "attn_output": module = "self_attn.o_proj"
        case "attn_q_norm": module = "self_attn.q_norm"
        case "attn_k_norm": module = "self_attn.k_norm"
        case "ffn_norm": module = "post_attention_layernorm"
        case "ffn_gate": module = "mlp.gate_proj"
        case "ffn_up": module = "mlp.up_proj"
        case "ffn_down": module = "mlp.down_proj"
        default: return nil
        }
        return "model.layers.\(block).\(module).\(parts[3])"
    }

    /// The tensors as a Hugging Face checkpoint of this model would name and order them, in file order.
    ///
    /// For an architecture of `huggingFaceArchitectures`, names are mapped with `huggingFaceName(forGGUFName:)`;
    /// a tensor without a counterpart keeps its GGUF name. For another architecture every tensor keeps its GGUF
    /// name and its stored row order. For `llama` (and `mistral`), each q weight/bias is un-permuted with
    /// `ARCH.attention.head_count` heads and each k with `ARCH.attention.head_count_kv` (default: the head count);
    /// a per-layer array of head counts is read at the block's index. Nothing is read but metadata.
    ///
    /// - Throws: `GGUFError` for a `llama` model without a usable head count (`missingMetadata`,
    ///   `wrongMetadataType`), or whose q/k rows do not split into heads of an even size (`unpermutable`); and
    ///   `duplicateTensor` if two tensors would get the same name.
    public func huggingFaceTensors() throws -> [GGUFMappedTensor] {
        let arch = architecture ?? ""
        let mapped = Self.huggingFaceArchitectures[arch] != nil
        let permuted = Self.permutedArchitectures.contains(arch)
        var seen = Set<String>(), result: [GGUFMappedTensor] = []
        for info in tensors {
            let name = mapped ? (Self.huggingFaceName(forGGUFName: info.name) ?? info.name) : info.name
            var heads: Int?
            if permuted, let kind = Self.queryOrKey(info.name) {
                let count = try headCount(kind == "q" ? "attention.head_count" : "attention.head_count_kv",
                                          fallback: kind == "q" ? nil : "attention.head_count", block: Self.blockIndex(info.name), tensor: info.name)
                let rows = info.shape.first ?? 1
                guard count > 0, rows % count == 0, (rows / count) % 2 == 0, info.shape.count <= 2 else {
                    throw GGUFError(file: url.path, tensor: info.name, rule: .unpermutable(rows: rows, heads: count))
                }
                heads = count
            }
            guard seen.insert(name).inserted else { throw GGUFError(file: url.path, tensor: name, rule: .duplicateTensor) }
            result.append(GGUFMappedTensor(name: name, source: info, unpermutedHeads: heads, dtype: info.type.plainDType ?? .f32))
        }
        return result
    }

    /// The mapped tensor's values as Float, rows (or a bias's elements) in Hugging Face order; see `floats(_:)`.
    /// Throws `GGUFError.notDequantizable` naming the type.
    public func floats(_ tensor: GGUFMappedTensor) throws -> [Float] {
        let info = tensor.source
        guard tensor.unpermutedHeads != nil else { return try floats(info.name) }
        guard info.type.isDequantizable else { throw GGUFError(file: url.path, tensor: info.name, rule: .notDequantizable(info.type)) }
        defer { evict(info.name) }
        if info.shape.count == 1 {
            let stored = try floats(info.name)
            return stored.indices.map { stored[tensor.sourceRow($0)] }
        }
        return [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, initialized in
            if let out = buffer.baseAddress {
                adviseHugePages(out, byteCount: 4 * info.elementCount)
                decode(info, rows: 0..<info.rowCount, source: tensor.sourceRow, into: out)
            }
            initialized = info.elementCount
        }
    }

    /// `q` for a q weight/bias (`blk.N.attn_q.weight|bias`), `k` for a k one, nil otherwise.
    static func queryOrKey(_ name: String) -> String? {
        let parts = name.split(separator: ".")
        guard parts.count == 4, parts[0] == "blk", parts[3] == "weight" || parts[3] == "bias" else { return nil }
        return parts[2] == "attn_q" ? "q" : parts[2] == "attn_k" ? "k" : nil
    }

    /// N of `blk.N.…`.
    static func blockIndex(_ name: String) -> Int? {
        let parts = name.split(separator: ".")
        return parts.count > 1 && parts[0] == "blk" ? Int(parts[1]) : nil
    }

    /// `ARCH.<suffix>` as a head count (an integer, or a per-layer array read at `block`), else `fallback`'s.
    private func headCount(_ suffix: String, fallback: String?, block: Int?, tensor: String) throws -> Int {
        let key = (architecture ?? "") + "." + suffix
        guard let value = metadata[key] else {
            if let fallback { return try headCount(fallback, fallback: nil, block: block, tensor: tensor) }
            throw GGUFError(file: url.path, key: key, rule: .missingMetadata("undoing the q/k row permutation of \(tensor)"))
        }
        if let n = value.int { return n }
        if let perLayer = value.ints, let block, perLayer.indices.contains(block) { return perLayer[block] }
        throw GGUFError(file: url.path, key: key, rule: .wrongMetadataType(expected: "an integer (or one per layer)", found: value.typeName))
    }

    /// The `config.json` a Hugging Face checkpoint of this model would have, from the `ARCH.*` metadata (`ARCH` =
    /// `general.architecture`); empty for an architecture outside `huggingFaceArchitectures`.
    ///
    /// Keys: `model_type`, `architectures` (`["LlamaForCausalLM"]`, …), `hidden_size` (`embedding_length`),
    /// `intermediate_size` (`feed_forward_length`), `num_hidden_layers` (`block_count`), `num_attention_heads`
    /// (`attention.head_count`), `num_key_value_heads` (`attention.head_count_kv`, else the head count),
    /// `head_dim` (`attention.key_length`, only when given), `rms_norm_eps` (`attention.layer_norm_rms_epsilon`),
    /// `rope_theta` (`rope.freq_base`, default 10000), `max_position_embeddings` (`context_length`), `vocab_size`
    /// (the embedding's rows, else `ARCH.vocab_size`, else the token count), `tie_word_embeddings` (true when
    /// there is no `output.weight`), `bos_token_id`/`eos_token_id` (from the tokenizer metadata), `hidden_act`
    /// `silu`, `torch_dtype` `float32` (what `Checkpoint` presents block formats as); `sliding_window`
    /// (`attention.sliding_window`) and `rope_scaling` (`rope.scaling.type` linear or yarn, with `factor` and
    /// `original_max_position_embeddings`) when given; `attention_bias` and `mlp_bias` for llama/mistral
    /// (`attention_bias` true when the q projection has a bias). Float metadata is written as its shortest decimal
    /// (`1e-05`, not `9.99999974738e-06`). Integer keys missing from the file are left out; a per-layer array (some
    /// models store `head_count_kv` per layer) gives its largest value, config.json having one number. Llama 3's `rope_freqs`
    /// tensor (llama3 RoPE scaling) is not turned back into `rope_scaling`.
    public var huggingFaceConfig: [String: Any] {
        guard let arch = architecture, let names = Self.huggingFaceArchitectures[arch] else { return [:] }
        func value(_ suffix: String) -> GGUFValue? { metadata[arch + "." + suffix] }
        func decimal(_ v: GGUFValue) -> Double? {
            if case .float32(let f) = v { return Double(f.description) ?? Double(f) }
            return v.double
        }
        var config: [String: Any] = ["model_type": names.modelType, "architectures": [names.architecture],
                                     "hidden_act": "silu", "torch_dtype": "float32"]
        let integers = ["hidden_size": "embedding_length", "intermediate_size": "feed_forward_length",
                        "num_hidden_layers": "block_count", "num_attention_heads": "attention.head_count",
                        "num_key_value_heads": "attention.head_count_kv", "head_dim": "attention.key_length",
                        "max_position_embeddings": "context_length", "sliding_window": "attention.sliding_window"]
        for (key, suffix) in integers {
            if let v = value(suffix), let n = v.int ?? v.ints?.max() { config[key] = n }
        }
        if config["num_key_value_heads"] == nil, let heads = config["num_attention_heads"] { config["num_key_value_heads"] = heads }
        if let eps = value("attention.layer_norm_rms_epsilon").flatMap(decimal) { config["rms_norm_eps"] = eps }
        config["rope_theta"] = value("rope.freq_base").flatMap(decimal) ?? 10000.0
        if let type = value("rope.scaling.type")?.string, type == "linear" || type == "yarn" {
            var scaling: [String: Any] = ["rope_type": type, "type": type]
            if let factor = value("rope.scaling.factor").flatMap(decimal) { scaling["factor"] = factor }
            if let original = value("rope.scaling.original_context_length")?.int { scaling["original_max_position_embeddings"] = original }
            config["rope_scaling"] = scaling
        }
        if let embedding = self["token_embd.weight"], embedding.shape.count == 2 {
            config["vocab_size"] = embedding.shape[0]
        } else if let n = value("vocab_size")?.int {
            config["vocab_size"] = n
        } else if let tokens = metadata["tokenizer.ggml.tokens"]?.array {
            config["vocab_size"] = tokens.count
        }
        config["tie_word_embeddings"] = self["output.weight"] == nil
        if let bos = metadata["tokenizer.ggml.bos_token_id"]?.int { config["bos_token_id"] = bos }
        if let eos = metadata["tokenizer.ggml.eos_token_id"]?.int { config["eos_token_id"] = eos }
        if Self.permutedArchitectures.contains(arch) {
            config["attention_bias"] = self["blk.0.attn_q.bias"] != nil
            config["mlp_bias"] = false
        } else if arch == "qwen3" {
            config["attention_bias"] = false
        }
        return config
    }

    /// The tokenizer in the `tokenizer.*` metadata; nil when `tokenizer.ggml.model` is absent. Arrays of another
    /// type than expected read as empty.
    public var tokenizerMetadata: GGUFTokenizerMetadata? {
        guard let model = metadata["tokenizer.ggml.model"]?.string else { return nil }
        let prefix = "tokenizer.ggml.", suffix = "_token_id"
        var special: [String: Int] = [:]
        for (key, value) in metadata where key.hasPrefix(prefix) && key.hasSuffix(suffix) && key.count > prefix.count + suffix.count {
            if let id = value.int { special[String(key.dropFirst(prefix.count).dropLast(suffix.count))] = id }
        }
        return GGUFTokenizerMetadata(
            model: model, pre: metadata["tokenizer.ggml.pre"]?.string,
            tokens: metadata["tokenizer.ggml.tokens"]?.strings ?? [], merges: metadata["tokenizer.ggml.merges"]?.strings ?? [],
            tokenTypes: metadata["tokenizer.ggml.token_type"]?.ints ?? [], scores: metadata["tokenizer.ggml.scores"]?.floats ?? [],
            bosTokenID: special["bos"], eosTokenID: special["eos"], unknownTokenID: special["unknown"], paddingTokenID: special["padding"],
            specialTokenIDs: special,
            addBOS: metadata["tokenizer.ggml.add_bos_token"]?.bool, addEOS: metadata["tokenizer.ggml.add_eos_token"]?.bool,
            addSpacePrefix: metadata["tokenizer.ggml.add_space_prefix"]?.bool,
            chatTemplate: metadata["tokenizer.chat_template"]?.string)
    }
}
