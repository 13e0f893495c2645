/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable, Equatable {
    /// `none`: op(X) = X, the matrix as stored; `transposed`: op(X) = Xᵀ, read in place without copying.
    case none, transposed
}

extension Matrix {
    /// C ← α·op(A)·op(B) + β·C through the current backend (BLAS `gemm`).
    ///
    /// op(A) is m×k, op(B) is k×n and C must already be m×n. With β = 0, C's
    /// previous contents are ignored, even NaN. Cost: 2·m·n·k flops.
    public static func gemm(
        _ a: Matrix, _ opA: Transpose = .none,
        _ b: Matrix, _ opB: Transpose = .none,
        alpha: Element = 1, beta: Element = 0,
        into c: inout Matrix
    ) {
        let m = opA == .none ? a.rows : a.columns, n = opB == .none ? b.columns : b.rows
        precondition(c.rows == m && c.columns == n, "gemm: C is \(c.rows)×\(c.columns), expected \(m)×\(n)")
        gemm(a, opA, b, opB, alpha: alpha, beta: beta, into: &c, rows: 0..<m, columns: 0..<n)
    }

    /// C[rows, columns] ← α·op(A)·op(B) + β·C[rows, columns]: a GEMM into a
    /// block of C, in place, leaving the rest of C untouched (the trailing
    /// updates of blocked algorithms such as GPTQ's lazy batches, without
    /// copying the block out and back).
    ///
    /// op(A) is `rows.count`×k and op(B) is k×`columns.count`; both ranges
    /// must lie within C. Cost: 2·|rows|·|columns|·k flops.
    public static func gemm(
        _ a: Matrix, _ opA: Transpose = .none,
        _ b: Matrix, _ opB: Transpose = .none,
        alpha: Element = 1, beta: Element = 0,
        into c: inout Matrix, rows: Range<Int>, columns: Range<Int>
    ) {
        let (m, k) = opA == .none ? (a.rows, a.columns) : (a.columns, a.rows)
        let (kb, n) = opB == .none ? (b.rows, b.columns) : (b.columns, b.rows)
        precondition(k == kb, "gemm: inner dimensions differ (\(m)×\(k) times \(kb)×\(n))")
        precondition(rows.lowerBound >= 0 && rows.upperBound <= c.rows && columns.lowerBound >= 0 && columns.upperBound <= c.columns,
                     "gemm: block \(rows) × \(columns) is outside C (\(c.rows)×\(c.columns))")
        precondition(rows.count == m && columns.count == n, "gemm: the block is \(rows.count)×\(columns.count), expected \(m)×\(n)")
        guard m > 0, n > 0 else { return }
        let kernels = Backend.current.kernels
        let ldc = c.columns
        a.elements.withUnsafeBufferPointer { pa in
            b.elements.withUnsafeBufferPointer { pb in
                c.elements.withUnsafeMutableBufferPointer { pc in
                    kernels.gemm(
                        transposeA: opA == .transposed, transposeB: opB == .transposed,
                        m: m, n: n, k: k, alpha: alpha,
                        a: pa.baseAddress ?? UnsafePointer(bitPattern: 8)!, lda: Swift.max(a.columns, 1),
                        b: pb.baseAddress ?? UnsafePointer(bitPattern: 8)!, ldb: Swift.max(b.columns, 1),
                        beta: beta, c: pc.baseAddress! + rows.lowerBound * ldc + columns.lowerBound, ldc: ldc)
                }
            }
        }
    }

    /// C ← α·A·B + β·C (no transposes).
    public static func gemm(_ a: Matrix, _ b: Matrix, alpha: Element = 1, beta: Element = 0, into c: inout Matrix) {
        gemm(a, .none, b, .none, alpha: alpha, beta: beta, into: &c)
    }

    /// op(A)·op(B) as a new matrix.
    public static func product(_ a: Matrix, _ opA: Transpose = .none, _ b: Matrix, _ opB: Transpose = .none) -> Matrix {
        var c = Matrix.zeros(rows: opA == .none ? a.rows : a.columns, columns: opB == .none ? b.columns : b.rows)
        gemm(a, opA, b, opB, into: &c)
        return c
    }

