/// Triangular solves by substitution, row by row of the right-hand side.
///
/// Left: op(T) X = B. With op(T) lower (T lower, or T upper transposed) rows
/// of X are found top-down, otherwise bottom-up; X[i,:] = (B[i,:] −
/// Σ op(T)[i,k]·X[k,:]) / op(T)[i,i], each term a contiguous row update.
/// Right: X op(T) = B is op(T)ᵀ Xᵀ = Bᵀ, solved as a left solve.
enum NativeTriangular {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func solve<T: Scalar>(_ t: Matrix<T>, _ b: Matrix<T>, triangle: Triangle, transpose: Bool, side: Side) -> Matrix<T> {
        if side == .right {
            return solveLeft(t, b.transposed(), triangle: triangle, transpose: !transpose).transposed()
        }
        return solveLeft(t, b, triangle: triangle, transpose: transpose)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func solveLeft<T: Scalar>(_ t: Matrix<T>, _ b: Matrix<T>, triangle: Triangle, transpose: Bool) -> Matrix<T> {
        let n = t.rows, p = b.columns
        let effectivelyLower = (triangle == .lower) != transpose
        var x = b
        t.withUnsafeBufferPointer { tp in
            x.withUnsafeMutableBufferPointer { xp in
                @inline(__always) func op(_ i: Int, _ k: Int) -> T { transpose ? tp[k * n + i] : tp[i * n + k] }
                let order: [Int] = effectivelyLower ? Array(0..<n) : Array((0..<n).reversed())
                for i in order {
                    let before = effectivelyLower ? 0..<i : (i + 1)..<n
                    for k in before {
                        let f = op(i, k)
                        if f == 0 { continue }
                        for j in 0..<p { xp[i * p + j] -= f * xp[k * p + j] }
                    }
                    let d = op(i, i)
                    for j in 0..<p { xp[i * p + j] /= d }
                }
            }
        }
        return x
    }
}
