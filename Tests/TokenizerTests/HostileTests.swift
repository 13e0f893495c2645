import Foundation
import Testing
import TestSupport
import Tokenizers

/// A tokenizer.json around `model`, with optional parts.
func tokenizerJSON(model: String, normalizer: String = "null", preTokenizer: String = "null",
                   postProcessor: String = "null", decoder: String = "null", addedTokens: String = "[]") -> Data {
    Data("""
    {"version": "1.0", "truncation": null, "padding": null, "added_tokens": \(addedTokens),
     "normalizer": \(normalizer), "pre_tokenizer": \(preTokenizer), "post_processor": \(postProcessor),
     "decoder": \(decoder), "model": \(model)}
    """.utf8)
}

let tinyBPE = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<unk>": 3}, "merges": ["a b"], "unk_token": "<unk>"}"#

/// The error `body` throws, or nil.
func tokenizerError(_ body: () throws -> Tokenizer) -> TokenizerError? {
    do { _ = try body(); return nil } catch let error as TokenizerError { return error } catch { return nil }
}

@Suite("Hostile and malformed input")
struct HostileTests {
    @Test func malformedJSONNamesTheLine() throws {
        let error = try #require(tokenizerError { try Tokenizer(json: Data("{\n  \"model\": [1, 2,]\n}".utf8), source: "bad.json") })
        #expect(error.file == "bad.json")
        #expect(error.place == "line 2, column 18")
        #expect(error.reason.contains("malformed JSON"))
        #expect(error.description.hasPrefix("bad.json: line 2, column 18: malformed JSON"))
        for text in ["", "{", "[]", "{\"model\": 1e999}", "{\"a\": \"\\ud800\"}", "{\"a\": \"x\u{01}\"}", "nul", "{\"a\": 01}",
                     "{\"a\": 1} x", String(repeating: "[", count: 100_000)] {
            #expect(tokenizerError { try Tokenizer(json: Data(text.utf8), source: "t") } != nil, "\(visible(String(text.prefix(40))))")
        }
        #expect(tokenizerError { try Tokenizer(json: Data([0x7B, 0xFF, 0x7D]), source: "t") }?.reason == "the file is not valid UTF-8 text")
    }