    /// The matrix product A·B (m×k times k×n), through the current backend.
    public static func * (a: Matrix, b: Matrix) -> Matrix {
        product(a, .none, b, .none)
    }

    /// AᵀA (n×n for an m×n A): the Gram matrix of the columns, exactly
    /// symmetric. Uses `syrk` on OpenBLAS: m·n² flops, half a GEMM.
    public func gram() -> Matrix {
        guard rows > 0, columns > 0 else { return .zeros(rows: columns, columns: columns) }
        return Backend.current.kernels.gram(self)
    }

    /// Aᵀ (n×m), by a cache-blocked copy.
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public func transposed() -> Matrix {
        var out = [Element](repeating: 0, count: count)
        let m = rows, n = columns, block = 32
        elements.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for ib in stride(from: 0, to: m, by: block) {
                    for jb in stride(from: 0, to: n, by: block) {
                        for i in ib..<Swift.min(ib + block, m) {
                            for j in jb..<Swift.min(jb + block, n) { dst[j * m + i] = src[i * n + j] }
                        }
                    }
                }
            }
        }
        return Matrix(rows: n, columns: m, elements: out)
    }

    /// ‖A‖_F = sqrt(Σ aᵢⱼ²), neither overflowing nor underflowing for any
    /// finite entries.
    ///
    /// The squares are summed in Double (eight lanes, chunks across threads):
    /// for Float entries that can neither overflow nor lose small squares.
    /// For Double, a sum that overflowed or may have lost squares to
    /// underflow is redone with the entries scaled by the largest.
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public func frobeniusNorm() -> Element {
        let sum = withUnsafeBufferPointer { Self.sumOfSquares($0, scale: 1) }
        if sum.isNaN { return .nan }
        if Element.precision == .single || (sum.isFinite && sum >= 0x1p-900) || sum == 0 && maxAbs() == 0 {
            return Element(sum.squareRoot())
        }
        let scale = maxAbs()
        guard scale > 0, scale.isFinite else { return scale }
        let scaled = withUnsafeBufferPointer { Self.sumOfSquares($0, scale: 1 / scale.doubleValue) }
        return Element(scale.doubleValue * scaled.squareRoot())
    }

    /// Σ xᵢ² of any buffer of scalars, summed in Double with eight lanes and
    /// chunks across threads (for Float input it cannot overflow or lose
    /// small squares). Used by `frobeniusNorm()` and by streaming code such as
    /// Fisher-norm accumulation.
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public static func sumOfSquares(_ x: UnsafeBufferPointer<Element>) -> Double {
        sumOfSquares(x, scale: 1)
    }

    /// Σ (s·xᵢ)² in Double.
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    static func sumOfSquares(_ x: UnsafeBufferPointer<Element>, scale s: Double) -> Double {
        let chunk = 1 << 16, chunks = (x.count + chunk - 1) / chunk
        var partial = [Double](repeating: 0, count: chunks)
        partial.withUnsafeMutableBufferPointer { sums in
            Backend.forEachChunk(chunks) { c in
                var lanes = SIMD8<Double>()
                var j = c * chunk
                let end = Swift.min(x.count, j + chunk)
                while j + 8 <= end {
                    let v = s * SIMD8<Double>(x[j].doubleValue, x[j + 1].doubleValue, x[j + 2].doubleValue, x[j + 3].doubleValue,
                                              x[j + 4].doubleValue, x[j + 5].doubleValue, x[j + 6].doubleValue, x[j + 7].doubleValue)
                    lanes += v * v
                    j += 8
                }
                var sum = lanes.sum()
                while j < end { let v = s * x[j].doubleValue; sum += v * v; j += 1 }
                sums[c] = sum
            }
        }
        return partial.reduce(0, +)
    }

    /// max |aᵢⱼ| (0 for an empty matrix; NaN if any entry is NaN).
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public func maxAbs() -> Element {
        var m: Element = 0
        for x in elements {
            if x.isNaN { return .nan }
            m = Swift.max(m, x.magnitude)
        }
        return m
    }

    /// A + c·I: `value` added to every diagonal entry (i, i), i < min(m, n).
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public func addingToDiagonal(_ value: Element) -> Matrix {
        var out = self
        let n = columns
        out.elements.withUnsafeMutableBufferPointer { p in
            for i in 0..<Swift.min(rows, columns) { p[i * n + i] += value }
        }
        return out
    }

    /// Σ aᵢᵢ.
    public func trace() -> Element {
        diagonalElements.reduce(0, +)
    }

    /// Multiplies column j by `factors[j]` in place (A ← A diag(f)).
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public mutating func scaleColumns(by factors: [Element]) {
        precondition(factors.count == columns, "scaleColumns: \(factors.count) factors for \(columns) columns")
        let n = columns
        elements.withUnsafeMutableBufferPointer { p in
            for i in 0..<rows {
                for j in 0..<n { p[i * n + j] *= factors[j] }
            }
        }
    }

    /// Multiplies row i by `factors[i]` in place (A ← diag(f) A).
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public mutating func scaleRows(by factors: [Element]) {
        precondition(factors.count == rows, "scaleRows: \(factors.count) factors for \(rows) rows")
        let n = columns
        elements.withUnsafeMutableBufferPointer { p in
            for i in 0..<rows {
                let f = factors[i]
                for j in 0..<n { p[i * n + j] *= f }
            }
        }
    }

    /// The entrywise operations of two same-shaped matrices.
    private enum Entrywise: String { case add = "+", subtract = "-", multiply = "⊙" }

    /// a ← a ∘ b entrywise, in place; the loop is specialised for Float and
    /// Double (a generic operator passed as a closure would go through the
    /// protocol witness per element).
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    private static func entrywise(_ a: inout Matrix, _ b: Matrix, _ op: Entrywise) {
        precondition(a.rows == b.rows && a.columns == b.columns,
                     "Matrix \(op.rawValue): shapes differ (\(a.rows)×\(a.columns) and \(b.rows)×\(b.columns))")
        a.elements.withUnsafeMutableBufferPointer { p in
            b.elements.withUnsafeBufferPointer { q in
                switch op {
                case .add: for i in 0..<p.count { p[i] += q[i] }
                case .subtract: for i in 0..<p.count { p[i] -= q[i] }
                case .multiply: for i in 0..<p.count { p[i] *= q[i] }
                }
            }
        }
    }

    /// The entrywise sum A + B of two matrices of the same shape (a precondition: different shapes trap). O(m·n).
    public static func + (a: Matrix, b: Matrix) -> Matrix { var out = a; entrywise(&out, b, .add); return out }
    /// The entrywise difference A − B of two matrices of the same shape (a precondition: different shapes trap). O(m·n).
    public static func - (a: Matrix, b: Matrix) -> Matrix { var out = a; entrywise(&out, b, .subtract); return out }

    /// The entrywise (Hadamard) product A ⊙ B.
    public func hadamard(_ other: Matrix) -> Matrix { var out = self; Matrix.entrywise(&out, other, .multiply); return out }

    /// A ← A + B, entrywise, in place; the shapes must match (a precondition).
    public static func += (a: inout Matrix, b: Matrix) { entrywise(&a, b, .add) }
    /// A ← A − B, entrywise, in place; the shapes must match (a precondition).
    public static func -= (a: inout Matrix, b: Matrix) { entrywise(&a, b, .subtract) }

    /// The scalar multiple s·A: every entry multiplied by `s`, same shape. O(m·n).
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public static func * (s: Element, a: Matrix) -> Matrix {
        var out = a
        out.elements.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] *= s }
        }
        return out
    }

    /// The scalar multiple A·s, equal to s·A.
    public static func * (a: Matrix, s: Element) -> Matrix { s * a }

    /// The entrywise negation −A, computed as (−1)·A.
    public static prefix func - (a: Matrix) -> Matrix { Element(-1) * a }

    /// Applies `transform` to every entry.
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public func map(_ transform: (Element) throws -> Element) rethrows -> Matrix {
        Matrix(rows: rows, columns: columns, elements: try elements.map(transform))
    }
}
