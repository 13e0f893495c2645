
/// Symmetric eigendecomposition: Householder reduction to tridiagonal form,
/// then the implicit QL algorithm with Wilkinson-type shifts, or, with
/// eigenvectors above `divideAndConquerCrossover`, Cuppen's divide and
/// conquer (`DivideAndConquer`, as LAPACK's syevd).
///
/// Eigenvectors are accumulated as the rows of Zᵀ, so every Householder
/// update and every Givens rotation touches contiguous rows. Reads the lower
/// triangle only. Cost ≈ (4/3)n³ for the reduction; vectors by QL add
/// ≈ (4/3)n³ to form Q and ≈ 3n³ of rotations, by divide and conquer at
/// most (4/3)n³ in the merges' GEMMs (less with deflation) and 2n³ to apply
/// the reflectors, nearly all of it at GEMM speed.
enum NativeEigen {
    static let maxIterationsPerValue = 60

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func decompose<T: Scalar>(_ s: Matrix<T>, computeVectors: Bool) throws -> SymmetricEigen<T> {
        let n = s.rows
        // Work at unit scale, as LAPACK does, so that neither squares nor the
        // convergence test meet overflow or subnormal numbers.
        var scale: T = 0
        s.withUnsafeBufferPointer { p in
            for i in 0..<n { for j in 0...i { scale = Swift.max(scale, p[i * n + j].magnitude) } }
        }
        if scale == 0 {
            return SymmetricEigen(values: [T](repeating: 0, count: n), vectors: computeVectors ? .identity(n) : .zeros(rows: 0, columns: 0))
        }
        var a = (1 / scale) * s
        var d = [T](repeating: 0, count: n), e = [T](repeating: 0, count: n)
        let divideAndConquer = computeVectors && n > divideAndConquerCrossover
        var zt = computeVectors && !divideAndConquer ? Matrix<T>.identity(n) : Matrix<T>.zeros(rows: 0, columns: 0)
        var converged = true
        // Divide and conquer's eigenvectors, as columns (n × n row-major, unordered).
        var columnVectors: [T] = []
        a.withUnsafeMutableBufferPointer { ap in
            let m = ap.baseAddress!
            var taus = [T](repeating: 0, count: n)
            tridiagonalize(m, n: n, d: &d, e: &e, taus: &taus)
            if divideAndConquer {
                // Zᵀ = Uᵀ Qᵀ for T = U Λ Uᵀ by divide and conquer (as syevd: stedc, then ormtr).
                var u = [T](repeating: 0, count: n * n)
                guard let values = u.withUnsafeMutableBufferPointer({ DivideAndConquer<T>.eigen(d: d, e: e, u: $0.baseAddress!) }) else {
                    converged = false
                    return
                }
                d = values
                // The eigenvectors of the original matrix are the columns of Q U (U's columns those of T).
                u.withUnsafeMutableBufferPointer { up in applyReflectorsFromLeft(m, n: n, taus: taus, u: up.baseAddress!) }
                columnVectors = u
            } else if computeVectors {
                zt.withUnsafeMutableBufferPointer { zp in formQ(m, n: n, taus: taus, zt: zp.baseAddress!) }
            }
        }
        if !divideAndConquer {
            converged = zt.withUnsafeMutableBufferPointer { zp in
                implicitQL(n: n, d: &d, e: &e, zt: computeVectors ? zp.baseAddress : nil)
            }
        }
        guard converged else { throw LinearAlgebraError.noConvergence(operation: "symmetricEigen") }
        let order = d.indices.sorted { d[$0] < d[$1] }
        let values = order.map { d[$0] * scale }
        guard computeVectors else { return SymmetricEigen(values: values, vectors: .zeros(rows: 0, columns: 0)) }
        // Column j of the result is eigenvector order[j]: row order[j] of Zᵀ.
        var vectors = Matrix<T>.zeros(rows: n, columns: n)
        if divideAndConquer {
            // Row i of the result gathers row i of Q U in the order of the eigenvalues.
            columnVectors.withUnsafeBufferPointer { qu in
                vectors.withUnsafeMutableBufferPointer { v in
                    for i in 0..<n {
                        let source = qu.baseAddress! + i * n, target = v.baseAddress! + i * n
                        for (j, column) in order.enumerated() { target[j] = source[column] }
                    }
                }
            }
            return SymmetricEigen(values: values, vectors: vectors)
        }
        zt.withUnsafeBufferPointer { z in
            vectors.withUnsafeMutableBufferPointer { v in
                // In 64 × 64 tiles, so that neither side is walked down a column of the whole matrix.
                let tile = 64
                for i0 in stride(from: 0, to: n, by: tile) {
                    let i1 = Swift.min(n, i0 + tile)
                    for j0 in stride(from: 0, to: n, by: tile) {
                        for j in j0..<Swift.min(n, j0 + tile) {
                            let source = z.baseAddress! + order[j] * n
                            for i in i0..<i1 { v[i * n + j] = source[i] }
                        }
                    }
                }
            }
        }
        return SymmetricEigen(values: values, vectors: vectors)
    }

