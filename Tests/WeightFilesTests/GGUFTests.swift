import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import WeightFiles

#if canImport(Glibc)
import Glibc
#endif

// MARK: Helpers

/// Writes `bytes` to a fresh file named `name` and returns its URL.
func writeGGUF(_ bytes: [UInt8], name: String = "model.gguf") throws -> URL {
    let url = temporaryFolder(prefix: "rankwise-gguf").appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

/// The rule (and key, tensor) of the GGUFError thrown by `body`; nil when it throws nothing or something else.
func ggufFailure(_ body: () throws -> Void) -> GGUFError? {
    do { try body(); return nil } catch let e as GGUFError { return e } catch { return nil }
}

/// The rule `GGUFFile` refuses these bytes with (nil when it opens them).
func ggufRule(_ bytes: [UInt8]) -> GGUFError.Rule? {
    bytes.withUnsafeBytes { raw in ggufFailure { _ = try GGUFFile.validate(raw, file: "hostile.gguf") }?.rule }
}

/// A builder holding one tensor (and `general.architecture` = `arch` when given).
func oneTensor(_ name: String = "t", dimensions: [UInt64], type: UInt32, data: [UInt8], arch: String? = nil) -> GGUFBuilder {
    var b = GGUFBuilder()
    if let arch { b.add("general.architecture", .string(arch)) }
    b.add(GGUFBuilder.Tensor(name: name, dimensions: dimensions, type: type, data: data))
    return b
}

/// Hugging Face rows from stored rows by llama.cpp's forward permutation, written independently of the reader:
/// GGUF row h·d + 2i + j holds HF row h·d + j·d/2 + i, so HF row h·d + j·d/2 + i = GGUF row h·d + 2i + j.
func huggingFaceRows(_ stored: [Float], rows: Int, columns: Int, heads: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: stored.count)
    let d = rows / heads
    for h in 0..<heads {
        for i in 0..<(d / 2) {
            for j in 0..<2 {
                let hf = h * d + j * (d / 2) + i, gguf = h * d + 2 * i + j
                for c in 0..<columns { out[hf * columns + c] = stored[gguf * columns + c] }
            }
        }
    }
    return out
}

/// Tests/Fixtures/gguf_reference.json (scripts/make_gguf_fixtures.py, from gguf-py).
nonisolated(unsafe) let ggufReference: [String: Any] = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/gguf_reference.json")
    return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
}()

/// The test model's path, when present.
let smolLM2File: URL? = TestModels.smolLM2?.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf")

// MARK: The format

@Suite("GGUF: reading the format")
struct GGUFFormatTests {
    @Test("a tiny llama GGUF written by the test reads back exactly: header, every metadata type, F32/F16/BF16/Q8_0/Q4_0/Q4_1 tensors")
    func tinyModel() throws {
        let model = TinyGGUFModel()
        let file = try GGUFFile(contentsOf: try writeGGUF(model.builder.bytes()))
        #expect(file.version == 3 && file.alignment == 32 && file.architecture == "llama")
        #expect(file.dataStart % 32 == 0 && file.lossyStringKeys.isEmpty)
        #expect(file.metadataKeys.count == model.builder.metadata.count && file.metadataKeys.first == "general.architecture")
        let m = file.metadata
        #expect(m["test.u8"] == .uint8(200) && m["test.i8"] == .int8(-100) && m["test.u16"] == .uint16(60000) && m["test.i16"] == .int16(-30000))
        #expect(m["test.u32"] == .uint32(4_000_000_000) && m["test.i32"] == .int32(-2_000_000_000))
        #expect(m["test.u64"] == .uint64(.max) && m["test.u64"]?.int == nil && m["test.u64"]?.double == 0x1p64)
        #expect(m["test.i64"] == .int64(.min) && m["test.i64"]?.int == Int.min)
        #expect(m["test.f32"] == .float32(0.1) && m["test.f32"]?.double == Double(Float(0.1)) && m["test.f64"]?.double == 0.1)
        #expect(m["test.bool"]?.bool == true && m["test.string"]?.string == "héllo ✓" && m["test.u8"]?.int == 200)
        #expect(m["test.floats"]?.floats == [1.5, -2] && m["test.floats"]?.typeName == "array[f32]")
        #expect(m["test.nested"] == .array(.array([.uint32([1, 2]), .string(["x"]), .array([.bool([false])])])))
        #expect(m["tokenizer.ggml.tokens"]?.strings == ["<unk>", "<s>", "</s>", "a", "b", "ab"])
        #expect(m["tokenizer.ggml.token_type"]?.ints == [2, 3, 3, 1, 1, 1] && m["test.string"]?.ints == nil)

        #expect(file.tensors.map(\.name) == model.tensors.map(\.name))
        for expected in model.tensors {
            let info = try #require(file[expected.name])
            #expect(info.dimensions == expected.dimensions && info.shape == expected.dimensions.reversed())
            #expect(info.type.rawValue == expected.type && info.elementCount == expected.values.count)
            #expect(info.byteCount == info.elementCount / info.type.blockSize * info.type.blockBytes)
            #expect(info.byteRange.lowerBound == file.dataStart + info.dataOffsets.lowerBound && info.dataOffsets.lowerBound % 32 == 0)
            #expect(try file.floats(expected.name) == expected.values, "\(expected.name)")
        }
        let embedding = try #require(file["token_embd.weight"])
        #expect(embedding.shape == [6, 32] && embedding.rowLength == 32 && embedding.rowCount == 6 && embedding.rowBytes == 34)
        // Rows a block at a time.
        var rows = [Float](repeating: 0, count: 2 * 32)
        try rows.withUnsafeMutableBufferPointer { try file.dequantize("token_embd.weight", rows: 3..<5, into: $0.baseAddress!) }
        #expect(rows == Array(model.values("token_embd.weight")[96..<160]))
    }

