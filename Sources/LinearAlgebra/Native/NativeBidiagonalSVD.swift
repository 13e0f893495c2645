
/// Thin SVD as LAPACK's gesdd does it, for m ≥ n: Householder
/// bidiagonalisation A = Q B Pᵀ (blocked as gebrd/labrd), the SVD of the
/// upper bidiagonal B = U_B Σ V_Bᵀ by divide and conquer
/// (`BidiagonalDivideConquer`, as bdsdc/lasd0–lasd4), then U = Q U_B and
/// V = P V_B by applying the reflectors in compact-WY blocks.
///
/// Cost for a square n × n matrix: ≈ (8/3)n³ for the bidiagonalisation
/// (half of it matrix–vector products bound by memory bandwidth, half
/// GEMM), at most ≈ (8/3)n³ in the merges' GEMMs (less with deflation), and
/// ≈ 4n³ to apply the reflectors, at GEMM speed. Without vectors: the
/// bidiagonalisation and O(n²) for the values.
enum NativeBidiagonalSVD {
    /// Columns per panel of the blocked bidiagonalisation.
    static let panel = 32

    /// The thin SVD of an m × n matrix with m ≥ n ≥ 1. Works at unit scale
    /// (A / max|aᵢⱼ|) so that no square over- or underflows, as `NativeSVD.jacobi`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func decompose<T: Scalar>(_ a: Matrix<T>, computeVectors: Bool) throws -> SVD<T> {
        let m = a.rows, n = a.columns
        precondition(m >= n && n >= 1)
        let scale = a.maxAbs()
        if scale == 0 { return try NativeSVD.jacobi(a, computeVectors: computeVectors) }
        // Column-major A (leading dimension m) is row-major Aᵀ.
        var at = (T(1) / scale * a).transposed()
        var d = [T](repeating: 0, count: n), e = [T](repeating: 0, count: n)
        var tauq = [T](repeating: 0, count: n), taup = [T](repeating: 0, count: n)
        at.withUnsafeMutableBufferPointer { ap in
            bidiagonalize(ap.baseAddress!, m: m, n: n, d: &d, e: &e, tauq: &tauq, taup: &taup)
        }
        guard computeVectors else {
            let values = try bidiagonalValues(d: d, e: e)
            return SVD(u: .zeros(rows: 0, columns: 0), singularValues: values.map { $0 * scale }, vt: .zeros(rows: 0, columns: 0))
        }
        var solver = BidiagonalDivideConquer<T>(d: d.map { $0.doubleValue }, e: e.map { $0.doubleValue })
        solver.solve(0, n, sqre: 0)
        let sigma = solver.sigma
        let order = sigma.indices.sorted { sigma[$0] > sigma[$1] }
        // Uᵀ (n × m) and Vᵀ (n × n): row r is column order[r] of U_B (padded with zeros) and of V_B.
        var ut = Matrix<T>.zeros(rows: n, columns: m)
        var vt = Matrix<T>.zeros(rows: n, columns: n)
        ut.withUnsafeMutableBufferPointer { up in
            vt.withUnsafeMutableBufferPointer { vp in
                solver.u.withUnsafeBufferPointer { sup in
                    solver.v.withUnsafeBufferPointer { svp in
                        // A permuted transpose, in 64 × 64 tiles so that reads and writes both stay in cache.
                        let tile = 64
                        for r0 in stride(from: 0, to: n, by: tile) {
                            for i0 in stride(from: 0, to: n, by: tile) {
                                for r in r0..<Swift.min(n, r0 + tile) {
                                    let source = order[r]
                                    for i in i0..<Swift.min(n, i0 + tile) {
                                        up[r * m + i] = sup[i * n + source]
                                        vp[r * n + i] = svp[i * n + source]
                                    }
                                }
                            }
                        }
                    }
                }
                at.withUnsafeBufferPointer { ap in
                    applyQ(ap.baseAddress!, m: m, n: n, tauq: tauq, ut: up.baseAddress!)
                    applyP(ap.baseAddress!, m: m, n: n, taup: taup, vt: vp.baseAddress!)
                }
            }
        }
        return SVD(u: ut.transposed(), singularValues: order.map { T(sigma[$0]) * scale }, vt: vt)
    }

    /// Singular values (descending) of the upper bidiagonal B = diag(d) +
    /// superdiag(e) as the non-negative eigenvalues of its Golub–Kahan form
    /// T_GK = tridiag((d₀, e₀, d₁, e₁, …), 0): implicit QL without vectors,
    /// O(n²). Accurate to O(ε‖B‖) (not to high relative accuracy).
    static func bidiagonalValues<T: Scalar>(d: [T], e: [T]) throws -> [T] {
        let n = d.count
        var diagonal = [T](repeating: 0, count: 2 * n), off = [T](repeating: 0, count: 2 * n)
        for i in 0..<n {
            off[2 * i] = d[i]
            if i < n - 1 { off[2 * i + 1] = e[i] }
        }
        guard NativeEigen.implicitQL(n: 2 * n, d: &diagonal, e: &off, zt: nil) else {
            throw LinearAlgebraError.noConvergence(operation: "svd")
        }
        // ±σ in pairs: the n largest eigenvalues are σ₁ … σₙ (zeros appear as ±rounding).
        return Array(diagonal.sorted(by: >).prefix(n)).map { $0.magnitude }.sorted(by: >)
    }

    // MARK: Bidiagonalisation

    /// C ← α op(A) op(B) + β C for column-major operands (leading dimensions
    /// lda, ldb, ldc), through the row-major GEMM: Cᵀ = op(B)ᵀ op(A)ᵀ.
    @inline(__always)
    static func gemmColumnMajor<T: Scalar>(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: T,
                                           _ a: UnsafePointer<T>, _ lda: Int, _ b: UnsafePointer<T>, _ ldb: Int,
                                           _ beta: T, _ c: UnsafeMutablePointer<T>, _ ldc: Int) {
        guard m > 0, n > 0, k > 0 else { return }
        NativeGEMM.multiply(transposeA: transB, transposeB: transA, m: n, n: m, k: k, alpha: alpha,
                            a: b, lda: ldb, b: a, ldb: lda, beta: beta, c: c, ldc: ldc)
    }

    /// y[j] = Σᵢ A(i, j)·x[i] for the column-major rows × cols block at `a`
    /// (y = Aᵀx): one contiguous dot product per column, columns split over
    /// the threads when the block is large. 2·rows·cols flops, one pass over A.
    static func columnDots<T: Scalar>(_ a: UnsafePointer<T>, ld: Int, rows: Int, cols: Int,
                                      _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
        guard cols > 0 else { return }
        let build = NativeKernel.current
        let chunks = rows * cols >= 1 << 15 ? Swift.max(1, Backend.threadCount) : 1
        if chunks == 1 {
            NativeColumnProducts.dots(build: build, a: a, lda: ld, rows: rows, columns: 0..<cols, x: x, y: y)
            return
        }
        Backend.forEachChunk(chunks) { chunk in
            NativeColumnProducts.dots(build: build, a: a, lda: ld, rows: rows, columns: (cols * chunk / chunks)..<(cols * (chunk + 1) / chunks), x: x, y: y)
        }
    }

    /// y[i] += Σⱼ A(i, j)·x[j] for the column-major rows × cols block at `a`
    /// (y += Ax): a sum of scaled columns, rows split over the threads in
    /// bands when the block is large. 2·rows·cols flops, one pass over A.
    static func columnCombination<T: Scalar>(_ a: UnsafePointer<T>, ld: Int, rows: Int, cols: Int,
                                             _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
        guard rows > 0, cols > 0 else { return }
        let build = NativeKernel.current
        let chunks = rows * cols >= 1 << 15 ? Swift.max(1, Backend.threadCount) : 1
        if chunks == 1 {
            NativeColumnProducts.combination(build: build, a: a, lda: ld, rows: 0..<rows, columns: cols, x: x, y: y)
            return
        }
        Backend.forEachChunk(chunks) { chunk in
            let first = (rows * chunk / chunks) & ~15, last = chunk == chunks - 1 ? rows : (rows * (chunk + 1) / chunks) & ~15
            guard first < last else { return }
            NativeColumnProducts.combination(build: build, a: a, lda: ld, rows: first..<last, columns: cols, x: x, y: y)
        }
    }

    /// A = Q B Pᵀ for the column-major m × n (m ≥ n) matrix at `a` (leading
    /// dimension m), as LAPACK's gebrd: B is upper bidiagonal with diagonal
    /// `d` and superdiagonal `e` (e[n−1] unused); Q = H₀⋯H_{n−1},
    /// H_k = I − τq_k u_k u_kᵀ with u_k (leading 1 implicit at row k) below
    /// the diagonal in column k; P = G₀⋯G_{n−2}, G_k = I − τp_k w_k w_kᵀ with
    /// w_k (leading 1 at column k+1) right of the superdiagonal in row k.
    ///
    /// Blocked: each panel of `panel` columns is reduced by `panelReduction`
    /// (labrd), which also returns X and Y with the trailing block's update
    /// A₂₂ ← A₂₂ − V Yᵀ − X Uᵀ, applied by two GEMMs. ≈ 4mn² − (4/3)n³
    /// flops, half in the panels' matrix–vector products.
    static func bidiagonalize<T: Scalar>(_ a: UnsafeMutablePointer<T>, m: Int, n: Int, d: inout [T], e: inout [T], tauq: inout [T], taup: inout [T]) {
        let nb = panel
        let x = UnsafeMutablePointer<T>.allocate(capacity: m * nb), y = UnsafeMutablePointer<T>.allocate(capacity: n * nb)
        let work = UnsafeMutablePointer<T>.allocate(capacity: nb + 1), row = UnsafeMutablePointer<T>.allocate(capacity: n)
        defer { x.deallocate(); y.deallocate(); work.deallocate(); row.deallocate() }
        x.initialize(repeating: 0, count: m * nb)
        y.initialize(repeating: 0, count: n * nb)
        d.withUnsafeMutableBufferPointer { dp in
            e.withUnsafeMutableBufferPointer { ep in
                tauq.withUnsafeMutableBufferPointer { qp in
                    taup.withUnsafeMutableBufferPointer { pp in
                        for i0 in stride(from: 0, to: n, by: nb) {
                            let b = Swift.min(nb, n - i0), mm = m - i0, nn = n - i0
                            let block = a + i0 + i0 * m
                            panelReduction(block, ld: m, rows: mm, cols: nn, nb: b, d: dp.baseAddress! + i0, e: ep.baseAddress! + i0,
                                           tauq: qp.baseAddress! + i0, taup: pp.baseAddress! + i0,
                                           x: x, ldx: mm, y: y, ldy: nn, work: work, row: row)
                            guard b < nn else { continue }
                            // A₂₂ ← A₂₂ − V Yᵀ − X Uᵀ (V: the panel's column reflectors, U: its row reflectors).
                            gemmColumnMajor(false, true, mm - b, nn - b, b, T(-1), block + b, m, y + b, nn, T(1), block + b + b * m, m)
                            gemmColumnMajor(false, false, mm - b, nn - b, b, T(-1), x + b, mm, block + b * m, m, T(1), block + b + b * m, m)
                        }
                    }
                }
            }
        }
    }

    /// Reduces the first nb columns and rows of the column-major rows × cols
    /// block at `a` (LAPACK's labrd for m ≥ n), leaving the trailing block
    /// unchanged, and returns in X (rows × nb, ldx) and Y (cols × nb, ldy) the
    /// factors of its update A₂₂ ← A₂₂ − V Yᵀ − X Uᵀ. Each step brings
    /// column i and row i up to date with the panel's earlier reflectors,
    /// finds the two reflectors, and forms column i of Y (y = τq·A₂₂ᵀu,
    /// corrected) and of X (x = τp·A₂₂w, corrected): two passes over the
    /// trailing block per step. The reflectors' leading entries are left as 1.
    static func panelReduction<T: Scalar>(_ a: UnsafeMutablePointer<T>, ld: Int, rows mm: Int, cols nn: Int, nb: Int,
                                          d: UnsafeMutablePointer<T>, e: UnsafeMutablePointer<T>,
                                          tauq: UnsafeMutablePointer<T>, taup: UnsafeMutablePointer<T>,
                                          x: UnsafeMutablePointer<T>, ldx: Int, y: UnsafeMutablePointer<T>, ldy: Int,
                                          work: UnsafeMutablePointer<T>, row w: UnsafeMutablePointer<T>) {
        let build = NativeKernel.current
        // y[0..<rows] += A·x and y[cols] = Aᵀx for short products (at most nb + 1 columns or rows), serial.
        func add(_ m: UnsafePointer<T>, _ ldm: Int, rows: Int, cols: Int, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
            guard rows > 0, cols > 0 else { return }
            NativeColumnProducts.combination(build: build, a: m, lda: ldm, rows: 0..<rows, columns: cols, x: x, y: y)
        }
        func dots(_ m: UnsafePointer<T>, _ ldm: Int, rows: Int, cols: Int, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
            guard cols > 0 else { return }
            if rows == 0 { y.initialize(repeating: 0, count: cols); return }
            NativeColumnProducts.dots(build: build, a: m, lda: ldm, rows: rows, columns: 0..<cols, x: x, y: y)
        }
        let coefficients = UnsafeMutablePointer<T>.allocate(capacity: 2 * (nb + 1)), scratch = UnsafeMutablePointer<T>.allocate(capacity: 2 * nn)
        defer { coefficients.deallocate(); scratch.deallocate() }
        let minus = coefficients + nb + 1
        for i in 0..<nb {
            let col = a + i * ld
            // A(i:, i) −= A(i:, 0..<i) Y(i, 0..<i)ᵀ + X(i:, 0..<i) A(0..<i, i).
            for j in 0..<i { minus[j] = -y[i + j * ldy] }
            add(a + i, ld, rows: mm - i, cols: i, minus, col + i)
            for j in 0..<i { minus[j] = -col[j] }
            add(x + i, ldx, rows: mm - i, cols: i, minus, col + i)
            let (beta, tau) = NativeQR.householder(col + i, count: mm - i)
            d[i] = beta
            tauq[i] = tau
            guard i + 1 < nn else { taup[i] = 0; e[i] = 0; continue }
            col[i] = 1
            let u = col + i, length = mm - i, rest = nn - i - 1
            // Y(i+1:, i) = τq (A(i:, i+1:)ᵀu − Y(i+1:, 0..<i) A(i:, 0..<i)ᵀu − A(0..<i, i+1:)ᵀ X(i:, 0..<i)ᵀu).
            let yi = y + i * ldy
            columnDots(a + i + (i + 1) * ld, ld: ld, rows: length, cols: rest, u, yi + i + 1)
            dots(a + i, ld, rows: length, cols: i, u, work)
            for j in 0..<i { minus[j] = -work[j] }
            add(y + i + 1, ldy, rows: rest, cols: i, minus, yi + i + 1)
            dots(x + i, ldx, rows: length, cols: i, u, work)
            dots(a + (i + 1) * ld, ld, rows: i, cols: rest, work, scratch)
            for c in 0..<rest { yi[i + 1 + c] = tau * (yi[i + 1 + c] - (i > 0 ? scratch[c] : 0)) }
            // Row i: A(i, i+1:) −= Y(i+1:, 0...i) A(i, 0...i)ᵀ + A(0..<i, i+1:)ᵀ X(i, 0..<i)ᵀ.
            for j in 0...i { coefficients[j] = a[i + j * ld] }
            for c in 0..<rest { scratch[c] = 0 }
            add(y + i + 1, ldy, rows: rest, cols: i + 1, coefficients, scratch)
            for j in 0..<i { coefficients[j] = x[i + j * ldx] }
            dots(a + (i + 1) * ld, ld, rows: i, cols: rest, coefficients, scratch + nn)
            for c in 0..<rest { a[i + (i + 1 + c) * ld] -= scratch[c] + (i > 0 ? scratch[nn + c] : 0) }
            for c in 0..<rest { w[c] = a[i + (i + 1 + c) * ld] }
            let (beta2, tau2) = NativeQR.householder(w, count: rest)
            e[i] = beta2
            taup[i] = tau2
            w[0] = 1
            for c in 0..<rest { a[i + (i + 1 + c) * ld] = w[c] }
            // X(i+1:, i) = τp (A(i+1:, i+1:)w − A(i+1:, 0...i) Y(i+1:, 0...i)ᵀw − X(i+1:, 0..<i) A(0..<i, i+1:)w).
            let xi = x + i * ldx
            for r in (i + 1)..<mm { xi[r] = 0 }
            columnCombination(a + (i + 1) + (i + 1) * ld, ld: ld, rows: mm - i - 1, cols: rest, w, xi + i + 1)
            dots(y + i + 1, ldy, rows: rest, cols: i + 1, w, work)
            for j in 0...i { minus[j] = -work[j] }
            add(a + i + 1, ld, rows: mm - i - 1, cols: i + 1, minus, xi + i + 1)
            for j in 0..<i { work[j] = 0 }
            add(a + (i + 1) * ld, ld, rows: i, cols: rest, w, work)
            for j in 0..<i { minus[j] = -work[j] }
            add(x + i + 1, ldx, rows: mm - i - 1, cols: i, minus, xi + i + 1)
            for r in (i + 1)..<mm { xi[r] *= tau2 }
        }
    }

    /// Uᵀ ← Uᵀ Qᵀ = Uᵀ H_{n−1}⋯H₀ for the n × m row-major Uᵀ, from the column
    /// reflectors `bidiagonalize` left in `a`: with Uᵀ = [U_B 0]ᵀ on entry,
    /// the rows of Uᵀ become the left singular vectors of A. Blocks of 32
    /// reflectors, last first, each two GEMMs (compact WY): ≈ 4mn² − 2n³ flops.
    static func applyQ<T: Scalar>(_ a: UnsafePointer<T>, m: Int, n: Int, tauq: [T], ut: UnsafeMutablePointer<T>) {
        let blockSize = 32
        for first in stride(from: ((n - 1) / blockSize) * blockSize, through: 0, by: -blockSize) {
            let b = Swift.min(blockSize, n - first)
            let block = BlockReflector(count: b, length: m - first, taus: tauq[first..<(first + b)]) { c, i in a[(first + c) * m + first + i] }
            block.applyFromRight(to: ut + first, rows: n, ldx: m, transposedT: true)
        }
    }

    /// Vᵀ ← Vᵀ Pᵀ = Vᵀ G_{n−2}⋯G₀ for the n × n row-major Vᵀ, from the row
    /// reflectors `bidiagonalize` left in `a` (as `applyQ`): ≈ 2n³ flops.
    static func applyP<T: Scalar>(_ a: UnsafePointer<T>, m: Int, n: Int, taup: [T], vt: UnsafeMutablePointer<T>) {
        let reflectors = n - 1
        guard reflectors > 0 else { return }
        let blockSize = 32
        for first in stride(from: ((reflectors - 1) / blockSize) * blockSize, through: 0, by: -blockSize) {
            let b = Swift.min(blockSize, reflectors - first)
            let s = first + 1
            let block = BlockReflector(count: b, length: n - s, taus: taup[first..<(first + b)]) { c, i in a[(s + i) * m + first + c] }
            block.applyFromRight(to: vt + s, rows: n, ldx: n, transposedT: true)
        }
    }
}

