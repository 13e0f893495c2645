/// A small, fast, seeded pseudo-random generator: xoshiro256** (Blackman and
/// Vigna, 2018) with its state expanded from a 64-bit seed by SplitMix64.
///
/// The stream depends only on the seed: it is the same on every backend, every
/// run and every machine, which is what makes `Matrix.random(rows:columns:seed:)`,
/// randomized SVD and the tests reproducible. Not for cryptography.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Double?

    /// A generator whose 256-bit state is four successive SplitMix64 outputs from `seed`.
    ///
    /// Every seed, 0 included, gives a valid (not all-zero) state; equal seeds give equal streams.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The next 64 bits of the xoshiro256** stream (all 64 bits are of good quality), advancing the state.
    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inline(__always)
    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform on [0, 1), 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Standard normal, by the Box–Muller transform (both values of each pair
    /// are used, in order).
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        let u1 = 1 - nextUniform()  // (0, 1]: log is finite
        let u2 = nextUniform()
        let radius = (-2 * _log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareNormal = radius * _sin(angle)
        return radius * _cos(angle)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@inline(__always) private func _log(_ x: Double) -> Double { log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { cos(x) }

extension Matrix {
    /// An m×n matrix of independent standard normal entries drawn from
    /// `SeededGenerator(seed:)` in row-major order (computed in Double, then
    /// rounded to `Element`): the same matrix on every backend and run.
    public static func random(rows: Int, columns: Int, seed: UInt64) -> Matrix {
        var generator = SeededGenerator(seed: seed)
        return random(rows: rows, columns: columns, using: &generator)
    }

    /// An m×n matrix of standard normal entries drawn from `generator`.
    public static func random(rows: Int, columns: Int, using generator: inout SeededGenerator) -> Matrix {
        var elements = [Element]()
        elements.reserveCapacity(rows * columns)
        for _ in 0..<(rows * columns) { elements.append(Element(generator.nextNormal())) }
        return Matrix(rows: rows, columns: columns, elements: elements)
    }
}
