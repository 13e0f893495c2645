/// Cuppen's divide and conquer for the symmetric tridiagonal eigenproblem
/// with eigenvectors, as LAPACK's stedc (laed0–laed4) does it.
///
/// T = tridiag(e, d, e) is torn at the middle by a rank-one change,
/// T = diag(T₁, T₂) + ρ v vᵀ with v = e_{m−1} + sign(β) e_m and ρ = |β|
/// (β the off-diagonal entry that couples the halves, subtracted from the two
/// diagonal entries it touches). The halves are solved recursively, T_k = Q_k
/// Λ_k Q_kᵀ (implicit QL at leaves of at most `leafSize`), and the merge
/// diagonalises D + ρ z zᵀ with D = diag(Λ₁, Λ₂) and z = diag(Q₁, Q₂)ᵀ v:
/// after deflation its eigenvalues are the roots of the secular equation
/// 1 + ρ Σ z_j²/(d_j − λ) = 0 and its eigenvectors are (D − λI)⁻¹ẑ, so that
/// the merged eigenvectors are diag(Q₁, Q₂)·V, one GEMM per half.
///
/// All the O(n²) work of a merge (deflation, roots, ẑ, V) runs in Double
/// for both scalar types; the O(n³) work (the GEMMs) runs in T. The total is
/// ≈ (4/3)n³ flops without deflation, less with it (LAPACK's count).
struct DivideAndConquer<T: Scalar> {
    /// Subproblems of at most this size are solved by implicit QL.
    static var leafSize: Int { 64 }

    let n: Int
    /// Eigenvectors, n × n row-major: after `solve(lo, hi)` the block
    /// u[lo..<hi, lo..<hi] holds the subproblem's eigenvectors as columns
    /// (row i = component i), and the rest of rows/columns lo..<hi is zero.
    let u: UnsafeMutablePointer<T>
    /// Diagonal (torn in place as the recursion descends, eigenvalues of each
    /// solved subproblem on return, in no particular order) and off-diagonal
    /// (e[i] couples i and i + 1), in Double.
    var d: [Double], e: [Double]

    /// Diagonalises tridiag(e, d, e) of order n: on return `values` are its
    /// eigenvalues (unordered) and column j of `u` (n × n row-major, any
    /// contents on entry) is the unit eigenvector of `values[j]`. Returns nil
    /// if the QL of some leaf did not converge.
    ///
    /// Cost ≈ (4/3)n³ flops in GEMMs (less with deflation), O(n²) per merge
    /// for the secular equation, and ≈ 3·n·leafSize² for the leaves.
    static func eigen(d: [T], e: [T], u: UnsafeMutablePointer<T>) -> [T]? {
        let n = d.count
        u.initialize(repeating: 0, count: n * n)
        var solver = DivideAndConquer(n: n, u: u, d: d.map { $0.doubleValue }, e: e.map { $0.doubleValue })
        guard solver.solve(0, n) else { return nil }
        return solver.d.map { T($0) }
    }

    /// Solves the subproblem on indices lo..<hi: tears it at the middle,
    /// solves both halves and merges them (or runs QL on a leaf).
    mutating func solve(_ lo: Int, _ hi: Int) -> Bool {
        let size = hi - lo
        if size <= Self.leafSize { return leaf(lo, hi) }
        let mid = lo + size / 2
        let beta = e[mid - 1]
        d[mid - 1] -= beta.magnitude
        d[mid] -= beta.magnitude
        guard solve(lo, mid), solve(mid, hi) else { return false }
        merge(lo, mid, hi, beta: beta)
        return true
    }

