extension Matrix {
    /// T⁻¹ for a triangular T (n×n): lower for `.lower`, upper for `.upper`;
    /// only that triangle of T is read and the other triangle of the result
    /// is zero.
    ///
    /// Recursive halving on the current backend's GEMM: with T = [T₁₁ 0; T₂₁ T₂₂]
    /// (lower), T⁻¹ = [X₁₁ 0; −X₂₂T₂₁X₁₁ X₂₂], X₁₁ = T₁₁⁻¹, X₂₂ = T₂₂⁻¹,
    /// down to 64×64 blocks done by substitution. About 2n³/3 flops, nearly
    /// all in GEMM, where solving T X = I column by column (`trsm` on the
    /// identity) costs n³ in a slower kernel. Forward-stable like LAPACK's
    /// `trtri`: the error of each column is bounded by κ(T)·ε·n.
    ///
    /// - Precondition: the matrix is square.
    /// - Throws: `.singular(pivot:)` for a zero diagonal entry; `.nonFiniteInput`.
    public func triangularInverse(triangle: Triangle) throws -> Matrix {
        precondition(isSquare, "triangularInverse: the matrix must be square, got \(rows)×\(columns)")
        try requireFinite("triangularInverse")
        if let zero = diagonalElements.firstIndex(of: 0) { throw LinearAlgebraError.singular(pivot: zero) }
        // The upper case is the lower case transposed.
        let lower = triangle == .lower ? self : transposed()
        var x = Matrix.zeros(rows: rows, columns: columns)
        lower.invertLowerBlock(0..<rows, into: &x)
        return triangle == .lower ? x : x.transposed()
    }

    /// X[r, r] = L[r, r]⁻¹ for the lower-triangular self, recursively.
    private func invertLowerBlock(_ r: Range<Int>, into x: inout Matrix) {
        let n = columns
        guard r.count > 64 else {
            x.elements.withUnsafeMutableBufferPointer { xp in
                elements.withUnsafeBufferPointer { lp in
                    for j in r {
                        xp[j * n + j] = 1 / lp[j * n + j]
                        for i in (j + 1)..<Swift.max(j + 1, r.upperBound) {
                            var sum = Element.zero
                            for k in j..<i { sum += lp[i * n + k] * xp[k * n + j] }
                            xp[i * n + j] = -sum / lp[i * n + i]
                        }
                    }
                }
            }
            return
        }
        let middle = r.lowerBound + r.count / 2
        let top = r.lowerBound..<middle, bottom = middle..<r.upperBound
        invertLowerBlock(top, into: &x)
        invertLowerBlock(bottom, into: &x)
        // X₂₁ = −X₂₂ (L₂₁ X₁₁).
        let product = Matrix.product(submatrix(rows: bottom, columns: top), .none, x.submatrix(rows: top, columns: top), .none)
        Matrix.gemm(x.submatrix(rows: bottom, columns: bottom), .none, product, .none, alpha: -1, beta: 0,
                    into: &x, rows: bottom, columns: top)
    }
}
