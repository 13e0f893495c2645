import Foundation
import Models
import Tokenizers
import WeightFiles

/// A model ready to run: its weights, configuration and tokenizer, read from
/// a Hugging Face folder (config.json, safetensors or shards, tokenizer.json;
/// sentence-transformers' `sentence_bert_config.json` when present) or from a
/// GGUF file (configuration and tokenizer rebuilt from its metadata).
public struct LoadedModel {
    /// The weights (packed GPTQ/AWQ layers and GGUF tensors dequantized on read).
    public var checkpoint: Checkpoint
    /// The architecture and sizes.
    public var configuration: ModelConfiguration
    /// The tokenizer.
    public var tokenizer: Tokenizer
    /// The longest input an encoder takes: sentence-transformers'
    /// `max_seq_length` when the folder has it, else the model's positions.
    public var maxSequenceLength: Int?
    /// The folder (or the GGUF file's folder).
    public var folder: URL

    /// Loads the model at `url` (a folder, a `.safetensors` file in a folder
    /// with config.json and tokenizer.json, or a `.gguf` file).
    ///
    /// - Throws: `ModelError` for a configuration Rankwise cannot run,
    ///   `TokenizerError` for a tokenizer it cannot read, what `Checkpoint` throws.
    public init(url: URL) throws {
        checkpoint = try Checkpoint(path: url)
        var isFolder: ObjCBool = false
        folder = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue ? url : url.deletingLastPathComponent()
        if let gguf = checkpoint.gguf {
            configuration = try ModelConfiguration(json: gguf.huggingFaceConfig, file: gguf.url.path)
            guard let t = gguf.tokenizerMetadata else {
                throw ModelError.badConfiguration(file: gguf.url.path, key: "tokenizer.ggml.model", reason: "the GGUF file carries no tokenizer")
            }
            tokenizer = try Tokenizer(ggufModel: t.model, preType: t.pre, tokens: t.tokens, merges: t.merges, tokenTypes: t.tokenTypes.map { Int32($0) },
                                      scores: t.scores, bosTokenID: t.bosTokenID, eosTokenID: t.eosTokenID, unknownTokenID: t.unknownTokenID,
                                      paddingTokenID: t.paddingTokenID, addBOS: t.addBOS ?? false, addEOS: t.addEOS ?? false)
        } else {
            configuration = try ModelConfiguration(folder: folder)
            let tokenizerFile = folder.appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: tokenizerFile.path) else {
                throw ModelError.badConfiguration(file: folder.path, key: nil, reason: "no tokenizer.json beside the model")
            }
            tokenizer = try Tokenizer(contentsOf: tokenizerFile)
        }
        var limit: Int?
        if case .bert(let bert) = configuration {
            limit = bert.maxPositions
            if let data = FileManager.default.contents(atPath: folder.appendingPathComponent("sentence_bert_config.json").path),
               let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
               let length = (json["max_seq_length"] as? NSNumber)?.intValue, length > 0 {
                limit = Swift.min(length, bert.maxPositions)
            }
        }
        maxSequenceLength = limit
    }

    /// Whether the model is a causal LM (else an encoder).
    public var isCausal: Bool { if case .llama = configuration { return true } else { return false } }

    /// The network over `weights` (default: the checkpoint).
    public func network(weights: WeightProvider? = nil) throws -> TransformerModel {
        switch configuration {
        case .bert(let c): return try BertEncoder(weights: weights ?? checkpoint, configuration: c)
        case .llama(let c): return try LlamaDecoder(weights: weights ?? checkpoint, configuration: c)
        }
    }

    /// A text's token sequences the way calibration and evaluation read it:
    /// causal LMs tokenize the whole text once (so only its start gets a
    /// BOS); encoders take each non-empty line as one input, with the
    /// tokenizer's special tokens, cut to `maxSequenceLength`.
    public func sequences(of text: String) -> (whole: [Int], lines: [[Int]]) {
        if isCausal { return (tokenizer.encode(text, addSpecialTokens: true), []) }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let encoded = lines.map { tokenizer.encode($0, addSpecialTokens: true) }.filter { !$0.isEmpty }
        return ([], maxSequenceLength.map { TokenSequences.truncated(encoded, maxLength: $0) } ?? encoded)
    }
}