    /// Implicit QL with vectors on the leaf lo..<hi (its last coupling is
    /// ignored: the tear removed it), scaled to unit max-norm; writes the leaf's eigenvectors as
    /// columns of u[lo..<hi, lo..<hi]. Cost ≈ 3m³ for a leaf of order m.
    mutating func leaf(_ lo: Int, _ hi: Int) -> Bool {
        let m = hi - lo
        // At unit scale, as dsteqr: a leaf of a matrix with (nearly) zero eigenvalues can sit entirely in
        // subnormal numbers, where QL's rotations lose their orthogonality.
        var scale = 0.0
        for i in lo..<hi { scale = Swift.max(scale, d[i].magnitude, i < hi - 1 ? e[i].magnitude : 0) }
        if scale == 0 { scale = 1 }
        var dl = (lo..<hi).map { T(d[$0] / scale) }
        var el = (lo..<hi).map { $0 < hi - 1 ? T(e[$0] / scale) : 0 }
        var zt = [T](repeating: 0, count: m * m)
        for i in 0..<m { zt[i * m + i] = 1 }
        let converged = zt.withUnsafeMutableBufferPointer { NativeEigen.implicitQL(n: m, d: &dl, e: &el, zt: $0.baseAddress) }
        guard converged else { return false }
        for c in 0..<m {
            d[lo + c] = dl[c].doubleValue * scale
            for r in 0..<m { u[(lo + r) * n + lo + c] = zt[c * m + r] }
        }
        return true
    }