    @Test("Q8_0, Q4_0 and Q4_1 blocks written out by hand decode to the values the block formulas give")
    func handWrittenBlocks() throws {
        // Q8_0: d = 0.5 (F16 0x3800), codes −16…15 → q/2.
        let q8: [UInt8] = [0x00, 0x38] + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        // Q4_0: d = 0.25 (0x3400); byte j = j (low: element j) | (15 − j) << 4 (high: element j + 16) → (q − 8)/4.
        let q4: [UInt8] = [0x00, 0x34] + (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        // Q4_1: d = 0.125 (0x3000), m = −1 (0xBC00); same nibbles → q/8 − 1.
        let q41: [UInt8] = [0x00, 0x30, 0x00, 0xBC] + (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let codes4: [Float] = (0..<16).map { Float($0) } + (0..<16).map { Float(15 - $0) }
        let expected8: [Float] = (0..<32).map { Float($0 - 16) / 2 }
        let expected4: [Float] = codes4.map { ($0 - 8) / 4 }, expected41: [Float] = codes4.map { $0 / 8 - 1 }
        let cases: [(UInt32, [UInt8], [Float])] = [(8, q8, expected8), (2, q4, expected4), (3, q41, expected41)]
        for (type, data, expected) in cases {
            let file = try GGUFFile(contentsOf: try writeGGUF(oneTensor(dimensions: [32], type: type, data: data).bytes()))
            #expect(try file.floats("t") == expected, "type \(type)")
        }
        #expect(q8.count == 34 && q4.count == 18 && q41.count == 20)
    }

    @Test("every block format decodes random blocks bit for bit as gguf-py (llama.cpp's Python package) does")
    func blocksAgainstGGUFPy() throws {
        let blocks = ggufReference["blocks"] as! [[String: Any]]
        #expect(blocks.count == 10)
        for block in blocks {
            let name = block["type"] as! String, count = block["count"] as! Int
            let type = try #require(GGUFTensorType.allCases.first { $0.name == name })
            let hex = block["hex"] as! String
            let bytes = stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
            #expect(bytes.count == count / type.blockSize * type.blockBytes, "\(name)")
            let file = try GGUFFile(contentsOf: try writeGGUF(oneTensor(dimensions: [UInt64(count)], type: type.rawValue, data: bytes).bytes()))
            let expected = (block["values"] as! [Double]).map { Float($0) }
            let values = try file.floats("t")
            #expect(values == expected, "\(name): \(zip(values, expected).filter { $0 != $1 }.prefix(3))")
        }
    }

    @Test("block sizes and ids agree with ggml's table; retired ids are unknown")
    func typeTable() {
        // (id, block size, block bytes) from gguf-py's GGML_QUANT_SIZES.
        let table: [(UInt32, Int, Int)] = [(0, 1, 4), (1, 1, 2), (2, 32, 18), (3, 32, 20), (6, 32, 22), (7, 32, 24), (8, 32, 34), (9, 32, 36),
                                           (10, 256, 84), (11, 256, 110), (12, 256, 144), (13, 256, 176), (14, 256, 210), (15, 256, 292),
                                           (16, 256, 66), (17, 256, 74), (18, 256, 98), (19, 256, 50), (20, 32, 18), (21, 256, 110),
                                           (22, 256, 82), (23, 256, 136), (24, 1, 1), (25, 1, 2), (26, 1, 4), (27, 1, 8), (28, 1, 8),
                                           (29, 256, 56), (30, 1, 2), (34, 256, 54), (35, 256, 66), (39, 32, 17), (40, 64, 36), (41, 128, 18)]
        #expect(table.count == GGUFTensorType.allCases.count)
        for (id, size, bytes) in table {
            let type = GGUFTensorType(rawValue: id)
            #expect(type?.blockSize == size && type?.blockBytes == bytes, "id \(id)")
        }
        for retired: UInt32 in [4, 5, 31, 32, 33, 36, 37, 38, 42, 1000] { #expect(GGUFTensorType(rawValue: retired) == nil) }
        #expect(GGUFTensorType.allCases.filter(\.isDequantizable).map(\.name).sorted()
                == ["BF16", "F16", "F32", "F64", "Q2_K", "Q3_K", "Q4_0", "Q4_1", "Q4_K", "Q5_0", "Q5_1", "Q5_K", "Q6_K", "Q8_0"])
    }

    @Test("version 2 reads; F64 tensors round to Float; alignment from general.alignment; empty tensors")
    func versionTwoAndAlignment() throws {
        var b = oneTensor(dimensions: [3], type: 28, data: [1.0, 0.1, -2.5].flatMap { (x: Double) in withUnsafeBytes(of: x.bitPattern.littleEndian, Array.init) })
        b.version = 2
        b.alignment = 64
        b.add("general.alignment", .u32(64))
        b.add(GGUFBuilder.Tensor(name: "empty", dimensions: [32, 0], type: 8, data: []))
        let file = try GGUFFile(contentsOf: try writeGGUF(b.bytes()))
        #expect(file.version == 2 && file.alignment == 64 && file.dataStart % 64 == 0)
        #expect(try file.floats("t") == [1, Float(0.1), -2.5])
        #expect(try file["empty"]?.elementCount == 0 && file["empty"]?.shape == [0, 32] && file.floats("empty").isEmpty)
    }

    @Test("unsupported types are refused on read naming the type; integer tensors are not floats")
    func unsupportedTypes() throws {
        var b = oneTensor("iq", dimensions: [256], type: 16, data: [UInt8](repeating: 0, count: 66))
        b.add(GGUFBuilder.Tensor(name: "ints", dimensions: [4], type: 26, data: [UInt8](repeating: 1, count: 16)))
        let file = try GGUFFile(contentsOf: try writeGGUF(b.bytes()))
        let iq = ggufFailure { _ = try file.floats("iq") }
        #expect(iq?.rule == .notDequantizable(.iq2_XXS) && iq?.tensor == "iq" && iq!.description.contains("IQ2_XXS"))
        #expect(ggufFailure { _ = try file.floats("ints") }?.rule == .notDequantizable(.i32))
        #expect(ggufFailure { _ = try file.floats("nothing") }?.rule == .noSuchTensor)
        #expect(try file.rawBytes("ints").count == 16)
    }
}

// MARK: Hostile files

@Suite("GGUF: hostile and broken files are refused by rule, never a crash or a huge allocation")
struct GGUFHostileTests {
    /// Header bytes up to the metadata pairs: magic, version, counts.
    func header(version: UInt32 = 3, tensors: UInt64, pairs: UInt64) -> GGUFBytes {
        var w = GGUFBytes()
        w.bytes += Array("GGUF".utf8)
        w.u32(version)
        w.u64(tensors)
        w.u64(pairs)
        return w
    }

    @Test("bad magic, LFS pointer, HTML, version 1, version 4, big-endian, empty file")
    func headers() throws {
        #expect(ggufRule(Array("GGUX".utf8) + [UInt8](repeating: 0, count: 20)) == .badMagic("\"GGUX\""))
        #expect(ggufRule(Array("version https://git-lfs.github.com/spec/v1\noid sha256:00\n".utf8)) == .gitLFSPointer)
        #expect(ggufRule(Array("\n<!DOCTYPE html><html>".utf8)) == .htmlPage)
        var v1 = GGUFBytes()
        v1.bytes += Array("GGUF".utf8)
        v1.u32(1)
        v1.u32(0)
        v1.u32(0)
        #expect(ggufRule(v1.bytes) == .unsupportedVersion(1))
        #expect(GGUFError(file: "f", rule: .unsupportedVersion(1)).description.contains("version 1 is not supported"))
        #expect(ggufRule(header(version: 4, tensors: 0, pairs: 0).bytes) == .unsupportedVersion(4))
        #expect(ggufRule(header(version: 0x0300_0000, tensors: 0, pairs: 0).bytes) == .bigEndian)
        #expect(ggufRule(Array("GG".utf8)) == .truncated(what: "the magic", needed: 4, offset: 0, fileSize: 2))
        let empty = ggufFailure { _ = try GGUFFile(contentsOf: try writeGGUF([])) }
        #expect(empty?.rule == .truncated(what: "the magic", needed: 4, offset: 0, fileSize: 0))
        // An empty model (no tensors, no metadata) is valid.
        #expect(ggufRule(header(tensors: 0, pairs: 0).bytes) == nil)
    }

    @Test("a string length of 2^63 is refused naming the key, before any allocation")
    func hugeString() {
        var w = header(tensors: 0, pairs: 1)
        w.string("general.name")
        w.u32(8)
        w.u64(1 << 63)
        w.bytes += Array("short".utf8)
        let error = w.bytes.withUnsafeBytes { raw in ggufFailure { _ = try GGUFFile.validate(raw, file: "x.gguf") } }
        #expect(error?.key == "general.name")
        #expect(error?.rule == .truncated(what: "the string", needed: 1 << 63, offset: w.bytes.count - 5, fileSize: w.bytes.count))
        #expect(error!.description.hasPrefix("x.gguf: metadata key 'general.name': the string needs 9223372036854775808 bytes"))
        // A key's own length too.
        var k = header(tensors: 0, pairs: 1)
        k.u64(UInt64.max)
        k.bytes += [UInt8](repeating: 0, count: 16)
        #expect(ggufRule(k.bytes) == .truncated(what: "the key of metadata pair 0", needed: .max, offset: 32, fileSize: 48))
    }

    @Test("a tensor count of 2^40 and a metadata count of 2^60 are refused: the file cannot hold them")
    func hugeCounts() {
        let tensors = ggufRule(header(tensors: 1 << 40, pairs: 0).bytes + [UInt8](repeating: 0, count: 100))
        #expect(tensors == .countTooLarge(what: "the tensor", count: 1 << 40, minimumBytes: 24, available: 100))
        #expect(ggufRule(header(tensors: 0, pairs: 1 << 60).bytes) == .countTooLarge(what: "the metadata pair", count: 1 << 60, minimumBytes: 13, available: 0))
    }

    @Test("an array of 2^62 elements, of an unknown element type, or nested 17 deep is refused")
    func hostileArrays() {
        for (element, minimum) in [(UInt32(0), 1), (8, 8), (9, 12), (12, 8)] {
            var w = header(tensors: 0, pairs: 1)
            w.string("tokenizer.ggml.tokens")
            w.u32(9)
            w.u32(element)
            w.u64(1 << 62)
            w.bytes += [UInt8](repeating: 0, count: 64)
            let error = w.bytes.withUnsafeBytes { raw in ggufFailure { _ = try GGUFFile.validate(raw) } }
            #expect(error?.key == "tokenizer.ggml.tokens")
            #expect(error?.rule == .countTooLarge(what: "the array element", count: 1 << 62, minimumBytes: minimum, available: 64))
        }
        var unknown = header(tensors: 0, pairs: 1)
        unknown.string("k")
        unknown.u32(9)
        unknown.u32(13)
        unknown.u64(0)
        #expect(ggufRule(unknown.bytes) == .unknownValueType(13))
        var scalar = header(tensors: 0, pairs: 1)
        scalar.string("k")
        scalar.u32(77)
        #expect(ggufRule(scalar.bytes) == .unknownValueType(77))
        // 17 levels of arrays of one array each (16 allowed).
        var deep = header(tensors: 0, pairs: 1)
        deep.string("k")
        deep.u32(9)
        for _ in 0..<17 {
            deep.u32(9)
            deep.u64(1)
        }
        deep.u32(0)
        deep.u64(0)
        #expect(ggufRule(deep.bytes) == .nestingTooDeep(limit: 16))
        var fine = GGUFBuilder()
        var value = GGUFTestValue.array(0, [.u8(7)])
        for _ in 0..<15 { value = .array(9, [value]) }
        fine.add("k", value)
        #expect(ggufRule(fine.bytes()) == nil)
    }

    @Test("tensor rules: offset past the end, overlap, misaligned, unknown type, partial block, overflow, 5 dimensions, duplicates, alignment")
    func tensorRules() {
        let block = [UInt8](repeating: 0, count: 34)
        func rule(_ tensors: [GGUFBuilder.Tensor], metadata: [(String, GGUFTestValue)] = []) -> GGUFError? {
            var b = GGUFBuilder()
            for (k, v) in metadata { b.add(k, v) }
            for t in tensors { b.add(t) }
            return b.bytes().withUnsafeBytes { raw in ggufFailure { _ = try GGUFFile.validate(raw) } }
        }
        let past = rule([.init(name: "a", dimensions: [32], type: 8, data: block), .init(name: "b", dimensions: [32], type: 8, data: [], offset: 1 << 20)])
        #expect(past?.tensor == "b" && past?.rule == .pastEnd(end: (1 << 20) + 34, dataSize: 64))
        let wrapped = rule([.init(name: "a", dimensions: [32], type: 8, data: [], offset: UInt64.max - 31)])
        #expect(wrapped?.rule == .pastEnd(end: .max, dataSize: 0))
        let overlap = rule([.init(name: "a", dimensions: [64], type: 8, data: block + block), .init(name: "b", dimensions: [32], type: 8, data: block, offset: 32)])
        #expect(overlap?.tensor == "b" && overlap?.rule == .overlap("a"))
        let misaligned = rule([.init(name: "a", dimensions: [32], type: 8, data: block, offset: 8)])
        #expect(misaligned?.rule == .misalignedOffset(offset: 8, alignment: 32))
        #expect(rule([.init(name: "a", dimensions: [32], type: 4, data: block)])?.rule == .unknownTensorType(4))
        #expect(rule([.init(name: "a", dimensions: [32], type: 99, data: block)])?.rule == .unknownTensorType(99))
        #expect(rule([.init(name: "a", dimensions: [16, 2], type: 8, data: block)])?.rule == .partialBlock(ne0: 16, type: .q8_0))
        #expect(rule([.init(name: "a", dimensions: [1 << 32, 1 << 32], type: 0, data: [])])?.rule == .sizeOverflow)
        #expect(rule([.init(name: "a", dimensions: [0, 1 << 40, 1 << 40], type: 0, data: [])])?.rule == .sizeOverflow)
        #expect(rule([.init(name: "a", dimensions: [1 << 63], type: 0, data: [])])?.rule == .sizeOverflow)
        #expect(rule([.init(name: "a", dimensions: [1, 1, 1, 1, 1], type: 0, data: [0, 0, 0, 0])])?.rule == .tooManyDimensions(5))
        let duplicate = rule([.init(name: "a", dimensions: [32], type: 8, data: block), .init(name: "a", dimensions: [32], type: 8, data: block)])
        #expect(duplicate?.rule == .duplicateTensor && duplicate?.tensor == "a")
        #expect(rule([], metadata: [("k", .u8(1)), ("k", .u8(2))])?.rule == .duplicateKey)
        #expect(rule([], metadata: [("general.alignment", .u32(48))])?.rule == .badAlignment("48"))
        #expect(rule([], metadata: [("general.alignment", .u32(0))])?.rule == .badAlignment("0"))
        #expect(rule([], metadata: [("general.alignment", .string("32"))])?.rule == .badAlignment("string"))
        var badName = GGUFBytes()
        badName.bytes += Array("GGUF".utf8)
        badName.u32(3)
        badName.u64(0)
        badName.u64(1)
        badName.u64(2)
        badName.bytes += [0xC3, 0x28]
        badName.u32(0)
        badName.u8(0)
        #expect(ggufRule(badName.bytes) == .notUTF8)
    }

    @Test("every truncation of a valid file before its last tensor's end is refused with a GGUFError (a sweep over all prefixes)")
    func truncations() throws {
        let bytes = TinyGGUFModel().builder.bytes()
        let end = try bytes.withUnsafeBytes { try GGUFFile.validate($0) }.map(\.byteRange.upperBound).max()!
        #expect(end > bytes.count - 32 && end <= bytes.count)
        var refused: [Int] = []
        for cut in 0..<bytes.count {
            let rule = bytes.withUnsafeBytes { raw in
                ggufFailure { _ = try GGUFFile.validate(UnsafeRawBufferPointer(rebasing: raw[0..<cut])) }?.rule
            }
            if rule != nil { refused.append(cut) }
        }
        #expect(refused == Array(0..<end), "only the final padding may be cut")
    }

    @Test("invalid UTF-8 in a string value is decoded with U+FFFD and the key listed")
    func lossyStrings() throws {
        var w = GGUFBytes()
        w.bytes += Array("GGUF".utf8)
        w.u32(3)
        w.u64(0)
        w.u64(1)
        w.string("general.name")
        w.u32(8)
        w.u64(3)
        w.bytes += [0x61, 0xFF, 0x62]
        let file = try GGUFFile(contentsOf: try writeGGUF(w.bytes))
        #expect(file.lossyStringKeys == ["general.name"] && file.metadata["general.name"]?.string == "a\u{FFFD}b")
    }

    @Test("a FIFO or a folder is refused at once, without blocking")
    func notRegular() throws {
        let dir = temporaryFolder(prefix: "rankwise-gguf")
        let fifo = dir.appendingPathComponent("pipe.gguf")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let error = ggufFailure { _ = try GGUFFile(contentsOf: fifo) }
        #expect(error.map { if case .cannotOpen(let why) = $0.rule { why.contains("FIFO") } else { false } } == true)
        #expect(ggufFailure { _ = try GGUFFile(contentsOf: dir) } != nil)
    }
}

// MARK: The Hugging Face view

@Suite("GGUF: the Hugging Face view (names, q/k rows, config, tokenizer) and Checkpoint")
struct GGUFHuggingFaceTests {
    @Test("the q/k row permutation: presented row → stored row, by heads")
    func permutation() throws {
        let info = GGUFTensorInfo(name: "blk.0.attn_q.weight", type: .f32, dimensions: [4, 8], dataOffsets: 0..<128, byteRange: 0..<128, elementCount: 32)
        var t = GGUFMappedTensor(name: "q", source: info, unpermutedHeads: 2, dtype: .f32)
        #expect((0..<8).map(t.sourceRow) == [0, 2, 1, 3, 4, 6, 5, 7])
        t.unpermutedHeads = 1
        #expect((0..<8).map(t.sourceRow) == [0, 2, 4, 6, 1, 3, 5, 7])
        t.unpermutedHeads = nil
        #expect((0..<8).map(t.sourceRow) == Array(0..<8))
        // Against the forward permutation (llama.cpp's converter), on rows holding their own index.
        let stored = (0..<16).map(Float.init)
        #expect(huggingFaceRows(stored, rows: 16, columns: 1, heads: 2) == [0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15])
    }

    @Test("names map to Hugging Face's; unknown names are kept")
    func names() {
        let pairs = ["token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight",
                     "blk.0.attn_norm.weight": "model.layers.0.input_layernorm.weight",
                     "blk.12.attn_q.weight": "model.layers.12.self_attn.q_proj.weight", "blk.3.attn_k.bias": "model.layers.3.self_attn.k_proj.bias",
                     "blk.3.attn_v.weight": "model.layers.3.self_attn.v_proj.weight", "blk.3.attn_output.weight": "model.layers.3.self_attn.o_proj.weight",
                     "blk.3.attn_q_norm.weight": "model.layers.3.self_attn.q_norm.weight", "blk.3.attn_k_norm.weight": "model.layers.3.self_attn.k_norm.weight",
                     "blk.3.ffn_norm.weight": "model.layers.3.post_attention_layernorm.weight", "blk.3.ffn_gate.weight": "model.layers.3.mlp.gate_proj.weight",
                     "blk.3.ffn_up.weight": "model.layers.3.mlp.up_proj.weight", "blk.3.ffn_down.weight": "model.layers.3.mlp.down_proj.weight"]
        for (gguf, hf) in pairs { #expect(GGUFFile.huggingFaceName(forGGUFName: gguf) == hf, "\(gguf)") }
        for unmapped in ["rope_freqs.weight", "blk.x.attn_q.weight", "blk.01.attn_q.weight", "blk.0.attn_q.scale", "blk.0.ffn_gate_exps.weight", "blk.-1.attn_q.weight"] {
            #expect(GGUFFile.huggingFaceName(forGGUFName: unmapped) == nil, "\(unmapped)")
        }
    }

    @Test("Checkpoint on the tiny GGUF: Hugging Face names, dtypes, shapes, q/k rows un-permuted, exact values")
    func checkpoint() throws {
        let model = TinyGGUFModel()
        let url = try writeGGUF(model.builder.bytes())
        let ckpt = try Checkpoint(path: url)
        let gguf = try #require(ckpt.gguf)
        #expect(ckpt.files.isEmpty && ckpt.storedTensorNames.isEmpty && ckpt.metadata.isEmpty && ckpt.packedLayers.isEmpty)
        #expect(ckpt.inputURLs.contains(url))
        #expect(ckpt.tensorNames == ["model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.mlp.down_proj.weight",
                                     "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight",
                                     "model.layers.0.post_attention_layernorm.weight", "model.layers.0.self_attn.k_proj.weight",
                                     "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.q_proj.weight",
                                     "model.layers.0.self_attn.v_proj.weight", "model.norm.weight", "rope_freqs.weight"])
        let dtypes = Dictionary(uniqueKeysWithValues: ckpt.tensorNames.map { ($0, ckpt[$0]!.dtype) })
        #expect(dtypes["model.embed_tokens.weight"] == .f32 && dtypes["model.layers.0.self_attn.q_proj.weight"] == .f32)
        #expect(dtypes["model.layers.0.self_attn.k_proj.weight"] == .f16 && dtypes["model.layers.0.self_attn.o_proj.weight"] == .bf16)
        #expect(dtypes["model.layers.0.mlp.down_proj.weight"] == .f16 && dtypes["model.norm.weight"] == .f32)
        #expect(ckpt["model.embed_tokens.weight"]?.shape == [6, 32] && ckpt["model.layers.0.mlp.down_proj.weight"]?.shape == [32, 64])
        #expect(ckpt["model.embed_tokens.weight"]?.byteCount == 6 * 32 * 4 && ckpt["model.layers.0.self_attn.k_proj.weight"]?.byteCount == 16 * 32 * 2)
        #expect(ckpt["lm_head.weight"] == nil && ckpt.tensorNames.allSatisfy(ckpt.isDequantized))
        #expect(ckpt.ggufTensor("model.layers.0.self_attn.q_proj.weight")?.unpermutedHeads == 4)
        #expect(ckpt.ggufTensor("model.layers.0.self_attn.k_proj.weight")?.unpermutedHeads == 2)
        #expect(ckpt.ggufTensor("model.layers.0.self_attn.v_proj.weight")?.unpermutedHeads == nil)

        for t in model.tensors {
            let name = GGUFFile.huggingFaceName(forGGUFName: t.name) ?? t.name
            let rows = t.dimensions.count == 2 ? t.dimensions[1] : 1, columns = t.dimensions[0]
            var expected = t.values
            if t.name == "blk.0.attn_q.weight" { expected = huggingFaceRows(t.values, rows: rows, columns: columns, heads: 4) }
            if t.name == "blk.0.attn_k.weight" { expected = huggingFaceRows(t.values, rows: rows, columns: columns, heads: 2) }
            #expect(try ckpt.array(name, as: Float.self) == expected, "\(name)")
            #expect(try ckpt.array(name, as: Double.self) == expected.map(Double.init), "\(name)")
            let m: Matrix<Float> = try ckpt.matrix(name)
            #expect(m.rows == rows && m.columns == columns && m.elements == expected)
            // rawBytes: the presented dtype's bytes, decoding to the same values.
            let info = ckpt[name]!
            let raw = try ckpt.rawBytes(name)
            #expect(raw.count == info.byteCount)
            #expect(ElementConversion.decode(raw, dtype: info.dtype, count: info.elementCount) == expected, "\(name)")
            ckpt.evict(name)
        }
        // Float tensors in stored order are the mapping itself; reordered or dequantized ones are buffers.
        #expect(try ckpt.rawBytes("model.layers.0.self_attn.o_proj.weight").baseAddress == gguf.rawBytes("blk.0.attn_output.weight").baseAddress)
        #expect(try ckpt.rawBytes("model.layers.0.self_attn.k_proj.weight").baseAddress != gguf.rawBytes("blk.0.attn_k.weight").baseAddress)
        #expect(try ckpt.rawBytes("model.embed_tokens.weight").baseAddress == ckpt.rawBytes("model.embed_tokens.weight").baseAddress)
        #expect(throws: SafetensorsError.self) { _ = try ckpt.matrix("lm_head.weight", as: Float.self) }
    }

    @Test("SafetensorsWriter.add(copying:from:) writes a GGUF model as safetensors in Hugging Face order and dtypes")
    func copyToSafetensors() throws {
        let model = TinyGGUFModel()
        let ckpt = try Checkpoint(path: try writeGGUF(model.builder.bytes()))
        let out = temporaryFolder(prefix: "rankwise-gguf").appendingPathComponent("model.safetensors")
        let writer = try SafetensorsWriter(url: out)
        for name in ckpt.tensorNames { try writer.add(copying: name, from: ckpt) }
        try writer.finish()
        let written = try SafetensorsFile(contentsOf: out)
        #expect(written.tensorNames == ckpt.tensorNames)
        for name in ckpt.tensorNames {
            #expect(written[name]?.dtype == ckpt[name]?.dtype && written[name]?.shape == ckpt[name]?.shape)
            #expect(try written.array(name, as: Float.self) == ckpt.array(name, as: Float.self), "\(name)")
        }
    }

    @Test("config.json and tokenizer metadata of the tiny model")
    func configAndTokenizer() throws {
        let file = try GGUFFile(contentsOf: try writeGGUF(TinyGGUFModel().builder.bytes()))
        let c = file.huggingFaceConfig
        #expect(c["model_type"] as? String == "llama" && c["architectures"] as? [String] == ["LlamaForCausalLM"])
        #expect(c["hidden_size"] as? Int == 32 && c["intermediate_size"] as? Int == 64 && c["num_hidden_layers"] as? Int == 1)
        #expect(c["num_attention_heads"] as? Int == 4 && c["num_key_value_heads"] as? Int == 2 && c["head_dim"] == nil)
        #expect(c["rms_norm_eps"] as? Double == 1e-5 && c["rope_theta"] as? Double == 10000 && c["max_position_embeddings"] as? Int == 128)
        #expect(c["vocab_size"] as? Int == 6 && c["tie_word_embeddings"] as? Bool == true && c["torch_dtype"] as? String == "float32")
        #expect(c["bos_token_id"] as? Int == 1 && c["eos_token_id"] as? Int == 2 && c["hidden_act"] as? String == "silu")
        #expect(c["attention_bias"] as? Bool == false && c["mlp_bias"] as? Bool == false && c["rope_scaling"] == nil)
        #expect(JSONSerialization.isValidJSONObject(c))
        let t = try #require(file.tokenizerMetadata)
        #expect(t.model == "gpt2" && t.pre == "smollm" && t.tokens == ["<unk>", "<s>", "</s>", "a", "b", "ab"] && t.merges == ["a b"])
        #expect(t.tokenTypes == [2, 3, 3, 1, 1, 1] && t.scores.isEmpty && t.bosTokenID == 1 && t.eosTokenID == 2 && t.unknownTokenID == nil)
        #expect(t.specialTokenIDs == ["bos": 1, "eos": 2] && t.addBOS == false && t.addEOS == nil && t.chatTemplate == "{{ messages }}")
        // No tokenizer model: nil.
        let bare = try GGUFFile(contentsOf: try writeGGUF(oneTensor(dimensions: [1], type: 0, data: [0, 0, 0, 0]).bytes()))
        #expect(bare.tokenizerMetadata == nil && bare.huggingFaceConfig.isEmpty && !bare.hasHuggingFaceNames)
    }

    @Test("qwen2: biases mapped, rows not permuted; qwen3: q/k norms and head_dim; unknown architectures keep GGUF names")
    func otherArchitectures() throws {
        func floats(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
        let rows = (0..<8).flatMap { r in (0..<4).map { Float(r * 10 + $0) } }
        for arch in ["qwen2", "qwen3", "llama", "gemma"] {
            var b = GGUFBuilder()
            b.add("general.architecture", .string(arch))
            b.add("\(arch).attention.head_count", .u32(2))
            b.add("\(arch).attention.key_length", .u32(4))
            b.add("\(arch).rope.scaling.type", .string("linear"))
            b.add("\(arch).rope.scaling.factor", .f32(2))
            b.add(GGUFBuilder.Tensor(name: "blk.0.attn_q.weight", dimensions: [4, 8], type: 0, data: floats(rows)))
            b.add(GGUFBuilder.Tensor(name: "blk.0.attn_q.bias", dimensions: [8], type: 0, data: floats((0..<8).map(Float.init))))
            b.add(GGUFBuilder.Tensor(name: "blk.0.attn_q_norm.weight", dimensions: [4], type: 0, data: floats([1, 2, 3, 4])))
            b.add(GGUFBuilder.Tensor(name: "output.weight", dimensions: [4, 3], type: 0, data: floats((0..<12).map(Float.init))))
            let ckpt = try Checkpoint(path: try writeGGUF(b.bytes()))
            let config = ckpt.gguf!.huggingFaceConfig
            switch arch {
            case "gemma":
                #expect(ckpt.tensorNames == ["blk.0.attn_q.bias", "blk.0.attn_q.weight", "blk.0.attn_q_norm.weight", "output.weight"])
                #expect(try ckpt.array("blk.0.attn_q.weight", as: Float.self) == rows && config.isEmpty)
            default:
                #expect(ckpt.tensorNames == ["lm_head.weight", "model.layers.0.self_attn.q_norm.weight", "model.layers.0.self_attn.q_proj.bias",
                                             "model.layers.0.self_attn.q_proj.weight"])
                let permuted = arch == "llama"
                let q = try ckpt.array("model.layers.0.self_attn.q_proj.weight", as: Float.self)
                #expect(q == (permuted ? huggingFaceRows(rows, rows: 8, columns: 4, heads: 2) : rows), "\(arch)")
                let bias = try ckpt.array("model.layers.0.self_attn.q_proj.bias", as: Float.self)
                #expect(bias == (permuted ? [0, 2, 1, 3, 4, 6, 5, 7] : (0..<8).map(Float.init)), "\(arch)")
                #expect(try ckpt.matrix("model.layers.0.self_attn.q_proj.bias", as: Float.self).elements == bias)
                #expect(config["model_type"] as? String == arch && config["head_dim"] as? Int == 4 && config["tie_word_embeddings"] as? Bool == false)
                #expect(config["num_key_value_heads"] as? Int == 2)
                let scaling = config["rope_scaling"] as? [String: Any]
                #expect(scaling?["rope_type"] as? String == "linear" && scaling?["factor"] as? Double == 2)
                #expect((config["architectures"] as? [String])?.first == ["qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM", "llama": "LlamaForCausalLM"][arch])
                #expect(arch != "llama" || config["attention_bias"] as? Bool == true)
            }
        }
    }

