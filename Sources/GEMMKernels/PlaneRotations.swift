/// Sequences of plane (Givens) rotations applied to the rows of a row-major
/// matrix, as the implicit QL eigen solver produces them: sweep after sweep,
/// each a chain of rotations walking up the rows.
///
/// Compiled twice, like `PackedGEMM` (baseline and AVX2 + FMA). Rotation r of
/// a sweep with bottom row b acts on rows (b − r − 1, b − r):
///
///     lower ← s·upper + c·lower,   upper ← c·upper − s·lower
///
/// Within a sweep, row b − r is final once rotation r is done, and the new
/// upper row is the lower row of rotation r + 1. So each column walks up the
/// sweep carrying that one value in a register: every element is loaded once
/// and stored once per sweep, instead of twice each as when rotations are
/// applied to whole rows one at a time. Columns go four register rows
/// (eight native vectors) abreast, enough independent chains to hide the
/// multiply–add latency along the walk.
public enum PlaneRotations {
    /// Applies `sweepCount` sweeps to columns `columns` of the rows of `z`
    /// (leading dimension `ldz`). Sweep i has bottom row `bottoms[i]` and
    /// rotations `starts[i] ..< starts[i + 1]` (the last ends at
    /// `rotationCount`) of `cosines` and `sines`. The result is that of
    /// applying each rotation in turn (up to the rounding of fused
    /// multiply–adds in the AVX2 build).
    @inline(never)
    public static func apply(sweepCount: Int, bottoms: UnsafePointer<Int>, starts: UnsafePointer<Int>, rotationCount: Int,
                             cosines: UnsafePointer<Float>, sines: UnsafePointer<Float>,
                             z: UnsafeMutablePointer<Float>, ldz: Int, columns: Range<Int>) {
        rotate(sweepCount, bottoms, starts, rotationCount, cosines, sines, z, ldz, columns)
    }

    /// The Double version of `apply` above: the same sweeps, rotations and contract, on a Double `z`.
    @inline(never)
    public static func apply(sweepCount: Int, bottoms: UnsafePointer<Int>, starts: UnsafePointer<Int>, rotationCount: Int,
                             cosines: UnsafePointer<Double>, sines: UnsafePointer<Double>,
                             z: UnsafeMutablePointer<Double>, ldz: Int, columns: Range<Int>) {
        rotate(sweepCount, bottoms, starts, rotationCount, cosines, sines, z, ldz, columns)
    }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func rotate<T: KernelScalar>(_ sweepCount: Int, _ bottoms: UnsafePointer<Int>, _ starts: UnsafePointer<Int>, _ rotationCount: Int,
                             _ cosines: UnsafePointer<T>, _ sines: UnsafePointer<T>,
                             _ z: UnsafeMutablePointer<T>, _ ldz: Int, _ columns: Range<Int>) {
    let width = T.Vector.scalarCount
    for sweep in 0..<sweepCount {
        let bottom = bottoms[sweep]
        let first = starts[sweep], end = sweep + 1 < sweepCount ? starts[sweep + 1] : rotationCount
        guard end > first else { continue }
        var column = columns.lowerBound
        while column + 4 * width <= columns.upperBound {
            walk4(z + column, ldz, bottom, cosines + first, sines + first, end - first)
            column += 4 * width
        }
        while column + width <= columns.upperBound {
            walk1(z + column, ldz, bottom, cosines + first, sines + first, end - first)
            column += width
        }
        if column < columns.upperBound {
            walkScalar(z + column, columns.upperBound - column, ldz, bottom, cosines + first, sines + first, end - first)
        }
    }
}

@inline(__always)
func load<T: KernelScalar>(_ p: UnsafeMutablePointer<T>) -> T.Vector {
    UnsafeRawPointer(p).loadUnaligned(as: T.Vector.self)
}

@inline(__always)
func store<T: KernelScalar>(_ v: T.Vector, _ p: UnsafeMutablePointer<T>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: T.Vector.self)
}

/// s·x + c·y and c·x − s·y, fused where the target has FMA.
@inline(__always)
func rotated<R: SIMD>(_ x: R, _ y: R, _ c: R, _ s: R) -> (lower: R, upper: R) where R.Scalar: BinaryFloatingPoint {
    #if HASWELL || AVX512
    var lower = c * y, upper = c * x
    lower.addProduct(s, x)
    upper.addProduct(-s, y)
    return (lower, upper)
    #else
    return (s * x + c * y, c * x - s * y)
    #endif
}

@inline(__always)
func walk4<T: KernelScalar>(_ z: UnsafeMutablePointer<T>, _ ldz: Int, _ bottom: Int,
                            _ cosines: UnsafePointer<T>, _ sines: UnsafePointer<T>, _ count: Int) {
    let w = T.Vector.scalarCount
    var row = z + bottom * ldz
    var carry0 = load(row), carry1 = load(row + w), carry2 = load(row + 2 * w), carry3 = load(row + 3 * w)
    for r in 0..<count {
        let c = T.Vector(repeating: cosines[r]), s = T.Vector(repeating: sines[r])
        let up = row - ldz
        let r0 = rotated(load(up), carry0, c, s), r1 = rotated(load(up + w), carry1, c, s)
        let r2 = rotated(load(up + 2 * w), carry2, c, s), r3 = rotated(load(up + 3 * w), carry3, c, s)
        store(r0.lower, row); store(r1.lower, row + w); store(r2.lower, row + 2 * w); store(r3.lower, row + 3 * w)
        carry0 = r0.upper; carry1 = r1.upper; carry2 = r2.upper; carry3 = r3.upper
        row = up
    }
    store(carry0, row); store(carry1, row + w); store(carry2, row + 2 * w); store(carry3, row + 3 * w)
}

@inline(__always)
func walk1<T: KernelScalar>(_ z: UnsafeMutablePointer<T>, _ ldz: Int, _ bottom: Int,
                            _ cosines: UnsafePointer<T>, _ sines: UnsafePointer<T>, _ count: Int) {
    var row = z + bottom * ldz
    var carry = load(row)
    for r in 0..<count {
        let up = row - ldz
        let rotation = rotated(load(up), carry, T.Vector(repeating: cosines[r]), T.Vector(repeating: sines[r]))
        store(rotation.lower, row)
        carry = rotation.upper
        row = up
    }
    store(carry, row)
}

@inline(__always)
func walkScalar<T: KernelScalar>(_ z: UnsafeMutablePointer<T>, _ width: Int, _ ldz: Int, _ bottom: Int,
                                 _ cosines: UnsafePointer<T>, _ sines: UnsafePointer<T>, _ count: Int) {
    for k in 0..<width {
        var row = z + bottom * ldz + k
        var carry = row.pointee
        for r in 0..<count {
            let up = row - ldz
            let c = cosines[r], s = sines[r], x = up.pointee
            row.pointee = s * x + c * carry
            carry = c * x - s * carry
            row = up
        }
        row.pointee = carry
    }
}