    /// Merges the solved halves lo..<mid and mid..<hi, coupled by β, into the
    /// eigendecomposition of the subproblem lo..<hi (as laed1–laed3).
    ///
    /// z is the last row of Q₁ and sign(β)·the first row of Q₂, normalised
    /// (ρ ← 2|β|). Deflation, in ascending order of d, with
    /// tol = 8ε·max(max|d|, max|z|) (ε of T): a component with ρ|z_i| ≤ tol
    /// keeps d_i and its column of diag(Q₁, Q₂); for neighbours whose
    /// rotation G zeroing z_i would change D by |(d_j − d_i)cs| ≤ tol, G is
    /// applied to the two columns and d_i deflates. The K survivors give the
    /// K × K matrix V (`secular`), and their columns, grouped as in laed2
    /// into those nonzero only in the top half, in both, and only in the
    /// bottom half, are multiplied by V in two GEMMs of
    /// 2·(n₁(k₁+k₂) + n₂(k₂+k₃))·K flops, the results replacing them.
    mutating func merge(_ lo: Int, _ mid: Int, _ hi: Int, beta: Double) {
        let size = hi - lo, n1 = mid - lo, n2 = hi - mid
        let eps = T.ulpOfOne.doubleValue
        var z = [Double](repeating: 0, count: size)
        let sign: Double = beta < 0 ? -1 : 1
        for j in 0..<n1 { z[j] = u[(mid - 1) * n + lo + j].doubleValue }
        for j in 0..<n2 { z[n1 + j] = sign * u[mid * n + mid + j].doubleValue }
        var zz = 0.0
        for x in z { zz += x * x }
        guard zz > 0 else { return }
        let rho = beta.magnitude * zz
        let zn = 1 / zz.squareRoot()
        for j in 0..<size { z[j] *= zn }
        var dl = Array(d[lo..<hi])
        let order = (0..<size).sorted { dl[$0] < dl[$1] }
        var dmax = 0.0, zmax = 0.0
        for j in 0..<size { dmax = Swift.max(dmax, dl[j].magnitude); zmax = Swift.max(zmax, z[j].magnitude) }
        let tol = 8 * eps * Swift.max(dmax, zmax)
        if rho * zmax <= tol { return }                       // everything deflates: diag(Q₁, Q₂) already holds the vectors

        // Deflation. Column types: 1 nonzero only in rows lo..<mid, 3 only in mid..<hi, 2 in both.
        var type = (0..<size).map { $0 < n1 ? 1 : 3 }
        var survivors: [Int] = []
        survivors.reserveCapacity(size)
        var pj = -1
        for nj in order {
            if rho * z[nj].magnitude <= tol { continue }
            if pj < 0 { pj = nj; continue }
            let s = z[pj], c = z[nj]
            let tau = NativeEigen.hypot(c, s)
            let t = dl[nj] - dl[pj]
            let cs = c / tau, sn = -s / tau
            if (t * cs * sn).magnitude <= tol {
                z[nj] = tau
                z[pj] = 0
                let ct = T(cs), st = T(sn)
                let x = u + lo * n + lo + pj, y = u + lo * n + lo + nj
                for r in 0..<size {
                    let xr = x[r * n], yr = y[r * n]
                    x[r * n] = ct * xr + st * yr
                    y[r * n] = ct * yr - st * xr
                }
                let dp = dl[pj] * cs * cs + dl[nj] * sn * sn
                dl[nj] = dl[pj] * sn * sn + dl[nj] * cs * cs
                dl[pj] = dp
                if type[nj] != type[pj] { type[nj] = 2 }
            } else {
                survivors.append(pj)
            }
            pj = nj
        }
        if pj >= 0 { survivors.append(pj) }
        for j in 0..<size { d[lo + j] = dl[j] }
        let k = survivors.count
        guard k > 0 else { return }

        // Survivors in ascending d for the secular equation; packed by type for the GEMMs.
        let ds = survivors.map { dl[$0] }, zs = survivors.map { z[$0] }
        var packed: [Int] = []                                 // secular indices in packed order
        packed.reserveCapacity(k)
        for wanted in 1...3 { for (i, col) in survivors.enumerated() where type[col] == wanted { packed.append(i) } }
        let k1 = survivors.reduce(0) { $0 + (type[$1] == 1 ? 1 : 0) }
        let k3 = survivors.reduce(0) { $0 + (type[$1] == 3 ? 1 : 0) }
        let k12 = k - k3, k23 = k - k1
        var packRow = [Int](repeating: 0, count: k)
        for (position, i) in packed.enumerated() { packRow[i] = position }

        // Vᵀ (K × K, row i = eigenvector i of D + ρzzᵀ over the survivors, in packed order).
        var vt = [T](repeating: 0, count: k * k)
        let lambdas = vt.withUnsafeMutableBufferPointer { Self.secular(d: ds, z: zs, rho: rho, packRow: packRow, vt: $0.baseAddress!) }

        // P_top = top rows of the type-1 and type-2 columns, P_bottom = bottom rows of types 2 and 3.
        var top = [T](repeating: 0, count: n1 * Swift.max(k12, 1)), bottom = [T](repeating: 0, count: n2 * Swift.max(k23, 1))
        for r in 0..<n1 {
            let row = u + (lo + r) * n + lo
            for c in 0..<k12 { top[r * k12 + c] = row[survivors[packed[c]]] }
        }
        for r in 0..<n2 {
            let row = u + (mid + r) * n + lo
            for c in 0..<k23 { bottom[r * k23 + c] = row[survivors[packed[k1 + c]]] }
        }
        var result = [T](repeating: 0, count: size * k)
        result.withUnsafeMutableBufferPointer { rp in
            vt.withUnsafeBufferPointer { vp in
                if k12 > 0 {
                    top.withUnsafeBufferPointer { tp in
                        NativeGEMM.multiply(transposeA: false, transposeB: true, m: n1, n: k, k: k12, alpha: 1, a: tp.baseAddress!, lda: k12,
                                            b: vp.baseAddress!, ldb: k, beta: 0, c: rp.baseAddress!, ldc: k)
                    }
                }
                if k23 > 0 {
                    bottom.withUnsafeBufferPointer { bp in
                        NativeGEMM.multiply(transposeA: false, transposeB: true, m: n2, n: k, k: k23, alpha: 1, a: bp.baseAddress!, lda: k23,
                                            b: vp.baseAddress! + k1, ldb: k, beta: 0, c: rp.baseAddress! + n1 * k, ldc: k)
                    }
                }
            }
        }
        // Eigenvector i goes to the column survivor i left free.
        for r in 0..<size {
            let row = u + (lo + r) * n + lo
            for i in 0..<k { row[survivors[i]] = result[r * k + i] }
        }
        for i in 0..<k { d[lo + survivors[i]] = lambdas[i] }
    }