    @Test("llama q/k that cannot be un-permuted, a missing head count, a split file: refused by rule")
    func mappingErrors() throws {
        let data = [UInt8](repeating: 0, count: 4 * 6 * 4)
        var odd = oneTensor("blk.0.attn_q.weight", dimensions: [4, 6], type: 0, data: data, arch: "llama")
        odd.add("llama.attention.head_count", .u32(4))
        let unpermutable = ggufFailure { _ = try Checkpoint(path: try writeGGUF(odd.bytes())) }
        #expect(unpermutable?.rule == .unpermutable(rows: 6, heads: 4) && unpermutable?.tensor == "blk.0.attn_q.weight")
        let missing = ggufFailure { _ = try Checkpoint(path: try writeGGUF(oneTensor("blk.0.attn_k.weight", dimensions: [4, 6], type: 0, data: data, arch: "llama").bytes())) }
        #expect(missing?.key == "llama.attention.head_count" && missing.map { if case .missingMetadata = $0.rule { true } else { false } } == true)
        var perLayer = oneTensor("blk.1.attn_k.weight", dimensions: [4, 6], type: 0, data: data, arch: "llama")
        perLayer.add("llama.attention.head_count", .u32(9))
        perLayer.add("llama.attention.head_count_kv", .array(4, [.u32(1), .u32(3)]))
        #expect(try Checkpoint(path: try writeGGUF(perLayer.bytes())).ggufTensor("model.layers.1.self_attn.k_proj.weight")?.unpermutedHeads == 3)
        var split = oneTensor(dimensions: [1], type: 0, data: [0, 0, 0, 0])
        split.add("split.count", .u16(3))
        #expect(ggufFailure { _ = try Checkpoint(path: try writeGGUF(split.bytes())) }?.rule == .splitFile(parts: 3))
    }