    /// A ← Qᵀ A Q = tridiag(e, d, e) with Householder reflectors
    /// H_k = I − τ_k v_k v_kᵀ acting on indices k+1..<n, Qᵀ = H_{n−3}⋯H_0.
    /// v_k (with its leading 1 implicit) is left in row k of `a` right of the
    /// superdiagonal, and τ_k in `taus[k]`. Only A's lower triangle is read
    /// and kept up to date (row k right of the diagonal is refreshed from
    /// column k when reflector k is formed, then holds v_k).
    ///
    /// Blocked as LAPACK's sytrd: the reflectors of a panel of 32 columns are
    /// found one by one from the trailing block as it stood before the panel,
    /// each product A₂₂v (a pass over contiguous rows, shared across threads)
    /// corrected for the panel's earlier reflectors, A₂₂ − V Wᵀ − W Vᵀ,
    /// without forming it; the panel's rank-64 update is applied at its end
    /// to the lower triangle (as syr2k: bands of rows, two GEMMs each, ≈ half
    /// the flops of the full square). Each step only reads the trailing
    /// block's lower triangle; it is written once per panel, at GEMM speed.
    static func tridiagonalize<T: Scalar>(_ a: UnsafeMutablePointer<T>, n: Int, d: inout [T], e: inout [T], taus: inout [T]) {
        guard n > 0 else { return }
        let reflectors = Swift.max(n - 2, 0)
        let threads = Swift.max(1, Backend.threadCount)
        let panel = 32
        let partials = UnsafeMutablePointer<T>.allocate(capacity: threads * n)
        // The panel's reflectors v_c and their w_c, row c over absolute indices first+1..<n.
        let vp = UnsafeMutablePointer<T>.allocate(capacity: panel * n), wp = UnsafeMutablePointer<T>.allocate(capacity: panel * n)
        // Per reflector: the panel's coefficients, two groups of `panel`.
        let coefficients = UnsafeMutablePointer<T>.allocate(capacity: 2 * panel)
        coefficients.initialize(repeating: 0, count: 2 * panel)
        defer { partials.deallocate(); vp.deallocate(); wp.deallocate(); coefficients.deallocate() }
        let build = NativeKernel.current
        // partials[0..<n−first] ← A[first..<n, first..<n]·v from its lower triangle (`SymmetricProduct`), rows
        // cut into one band of equal triangle area per thread.
        func product(first: Int, _ v: UnsafePointer<T>) {
            let rows = n - first
            let bands = rows * rows >= 1 << 14 ? threads : 1
            for t in 0..<bands { (partials + t * n).initialize(repeating: 0, count: rows) }
            func boundary(_ band: Int) -> Int {
                band == bands ? rows : Int((Double(rows) * (Double(band) / Double(bands)).squareRoot()).rounded())
            }
            Backend.forEachChunk(bands) { band in
                NativeSymmetricProduct.lowerRows(build: build, a: a + first * n + first, lda: n, rows: boundary(band)..<boundary(band + 1),
                                                 v: v, y: partials + band * n)
            }
            for t in 1..<bands { for j in 0..<rows { partials[j] += partials[t * n + j] } }
        }
        for first in stride(from: 0, to: reflectors, by: panel) {
            let width = Swift.min(panel, reflectors - first), length = n - first - 1
            // Row c of the panel, indexed by absolute column (valid from first + 1 on).
            func vRow(_ c: Int) -> UnsafeMutablePointer<T> { vp + c * length - (first + 1) }
            func wRow(_ c: Int) -> UnsafeMutablePointer<T> { wp + c * length - (first + 1) }
            for c in 0..<width {
                let k = first + c, size = n - k - 1
                // Row k, columns k..<n, brought up to date with the panel so far.
                let row = a + k * n
                // Only the lower triangle is kept up to date: row k right of the diagonal is column k below it.
                for j in (k + 1)..<n { row[j] = a[j * n + k] }
                if c > 0 {
                    // row[k..<n] −= Σ_q v_q[k]·w_q + w_q[k]·v_q, as two sums of scaled panel rows.
                    for q in 0..<c { coefficients[q] = -vRow(q)[k]; coefficients[panel + q] = -wRow(q)[k] }
                    NativeColumnProducts.combination(build: build, a: wRow(0) + k, lda: length, rows: 0..<(n - k), columns: c,
                                                     x: coefficients, y: row + k)
                    NativeColumnProducts.combination(build: build, a: vRow(0) + k, lda: length, rows: 0..<(n - k), columns: c,
                                                     x: coefficients + panel, y: row + k)
                }
                let x = row + k + 1
                let (beta, tau) = NativeQR.householder(x, count: size)
                d[k] = row[k]
                e[k] = beta
                taus[k] = tau
                let vc = vRow(c), wc = wRow(c)
                for j in (first + 1)..<(k + 1) { vc[j] = 0; wc[j] = 0 }
                vc[k + 1] = 1
                for i in 1..<size { vc[k + 1 + i] = x[i] }
                let v = vc + k + 1                              // this reflector, over indices k+1..<n
                guard tau != 0 else {
                    for i in 0..<size { wc[k + 1 + i] = 0 }
                    continue
                }
                // p = (A₂₂ − V Wᵀ − W Vᵀ) v over indices k+1..<n, then w = τp − (τ/2)(τpᵀv) v.
                product(first: k + 1, v)
                if c > 0 {
                    // Wᵀv and Vᵀv (dot products with the panel rows), then p −= V(Wᵀv) + W(Vᵀv).
                    NativeColumnProducts.dots(build: build, a: wRow(0) + k + 1, lda: length, rows: size, columns: 0..<c, x: v, y: coefficients)
                    NativeColumnProducts.dots(build: build, a: vRow(0) + k + 1, lda: length, rows: size, columns: 0..<c, x: v,
                                              y: coefficients + panel)
                    for q in 0..<(2 * panel) { coefficients[q] = -coefficients[q] }
                    NativeColumnProducts.combination(build: build, a: vRow(0) + k + 1, lda: length, rows: 0..<size, columns: c,
                                                     x: coefficients, y: partials)
                    NativeColumnProducts.combination(build: build, a: wRow(0) + k + 1, lda: length, rows: 0..<size, columns: c,
                                                     x: coefficients + panel, y: partials)
                }
                var pv: T = 0
                for i in 0..<size {
                    partials[i] *= tau
                    pv += partials[i] * v[i]
                }
                let half = tau * pv / 2
                for i in 0..<size { wc[k + 1 + i] = partials[i] - half * v[i] }
            }
            // The rest, from the panel's end: A₂₂ ← A₂₂ − V Wᵀ − W Vᵀ.
            let next = first + width, rest = n - next
            guard rest > 0 else { continue }
            // Lower triangle only (as syr2k), in bands of rows: band [r0, r1) needs columns 0..<r1.
            let vNext = vRow(0) + next, wNext = wRow(0) + next
            let band = Swift.max(192, (rest + 7) / 8)
            for r0 in stride(from: 0, to: rest, by: band) {
                let r1 = Swift.min(rest, r0 + band), c = a + (next + r0) * n + next
                NativeGEMM.multiply(transposeA: true, transposeB: false, m: r1 - r0, n: r1, k: width, alpha: -1,
                                    a: vNext + r0, lda: length, b: wNext, ldb: length, beta: 1, c: c, ldc: n)
                NativeGEMM.multiply(transposeA: true, transposeB: false, m: r1 - r0, n: r1, k: width, alpha: -1,
                                    a: wNext + r0, lda: length, b: vNext, ldb: length, beta: 1, c: c, ldc: n)
            }
        }
        if n >= 2 {
            d[n - 2] = a[(n - 2) * n + n - 2]
            e[n - 2] = a[(n - 1) * n + n - 2]
        }
        d[n - 1] = a[(n - 1) * n + n - 1]
        e[n - 1] = 0
    }