    /// Eigen-decomposition of D + ρ z zᵀ for distinct ascending d, nonzero z
    /// and ρ > 0 (a merge's survivors of deflation, K of them): returns the
    /// eigenvalues λ_0 < … < λ_{K−1}, λ_i ∈ (d_i, d_{i+1}) (the last in
    /// (d_{K−1}, d_{K−1} + ρ‖z‖²]), and writes the unit eigenvectors as the
    /// rows of `vt` (K × K row-major; component j of vector i at column
    /// packRow[j]).
    ///
    /// Each root is found relative to the nearer pole d_o (the sign of the
    /// secular function at the interval's midpoint tells which), as
    /// λ = d_o + τ, so that every difference d_j − λ = (d_j − d_o) − τ is
    /// accurate to a few ulps even when λ is very close to d_o. The
    /// iteration on τ keeps a bracket from the sign of
    /// f(τ) = 1 + ρ Σ z_j²/((d_j − d_o) − τ) and steps to the root of the
    /// model that matches ψ (the poles up to i) and φ (the poles from i + 1)
    /// in value and slope with one pole each (LAPACK laed4's "middle way"):
    /// c η² − (c(Δ₁ + Δ₂) + b + B) η + Δ₁Δ₂ f = 0; a step that leaves the
    /// bracket is replaced by bisection, and after 60 steps only bisection
    /// is used. It stops when |f| is below its rounding-error bound, the
    /// step is below an ulp of τ, or the bracket is an ulp wide. A few steps
    /// of O(K) each per root, O(K²) in all, spread over the threads.
    ///
    /// Then ẑ is recomputed from the computed roots (Gu and Eisenstat),
    /// ẑ_j² = ∏_i (λ_i − d_j) / (ρ ∏_{i≠j} (d_i − d_j)), sign of z_j, so that
    /// the computed λ are the exact eigenvalues of D + ρ ẑ ẑᵀ, and the
    /// vectors (D − λ_i I)⁻¹ ẑ, normalised, come out orthogonal to working
    /// precision however close the roots. O(K²) for ẑ and for V.
    static func secular(d: [Double], z: [Double], rho: Double, packRow: [Int], vt: UnsafeMutablePointer<T>) -> [Double] {
        let k = d.count
        if k == 1 {
            vt[0] = 1
            return [d[0] + rho * z[0] * z[0]]
        }
        let eps = Double.ulpOfOne
        // delta[i·K + j] = d_j − λ_i.
        let delta = UnsafeMutablePointer<Double>.allocate(capacity: k * k)
        defer { delta.deallocate() }
        var lambdas = [Double](repeating: 0, count: k)
        var zsum = 0.0
        for x in z { zsum += x * x }
        let threads = Swift.max(1, Backend.threadCount)
        let chunks = k >= 64 ? threads * 4 : 1
        lambdas.withUnsafeMutableBufferPointer { lp in
            let lambda = lp.baseAddress!
            d.withUnsafeBufferPointer { dp in
                z.withUnsafeBufferPointer { zp in
                    let d = dp.baseAddress!, z = zp.baseAddress!
                    Backend.forEachChunk(chunks) { chunk in
                        for i in (k * chunk / chunks)..<(k * (chunk + 1) / chunks) {
                            let sh = delta + i * k
                            let (origin, tau) = root(i, k: k, d: d, z: z, rho: rho, zsum: zsum, eps: eps, shifted: sh)
                            for j in 0..<k { sh[j] -= tau }
                            lambda[i] = d[origin] + tau
                        }
                    }
                }
            }
        }
        // ẑ_j² = (λ_j − d_j)/ρ · ∏_{i≠j} (λ_i − d_j)/(d_i − d_j), row by row of delta (contiguous in j).
        var zhat = [Double](repeating: 1 / rho, count: k)
        zhat.withUnsafeMutableBufferPointer { hp in
            let h = hp.baseAddress!
            d.withUnsafeBufferPointer { dp in
                let d = dp.baseAddress!
                Backend.forEachChunk(chunks) { chunk in
                    let first = k * chunk / chunks, last = k * (chunk + 1) / chunks
                    for i in 0..<k {
                        let row = delta + i * k, di = d[i]
                        // Both sides of j = i, so each runs as a plain (vectorisable) loop.
                        for j in first..<Swift.max(first, Swift.min(last, i)) { h[j] *= -row[j] / (di - d[j]) }
                        for j in Swift.max(first, i + 1)..<Swift.max(last, i + 1) { h[j] *= -row[j] / (di - d[j]) }
                    }
                    for j in first..<last { h[j] *= -delta[j * k + j] }
                }
            }
        }
        for j in 0..<k {
            let magnitude = Swift.max(zhat[j], 0).squareRoot()
            zhat[j] = z[j] < 0 ? -magnitude : magnitude
        }
        // Row i of Vᵀ: ẑ ./ (d − λ_i), normalised.
        zhat.withUnsafeBufferPointer { hp in
            packRow.withUnsafeBufferPointer { pp in
                let h = hp.baseAddress!, pack = pp.baseAddress!
                Backend.forEachChunk(chunks) { chunk in
                    for i in (k * chunk / chunks)..<(k * (chunk + 1) / chunks) {
                        let row = delta + i * k
                        var norms = SIMD4<Double>()
                        var j = 0
                        while j + 4 <= k {
                            let v = UnsafeRawPointer(h + j).loadUnaligned(as: SIMD4<Double>.self)
                                / UnsafeRawPointer(row + j).loadUnaligned(as: SIMD4<Double>.self)
                            UnsafeMutableRawPointer(row + j).storeBytes(of: v, as: SIMD4<Double>.self)
                            norms += v * v
                            j += 4
                        }
                        var norm = norms.sum()
                        while j < k {
                            let v = h[j] / row[j]
                            row[j] = v
                            norm += v * v
                            j += 1
                        }
                        let inverse = 1 / norm.squareRoot()
                        let out = vt + i * k
                        for j in 0..<k { out[pack[j]] = T(row[j] * inverse) }
                    }
                }
            }
        }
        return lambdas
    }