/// The SVD of an n × n upper bidiagonal B (diagonal d, superdiagonal e) by
/// divide and conquer, as LAPACK's bdsdc (lasd0–lasd4).
///
/// A node is rows lo..<hi and columns lo..<hi+sqre of B (sqre ∈ {0, 1}: a
/// left child has one column more than rows). It is split at row k (about
/// the middle) into the left child (rows lo..<k, columns lo...k, sqre 1),
/// the row k (α = d_k at column k, β = e_k at column k+1) and the right
/// child (rows k+1..<hi, sqre of the node). With the children's SVDs
/// B₁ = U₁[D₁ 0]V₁ᵀ and B₂ = U₂[D₂ (0)]V₂ᵀ,
///     B = diag(U₁, 1, U₂) · M · Wᵀ,   M = e₀ zᵀ + diag(0, D₁, D₂),
/// where z = (α l₁, β f₂) from the last row of V₁ and the first row of V₂,
/// and the null columns of V₁ and V₂ are rotated into one column with
/// z₀ = ‖(α l₁ₙ, β f₂ₙ)‖ and (if sqre) the node's null vector. After
/// deflation (lasd2), the singular values of M are the roots of the secular
/// equation 1 + Σ z_j²/(d_j² − σ²) = 0, solved for σ² − d_o² relative to the
/// nearer pole d_o (`DivideAndConquer.root`, squared); z is recomputed from
/// the roots (Gu–Eisenstat) and M's vectors are v ∝ (ẑ_j/(d_j² − σ²))_j,
/// u ∝ (−1, (d_j ẑ_j/(d_j² − σ²))_{j≥1}). The node's vectors are the
/// children's times those: two GEMMs per side, restricted by the zero
/// pattern (columns of the top child, of both, of the bottom child).
/// Leaves of at most `leafSize` rows are dense SVDs by one-sided Jacobi.
///
/// Cost: at most ≈ (8/3)n³ flops in GEMMs (less with deflation), O(n²) per
/// merge in Double for the secular equation.
struct BidiagonalDivideConquer<T: Scalar> {
    static var leafSize: Int { 32 }

