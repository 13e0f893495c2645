import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import WeightFiles

/// A safetensors file from a raw header string and data bytes.
func rawSafetensors(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> Data {
    var out = Data()
    var length = (headerLength ?? UInt64(header.utf8.count)).littleEndian
    withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
    out.append(contentsOf: Array(header.utf8))
    out.append(contentsOf: data)
    return out
}

func rule(of body: () throws -> Void) -> SafetensorsError.Rule? {
    do { try body(); return nil } catch let e as SafetensorsError { return e.rule } catch { return nil }
}

@Suite("safetensors: round trips")
struct RoundTripTests {
    @Test("every float dtype, scalars, empty tensors, integer pass-through, metadata")
    func roundTrip() throws {
        let folder = temporaryFolder()
        let url = folder.appendingPathComponent("model.safetensors")
        let w = Matrix<Float>.random(rows: 7, columns: 5, seed: 1)
        let writer = try SafetensorsWriter(url: url)
        for dtype in [DType.f32, .f64, .f16, .bf16] {
            try writer.add(name: "w.\(dtype.rawValue)", matrix: w, dtype: dtype)
        }
        try writer.add(name: "scalar", shape: [], array: [Float(3.5)], dtype: .f32)
        try writer.add(name: "empty", shape: [0, 4], array: [Float](), dtype: .f16)
        let ints: [Int32] = [1, -2, 3]
        try ints.withUnsafeBytes { try writer.add(name: "ids", shape: [3], dtype: .i32, rawBytes: $0) }
        try writer.finish(metadata: ["source": "test"])
        let file = try SafetensorsFile(contentsOf: url)
        #expect(file.tensorNames.count == 7)
        #expect(file.metadata["format"] == "pt" && file.metadata["source"] == "test" && file.metadata["rankwise.version"] != nil)
        #expect(try file.matrix("w.F32", as: Float.self) == w)
        #expect(try file.matrix("w.F64", as: Float.self) == w)
        let half = try file.matrix("w.F16", as: Float.self), brain = try file.matrix("w.BF16", as: Float.self)
        for (x, (h, b)) in zip(w.elements, zip(half.elements, brain.elements)) {
            #expect(abs(x - h) <= abs(x) * 0x1p-11 + 1e-7 && abs(x - b) <= abs(x) * 0x1p-8)
        }
        #expect(try file.array("scalar", as: Double.self) == [3.5])
        #expect(file["scalar"]?.shape == [] && file["empty"]?.shape == [0, 4] && file["empty"]?.byteCount == 0)
        #expect(Array(try file.rawBytes("ids").bindMemory(to: Int32.self)) == ints)
        // Sorted by dtype size (largest first) then name, packed from 0, 8-byte aligned header.
        #expect(file["w.F64"]!.dataOffsets.lowerBound == 0)
        let bytes = try Data(contentsOf: url)
        #expect(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } % 8 == 0)
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("many tensors and a Double matrix")
    func many() throws {
        let folder = temporaryFolder()
        let url = folder.appendingPathComponent("many.safetensors")
        let writer = try SafetensorsWriter(url: url)
        for i in 0..<200 { try writer.add(name: "t\(i)", matrix: Matrix<Double>.random(rows: 3, columns: i % 5 + 1, seed: UInt64(i)), dtype: .f64) }
        try writer.finish()
        let file = try SafetensorsFile(contentsOf: url)
        #expect(file.tensorNames.count == 200)
        #expect(try file.matrix("t123", as: Double.self) == Matrix<Double>.random(rows: 3, columns: 4, seed: 123))
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("BF16 and F16: ties to even, NaN, ±∞, overflow, subnormals")
    func halfPrecision() {
        // 1 + 2⁻⁸ is halfway between two BF16 values: ties go to the even one (1.0).
        #expect(HalfPrecision.bfloat16Bits(1 + 0x1p-8) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(1 + 0x1p-8 + 0x1p-20) == 0x3F81)
        #expect(HalfPrecision.bfloat16Bits(1 + 3 * 0x1p-8) == 0x3F82, "odd tie rounds up to even")
        #expect(HalfPrecision.float(bfloat16Bits: HalfPrecision.bfloat16Bits(.nan)).isNaN)
        #expect(HalfPrecision.bfloat16Bits(.infinity) == 0x7F80 && HalfPrecision.bfloat16Bits(-.infinity) == 0xFF80)
        #expect(HalfPrecision.bfloat16Bits(Float.greatestFiniteMagnitude) == 0x7F80, "rounds up to infinity")
        #expect(HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(1e6)) == .infinity)
        #expect(HalfPrecision.float(float16Bits: 0x0001) == 0x1p-24, "smallest F16 subnormal")
        #expect(HalfPrecision.float16Bits(1 + 0x1p-11) == 0x3C00, "F16 tie to even")
        // Double → BF16 rounds once, not twice.
        let d = 1.0 + 0x1p-8 + 0x1p-40   // just above the tie: must round up
        let bytes = [d].withUnsafeBufferPointer { ElementConversion.encode($0, as: .bf16) }
        #expect(UInt16(bytes[0]) | UInt16(bytes[1]) << 8 == 0x3F81)
    }
}

@Suite("F16 conversion against Swift's Float16")
struct Float16ConversionTests {
    @Test("every F16 bit pattern decodes exactly")
    func decodeAll() {
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits)), got = HalfPrecision.float(float16Bits: bits)
            #expect(expected.isNaN ? got.isNaN : got.bitPattern == expected.bitPattern, "0x\(String(bits, radix: 16))")
        }
    }

    @Test("encoding rounds like Float16(_:): a stride through all Floats, and every F16 midpoint and its neighbours")
    func encode() {
        var samples: [Float] = []
        for bits in stride(from: UInt32(0), to: UInt32.max - 40_009, by: 40_009) { samples.append(Float(bitPattern: bits)) }
        for bits in UInt16(0)..<0x7C00 {   // finite, positive: the midpoint to the next value and its neighbours
            let low = Float(Float16(bitPattern: bits)), high = Float(Float16(bitPattern: bits + 1))
            let mid = (low + high) / 2   // exact in Float
            samples += [mid, mid.nextUp, mid.nextDown, low]
        }
        samples += [65519.99, 65520, 65536, .infinity, .greatestFiniteMagnitude, 0x1p-25, Float(0x1p-25).nextUp, 0x1p-24, -0.0]
        var mismatches = 0
        for x in samples + samples.map({ -$0 }) where !x.isNaN {
            if HalfPrecision.float16Bits(x) != Float16(x).bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(HalfPrecision.float16Bits(.nan) == Float16(Float.nan).bitPattern)
        #expect(HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(-.nan)).isNaN)
        // Double → F16 rounds once: just above a tie that a rounded Float would turn into an exact tie.
        let d = 1.0 + 0x1p-11 + 0x1p-40
        let bytes = [d].withUnsafeBufferPointer { ElementConversion.encode($0, as: .f16) }
        #expect(UInt16(bytes[0]) | UInt16(bytes[1]) << 8 == 0x3C01)
    }
}

@Suite("safetensors: every malformed-file rule has its own error")
struct AdversarialTests {
    static func check(_ data: Data, _ expected: SafetensorsError.Rule, _ label: String) {
        let folder = temporaryFolder()
        let url = folder.appendingPathComponent("bad.safetensors")
        try! data.write(to: url)
        let got = rule { _ = try SafetensorsFile(contentsOf: url) }
        #expect(got == expected, "\(label): got \(String(describing: got))")
        try? FileManager.default.removeItem(at: folder)
    }

    let ok = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test func corpus() {
        Self.check(Data([1, 2, 3]), .tooShort(bytes: 3), "truncated")
        Self.check(Data("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n".utf8), .gitLFSPointer, "LFS pointer")
        Self.check(Data("<!DOCTYPE html><html><body>Sign in</body></html>".utf8), .htmlPage, "HTML page")
        Self.check(rawSafetensors("{}", headerLength: 200_000_000), .headerTooLarge, "header too large")
        Self.check(rawSafetensors("{}", headerLength: 5000), .headerPastEnd(fileSize: 10), "header past EOF")
        Self.check(rawSafetensors("{\"\u{FF}\":1}".replacingOccurrences(of: "\u{FF}", with: "x")).replacingByte(at: 10, with: 0xFF), .notUTF8, "non-UTF-8")
        Self.check(rawSafetensors("[1,2]"), .notAnObject, "not an object")
        Self.check(rawSafetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8)), .duplicateKey("a"), "duplicate keys")
        Self.check(rawSafetensors(#"{"a":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}}"#, data: [0, 0]), .unknownDType("F8"), "bad dtype")
        Self.check(rawSafetensors(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), .invalidShape("negative dimension -2"), "negative dimension")
        Self.check(rawSafetensors(#"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), .invalidShape("dimension number(2.5) is not an integer"), "non-integer dimension")
        Self.check(rawSafetensors(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), .sizeOverflow, "overflow")
        Self.check(rawSafetensors(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), .sizeMismatch(expected: 12, actual: 8), "size mismatch")
        Self.check(rawSafetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8)), .overlap, "overlap")
        Self.check(rawSafetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, data: [UInt8](repeating: 0, count: 12)), .gap(expected: 4, found: 8), "gap")
        Self.check(rawSafetensors(ok, data: [UInt8](repeating: 0, count: 12)), .trailingBytes(4), "trailing bytes")
        Self.check(rawSafetensors(ok, data: [UInt8](repeating: 0, count: 6)), .pastEnd(end: 8, bufferSize: 6), "truncated data")
        Self.check(rawSafetensors(#"{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), .metadataNotString(key: "k"), "non-string metadata")
        Self.check(rawSafetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#, data: [UInt8](repeating: 0, count: 8)), .invalidJSON("unterminated object"), "broken JSON")
    }

    @Test("errors name the file and the tensor, in one line")
    func messages() {
        let e = SafetensorsError(file: "/m.safetensors", tensor: "w", rule: .sizeMismatch(expected: 12, actual: 8))
        #expect(e.description == "/m.safetensors: tensor 'w': data_offsets cover 8 bytes but dtype and shape need 12")
        #expect(!SafetensorsError(file: "x", rule: .gitLFSPointer).description.contains("\n"))
    }
}

@Suite("atomic writes and checkpoints")
struct AtomicTests {
    @Test("cancel or failure leaves nothing; inputs are never overwritten")
    func atomic() throws {
        let folder = temporaryFolder()
        let url = folder.appendingPathComponent("out.safetensors")
        do {
            let writer = try SafetensorsWriter(url: url)
            try writer.add(name: "a", matrix: Matrix<Float>.identity(3))
            writer.cancel()
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty, "no spool or temp file left")
        do {
            let writer = try SafetensorsWriter(url: url)
            try writer.add(name: "a", matrix: Matrix<Float>.identity(3))
            #expect(rule { try writer.add(name: "a", matrix: Matrix<Float>.identity(3)) } == .duplicateTensor)
        }   // dropped without finish
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        let input = folder.appendingPathComponent("in.safetensors")
        let w = try SafetensorsWriter(url: input)
        try w.add(name: "a", matrix: Matrix<Float>.identity(2))
        try w.finish()
        #expect(rule { _ = try SafetensorsWriter(url: input, protecting: [input]) } == .wouldOverwriteInput)
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("a folder, an index and a single file open as one model")
    func sharded() throws {
        let folder = temporaryFolder()
        for (i, names) in [["a", "b"], ["c"]].enumerated() {
            let w = try SafetensorsWriter(url: folder.appendingPathComponent("model-0000\(i + 1)-of-00002.safetensors"))
            for n in names { try w.add(name: n, matrix: Matrix<Float>.random(rows: 2, columns: 2, seed: UInt64(n.unicodeScalars.first!.value))) }
            try w.finish()
        }
        let index = #"{"metadata":{"total_size":48},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        for path in [folder, folder.appendingPathComponent("model.safetensors.index.json")] {
            let model = try Checkpoint(path: path)
            #expect(model.tensorNames == ["a", "b", "c"] && model.files.count == 2)
            #expect(try model.matrix("c", as: Float.self) == Matrix<Float>.random(rows: 2, columns: 2, seed: 99))
        }
        let single = try Checkpoint(path: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        #expect(single.tensorNames == ["c"])
        try Data(#"{"weight_map":{"d":"missing.safetensors"}}"#.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        #expect(throws: CheckpointError.missingShard(folder.appendingPathComponent("model.safetensors.index.json").path, "missing.safetensors")) {
            _ = try Checkpoint(path: folder)
        }
        #expect(throws: CheckpointError.self) { _ = try Checkpoint(path: folder.appendingPathComponent("nope")) }
        try? FileManager.default.removeItem(at: folder)
    }
}

@Suite("safetensors: direct writing from a known layout")
struct DirectWriterTests {
    /// Mixed dtypes and shapes, an empty tensor and an integer one.
    static func tensors() -> [(layout: TensorLayout, values: [Double])] {
        var out: [(TensorLayout, [Double])] = []
        for (i, dtype) in [DType.f32, .bf16, .f64, .f16, .f32, .f64].enumerated() {
            let shape = [i + 2, 7 - i]
            out.append((TensorLayout(name: "layer.\(i).weight", dtype: dtype, shape: shape),
                        Matrix<Double>.random(rows: shape[0], columns: shape[1], seed: UInt64(i)).elements))
        }
        out.append((TensorLayout(name: "empty", dtype: .f16, shape: [0, 3]), []))
        out.append((TensorLayout(name: "scalar", dtype: .f32, shape: []), [2.5]))
        out.append((TensorLayout(name: "ids", dtype: .i32, shape: [3]), [1, -2, 3]))
        // More values than one conversion chunk (65,536), stored narrower than given.
        out.append((TensorLayout(name: "big", dtype: .bf16, shape: [300, 300]), Matrix<Double>.random(rows: 300, columns: 300, seed: 9).elements))
        return out
    }

    static func add(_ t: (layout: TensorLayout, values: [Double]), to writer: SafetensorsWriter) throws {
        if t.layout.dtype == .i32 {
            try t.values.map { Int32($0) }.withUnsafeBytes { try writer.add(name: t.layout.name, shape: t.layout.shape, dtype: .i32, rawBytes: $0) }
        } else {
            try writer.add(name: t.layout.name, shape: t.layout.shape, array: t.values, dtype: t.layout.dtype)
        }
    }

    static func folderContents(_ folder: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            out[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        return out
    }

    @Test("the same bytes as the spooled writer, single file and sharded, whatever the add order", arguments: [nil, 200] as [Int?])
    func sameBytes(maxShardSize: Int?) throws {
        let spooled = temporaryFolder(), direct = temporaryFolder()
        let tensors = Self.tensors()
        let metadata = ["source": "test"]
        let a = try SafetensorsWriter(url: spooled.appendingPathComponent("model.safetensors"))
        a.maxShardSize = maxShardSize
        for t in tensors { try Self.add(t, to: a) }
        try a.finish(metadata: metadata)
        let b = try SafetensorsWriter(url: direct.appendingPathComponent("model.safetensors"), layout: tensors.map(\.layout),
                                      metadata: metadata, maxShardSize: maxShardSize)
        #expect(try FileManager.default.contentsOfDirectory(atPath: direct.path).allSatisfy { $0.hasPrefix(".") }, "only temporary files before finish")
        for t in tensors.reversed() { try Self.add(t, to: b) }
        try b.finish()
        let expected = try Self.folderContents(spooled), got = try Self.folderContents(direct)
        #expect(maxShardSize == nil ? expected.count == 1 : expected.count > 3, "one file, or shards and the index")
        #expect(got == expected)
        #expect(b.writtenFiles.map(\.lastPathComponent) == a.writtenFiles.map(\.lastPathComponent))
        let model = try Checkpoint(path: direct.appendingPathComponent(maxShardSize == nil ? "model.safetensors" : "model.safetensors.index.json"))
        #expect(try model.array("layer.2.weight", as: Double.self) == tensors[2].values)
        let big = try model.array("big", as: Double.self)
        #expect(zip(big, tensors.last!.values).allSatisfy { abs($0 - $1) <= abs($1) * 0x1p-8 }, "BF16 to rounding, across chunks")
        try? FileManager.default.removeItem(at: spooled)
        try? FileManager.default.removeItem(at: direct)
    }

    @Test("converting stored bytes chunk by chunk equals decoding then encoding; the output folder is created")
    func converting() throws {
        let folder = temporaryFolder()
        let values = Matrix<Double>.random(rows: 257, columns: 300, seed: 4).elements   // more than one 65,536-value chunk
        let dtypes: [DType] = [.f64, .f32, .f16, .bf16]
        // The source tensors, one per dtype.
        let source = folder.appendingPathComponent("source.safetensors")
        let s = try SafetensorsWriter(url: source)
        for d in dtypes { try s.add(name: d.rawValue, shape: [257, 300], array: values, dtype: d) }
        try s.finish()
        let file = try SafetensorsFile(contentsOf: source)
        for from in dtypes {
            for to in dtypes {
                let viaArray = folder.appendingPathComponent("a/\(from.rawValue)-\(to.rawValue).safetensors")
                let viaBytes = folder.appendingPathComponent("b/\(from.rawValue)-\(to.rawValue).safetensors")
                let a = try SafetensorsWriter(url: viaArray), b = try SafetensorsWriter(url: viaBytes)
                if from == .f64 || to == .f64 {
                    try a.add(name: "t", shape: [257, 300], array: try file.array(from.rawValue, as: Double.self), dtype: to)
                } else {
                    try a.add(name: "t", shape: [257, 300], array: try file.array(from.rawValue, as: Float.self), dtype: to)
                }
                try b.add(name: "t", shape: [257, 300], dtype: to, converting: try file.rawBytes(from.rawValue), from: from)
                try a.finish()
                try b.finish()
                #expect(try Data(contentsOf: viaArray) == Data(contentsOf: viaBytes), "\(from.rawValue) → \(to.rawValue)")
            }
        }
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("copying tensors file to file gives the bytes adding them from memory gives, in both modes")
    func copying() throws {
        let folder = temporaryFolder()
        let source = folder.appendingPathComponent("in/model.safetensors")
        let tensors = Self.tensors()
        let s = try SafetensorsWriter(url: source)
        for t in tensors { try Self.add(t, to: s) }
        try s.finish()
        let model = try Checkpoint(path: source)
        let fromMemory = try SafetensorsWriter(url: folder.appendingPathComponent("a/model.safetensors"))
        let copiedSpooled = try SafetensorsWriter(url: folder.appendingPathComponent("b/model.safetensors"))
        let copiedDirect = try SafetensorsWriter(url: folder.appendingPathComponent("c/model.safetensors"),
                                                 layout: model.tensorNames.map { TensorLayout(name: $0, dtype: model[$0]!.dtype, shape: model[$0]!.shape) })
        for name in model.tensorNames {
            let info = model[name]!
            try fromMemory.add(name: name, shape: info.shape, dtype: info.dtype, rawBytes: try model.rawBytes(name))
            try copiedSpooled.add(copying: name, from: model)
        }
        for name in model.tensorNames.reversed() { try copiedDirect.add(copying: name, from: model) }
        try fromMemory.finish()
        try copiedSpooled.finish()
        try copiedDirect.finish()
        let expected = try Data(contentsOf: folder.appendingPathComponent("a/model.safetensors"))
        #expect(try Data(contentsOf: folder.appendingPathComponent("b/model.safetensors")) == expected)
        #expect(try Data(contentsOf: folder.appendingPathComponent("c/model.safetensors")) == expected)
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("the buffered copy (where copy_file_range is unavailable) places the same bytes, at an offset or appended")
    func bufferedCopy() throws {
        let folder = temporaryFolder()
        let source = folder.appendingPathComponent("source.bin")
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        try Data(bytes).write(to: source)
        for inKernel in [true, false] {
            let out = try AtomicFile(destination: folder.appendingPathComponent("out-\(inKernel).bin"))
            try out.write([1, 2, 3])
            try out.copy(from: source, at: 5, count: 1000, to: nil, inKernel: inKernel)              // appended after the 3 bytes
            try out.copy(from: source, at: 100_000, count: (3 << 20) - 100_000, to: 2000, inKernel: inKernel)
            try out.commit()
            let got = try Data(contentsOf: folder.appendingPathComponent("out-\(inKernel).bin"))
            #expect(got.count == 2000 + (3 << 20) - 100_000)
            #expect(Array(got[0..<3]) == [1, 2, 3] && Array(got[3..<1003]) == Array(bytes[5..<1005]))
            #expect(got[1003..<2000].allSatisfy { $0 == 0 } && Array(got[2000...]) == Array(bytes[100_000...]))
        }
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("a duplicate in the layout or a second add is refused; dropping the writer leaves nothing")
    func errors() throws {
        let folder = temporaryFolder()
        let url = folder.appendingPathComponent("out.safetensors")
        let layout = [TensorLayout(name: "a", dtype: .f32, shape: [2]), TensorLayout(name: "b", dtype: .f32, shape: [1])]
        #expect(rule { _ = try SafetensorsWriter(url: url, layout: layout + [layout[0]]) } == .duplicateTensor)
        do {
            let writer = try SafetensorsWriter(url: url, layout: layout, maxShardSize: 4)
            try writer.add(name: "a", shape: [2], array: [Float(1), 2])
            #expect(rule { try writer.add(name: "a", shape: [2], array: [Float(1), 2]) } == .duplicateTensor)
        }   // dropped without finish
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty, "no temporary shard left")
        do {   // folders created for the output go too, when nothing was written
            let writer = try SafetensorsWriter(url: folder.appendingPathComponent("new/deeper/out.safetensors"), layout: layout)
            try writer.add(name: "a", shape: [2], array: [Float(1), 2])
        }
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("new").path))
        let input = folder.appendingPathComponent("in.safetensors")
        try Data().write(to: input)
        #expect(rule { _ = try SafetensorsWriter(url: input, protecting: [input], layout: layout) } == .wouldOverwriteInput)
        try? FileManager.default.removeItem(at: folder)
    }
}

extension Data {
    func replacingByte(at index: Int, with byte: UInt8) -> Data {
        var copy = self
        copy[index] = byte
        return copy
    }
}