    /// Root i of 1 + ρ Σ z_j²/(d_j − λ) = 0 (see `secular`), as the pole
    /// index o and τ = λ − d_o; leaves d_j − d_o in `shifted`. O(K) per
    /// iteration, typically 3–6 iterations.
    ///
    /// With `squared`, the poles are d_j² (for the singular values of a
    /// bidiagonal merge, `BidiagonalDivideConquer`): d holds the d_j ≥ 0,
    /// τ = λ − d_o² and every pole difference is formed as
    /// (d_j − d_o)(d_j + d_o), accurate to a few ulps however close.
    @inline(__always)
    static func root(_ i: Int, k: Int, d: UnsafePointer<Double>, z: UnsafePointer<Double>, rho: Double, zsum: Double, eps: Double,
                     shifted sh: UnsafeMutablePointer<Double>, squared: Bool = false) -> (origin: Int, tau: Double) {
        @inline(__always) func gap(_ j: Int, _ o: Int) -> Double { squared ? (d[j] - d[o]) * (d[j] + d[o]) : d[j] - d[o] }
        let p = Swift.min(i, k - 2), q = p + 1                 // the two poles of the model
        let origin: Int
        var lo: Double, hi: Double
        if i < k - 1 {
            let half = gap(i + 1, i) / 2
            for j in 0..<k { sh[j] = gap(j, i) }
            let f = 1 + secularSums(z: z, shifted: sh, 0..<k, tau: half, rho: rho).sum
            if f >= 0 {
                origin = i; lo = 0; hi = half
            } else {
                origin = i + 1; lo = gap(i, i + 1) + half; hi = 0
                for j in 0..<k { sh[j] = gap(j, origin) }
            }
        } else {
            origin = k - 1; lo = 0; hi = rho * zsum
            for j in 0..<k { sh[j] = gap(j, origin) }
        }
        var tau = (lo + hi) / 2
        for iteration in 0..<200 {
            let (psi, dpsi, absPsi) = secularSums(z: z, shifted: sh, 0..<(p + 1), tau: tau, rho: rho)
            let (phi, dphi, absPhi) = secularSums(z: z, shifted: sh, q..<k, tau: tau, rho: rho)
            let absum = absPsi + absPhi
            let f = 1 + psi + phi
            if f == 0 { break }
            if f < 0 { lo = tau } else { hi = tau }
            // |f| within the rounding error of its evaluation: τ is as good as the data allow.
            if f.magnitude <= 8 * eps * (1 + absum + tau.magnitude * (dpsi + dphi)) { break }
            if hi - lo <= 2 * eps * Swift.max(lo.magnitude, hi.magnitude) { break }
            var next = (lo + hi) / 2
            if iteration < 60 {
                let d1 = sh[p] - tau, d2 = sh[q] - tau
                let b = dpsi * d1 * d1, bb = dphi * d2 * d2
                let c = f - b / d1 - bb / d2
                let a = c * (d1 + d2) + b + bb, w = d1 * d2 * f
                var candidates = (Double.nan, Double.nan)
                if c == 0 {
                    if a != 0 { candidates.0 = w / a }
                } else {
                    let r = a + (a >= 0 ? 1 : -1) * Swift.max(a * a - 4 * c * w, 0).squareRoot()
                    candidates.0 = r / (2 * c)
                    if r != 0 { candidates.1 = 2 * w / r }
                }
                var best = Double.nan
                func consider(_ eta: Double) {
                    guard eta.isFinite else { return }
                    let t = tau + eta
                    if t > lo && t < hi && (best.isNaN || eta.magnitude < best.magnitude) { best = eta }
                }
                consider(candidates.0)
                consider(candidates.1)
                if !best.isNaN {
                    if best.magnitude <= eps * tau.magnitude { tau += best; break }
                    next = tau + best
                }
            }
            if next == tau { break }
            tau = next
        }
        return (origin, tau)
    }
}