    let n: Int
    var d: [Double], e: [Double]
    /// U_B and V_B, n × n row-major; column j goes with sigma[j].
    var u: [T], v: [T]
    var sigma: [Double]

    init(d: [Double], e: [Double]) {
        n = d.count
        self.d = d
        self.e = e
        u = [T](repeating: 0, count: n * n)
        v = [T](repeating: 0, count: n * n)
        sigma = [Double](repeating: 0, count: n)
    }

    /// Solves the node rows lo..<hi, columns lo..<hi+sqre: on return
    /// u[lo..<hi, lo..<hi], v[lo..<hi+sqre, lo..<hi+sqre] and sigma[lo..<hi]
    /// hold its SVD (with sqre, column hi of v is its null vector).
    mutating func solve(_ lo: Int, _ hi: Int, sqre: Int) {
        let size = hi - lo
        if size <= Self.leafSize { leaf(lo, hi, sqre: sqre); return }
        let k = lo + size / 2
        solve(lo, k, sqre: 1)
        solve(k + 1, hi, sqre: sqre)
        merge(lo, k, hi, sqre: sqre)
    }

    /// The node's dense r × (r + sqre) matrix decomposed by one-sided Jacobi
    /// (`NativeSVD.jacobi`, its transpose when sqre = 1, the null vector
    /// completed by `NativeSVD.completedBasis`). O(r³) per leaf.
    mutating func leaf(_ lo: Int, _ hi: Int, sqre: Int) {
        let rows = hi - lo, cols = rows + sqre
        var b = Matrix<T>.zeros(rows: rows, columns: cols)
        for i in 0..<rows {
            b[i, i] = T(d[lo + i])
            if i + 1 < cols { b[i, i + 1] = T(e[lo + i]) }
        }
        if sqre == 0 {
            let s = try! NativeSVD.jacobi(b, computeVectors: true)
            for c in 0..<rows {
                sigma[lo + c] = s.singularValues[c].doubleValue
                for r in 0..<rows {
                    u[(lo + r) * n + lo + c] = s.u[r, c]
                    v[(lo + r) * n + lo + c] = s.vt[c, r]
                }
            }
        } else {
            // Bᵀ = U' Σ V'ᵀ: B = V' Σ U'ᵀ.
            let s = try! NativeSVD.jacobi(b.transposed(), computeVectors: true)
            var basis = Matrix<T>.zeros(rows: cols, columns: cols)
            for c in 0..<rows { for r in 0..<cols { basis[c, r] = s.u[r, c] } }
            basis = NativeSVD.completedBasis(basis, count: rows, dimension: cols)
            for c in 0..<rows {
                sigma[lo + c] = s.singularValues[c].doubleValue
                for r in 0..<rows { u[(lo + r) * n + lo + c] = s.vt[c, r] }
            }
            for c in 0..<cols { for r in 0..<cols { v[(lo + r) * n + lo + c] = basis[c, r] } }
        }
    }