    /// Zᵀ ← Qᵀ (LAPACK's orgtr) for `zt` holding the identity on entry, from
    /// the reflectors `tridiagonalize` left in `a`: the QL path's starting
    /// vectors (divide and conquer applies Q to its eigenvectors instead, by
    /// `applyReflectorsFromLeft`).
    ///
    /// Blocked, from the last reflectors to the first: a block of b
    /// consecutive reflectors is H_{j+b−1}⋯H_j = I − V Tᵀ Vᵀ (compact WY), so
    /// Zᵀ ← Zᵀ (I − V Tᵀ Vᵀ) is GEMMs over rows and columns j + 1 on (from the
    /// identity nothing else changes), ≈ (4/3)n³ flops.
    static func formQ<T: Scalar>(_ a: UnsafeMutablePointer<T>, n: Int, taus: [T], zt: UnsafeMutablePointer<T>) {
        let reflectors = Swift.max(n - 2, 0)
        guard reflectors > 0 else { return }
        let blockSize = 64
        for first in stride(from: ((reflectors - 1) / blockSize) * blockSize, through: 0, by: -blockSize) {
            let b = Swift.min(blockSize, reflectors - first)
            let s = first + 1, size = n - s                 // the block acts on indices s..<n
            let block = BlockReflector(count: b, length: size, taus: taus[first..<(first + b)]) { c, i in a[(first + c) * n + s + i] }
            block.applyFromRight(to: zt + s * n + s, rows: size, ldx: n, transposedT: true)
        }
    }