extension DivideAndConquer {
    /// Σ ρz_j²/(δ_j − τ), Σ ρz_j²/(δ_j − τ)² and Σ |ρz_j²/(δ_j − τ)| over j in `range` (δ = `shifted`):
    /// one iteration's terms of `root`, four lanes at a time in independent
    /// accumulators (a division each, otherwise a chain of dependent adds).
    @inline(__always)
    static func secularSums(z: UnsafePointer<Double>, shifted sh: UnsafePointer<Double>, _ range: Range<Int>, tau: Double, rho: Double)
        -> (sum: Double, derivative: Double, absolute: Double) {
        typealias V = SIMD4<Double>
        var sum = V(), derivative = V(), absolute = V()
        let taus = V(repeating: tau), rhos = V(repeating: rho)
        var j = range.lowerBound
        while j + 4 <= range.upperBound {
            let zj = UnsafeRawPointer(z + j).loadUnaligned(as: V.self), sj = UnsafeRawPointer(sh + j).loadUnaligned(as: V.self)
            let t = zj / (sj - taus), term = rhos * zj * t
            sum += term
            derivative += rhos * t * t
            absolute += V(repeating: 0).replacing(with: term, where: term .> 0) - V(repeating: 0).replacing(with: term, where: term .< 0)
            j += 4
        }
        var s = sum.sum(), ds = derivative.sum(), a = absolute.sum()
        while j < range.upperBound {
            let t = z[j] / (sh[j] - tau), term = rho * z[j] * t
            s += term; ds += rho * t * t; a += term.magnitude
            j += 1
        }
        return (s, ds, a)
    }
}

extension NativeEigen {
    /// Above this order, `decompose` with vectors diagonalises the
    /// tridiagonal matrix by divide and conquer instead of implicit QL.
    static var divideAndConquerCrossover: Int { 128 }
}
