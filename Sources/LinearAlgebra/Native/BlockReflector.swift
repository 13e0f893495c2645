/// b consecutive Householder reflectors H_c = I − τ_c v_c v_cᵀ (c = 0..<b)
/// multiplied out in compact WY form: H_0 H_1 ⋯ H_{b−1} = I − V T Vᵀ, with
/// V = [v_0 … v_{b−1}] (length × b, v_c zero above its leading 1 at c) and T
/// upper triangular (LAPACK's larft, forward and columnwise).
///
/// Applying a block is then two GEMMs and a small triangular product, which
/// is how the native QR and eigen solver get most of their flops at GEMM speed.
struct BlockReflector<T: Scalar> {
    let count: Int, length: Int
    /// Vᵀ, count × length row-major: row c is v_c.
    private(set) var vt: [T]
    /// T, count × count row-major, upper triangular.
    private(set) var t: [T]

    /// `tail(c, i)` is entry i > c of v_c (entry c is 1, those before it 0).
    @inline(__always)
    init(count: Int, length: Int, taus: ArraySlice<T>, tail: (_ c: Int, _ i: Int) -> T) {
        precondition(count <= length && taus.count == count)
        self.count = count
        self.length = length
        var vt = [T](repeating: 0, count: count * length)
        for c in 0..<count {
            vt[c * length + c] = 1
            for i in (c + 1)..<length { vt[c * length + i] = tail(c, i) }
        }
        // T[c][c] = τ_c; T[0..<c][c] = −τ_c T[0..<c][0..<c] (V[:, 0..<c]ᵀ v_c). The inner products
        // S = VᵀV come from one GEMM (v_c is zero before c, so the full products are the ones wanted);
        // only the O(b³) triangular recurrence is left to scalar code.
        var products = [T](repeating: 0, count: count * count)
        if count > 1 {
            vt.withUnsafeBufferPointer { v in
                products.withUnsafeMutableBufferPointer { sp in
                    NativeGEMM.multiply(transposeA: false, transposeB: true, m: count, n: count, k: length, alpha: 1,
                                        a: v.baseAddress!, lda: length, b: v.baseAddress!, ldb: length, beta: 0, c: sp.baseAddress!, ldc: count)
                }
            }
        }
        var t = [T](repeating: 0, count: count * count)
        for c in 0..<count {
            let tau = taus[taus.startIndex + c]
            t[c * count + c] = tau
            guard c > 0, tau != 0 else { continue }
            for q in 0..<c {
                var sum: T = 0
                for r in q..<c { sum += t[q * count + r] * products[r * count + c] }
                t[q * count + c] = -tau * sum
            }
        }
        self.vt = vt
        self.t = t
    }

    /// X ← X (I − V M Vᵀ) for the `rows` × `length` block at `x` (leading
    /// dimension `ldx`), with M = T (`transposedT` false: X times H_0⋯H_{b−1})
    /// or M = Tᵀ (true: X times H_{b−1}⋯H_0).
    func applyFromRight(to x: UnsafeMutablePointer<T>, rows: Int, ldx: Int, transposedT: Bool) {
        guard rows > 0 else { return }
        let b = count
        var p = [T](repeating: 0, count: rows * b), y = [T](repeating: 0, count: rows * b)
        vt.withUnsafeBufferPointer { v in
            p.withUnsafeMutableBufferPointer { pp in
                NativeGEMM.multiply(transposeA: false, transposeB: true, m: rows, n: b, k: length, alpha: 1,
                                    a: x, lda: ldx, b: v.baseAddress!, ldb: length, beta: 0, c: pp.baseAddress!, ldc: b)
            }
            // Y = P M (a GEMM with k = b: the rows × b² products at GEMM speed, not one dot product each).
            t.withUnsafeBufferPointer { tp in
                p.withUnsafeBufferPointer { pp in
                    y.withUnsafeMutableBufferPointer { yp in
                        NativeGEMM.multiply(transposeA: false, transposeB: transposedT, m: rows, n: b, k: b, alpha: 1,
                                            a: pp.baseAddress!, lda: b, b: tp.baseAddress!, ldb: b, beta: 0, c: yp.baseAddress!, ldc: b)
                    }
                }
            }
            y.withUnsafeBufferPointer { yp in
                NativeGEMM.multiply(transposeA: false, transposeB: false, m: rows, n: length, k: b, alpha: -1,
                                    a: yp.baseAddress!, lda: b, b: v.baseAddress!, ldb: length, beta: 1, c: x, ldc: ldx)
            }
        }
    }

    /// X ← (I − V M Vᵀ) X for the `length` × `columns` block at `x` (leading
    /// dimension `ldx`), with M = T (`transposedT` false: H_0⋯H_{b−1} times X)
    /// or M = Tᵀ (true: H_{b−1}⋯H_0 times X). Three GEMMs: P = VᵀX, Y = M P,
    /// X −= V Y.
    func applyFromLeft(to x: UnsafeMutablePointer<T>, columns: Int, ldx: Int, transposedT: Bool) {
        guard columns > 0 else { return }
        let b = count
        var p = [T](repeating: 0, count: b * columns), y = [T](repeating: 0, count: b * columns)
        vt.withUnsafeBufferPointer { v in
            p.withUnsafeMutableBufferPointer { pp in
                NativeGEMM.multiply(transposeA: false, transposeB: false, m: b, n: columns, k: length, alpha: 1,
                                    a: v.baseAddress!, lda: length, b: x, ldb: ldx, beta: 0, c: pp.baseAddress!, ldc: columns)
            }
            t.withUnsafeBufferPointer { tp in
                p.withUnsafeBufferPointer { pp in
                    y.withUnsafeMutableBufferPointer { yp in
                        NativeGEMM.multiply(transposeA: transposedT, transposeB: false, m: b, n: columns, k: b, alpha: 1,
                                            a: tp.baseAddress!, lda: b, b: pp.baseAddress!, ldb: columns, beta: 0, c: yp.baseAddress!, ldc: columns)
                    }
                }
            }
            y.withUnsafeBufferPointer { yp in
                NativeGEMM.multiply(transposeA: true, transposeB: false, m: length, n: columns, k: b, alpha: -1,
                                    a: v.baseAddress!, lda: length, b: yp.baseAddress!, ldb: columns, beta: 1, c: x, ldc: ldx)
            }
        }
    }
}