    /// U ← Q U = H_0⋯H_{n−3} U for the n × n row-major U (eigenvectors of the
    /// tridiagonal matrix as columns), from the reflectors `tridiagonalize`
    /// left in `a` (LAPACK's ormtr from the left): U's columns become the
    /// original matrix's eigenvectors. Blocks of 64, from the last reflectors
    /// to the first, each H_j⋯H_{j+b−1} = I − V T Vᵀ applied to rows j + 1 on
    /// by three GEMMs; ≈ 2n³ flops. Leaves U in the layout of the result, so
    /// no transposition is needed before or after.
    static func applyReflectorsFromLeft<T: Scalar>(_ a: UnsafeMutablePointer<T>, n: Int, taus: [T], u: UnsafeMutablePointer<T>) {
        let reflectors = Swift.max(n - 2, 0)
        guard reflectors > 0 else { return }
        let blockSize = 64
        for first in stride(from: ((reflectors - 1) / blockSize) * blockSize, through: 0, by: -blockSize) {
            let b = Swift.min(blockSize, reflectors - first)
            let s = first + 1, size = n - s
            let block = BlockReflector(count: b, length: size, taus: taus[first..<(first + b)]) { c, i in a[(first + c) * n + s + i] }
            block.applyFromLeft(to: u + s * n, columns: n, ldx: n, transposedT: false)
        }
    }