    @Test("Checkpoint finds a GGUF by its magic and in a folder; several .gguf files are ambiguous")
    func locating() throws {
        let bytes = TinyGGUFModel().builder.bytes()
        let renamed = try writeGGUF(bytes, name: "model.bin")
        #expect(try Checkpoint(path: renamed).gguf != nil)
        let folder = renamed.deletingLastPathComponent()
        try FileManager.default.removeItem(at: renamed)
        try Data(bytes).write(to: folder.appendingPathComponent("only.gguf"))
        #expect(try Checkpoint(path: folder).tensorNames.count == 12)
        try Data(bytes).write(to: folder.appendingPathComponent("other.GGUF"))
        #expect(throws: CheckpointError.ambiguous(folder.path, ["only.gguf", "other.GGUF"])) { _ = try Checkpoint(path: folder) }
    }
}

// MARK: The real model

@Suite("GGUF: SmolLM2-135M-Instruct (Q4_1), against gguf-py", .enabled(if: smolLM2File != nil, TestModels.missing("smollm2")))
struct GGUFSmolLM2Tests {
    nonisolated(unsafe) static let reference = ggufReference["smollm2"] as? [String: Any] ?? [:]

    @Test("header, tensors, types and metadata as gguf-py reads them")
    func facts() throws {
        let file = try GGUFFile(contentsOf: smolLM2File!)
        let r = Self.reference
        #expect(file.version == 3 && file.tensors.count == 272 && r["tensor_count"] as? Int == 272)
        #expect(file.metadata.count == 33 && r["metadata_count"] as? Int == 33 && file.alignment == 32)
        #expect(file.dataStart == r["data_offset"] as? Int && file.architecture == "llama")
        var types: [String: Int] = [:]
        for t in file.tensors { types[t.type.name, default: 0] += 1 }
        #expect(types == ["Q8_0": 1, "Q4_1": 210, "F32": 61] && types == r["types"] as? [String: Int])
        #expect(file.tensors.map(\.byteCount).reduce(0, +) == r["stored_bytes"] as? Int)
        #expect(file["token_embd.weight"]?.type == .q8_0 && file["token_embd.weight"]?.shape == [49152, 576])
        #expect(file.tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count == 2 }.allSatisfy { $0.type == .q4_1 })
        #expect(file["output.weight"] == nil && Set(file.tensors.compactMap { GGUFFile.blockIndex($0.name) }).count == 30)
    }