    /// Merges the solved children lo..<k and k+1..<hi through row k (lasd1–lasd3; see the type's doc).
    mutating func merge(_ lo: Int, _ k: Int, _ hi: Int, sqre: Int) {
        let n = self.n
        let alpha = d[k], beta = e[k]
        let vEnd = hi + sqre                                   // v rows/columns lo..<vEnd
        let eps = T.ulpOfOne.doubleValue
        var z = [Double](repeating: 0, count: n)               // indexed by column slot
        var c0 = 1.0, s0 = 0.0
        let z0a = alpha * v[k * n + k].doubleValue
        let z0b = sqre == 1 ? beta * v[(k + 1) * n + hi].doubleValue : 0
        let r0 = NativeEigen.hypot(z0a, z0b)
        if sqre == 1 && r0 > 0 { c0 = z0a / r0; s0 = z0b / r0 }
        for slot in lo..<k { z[slot] = alpha * v[k * n + slot].doubleValue }
        for slot in (k + 1)..<hi { z[slot] = beta * v[(k + 1) * n + slot].doubleValue }
        if sqre == 1 {
            // Column k ← c·v₁ₙ + s·v₂ₙ (middle entry r₀), column hi ← −s·v₁ₙ + c·v₂ₙ (the null vector).
            let ct = T(c0), st = T(s0)
            for r in lo..<vEnd {
                let xr = v[r * n + k], yr = v[r * n + hi]
                v[r * n + k] = ct * xr + st * yr
                v[r * n + hi] = ct * yr - st * xr
            }
            z[k] = r0
        } else {
            z[k] = z0a
        }
        u[k * n + k] = 1
        // Deflation (lasd2).
        var dmax = 0.0
        for slot in lo..<hi where slot != k { dmax = Swift.max(dmax, sigma[slot]) }
        let tol = 8 * eps * Swift.max(dmax, alpha.magnitude, beta.magnitude)
        if z[k].magnitude <= tol { z[k] = tol }
        // Types: 1 nonzero only in the top child's rows, 3 only in the bottom's, 2 in both.
        var type = [UInt8](repeating: 0, count: n)
        for slot in lo..<k { type[slot] = 1 }
        for slot in (k + 1)..<hi { type[slot] = 3 }
        let others = (Array(lo..<k) + Array((k + 1)..<hi)).sorted { sigma[$0] < sigma[$1] }
        var survivors = [k]
        var pj = -1
        for nj in others {
            if z[nj].magnitude <= tol { continue }
            if pj < 0 { pj = nj; continue }
            if sigma[nj] - sigma[pj] <= tol {
                // Equal poles: rotate columns pj and nj of U and V so that z_pj = 0; pj deflates.
                let tau = NativeEigen.hypot(z[nj], z[pj])
                let cs = z[nj] / tau, sn = -z[pj] / tau
                let ct = T(cs), st = T(sn)
                for r in lo..<hi {
                    let xr = u[r * n + pj], yr = u[r * n + nj]
                    u[r * n + pj] = ct * xr + st * yr
                    u[r * n + nj] = ct * yr - st * xr
                }
                for r in lo..<vEnd {
                    let xr = v[r * n + pj], yr = v[r * n + nj]
                    v[r * n + pj] = ct * xr + st * yr
                    v[r * n + nj] = ct * yr - st * xr
                }
                z[nj] = tau
                z[pj] = 0
                if type[nj] != type[pj] { type[nj] = 2 }
            } else {
                survivors.append(pj)
            }
            pj = nj
        }
        if pj >= 0 { survivors.append(pj) }
        let count = survivors.count
        var poles = survivors.map { sigma[$0] }
        poles[0] = 0
        if count > 1 && poles[1] < tol / 2 { poles[1] = tol / 2 }
        let zs = survivors.map { z[$0] }
        // Rows of Uₖᵀ and Vₖᵀ: the vectors of the survivors' M (component j at survivor j).
        var ukt = [T](repeating: 0, count: count * count), vkt = [T](repeating: 0, count: count * count)
        let values = Self.secular(d: poles, z: zs, ut: &ukt, vt: &vkt)

        // U: rows lo..<k from the type-1/2 survivors, row k = Uₖ[0, :], rows k+1..<hi from the type-2/3 survivors.
        // V: rows lo...k from the type-1/2 survivors, rows k+1..<vEnd from the type-2/3 ones; survivor 0 (column k)
        // is type 2 when sqre (after the rotation), else type 1.
        let typeOfFirst: UInt8 = sqre == 1 ? 2 : 1
        var newU = [T](repeating: 0, count: (hi - lo) * count), newV = [T](repeating: 0, count: (vEnd - lo) * count)
        func product(_ matrix: [T], rows: Range<Int>, columns: [Int], factor: [T], into out: inout [T], outRow: Int) {
            let p = columns.count
            guard p > 0, !rows.isEmpty else { return }
            var gathered = [T](repeating: 0, count: rows.count * p), x = [T](repeating: 0, count: count * p)
            for (ri, r) in rows.enumerated() { for (ci, j) in columns.enumerated() { gathered[ri * p + ci] = matrix[r * n + survivors[j]] } }
            for i in 0..<count { for (ci, j) in columns.enumerated() { x[i * p + ci] = factor[i * count + j] } }
            gathered.withUnsafeBufferPointer { gp in
                x.withUnsafeBufferPointer { xp in
                    out.withUnsafeMutableBufferPointer { op in
                        NativeGEMM.multiply(transposeA: false, transposeB: true, m: rows.count, n: count, k: p, alpha: 1,
                                            a: gp.baseAddress!, lda: p, b: xp.baseAddress!, ldb: p, beta: 0,
                                            c: op.baseAddress! + outRow * count, ldc: count)
                    }
                }
            }
        }
        let topColumns = (1..<count).filter { type[survivors[$0]] != 3 }
        let bottomColumns = (1..<count).filter { type[survivors[$0]] != 1 }
        product(u, rows: lo..<k, columns: topColumns, factor: ukt, into: &newU, outRow: 0)
        product(u, rows: (k + 1)..<hi, columns: bottomColumns, factor: ukt, into: &newU, outRow: k + 1 - lo)
        for i in 0..<count { newU[(k - lo) * count + i] = ukt[i * count] }
        let vTop = (typeOfFirst != 3 ? [0] : []) + topColumns
        let vBottom = (typeOfFirst != 1 ? [0] : []) + bottomColumns
        product(v, rows: lo..<(k + 1), columns: vTop, factor: vkt, into: &newV, outRow: 0)
        product(v, rows: (k + 1)..<vEnd, columns: vBottom, factor: vkt, into: &newV, outRow: k + 1 - lo)
        for (i, slot) in survivors.enumerated() { sigma[slot] = values[i] }
        // Row by row, so that the writes stay within a row of U and of V.
        for r in lo..<hi { for (i, slot) in survivors.enumerated() { u[r * n + slot] = newU[(r - lo) * count + i] } }
        for r in lo..<vEnd { for (i, slot) in survivors.enumerated() { v[r * n + slot] = newV[(r - lo) * count + i] } }
    }

