import LinearAlgebra

/// The reproducible uniform numbers behind the random drops of DARE
/// (`dare_ties`, `dare_linear`) and DELLA (`della`, `della_linear`).
///
/// mergekit draws its Bernoulli masks from torch's global generator, seeded once
/// per run by `--random-seed`, in an order that depends on its task scheduling, so
/// its masks cannot be reproduced outside torch (nor always inside it). We use our
/// own stream instead, keyed by the seed, the tensor's name and the model, so that
/// every tensor's mask is the same whatever order tensors are merged in, on every
/// machine and for Float and Double alike:
///
///     mix(z)  = SplitMix64's finaliser: z ← (z ⊕ z≫30)·0xBF58476D1CE4E5B9,
///               z ← (z ⊕ z≫27)·0x94D049BB133111EB, z ⊕ z≫31   (wrapping, 64-bit)
///     fnv(s)  = FNV-1a 64 of the UTF-8 bytes of s (offset 0xCBF29CE484222325,
///               prime 0x100000001B3)
///     key     = mix(mix(seed ⊕ fnv(tensor)) ⊕ model)
///     uᵢ      = (mix(key + (i+1)·0x9E3779B97F4A7C15) ≫ 11) · 2⁻⁵³,  i = 0, 1, …
///
/// that is, the SplitMix64 sequence started from `key`, each output's top 53 bits
/// as a Double in [0, 1). Element i (row-major) of model `model` (its index among
/// the merged models, the base not counted) is kept when uᵢ < p, its keep
/// probability. `scripts/mergekit_reference.py` implements the same stream, and the
/// fixture tests check the two agree bit for bit.
public enum DropRandomness {
    /// SplitMix64's output function (Steele, Lea and Flood, 2014): a bijection of
    /// UInt64 that mixes every input bit into every output bit. Cost: O(1).
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// FNV-1a, 64-bit, of the UTF-8 bytes of `text` (a stable hash, unlike
    /// `Hasher`, which is seeded per process). Cost: O(bytes).
    public static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// The stream's starting state for one tensor of one model:
    /// mix(mix(seed ⊕ fnv(tensor)) ⊕ model). Cost: O(name length).
    public static func key(seed: UInt64, tensor: String, model: Int) -> UInt64 {
        mix(mix(seed ^ fnv1a(tensor)) ^ UInt64(truncatingIfNeeded: model))
    }

    /// The first `count` uniforms uᵢ ∈ [0, 1) of the stream of `tensor` in model
    /// `model` (its index among the merged models) under `seed`. Cost: O(count).
    public static func uniforms(count: Int, seed: UInt64, tensor: String, model: Int) -> [Double] {
        var state = key(seed: seed, tensor: tensor, model: model)
        return [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                state &+= 0x9E37_79B9_7F4A_7C15
                buffer[i] = Double(mix(state) >> 11) * 0x1p-53
            }
            initialized = count
        }
    }

    /// Whether uᵢ < `probability` for the first `count` uniforms of the stream (see
    /// `uniforms`), without storing them: DARE's keep mask. The stream is a counter
    /// (uᵢ depends only on the key and i), so chunks of it are drawn across threads
    /// (`Backend.forEachChunk`) with the same result as `uniforms(…).map { $0 < probability }`.
    /// Cost: O(count); memory: the mask only.
    public static func keepMask(count: Int, probability: Double, seed: UInt64, tensor: String, model: Int) -> [Bool] {
        let key = key(seed: seed, tensor: tensor, model: model)
        let chunk = 1 << 16, chunks = (count + chunk - 1) / chunk
        return [Bool](unsafeUninitializedCapacity: count) { buffer, initialized in
            nonisolated(unsafe) let mask = buffer.baseAddress
            Backend.forEachChunk(chunks) { c in
                let first = c * chunk, end = Swift.min(count, first + chunk)
                var state = key &+ UInt64(truncatingIfNeeded: first) &* 0x9E37_79B9_7F4A_7C15
                for i in first..<end {
                    state &+= 0x9E37_79B9_7F4A_7C15
                    (mask! + i).initialize(to: Double(mix(state) >> 11) * 0x1p-53 < probability)
                }
            }
            initialized = count
        }
    }
}