    @Test("config.json: llama, 30 layers, hidden 576, 9/3 heads, tied, vocab 49152")
    func config() throws {
        let c = try GGUFFile(contentsOf: smolLM2File!).huggingFaceConfig
        #expect(c["model_type"] as? String == "llama" && c["architectures"] as? [String] == ["LlamaForCausalLM"])
        #expect(c["hidden_size"] as? Int == 576 && c["num_hidden_layers"] as? Int == 30 && c["intermediate_size"] as? Int == 1536)
        #expect(c["num_attention_heads"] as? Int == 9 && c["num_key_value_heads"] as? Int == 3 && c["head_dim"] == nil)
        #expect(c["tie_word_embeddings"] as? Bool == true && c["vocab_size"] as? Int == 49152 && c["max_position_embeddings"] as? Int == 8192)
        #expect(c["rope_theta"] as? Double == 100000 && c["rms_norm_eps"] as? Double == 1e-5)
        #expect(c["bos_token_id"] as? Int == 1 && c["eos_token_id"] as? Int == 2)
    }

    @Test("tokenizer metadata: gpt2/smollm, 49152 tokens, 48900 merges, bos 1, eos 2, chat template")
    func tokenizer() throws {
        let t = try #require(try GGUFFile(contentsOf: smolLM2File!).tokenizerMetadata)
        #expect(t.model == "gpt2" && t.pre == "smollm" && t.tokens.count == 49152 && t.merges.count == 48900)
        #expect(t.tokens[5] == Self.reference["token_5"] as? String && t.merges[0] == Self.reference["merge_0"] as? String)
        #expect(t.tokenTypes.count == 49152 && t.bosTokenID == 1 && t.eosTokenID == 2 && t.unknownTokenID == 0 && t.paddingTokenID == 2)
        #expect(t.addBOS == false && t.addSpacePrefix == false && t.chatTemplate?.contains("<|im_start|>") == true)
    }