    /// Diagonalises tridiag(e, d, e) by implicit QL sweeps; rotations are
    /// applied to the rows of Zᵀ. Returns false if some eigenvalue needed more
    /// than `maxIterationsPerValue` sweeps.
    @inline(__always)
    static func implicitQL<T: Scalar>(n: Int, d: inout [T], e: inout [T], zt: UnsafeMutablePointer<T>?) -> Bool {
        let eps = T.ulpOfOne
        // An off-diagonal entry is negligible when it is small next to its
        // two diagonal neighbours (which keeps small eigenvalues of graded
        // matrices accurate), or next to the whole matrix: when the
        // neighbours are themselves at rounding level of ‖T‖ (a kernel matrix
        // of nearly equal rows, say), the local test alone can stall, and
        // ε‖T‖ is all the accuracy a backward-stable method promises.
        var norm: T = 0
        for i in 0..<n { norm = Swift.max(norm, d[i].magnitude + (i < n - 1 ? e[i].magnitude : 0)) }
        let negligible = eps * norm
        // Rotations are only recorded when there are vectors to apply them to.
        var pending: PendingRotations<T>? = zt == nil ? nil : PendingRotations()
        defer { if let zt { pending?.apply(to: zt, n: n) } }
        for l in 0..<n {
            var iterations = 0
            while true {
                var m = l
                while m < n - 1 {
                    let scale = d[m].magnitude + d[m + 1].magnitude
                    if e[m].magnitude <= eps * scale || e[m].magnitude <= negligible { break }
                    m += 1
                }
                if m == l { break }
                iterations += 1
                if iterations > maxIterationsPerValue { return false }
                // Shift from the leading 2×2 block, chased from the bottom up.
                var g = (d[l + 1] - d[l]) / (2 * e[l])
                var r = hypot(g, 1)
                g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r))
                var s: T = 1, c: T = 1, p: T = 0
                var i = m - 1
                var deflated = false
                pending?.beginSweep(bottom: m)
                while i >= l {
                    let f = s * e[i], b = c * e[i]
                    r = hypot(f, g)
                    e[i + 1] = r
                    if r == 0 {
                        d[i + 1] -= p
                        e[m] = 0
                        deflated = true
                        break
                    }
                    s = f / r
                    c = g / r
                    g = d[i + 1] - p
                    r = (d[i] - g) * s + 2 * c * b
                    p = s * r
                    d[i + 1] = g + p
                    g = c * r - b
                    pending?.append(cosine: c, sine: s)
                    i -= 1
                }
                if let zt, let count = pending?.count, count >= 8 * n { pending?.apply(to: zt, n: n) }
                if deflated { continue }
                d[l] -= p
                e[l] = g
                e[m] = 0
            }
        }
        return true
    }

    /// sqrt(a² + b²) without overflow or harmful underflow.
    @inline(__always)
    static func hypot<T: Scalar>(_ a: T, _ b: T) -> T {
        let x = a.magnitude, y = b.magnitude
        let big = Swift.max(x, y), small = Swift.min(x, y)
        if big == 0 { return 0 }
        let ratio = small / big
        return big * (1 + ratio * ratio).squareRoot()
    }
}

/// QL rotations not yet applied to Zᵀ, sweep by sweep. Applying many sweeps
/// at once lets each narrow band of columns (n rows × 64 values, in L2) go
/// through all of them before the next band is touched, instead of streaming
/// the whole of Zᵀ through the cache once per sweep; bands run in parallel.
/// The rotations themselves run in the `PlaneRotations` kernel of the
/// current `NativeKernel` build.
struct PendingRotations<T: Scalar> {
    private var bottoms: [Int] = [], starts: [Int] = []
    private var cosines: [T] = [], sines: [T] = []

    var count: Int { cosines.count }

    mutating func beginSweep(bottom: Int) {
        bottoms.append(bottom)
        starts.append(cosines.count)
    }

