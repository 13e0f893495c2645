/// The product of a symmetric matrix stored by its lower triangle with a
/// vector, row by row: the matrix–vector product of the native Householder
/// tridiagonalization (LAPACK's symv inside sytrd), which reads the whole
/// trailing block once per reflector and so sets that stage's pace.
///
/// Compiled three times, like `PackedGEMM`. Only entries on and below the
/// diagonal are read, which halves the memory traffic of a full-square
/// product: row i contributes a[i][j]·v_i to y_j (j < i, the entry's mirror
/// image above the diagonal) and a[i][0...i]·v[0...i] to y_i. Rows go four
/// at a time, so each vector of y is loaded and stored once per four rows
/// while the four dot products run in independent accumulators.
public enum SymmetricProduct {
    /// y[0..<m] += (rows `rows` of A)·v in the sense above, for the
    /// symmetric A at `a` (leading dimension `lda`, lower triangle read):
    /// summed over rows 0..<m it is y += A v. Rows are split between threads
    /// by giving each its own y; a row of index i costs ≈ 4i flops.
    @inline(never)
    public static func lowerRows(a: UnsafePointer<Float>, lda: Int, rows: Range<Int>, v: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        symmetricLowerRows(a, lda, rows, v, y)
    }

    /// The Double version of `lowerRows` above: the same rows, reads and contract, on Double data.
    @inline(never)
    public static func lowerRows(a: UnsafePointer<Double>, lda: Int, rows: Range<Int>, v: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>) {
        symmetricLowerRows(a, lda, rows, v, y)
    }
}

@inline(__always)
func loadVector<T: KernelScalar>(_ p: UnsafePointer<T>) -> T.Vector {
    UnsafeRawPointer(p).loadUnaligned(as: T.Vector.self)
}

/// x + y·z, fused where the target has FMA.
@inline(__always)
func multiplyAdd<R: SIMD>(_ x: R, _ y: R, _ z: R) -> R where R.Scalar: BinaryFloatingPoint {
    #if HASWELL || AVX512
    var r = x
    r.addProduct(y, z)
    return r
    #else
    return x + y * z
    #endif
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func symmetricLowerRows<T: KernelScalar>(_ a: UnsafePointer<T>, _ lda: Int, _ rows: Range<Int>, _ v: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
    let w = T.Vector.scalarCount
    var i = rows.lowerBound
    while i + 4 <= rows.upperBound {
        let r0 = a + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda
        let x0 = T.Vector(repeating: v[i]), x1 = T.Vector(repeating: v[i + 1])
        let x2 = T.Vector(repeating: v[i + 2]), x3 = T.Vector(repeating: v[i + 3])
        var d0 = T.Vector(), d1 = T.Vector(), d2 = T.Vector(), d3 = T.Vector()
        var j = 0
        while j + w <= i {
            let vj = loadVector(v + j)
            let a0 = loadVector(r0 + j), a1 = loadVector(r1 + j), a2 = loadVector(r2 + j), a3 = loadVector(r3 + j)
            var acc = loadVector(UnsafePointer(y + j))
            acc = multiplyAdd(acc, a0, x0)
            acc = multiplyAdd(acc, a1, x1)
            acc = multiplyAdd(acc, a2, x2)
            acc = multiplyAdd(acc, a3, x3)
            UnsafeMutableRawPointer(y + j).storeBytes(of: acc, as: T.Vector.self)
            d0 = multiplyAdd(d0, a0, vj)
            d1 = multiplyAdd(d1, a1, vj)
            d2 = multiplyAdd(d2, a2, vj)
            d3 = multiplyAdd(d3, a3, vj)
            j += w
        }
        var s0 = d0.sum(), s1 = d1.sum(), s2 = d2.sum(), s3 = d3.sum()
        let v0 = v[i], v1 = v[i + 1], v2 = v[i + 2], v3 = v[i + 3]
        while j < i {
            let vj = v[j], a0 = r0[j], a1 = r1[j], a2 = r2[j], a3 = r3[j]
            y[j] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
            s0 += a0 * vj; s1 += a1 * vj; s2 += a2 * vj; s3 += a3 * vj
            j += 1
        }
        // The 4 × 4 diagonal block, lower triangle.
        s0 += r0[i] * v0
        s1 += r1[i] * v0 + r1[i + 1] * v1
        s2 += r2[i] * v0 + r2[i + 1] * v1 + r2[i + 2] * v2
        s3 += r3[i] * v0 + r3[i + 1] * v1 + r3[i + 2] * v2 + r3[i + 3] * v3
        y[i] += s0 + r1[i] * v1 + r2[i] * v2 + r3[i] * v3
        y[i + 1] += s1 + r2[i + 1] * v2 + r3[i + 1] * v3
        y[i + 2] += s2 + r3[i + 2] * v3
        y[i + 3] += s3
        i += 4
    }
    while i < rows.upperBound {
        let row = a + i * lda, vi = v[i]
        var s: T = 0
        for j in 0..<i {
            y[j] += row[j] * vi
            s += row[j] * v[j]
        }
        y[i] += s + row[i] * vi
        i += 1
    }
}
