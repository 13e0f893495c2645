import Foundation
import Testing
import Tokenizers

/// A fixture tokenizer.json's vocabulary and merges as GGUF metadata would hold them:
/// tokens in id order (added tokens typed 3, "control"), merges as "a b" lines.
struct GGUFStyleVocabulary {
    var tokens: [String]
    var types: [Int32]
    var merges: [String]

    init(fixture name: String) throws {
        let data = try Data(contentsOf: tokenizerFixtures.appendingPathComponent("\(name).json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let model = try #require(json["model"] as? [String: Any])
        let vocab = try #require(model["vocab"] as? [String: Int])
        var byID = [String](repeating: "", count: (vocab.values.max() ?? -1) + 1)
        for (token, id) in vocab { byID[id] = token }
        var types = [Int32](repeating: 1, count: byID.count)
        for entry in try #require(json["added_tokens"] as? [[String: Any]]) {
            let id = try #require(entry["id"] as? Int)
            types[id] = 3
        }
        tokens = byID
        self.types = types
        merges = try #require(model["merges"] as? [Any]).compactMap { entry in
            if let pair = entry as? [String] { return "\(pair[0]) \(pair[1])" }
            if let line = entry as? String, !line.hasPrefix("#version") { return line }
            return nil
        }
    }
}

@Suite("Tokenizers from GGUF metadata")
struct GGUFTokenizerTests {
    /// Byte-level BPE from GGUF-style metadata with llama.cpp's split regexes gives the ids
    /// the tokenizers library gives for the matching tokenizer.json pipeline.
    @Test(arguments: [("gpt2_bytelevel", "gpt-2", false), ("smollm_style", "smollm", false), ("qwen_style", "qwen2", false),
                      ("llama3_style", "llama-bpe", true)])
    func byteLevel(fixture: String, preType: String, addBOS: Bool) throws {
        let vocabulary = try GGUFStyleVocabulary(fixture: fixture)
        let bos = vocabulary.tokens.firstIndex(of: "<|begin_of_text|>")
        let tokenizer = try Tokenizer(ggufModel: "gpt2", preType: preType, tokens: vocabulary.tokens, merges: vocabulary.merges,
                                      tokenTypes: vocabulary.types, scores: nil, bosTokenID: bos, eosTokenID: nil,
                                      unknownTokenID: nil, paddingTokenID: nil, addBOS: addBOS, addEOS: false)
        let expected = try #require(Expected.shared.tokenizers[fixture])
        for (text, encoding) in zip(Expected.shared.texts, expected.encodings) {
            // llama.cpp does not apply Qwen's NFC normalizer.
            if fixture == "qwen_style", !sameScalars(text.precomposedStringWithCanonicalMapping, text) { continue }
            #expect(tokenizer.encode(text) == encoding.ids, "\(fixture): \(visible(text))")
            #expect(sameScalars(tokenizer.decode(encoding.ids), encoding.decoded), "\(fixture): \(visible(text))")
        }
        #expect(tokenizer.bosTokenID == bos)
    }

    /// The SentencePiece path (GGUF "llama"): merging by scores, byte fallback, "▁" prefix,
    /// BOS; against the tokenizers library on a tokenizer.json whose merges were made from
    /// the same scores the way transformers converts Llama-2.
    @Test func sentencePieceFromScores() throws {
        struct Metadata: Decodable {
            var tokens: [String]
            var token_types: [Int32]
            var scores: [Float]
        }
        let metadata = try JSONDecoder().decode(Metadata.self, from: Data(contentsOf: tokenizerFixtures.appendingPathComponent("spm_metadata.json")))
        let tokenizer = try Tokenizer(ggufModel: "llama", preType: nil, tokens: metadata.tokens, merges: [], tokenTypes: metadata.token_types,
                                      scores: metadata.scores, bosTokenID: 1, eosTokenID: 2, unknownTokenID: 0, paddingTokenID: nil,
                                      addBOS: true, addEOS: false)
        let expected = try #require(Expected.shared.tokenizers["llama2_from_scores"])
        for (text, encoding) in zip(Expected.shared.texts, expected.encodings) {
            #expect(tokenizer.encode(text) == encoding.ids, "\(visible(text))")
            #expect(tokenizer.encode(text, addSpecialTokens: false) == encoding.ids_no_special, "\(visible(text))")
            #expect(sameScalars(tokenizer.decode(encoding.ids), encoding.decoded), "\(visible(text))")
            #expect(sameScalars(tokenizer.decode(encoding.ids, skipSpecialTokens: true), encoding.decoded_skip_special))
        }
        #expect(tokenizer.specialTokenIDs == [0, 1, 2])
        #expect(tokenizer.vocabularySize == metadata.tokens.count)
        let withEOS = try Tokenizer(ggufModel: "llama", preType: nil, tokens: metadata.tokens, merges: [], tokenTypes: metadata.token_types,
                                    scores: metadata.scores, bosTokenID: 1, eosTokenID: 2, unknownTokenID: 0, paddingTokenID: nil,
                                    addBOS: false, addEOS: true)
        #expect(withEOS.encode("hello") == tokenizer.encode("hello", addSpecialTokens: false) + [2])
    }

    @Test func refusals() throws {
        let vocabulary = try GGUFStyleVocabulary(fixture: "smollm_style")
        func error(model: String = "gpt2", preType: String? = "smollm", tokens: [String]? = nil, merges: [String]? = nil,
                   types: [Int32]? = nil, scores: [Float]? = nil, bos: Int? = nil, addBOS: Bool = false) -> TokenizerError? {
            do {
                _ = try Tokenizer(ggufModel: model, preType: preType, tokens: tokens ?? vocabulary.tokens, merges: merges ?? vocabulary.merges,
                                  tokenTypes: types ?? vocabulary.types, scores: scores, bosTokenID: bos, eosTokenID: nil,
                                  unknownTokenID: nil, paddingTokenID: nil, addBOS: addBOS, addEOS: false)
                return nil
            } catch let error as TokenizerError {
                return error
            } catch {
                return nil
            }
        }
        #expect(error(model: "bert")?.place == "tokenizer.ggml.model")
        #expect(error(preType: "chameleon")?.place == "tokenizer.ggml.pre")
        #expect(error(merges: ["Ġ a", "Ġ zzz"])?.place == "tokenizer.ggml.merges[1]")
        #expect(error(merges: ["Ġa"])?.place == "tokenizer.ggml.merges[0]")
        #expect(error(merges: [" Ġa"])?.place == "tokenizer.ggml.merges[0]")
        #expect(error(model: "llama", scores: vocabulary.tokens.indices.map { $0 == 7 ? .nan : 0 })?.place == "tokenizer.ggml.scores[7]")
        #expect(error(types: [3])?.place == "tokenizer.ggml.token_type")
        #expect(error(tokens: [])?.place == "tokenizer.ggml.tokens")
        #expect(error(bos: 1_000_000)?.place == "tokenizer.ggml.bos_token_id")
        #expect(error(addBOS: true)?.place == "tokenizer.ggml.add_bos_token")
        #expect(error(model: "llama")?.place == "tokenizer.ggml.scores")
        #expect(error(model: "llama", scores: [0])?.place == "tokenizer.ggml.scores")
        #expect(error(model: "llama", preType: nil, scores: vocabulary.tokens.map { _ in 0 }) == nil)
        #expect(error()?.description == nil)
    }
}
