import Foundation

/// A tiny llama-architecture GGUF written by the tests (hidden 32, 4 heads of 8, 2 KV heads, FFN 64, vocab 6, one
/// block, no `output.weight` so tied), with tensors in F32, F16, BF16, Q8_0, Q4_0 and Q4_1 whose values are known,
/// one metadata pair of every value type (nested arrays too) and a tokenizer. `values` holds each tensor's expected
/// values in stored (GGUF) row order, computed from the codes and scales by the block formulas.
public struct TinyGGUFModel {
    public static let hidden = 32, heads = 4, kvHeads = 2, ffn = 64, vocab = 6

    /// GGUF tensor name → (dims ne0 first, ggml type id, expected values in stored order).
    public private(set) var tensors: [(name: String, dimensions: [Int], type: UInt32, values: [Float])] = []
    public private(set) var builder = GGUFBuilder()

    public init() {
        let b = Self.self
        builder.add("general.architecture", .string("llama"))
        builder.add("general.name", .string("tiny"))
        builder.add("llama.block_count", .u32(1))
        builder.add("llama.context_length", .u32(128))
        builder.add("llama.embedding_length", .u32(UInt32(b.hidden)))
        builder.add("llama.feed_forward_length", .u32(UInt32(b.ffn)))
        builder.add("llama.attention.head_count", .u32(UInt32(b.heads)))
        builder.add("llama.attention.head_count_kv", .u32(UInt32(b.kvHeads)))
        builder.add("llama.rope.freq_base", .f32(10000))
        builder.add("llama.attention.layer_norm_rms_epsilon", .f32(1e-5))
        // One of each value type.
        builder.add("test.u8", .u8(200))
        builder.add("test.i8", .i8(-100))
        builder.add("test.u16", .u16(60000))
        builder.add("test.i16", .i16(-30000))
        builder.add("test.u32", .u32(4_000_000_000))
        builder.add("test.i32", .i32(-2_000_000_000))
        builder.add("test.u64", .u64(UInt64.max))
        builder.add("test.i64", .i64(Int64.min))
        builder.add("test.f32", .f32(0.1))
        builder.add("test.f64", .f64(0.1))
        builder.add("test.bool", .bool(true))
        builder.add("test.string", .string("héllo ✓"))
        builder.add("test.floats", .array(6, [.f32(1.5), .f32(-2)]))
        builder.add("test.nested", .array(9, [.array(4, [.u32(1), .u32(2)]), .array(8, [.string("x")]), .array(9, [.array(7, [.bool(false)])])]))
        builder.add("tokenizer.ggml.model", .string("gpt2"))
        builder.add("tokenizer.ggml.pre", .string("smollm"))
        builder.add("tokenizer.ggml.tokens", .array(8, ["<unk>", "<s>", "</s>", "a", "b", "ab"].map { .string($0) }))
        builder.add("tokenizer.ggml.token_type", .array(5, [2, 3, 3, 1, 1, 1].map { .i32($0) }))
        builder.add("tokenizer.ggml.merges", .array(8, [.string("a b")]))
        builder.add("tokenizer.ggml.bos_token_id", .u32(1))
        builder.add("tokenizer.ggml.eos_token_id", .u32(2))
        builder.add("tokenizer.ggml.add_bos_token", .bool(false))
        builder.add("tokenizer.chat_template", .string("{{ messages }}"))

        let h = b.hidden
        add("token_embd.weight", q8_0(ne0: h, rows: b.vocab))
        add("blk.0.attn_norm.weight", f32(count: h) { 1 + Float($0) / 32 })
        add("blk.0.attn_q.weight", q4_0(ne0: h, rows: h))
        add("blk.0.attn_k.weight", f16(ne0: h, rows: b.kvHeads * 8))
        add("blk.0.attn_v.weight", q4_1(ne0: h, rows: b.kvHeads * 8, seed: 1))
        add("blk.0.attn_output.weight", bf16(ne0: h, rows: h))
        add("blk.0.ffn_norm.weight", f32(count: h) { 2 - Float($0) / 16 })
        add("blk.0.ffn_gate.weight", q8_0(ne0: h, rows: b.ffn, seed: 3))
        add("blk.0.ffn_up.weight", q4_1(ne0: h, rows: b.ffn, seed: 2))
        add("blk.0.ffn_down.weight", f16(ne0: b.ffn, rows: h, seed: 5))
        add("output_norm.weight", f32(count: h) { Float($0) * 0.25 - 3 })
        add("rope_freqs.weight", f32(count: 4) { 1 / Float($0 + 1) })
    }