    /// The SVD of the K × K matrix M = e₀ zᵀ + diag(d) for 0 = d₀ < d₁ < … <
    /// d_{K−1} and z₀ ≠ 0, z_j ≠ 0 (a merge's survivors): returns σ₀ < … <
    /// σ_{K−1} (σ_i ∈ (d_i, d_{i+1})) and writes the unit left and right
    /// singular vectors as rows of `ut` and `vt` (K × K row-major).
    ///
    /// Each σ_i² is a root of 1 + Σ z_j²/(d_j² − σ²), found as τ = σ² − d_o²
    /// relative to the nearer pole (`DivideAndConquer.root`, squared), so that
    /// d_j − σ_i = (d_j − d_o) − τ/(d_o + σ_i) is accurate. Then (Gu–Eisenstat)
    /// ẑ_j² = ∏_i (σ_i² − d_j²) / ∏_{i≠j} (d_i² − d_j²), with the sign of z_j,
    /// makes the σ exact for M̂ = e₀ẑᵀ + diag(d), whose vectors
    /// v_i ∝ ẑ_j/(d_j² − σ_i²), u_i ∝ (−1, d_j ẑ_j/(d_j² − σ_i²)) are
    /// orthogonal to working precision. O(K²), in Double, over the threads.
    static func secular(d: [Double], z: [Double], ut: inout [T], vt: inout [T]) -> [Double] {
        let k = d.count
        if k == 1 {
            ut[0] = -1
            vt[0] = z[0] < 0 ? 1 : -1
            return [z[0].magnitude]
        }
        let eps = Double.ulpOfOne
        var zsum = 0.0
        for x in z { zsum += x * x }
        // delta[i·K + j] = d_j − σ_i.
        let delta = UnsafeMutablePointer<Double>.allocate(capacity: k * k)
        defer { delta.deallocate() }
        var sigmas = [Double](repeating: 0, count: k)
        let chunks = k >= 64 ? Swift.max(1, Backend.threadCount) * 4 : 1
        sigmas.withUnsafeMutableBufferPointer { sp in
            d.withUnsafeBufferPointer { dp in
                z.withUnsafeBufferPointer { zp in
                    let sigma = sp.baseAddress!, d = dp.baseAddress!, z = zp.baseAddress!
                    Backend.forEachChunk(chunks) { chunk in
                        for i in (k * chunk / chunks)..<(k * (chunk + 1) / chunks) {
                            let row = delta + i * k
                            let (origin, tau) = DivideAndConquer<T>.root(i, k: k, d: d, z: z, rho: 1, zsum: zsum, eps: eps,
                                                                         shifted: row, squared: true)
                            let dOrigin = d[origin]
                            let s = (dOrigin * dOrigin + tau).squareRoot()
                            let shift = tau / (dOrigin + s)             // σ − d_o
                            for j in 0..<k { row[j] = (d[j] - dOrigin) - shift }
                            sigma[i] = s
                        }
                    }
                }
            }
        }
        var zhat = [Double](repeating: 1, count: k)
        for j in 0..<k {
            let dj = d[j]
            var p = -delta[j * k + j] * (dj + sigmas[j])
            for i in 0..<k where i != j {
                p *= -delta[i * k + j] * (dj + sigmas[i]) / ((d[i] - dj) * (d[i] + dj))
            }
            let magnitude = Swift.max(p, 0).squareRoot()
            zhat[j] = z[j] < 0 ? -magnitude : magnitude
        }
        ut.withUnsafeMutableBufferPointer { up in
            vt.withUnsafeMutableBufferPointer { vp in
                let uo = up.baseAddress!, vo = vp.baseAddress!
                zhat.withUnsafeBufferPointer { hp in
                    d.withUnsafeBufferPointer { dp in
                        let h = hp.baseAddress!, d = dp.baseAddress!
                        let sigma = sigmas
                        Backend.forEachChunk(chunks) { chunk in
                            var vrow = [Double](repeating: 0, count: k)
                            for i in (k * chunk / chunks)..<(k * (chunk + 1) / chunks) {
                                let row = delta + i * k
                                var vn = 0.0, un = 1.0
                                for j in 0..<k {
                                    let x = h[j] / (row[j] * (d[j] + sigma[i]))
                                    vrow[j] = x
                                    vn += x * x
                                    if j > 0 { un += (d[j] * x) * (d[j] * x) }
                                }
                                let vi = 1 / vn.squareRoot(), ui = 1 / un.squareRoot()
                                uo[i * k] = T(-ui)
                                for j in 0..<k {
                                    vo[i * k + j] = T(vrow[j] * vi)
                                    if j > 0 { uo[i * k + j] = T(d[j] * vrow[j] * ui) }
                                }
                            }
                        }
                    }
                }
            }
        }
        return sigmas
    }
}

