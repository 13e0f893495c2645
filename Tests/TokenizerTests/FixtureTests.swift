import Foundation
import Testing
import Tokenizers

/// The fixture folder written by scripts/make_tokenizer_fixtures.py.
let tokenizerFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/tokenizers")

/// What the `tokenizers` library gave for the fixture tokenizers (expected.json).
struct Expected: Decodable {
    struct Encoding: Decodable {
        var ids: [Int]
        var ids_no_special: [Int]
        var decoded: String
        var decoded_skip_special: String
        var decoded_prefix: String
    }
    struct Pair: Decodable {
        var first: Int
        var second: Int
        var ids: [Int]
        var type_ids: [Int]
    }
    struct Case: Decodable {
        var encodings: [Encoding]
        var pairs: [Pair]
        var vocab_size: Int
        var special_ids: [Int]
        var token_ids: [String: Int]
    }
    var tokenizers_version: String
    var texts: [String]
    var tokenizers: [String: Case]

    static let shared: Expected = {
        let data = try! Data(contentsOf: tokenizerFixtures.appendingPathComponent("expected.json"))
        return try! JSONDecoder().decode(Expected.self, from: data)
    }()
}

/// Exact scalar equality (Swift `==` on strings is canonical equivalence, which would hide
/// an NFC/NFD difference).
func sameScalars(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.elementsEqual(b.unicodeScalars)
}

/// A readable form of a string for failure messages.
func visible(_ s: String) -> String {
    s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
}

func loadFixture(_ name: String) throws -> Tokenizer {
    try Tokenizer(contentsOf: tokenizerFixtures.appendingPathComponent("\(name).json"))
}

let fixtureNames = ["wordpiece_bert", "gpt2_bytelevel", "llama3_style", "smollm_style", "qwen_style", "llama2_legacy",
                    "metaspace_first", "metaspace_split", "llama2_from_scores", "roberta_style", "wordlevel_misc", "wordlevel_components", "bpe_affixes"]

@Suite("Fixture tokenizers against the tokenizers library")
struct FixtureTests {
    @Test("every text gives the library's ids", arguments: fixtureNames)
    func ids(name: String) throws {
        let tokenizer = try loadFixture(name)
        let expected = try #require(Expected.shared.tokenizers[name])
        #expect(expected.encodings.count == Expected.shared.texts.count)
        for (text, encoding) in zip(Expected.shared.texts, expected.encodings) {
            #expect(tokenizer.encode(text) == encoding.ids, "\(name): \(visible(text))")
            #expect(tokenizer.encode(text, addSpecialTokens: false) == encoding.ids_no_special, "\(name): \(visible(text))")
        }
    }

    @Test("decoding gives the library's strings", arguments: fixtureNames)
    func decoding(name: String) throws {
        let tokenizer = try loadFixture(name)
        let expected = try #require(Expected.shared.tokenizers[name])
        for (text, encoding) in zip(Expected.shared.texts, expected.encodings) {
            let decoded = tokenizer.decode(encoding.ids)
            #expect(sameScalars(decoded, encoding.decoded), "\(name): \(visible(text)) → \(visible(decoded)), expected \(visible(encoding.decoded))")
            let skipped = tokenizer.decode(encoding.ids, skipSpecialTokens: true)
            #expect(sameScalars(skipped, encoding.decoded_skip_special), "\(name): \(visible(text)) → \(visible(skipped))")
            let prefix = tokenizer.decode(Array(encoding.ids_no_special.dropLast()))
            #expect(sameScalars(prefix, encoding.decoded_prefix), "\(name): \(visible(text)) minus one id → \(visible(prefix)), expected \(visible(encoding.decoded_prefix))")
        }
    }

    @Test("pairs give the library's ids and type ids", arguments: fixtureNames)
    func pairs(name: String) throws {
        let tokenizer = try loadFixture(name)
        let expected = try #require(Expected.shared.tokenizers[name])
        let texts = Expected.shared.texts
        for pair in expected.pairs {
            let encoding = tokenizer.encoding(texts[pair.first], pair: texts[pair.second])
            #expect(encoding.ids == pair.ids, "\(name): pair \(pair.first), \(pair.second)")
            #expect(encoding.typeIDs == pair.type_ids, "\(name): pair \(pair.first), \(pair.second)")
        }
    }

    @Test("vocabulary size, special ids and token lookups match", arguments: fixtureNames)
    func vocabulary(name: String) throws {
        let tokenizer = try loadFixture(name)
        let expected = try #require(Expected.shared.tokenizers[name])
        #expect(tokenizer.vocabularySize == expected.vocab_size)
        #expect(tokenizer.specialTokenIDs == Set(expected.special_ids))
        for (token, id) in expected.token_ids {
            #expect(tokenizer.id(of: token) == id, "\(name): \(visible(token))")
            #expect(tokenizer.token(of: id).map { sameScalars($0, token) } == true, "\(name): id \(id)")
        }
        #expect(tokenizer.token(of: -1) == nil)
        #expect(tokenizer.token(of: tokenizer.vocabularySize) == nil)
    }

    @Test func encodingWithoutPairMatchesEncode() throws {
        let tokenizer = try loadFixture("wordpiece_bert")
        let encoding = tokenizer.encoding("Hello world!")
        #expect(encoding.ids == tokenizer.encode("Hello world!"))
        #expect(encoding.typeIDs == Array(repeating: 0, count: encoding.ids.count))
    }

    @Test func fileSettingsAreReportedNotApplied() throws {
        let bert = try loadFixture("wordpiece_bert")
        #expect(bert.fileMaxLength == 128)
        #expect(bert.paddingTokenID == bert.id(of: "[PAD]"))
        #expect(bert.encode("hi").count < 10)  // no padding to 128
        let llama = try loadFixture("llama2_legacy")
        #expect(llama.fileMaxLength == nil)
        #expect(llama.bosTokenID == 1)
        #expect(llama.eosTokenID == 2)
        let llama3 = try loadFixture("llama3_style")
        #expect(llama3.bosTokenID == llama3.id(of: "<|begin_of_text|>"))
        #expect(llama3.eosTokenID == llama3.id(of: "<|end_of_text|>"))
        let qwen = try loadFixture("qwen_style")
        #expect(qwen.bosTokenID == nil)
        #expect(qwen.eosTokenID == qwen.id(of: "<|endoftext|>"))
    }

    @Test func concurrentEncodingAgrees() async throws {
        let tokenizer = try loadFixture("smollm_style")
        let texts = Expected.shared.texts
        let serial = texts.map { tokenizer.encode($0) }
        let parallel = await withTaskGroup(of: (Int, [Int]).self) { group in
            for _ in 0..<4 {
                for (i, text) in texts.enumerated() { group.addTask { (i, tokenizer.encode(text)) } }
            }
            var out: [(Int, [Int])] = []
            for await result in group { out.append(result) }
            return out
        }
        for (i, ids) in parallel { #expect(ids == serial[i]) }
    }
}
