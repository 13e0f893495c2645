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
