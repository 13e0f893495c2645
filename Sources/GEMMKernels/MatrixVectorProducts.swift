// The matrix–vector kernels of the native decompositions: the symmetric
// product of the tridiagonal reduction and the column products of the
// bidiagonal reduction (and the tridiagonal reduction's panel corrections).
// They share one file with their vector helpers: debug builds compile the
// kernel modules with -O but file by file, and a generic helper defined in
// another file stays an unspecialised call through the SIMD protocol there.

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

/// The two matrix–vector products of the native Householder
/// bidiagonalization (LAPACK's gemv inside labrd) on a column-major block,
/// whose columns are contiguous: y = Aᵀx (a dot product per column) and
/// y += Ax (a sum of scaled columns). Each reads the trailing block once per
/// reflector, which sets the pace of that stage.
///
/// Compiled three times, like `PackedGEMM`. Columns go four at a time: four
/// independent accumulators for the dot products, and each vector of y
/// loaded and stored once per four columns for the sums.
public enum ColumnProducts {
    /// y[j] = Σ_{i<rows} a[j·lda + i]·x[i] for j in `columns`. 2·rows flops per column.
    @inline(never)
    public static func dots(a: UnsafePointer<Float>, lda: Int, rows: Int, columns: Range<Int>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        columnDots(a, lda, rows, columns, x, y)
    }

    /// The Double version of `dots` above.
    @inline(never)
    public static func dots(a: UnsafePointer<Double>, lda: Int, rows: Int, columns: Range<Int>, x: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>) {
        columnDots(a, lda, rows, columns, x, y)
    }

    /// y[i] += Σ_{j<columns} a[j·lda + i]·x[j] for i in `rows`. 2·columns flops per row.
    @inline(never)
    public static func combination(a: UnsafePointer<Float>, lda: Int, rows: Range<Int>, columns: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        columnCombination(a, lda, rows, columns, x, y)
    }

    /// The Double version of `combination` above.
    @inline(never)
    public static func combination(a: UnsafePointer<Double>, lda: Int, rows: Range<Int>, columns: Int, x: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>) {
        columnCombination(a, lda, rows, columns, x, y)
    }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func columnDots<T: KernelScalar>(_ a: UnsafePointer<T>, _ lda: Int, _ rows: Int, _ columns: Range<Int>, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
    let w = T.Vector.scalarCount
    var j = columns.lowerBound
    while j + 4 <= columns.upperBound {
        let c0 = a + j * lda, c1 = c0 + lda, c2 = c1 + lda, c3 = c2 + lda
        var d0 = T.Vector(), d1 = T.Vector(), d2 = T.Vector(), d3 = T.Vector()
        var i = 0
        while i + w <= rows {
            let xi = loadVector(x + i)
            d0 = multiplyAdd(d0, loadVector(c0 + i), xi)
            d1 = multiplyAdd(d1, loadVector(c1 + i), xi)
            d2 = multiplyAdd(d2, loadVector(c2 + i), xi)
            d3 = multiplyAdd(d3, loadVector(c3 + i), xi)
            i += w
        }
        var s0 = d0.sum(), s1 = d1.sum(), s2 = d2.sum(), s3 = d3.sum()
        while i < rows {
            let xi = x[i]
            s0 += c0[i] * xi; s1 += c1[i] * xi; s2 += c2[i] * xi; s3 += c3[i] * xi
            i += 1
        }
        y[j] = s0; y[j + 1] = s1; y[j + 2] = s2; y[j + 3] = s3
        j += 4
    }
    while j < columns.upperBound {
        let c0 = a + j * lda
        var d0 = T.Vector()
        var i = 0
        while i + w <= rows {
            d0 = multiplyAdd(d0, loadVector(c0 + i), loadVector(x + i))
            i += w
        }
        var s0 = d0.sum()
        while i < rows { s0 += c0[i] * x[i]; i += 1 }
        y[j] = s0
        j += 1
    }
}

@_specialize(where T == Float)
@_specialize(where T == Double)
func columnCombination<T: KernelScalar>(_ a: UnsafePointer<T>, _ lda: Int, _ rows: Range<Int>, _ columns: Int, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
    let w = T.Vector.scalarCount
    var j = 0
    while j < columns {
        let count = Swift.min(4, columns - j)
        let c0 = a + j * lda
        let c1 = count > 1 ? c0 + lda : c0, c2 = count > 2 ? c0 + 2 * lda : c0, c3 = count > 3 ? c0 + 3 * lda : c0
        let s0 = x[j], s1 = count > 1 ? x[j + 1] : 0, s2 = count > 2 ? x[j + 2] : 0, s3 = count > 3 ? x[j + 3] : 0
        let v0 = T.Vector(repeating: s0), v1 = T.Vector(repeating: s1), v2 = T.Vector(repeating: s2), v3 = T.Vector(repeating: s3)
        var i = rows.lowerBound
        while i + w <= rows.upperBound {
            var acc = loadVector(UnsafePointer(y + i))
            acc = multiplyAdd(acc, loadVector(c0 + i), v0)
            acc = multiplyAdd(acc, loadVector(c1 + i), v1)
            acc = multiplyAdd(acc, loadVector(c2 + i), v2)
            acc = multiplyAdd(acc, loadVector(c3 + i), v3)
            UnsafeMutableRawPointer(y + i).storeBytes(of: acc, as: T.Vector.self)
            i += w
        }
        while i < rows.upperBound {
            y[i] += c0[i] * s0 + c1[i] * s1 + c2[i] * s2 + c3[i] * s3
            i += 1
        }
        j += 4
    }
}