    @Test("Checkpoint: 272 Hugging Face names, no lm_head; spot rows (q/k un-permuted) equal gguf-py's")
    func values() throws {
        let ckpt = try Checkpoint(path: smolLM2File!)
        #expect(ckpt.tensorNames.count == 272 && !ckpt.tensorNames.contains("lm_head.weight"))
        #expect(ckpt.tensorNames.filter { $0.hasSuffix("mlp.down_proj.weight") }.count == 30)
        #expect(ckpt["model.embed_tokens.weight"]?.dtype == .f32 && ckpt["model.embed_tokens.weight"]?.shape == [49152, 576])
        #expect(ckpt["model.layers.0.self_attn.k_proj.weight"]?.shape == [192, 576] && ckpt["model.norm.weight"]?.dtype == .f32)
        #expect(ckpt.tensorNames.allSatisfy { !$0.hasPrefix("blk.") && $0 != "token_embd.weight" })
        var cache: [String: [Float]] = [:]
        let rows = Self.reference["rows"] as! [[String: Any]]
        #expect(rows.count == 16)
        for row in rows {
            let gguf = row["gguf"] as! String, name = GGUFFile.huggingFaceName(forGGUFName: gguf)!
            if cache[name] == nil { cache[name] = try ckpt.array(name, as: Float.self) }
            let all = cache[name]!, shape = ckpt[name]!.shape
            let values = shape.count == 2 ? Array(all[(row["row"] as! Int) * shape[1]..<((row["row"] as! Int) + 1) * shape[1]]) : all
            let first = (row["first"] as! [Double]).map { Float($0) }
            #expect(Array(values.prefix(16)) == first, "\(gguf) row \(row["row"] ?? "-")")
            let sum = values.reduce(0.0) { $0 + Double($1) }, squares = values.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(abs(sum - (row["sum"] as! Double)) <= 1e-9 * max(1, squares), "\(gguf)")
            #expect(abs(squares - (row["sumsq"] as! Double)) <= 1e-12 * squares, "\(gguf)")
        }
        // The permutation itself: Hugging Face q row 32 (head 0, second half) is stored row 1.
        let stored = try ckpt.gguf!.floats("blk.0.attn_q.weight")
        let expected = (Self.reference["stored_q_row_1_first"] as! [Double]).map { Float($0) }
        #expect(Array(stored[576..<580]) == expected && Array(cache["model.layers.0.self_attn.q_proj.weight"]![32 * 576..<(32 * 576 + 4)]) == expected)
    }
}