    @Test func unknownComponentsAreNamedWithTheirPlace() throws {
        let unigram = tokenizerError { try Tokenizer(json: tokenizerJSON(model: #"{"type": "Unigram", "vocab": [["a", 0.0]]}"#), source: "t") }
        #expect(unigram?.place == "model.type")
        #expect(unigram?.reason.hasPrefix("unsupported model type \"Unigram\"") == true)
        let precompiled = tokenizerError {
            try Tokenizer(json: tokenizerJSON(model: tinyBPE, normalizer: #"{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Precompiled", "precompiled_charsmap": ""}]}"#), source: "t")
        }
        #expect(precompiled?.place == "normalizer.normalizers[1].type")
        #expect(precompiled?.reason.hasPrefix("unsupported normalizer type \"Precompiled\"") == true)
        let pre = tokenizerError { try Tokenizer(json: tokenizerJSON(model: tinyBPE, preTokenizer: #"{"type": "UnicodeScripts"}"#), source: "t") }
        #expect(pre?.place == "pre_tokenizer.type")
        let post = tokenizerError { try Tokenizer(json: tokenizerJSON(model: tinyBPE, postProcessor: #"{"type": "Magic"}"#), source: "t") }
        #expect(post?.place == "post_processor.type")
        let decoder = tokenizerError { try Tokenizer(json: tokenizerJSON(model: tinyBPE, decoder: #"{"type": "Magic"}"#), source: "t") }
        #expect(decoder?.place == "decoder.type")
        let version = tokenizerError { try Tokenizer(json: Data(#"{"version": "2.0", "model": \#(tinyBPE)}"#.utf8), source: "t") }
        #expect(version?.place == "version")
        let missing = tokenizerError { try Tokenizer(json: Data("{}".utf8), source: "t") }
        #expect(missing?.place == "model")
    }

    @Test func badModelsAreRefused() throws {
        func place(_ model: String) -> String? {
            tokenizerError { try Tokenizer(json: tokenizerJSON(model: model), source: "t") }?.place
        }
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "a c"]}"#) == "model.merges[1]")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}"#) == "model.merges[0]")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"], ["a"]]}"#) == "model.merges[1]")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a  b"]}"#) == "model.merges[0]")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [], "unk_token": "<unk>"}"#) == "model.unk_token")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0, "b": -1}, "merges": []}"#) == "model.vocab.b")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}"#) == "model.vocab.b")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0, "b": 99999999999}, "merges": []}"#) == "model.vocab.b")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0, "b": 1.5}, "merges": []}"#) == "model.vocab.b")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 2}"#) == "model.dropout")
        #expect(place(#"{"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]"}"#) == "model.unk_token")
        #expect(place(#"{"type": "BPE", "vocab": {"a": 0}}"#) == "model.merges")
        let regex = tokenizerError {
            try Tokenizer(json: tokenizerJSON(model: tinyBPE, preTokenizer: #"{"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false}"#), source: "t")
        }
        #expect(regex?.place == "pre_tokenizer.pattern.Regex")
        let behavior = tokenizerError {
            try Tokenizer(json: tokenizerJSON(model: tinyBPE, preTokenizer: #"{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways", "invert": false}"#), source: "t")
        }
        #expect(behavior?.place == "pre_tokenizer.behavior")
        let template = tokenizerError {
            try Tokenizer(json: tokenizerJSON(model: tinyBPE, postProcessor: #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}], "pair": [], "special_tokens": {}}"#), source: "t")
        }
        #expect(template?.place == "post_processor.single[0].SpecialToken")
    }

    @Test func filesThatAreNotTokenizers() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = tokenizerError { try Tokenizer(contentsOf: folder.appendingPathComponent("none.json")) }
        #expect(missing?.reason == "no such file")
        #expect(tokenizerError { try Tokenizer(contentsOf: folder) }?.reason == "not a regular file")
        let html = folder.appendingPathComponent("tokenizer.json")
        try Data("<!DOCTYPE html><html></html>".utf8).write(to: html)
        let error = try #require(tokenizerError { try Tokenizer(contentsOf: html) })
        #expect(error.file == html.path)
        #expect(error.place == "line 1, column 1")
    }

    @Test func emptyAndDegenerateTexts() throws {
        let bert = try loadFixture("wordpiece_bert")
        #expect(bert.encode("", addSpecialTokens: false) == [])
        #expect(bert.encode("") == [bert.id(of: "[CLS]")!, bert.id(of: "[SEP]")!])
        #expect(bert.decode([]) == "")
        let gpt2 = try loadFixture("gpt2_bytelevel")
        #expect(gpt2.encode("") == [])
        // Ids that are no token are skipped when decoding; nothing traps.
        #expect(gpt2.decode([-5, Int.max, Int.min, 1_000_000]) == "")
        // Byte-level tokens that are not UTF-8 together decode to U+FFFD.
        let partial = gpt2.encode("😀").dropLast()
        #expect(gpt2.decode(Array(partial)).unicodeScalars.allSatisfy { $0 == "\u{FFFD}" })
        let llama = try loadFixture("llama2_legacy")
        let bytes = (3...10).map { $0 }  // <0x00>… byte tokens: not all valid text
        #expect(!llama.decode(bytes).isEmpty)
    }

    /// A 10 MB text with no pre-tokenizer is one BPE word of ten million characters: it must
    /// take O(n log n) (a quadratic merge loop would not finish).
    @Test func tenMegabyteWord() throws {
        let llama = try loadFixture("llama2_legacy")
        let unit = "thequickbrownfoxjumpsoverthelazydog"
        let text = String(repeating: unit, count: 10_000_000 / unit.utf8.count)
        let ids = llama.encode(text, addSpecialTokens: false)
        #expect(ids.count > 100_000)
        #expect(ids.count < text.utf8.count)
        // Decoding the ids gives the text back (the Strip decoder removes the ▁ prefix's space).
        #expect(llama.decode(ids) == text)
        // WordPiece with no word-length limit: lookups stop at the longest vocabulary entry.
        let unlimited = try Tokenizer(json: tokenizerJSON(model: ###"{"type": "WordPiece", "unk_token": "[UNK]", "max_input_chars_per_word": 100000000, "vocab": {"[UNK]": 0, "ab": 1, "##ab": 2, "##a": 3}}"###), source: "t")
        #expect(unlimited.encode(String(repeating: "ab", count: 1_000_000) + "a") == [1] + Array(repeating: 2, count: 999_999) + [3])
        // The same word with a pre-tokenizer that splits nothing.
        let gpt2 = try loadFixture("gpt2_bytelevel")
        let gptIDs = gpt2.encode(text)
        #expect(gpt2.decode(gptIDs) == text)
    }
}