    /// The expected values of a tensor (stored order) by GGUF name.
    public func values(_ name: String) -> [Float] { tensors.first { $0.name == name }!.values }

    private mutating func add(_ name: String, _ t: (dimensions: [Int], type: UInt32, data: [UInt8], values: [Float])) {
        tensors.append((name, t.dimensions, t.type, t.values))
        builder.add(GGUFBuilder.Tensor(name: name, dimensions: t.dimensions.map(UInt64.init), type: t.type, data: t.data))
    }

    private func f32(count: Int, _ f: (Int) -> Float) -> ([Int], UInt32, [UInt8], [Float]) {
        var w = GGUFBytes()
        let values = (0..<count).map(f)
        for v in values { w.f32(v) }
        return ([count], 0, w.bytes, values)
    }

    /// F16 values (r·ne0 + c + seed)/8 − 20: multiples of 1/8 below 2¹⁰, exact in F16.
    private func f16(ne0: Int, rows: Int, seed: Int = 0) -> ([Int], UInt32, [UInt8], [Float]) {
        var w = GGUFBytes()
        var values: [Float] = []
        for r in 0..<rows {
            for c in 0..<ne0 {
                let v = Float(r * ne0 + c + seed) / 8 - 20
                values.append(v)
                w.f16(v)
            }
        }
        return ([ne0, rows], 1, w.bytes, values)
    }

    /// BF16 values (r − c)/2: exact in BF16; bits are the Float's top half.
    private func bf16(ne0: Int, rows: Int) -> ([Int], UInt32, [UInt8], [Float]) {
        var w = GGUFBytes()
        var values: [Float] = []
        for r in 0..<rows {
            for c in 0..<ne0 {
                let v = Float(r - c) / 2
                values.append(v)
                w.u16(UInt16(v.bitPattern >> 16))
            }
        }
        return ([ne0, rows], 30, w.bytes, values)
    }

    /// Q8_0: row r's blocks have d = (r + 1)/64 and codes (r·37 + j·11 + 5·block + seed) mod 255 − 127.
    private func q8_0(ne0: Int, rows: Int, seed: Int = 0) -> ([Int], UInt32, [UInt8], [Float]) {
        var data: [UInt8] = [], values: [Float] = []
        for r in 0..<rows {
            for block in 0..<(ne0 / 32) {
                let d = GGUFBlocks.f16(Float(r + 1) / 64)
                let codes = (0..<32).map { Int8((r * 37 + $0 * 11 + 5 * block + seed) % 255 - 127) }
                data += GGUFBlocks.q8_0(d: d, codes: codes)
                values += codes.map { Float($0) * d }
            }
        }
        return ([ne0, rows], 8, data, values)
    }

    /// Q4_0: d = (r mod 4 + 1)/8, codes (r + 3j) mod 16; x = (q − 8)·d.
    private func q4_0(ne0: Int, rows: Int) -> ([Int], UInt32, [UInt8], [Float]) {
        var data: [UInt8] = [], values: [Float] = []
        for r in 0..<rows {
            for _ in 0..<(ne0 / 32) {
                let d = Float(r % 4 + 1) / 8
                let codes = (0..<32).map { UInt8((r + 3 * $0) % 16) }
                data += GGUFBlocks.q4_0(d: d, codes: codes)
                values += codes.map { Float(Int($0) - 8) * d }
            }
        }
        return ([ne0, rows], 2, data, values)
    }

    /// Q4_1: d = 1/8, m = −(r + seed)/4, codes (3r + j + seed) mod 16; x = q·d + m.
    private func q4_1(ne0: Int, rows: Int, seed: Int) -> ([Int], UInt32, [UInt8], [Float]) {
        var data: [UInt8] = [], values: [Float] = []
        for r in 0..<rows {
            for _ in 0..<(ne0 / 32) {
                let d: Float = 0.125, m = -Float(r + seed) / 4
                let codes = (0..<32).map { UInt8((3 * r + $0 + seed) % 16) }
                data += GGUFBlocks.q4_1(d: d, m: m, codes: codes)
                values += codes.map { Float($0) * d + m }
            }
        }
        return ([ne0, rows], 3, data, values)
    }
}