/// Forwards the bidiagonalization's matrix–vector products to
/// `ColumnProducts` in the baseline, AVX2 or AVX-512 kernel module.
enum NativeColumnProducts {
    typealias Dots<U> = (_ a: UnsafePointer<U>, _ lda: Int, _ rows: Int, _ columns: Range<Int>, _ x: UnsafePointer<U>, _ y: UnsafeMutablePointer<U>) -> Void
    typealias Combination<U> = (_ a: UnsafePointer<U>, _ lda: Int, _ rows: Range<Int>, _ columns: Int, _ x: UnsafePointer<U>, _ y: UnsafeMutablePointer<U>) -> Void

    /// y[j] = Σ_{i<rows} A(i, j)·x[i] for j in `columns` (column-major A at `a`), as `ColumnProducts.dots`.
    static func dots<T: Scalar>(build: NativeKernel, a: UnsafePointer<T>, lda: Int, rows: Int, columns: Range<Int>,
                                x: UnsafePointer<T>, y: UnsafeMutablePointer<T>) {
        func run<U>(_ kernel: Dots<U>) {
            kernel(UnsafeRawPointer(a).assumingMemoryBound(to: U.self), lda, rows, columns, UnsafeRawPointer(x).assumingMemoryBound(to: U.self),
                   UnsafeMutableRawPointer(y).assumingMemoryBound(to: U.self))
        }
        switch T.precision {
        case .single: run(build.entries(Float.self).dots)
        case .double: run(build.entries(Double.self).dots)
        }
    }

    /// y[i] += Σ_{j<columns} A(i, j)·x[j] for i in `rows` (column-major A at `a`), as `ColumnProducts.combination`.
    static func combination<T: Scalar>(build: NativeKernel, a: UnsafePointer<T>, lda: Int, rows: Range<Int>, columns: Int,
                                       x: UnsafePointer<T>, y: UnsafeMutablePointer<T>) {
        func run<U>(_ kernel: Combination<U>) {
            kernel(UnsafeRawPointer(a).assumingMemoryBound(to: U.self), lda, rows, columns, UnsafeRawPointer(x).assumingMemoryBound(to: U.self),
                   UnsafeMutableRawPointer(y).assumingMemoryBound(to: U.self))
        }
        switch T.precision {
        case .single: run(build.entries(Float.self).combination)
        case .double: run(build.entries(Double.self).combination)
        }
    }




}