    /// The next rotation of the current sweep: rotation r of a sweep acts on
    /// rows (bottom − r − 1, bottom − r).
    mutating func append(cosine: T, sine: T) {
        cosines.append(cosine)
        sines.append(sine)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    mutating func apply(to zt: UnsafeMutablePointer<T>, n: Int) {
        defer {
            bottoms.removeAll(keepingCapacity: true)
            starts.removeAll(keepingCapacity: true)
            cosines.removeAll(keepingCapacity: true)
            sines.removeAll(keepingCapacity: true)
        }
        guard !cosines.isEmpty else { return }
        let width = 64
        let bands = cosines.count * n >= 1 << 15 ? (n + width - 1) / width : 1
        let bandWidth = bands == 1 ? n : width
        let build = NativeKernel.current
        bottoms.withUnsafeBufferPointer { bp in
            starts.withUnsafeBufferPointer { sp in
                cosines.withUnsafeBufferPointer { cp in
                    sines.withUnsafeBufferPointer { snp in
                        Backend.forEachChunk(bands) { band in
                            let first = band * bandWidth, last = Swift.min(n, first + bandWidth)
                            NativeRotations.apply(build: build, sweepCount: bp.count, bottoms: bp.baseAddress!, starts: sp.baseAddress!,
                                                  rotationCount: cp.count, cosines: cp.baseAddress!, sines: snp.baseAddress!,
                                                  z: zt, ldz: n, columns: first..<last)
                        }
                    }
                }
            }
        }
    }
}

/// Forwards generic rotation sweeps to `PlaneRotations` in the baseline or
/// AVX2 or AVX-512 kernel module.
enum NativeRotations {
    /// One build's `PlaneRotations.apply` for one scalar type.
    typealias Kernel<U> = (_ sweepCount: Int, _ bottoms: UnsafePointer<Int>, _ starts: UnsafePointer<Int>, _ rotationCount: Int,
                           _ cosines: UnsafePointer<U>, _ sines: UnsafePointer<U>,
                           _ z: UnsafeMutablePointer<U>, _ ldz: Int, _ columns: Range<Int>) -> Void

    static func apply<T: Scalar>(build: NativeKernel, sweepCount: Int, bottoms: UnsafePointer<Int>, starts: UnsafePointer<Int>, rotationCount: Int,
                                 cosines: UnsafePointer<T>, sines: UnsafePointer<T>,
                                 z: UnsafeMutablePointer<T>, ldz: Int, columns: Range<Int>) {
        func run<U>(_ kernel: Kernel<U>) {
            kernel(sweepCount, bottoms, starts, rotationCount,
                   UnsafeRawPointer(cosines).assumingMemoryBound(to: U.self), UnsafeRawPointer(sines).assumingMemoryBound(to: U.self),
                   UnsafeMutableRawPointer(z).assumingMemoryBound(to: U.self), ldz, columns)
        }
        switch T.precision {
        case .single: run(build.entries(Float.self).rotations)
        case .double: run(build.entries(Double.self).rotations)
        }
    }


}

/// Forwards the lower-triangle symmetric product of the tridiagonalization to
/// `SymmetricProduct` in the baseline, AVX2 or AVX-512 kernel module.
enum NativeSymmetricProduct {
    /// One build's `SymmetricProduct.lowerRows` for one scalar type.
    typealias Kernel<U> = (_ a: UnsafePointer<U>, _ lda: Int, _ rows: Range<Int>, _ v: UnsafePointer<U>, _ y: UnsafeMutablePointer<U>) -> Void

    /// y[0..<m] += rows `rows` of the symmetric A at `a` (lower triangle read) times v, as
    /// `SymmetricProduct.lowerRows` defines it; O(Σ i) over the rows i.
    static func lowerRows<T: Scalar>(build: NativeKernel, a: UnsafePointer<T>, lda: Int, rows: Range<Int>,
                                     v: UnsafePointer<T>, y: UnsafeMutablePointer<T>) {
        func run<U>(_ kernel: Kernel<U>) {
            kernel(UnsafeRawPointer(a).assumingMemoryBound(to: U.self), lda, rows, UnsafeRawPointer(v).assumingMemoryBound(to: U.self),
                   UnsafeMutableRawPointer(y).assumingMemoryBound(to: U.self))
        }
        switch T.precision {
        case .single: run(build.entries(Float.self).symmetricProduct)
        case .double: run(build.entries(Double.self).symmetricProduct)
        }
    }


}
