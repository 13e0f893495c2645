import GEMMKernels
#if canImport(GEMMKernelsAVX2)
import GEMMKernelsAVX2
#endif

/// Symmetric eigendecomposition: Householder reduction to tridiagonal form,
/// then the implicit QL algorithm with Wilkinson-type shifts.
///
/// Eigenvectors are accumulated as the rows of Zᵀ, so every Householder
/// update and every Givens rotation touches contiguous rows. Reads the lower
/// triangle only. Cost ≈ (4/3)n³ for the reduction plus ≈ 3n³ for vectors.
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
        var zt = computeVectors ? Matrix<T>.identity(n) : Matrix<T>.zeros(rows: 0, columns: 0)
        a.withUnsafeMutableBufferPointer { ap in
            let m = ap.baseAddress!
            for i in 0..<n { for j in 0..<i { m[j * n + i] = m[i * n + j] } }   // symmetric from the lower triangle
            var taus = [T](repeating: 0, count: n)
            tridiagonalize(m, n: n, d: &d, e: &e, taus: &taus)
            if computeVectors {
                zt.withUnsafeMutableBufferPointer { zp in accumulateReflectors(m, n: n, taus: taus, zt: zp.baseAddress!) }
            }
        }
        let converged = zt.withUnsafeMutableBufferPointer { zp in
            implicitQL(n: n, d: &d, e: &e, zt: computeVectors ? zp.baseAddress : nil)
        }
        guard converged else { throw LinearAlgebraError.noConvergence(operation: "symmetricEigen") }
        let order = d.indices.sorted { d[$0] < d[$1] }
        let values = order.map { d[$0] * scale }
        guard computeVectors else { return SymmetricEigen(values: values, vectors: .zeros(rows: 0, columns: 0)) }
        // Column j of the result is eigenvector order[j]: row order[j] of Zᵀ.
        var vectors = Matrix<T>.zeros(rows: n, columns: n)
        zt.withUnsafeBufferPointer { z in
            vectors.withUnsafeMutableBufferPointer { v in
                for (j, source) in order.enumerated() {
                    for i in 0..<n { v[i * n + j] = z[source * n + i] }
                }
            }
        }
        return SymmetricEigen(values: values, vectors: vectors)
    }

    /// A ← Qᵀ A Q = tridiag(e, d, e) with Householder reflectors
    /// H_k = I − τ_k v_k v_kᵀ acting on indices k+1..<n, Qᵀ = H_{n−3}⋯H_0.
    /// v_k (with its leading 1 implicit) is left in row k of `a` right of the
    /// superdiagonal, and τ_k in `taus[k]`.
    ///
    /// Step k needs p = A₂₂v (A₂₂ the trailing block from k + 1) and then the
    /// rank-2 update A₂₂ ← A₂₂ − v wᵀ − w vᵀ. A₂₂ is kept whole and
    /// symmetric, so both run along contiguous rows. The update of A₂₂'s first
    /// row gives the next reflector, so the rest of the update pass also forms
    /// the next step's product: one sweep over the trailing block per step
    /// instead of two, with the rows shared out across threads.
    @inline(__always)
    static func tridiagonalize<T: Scalar>(_ a: UnsafeMutablePointer<T>, n: Int, d: inout [T], e: inout [T], taus: inout [T]) {
        guard n > 0 else { return }
        let reflectors = Swift.max(n - 2, 0)
        let threads = Swift.max(1, Backend.threadCount)
        var v = UnsafeMutablePointer<T>.allocate(capacity: n), vNext = UnsafeMutablePointer<T>.allocate(capacity: n)
        let w = UnsafeMutablePointer<T>.allocate(capacity: n), partials = UnsafeMutablePointer<T>.allocate(capacity: threads * n)
        defer { v.deallocate(); vNext.deallocate(); w.deallocate(); partials.deallocate() }
        // The reflector of step k, from row k right of the diagonal (column k
        // below it); its vector goes to `into`.
        func reflect(_ k: Int, into vector: UnsafeMutablePointer<T>) -> (beta: T, tau: T) {
            let size = n - k - 1
            let x = a + k * n + k + 1
            let result = NativeQR.householder(x, count: size)
            vector[0] = 1
            for i in 1..<size { vector[i] = x[i] }
            return result
        }
        // Over rows first..<n of A: when `update`, subtract v wᵀ + w vᵀ from
        // columns first − 1..<n (v, w indexed from first − 1); when `next` is
        // given, leave A[first..<n, first..<n]·next in partials[0..<n − first].
        // The rows are cut into one band per thread, each with its own partial
        // product, summed at the end.
        func sweep(first: Int, update: Bool, v: UnsafeMutablePointer<T>, next: UnsafeMutablePointer<T>?) {
            let size = n - first + 1, rows = n - first
            let bands = rows * size >= 1 << 14 ? threads : 1
            if next != nil { for t in 0..<bands { (partials + t * n).initialize(repeating: 0, count: rows) } }
            Backend.forEachChunk(bands) { band in
                let lower = first + rows * band / bands, upper = first + rows * (band + 1) / bands
                let acc = partials + band * n
                for r in lower..<upper {
                    let row = a + r * n + first - 1
                    if update {
                        let vi = v[r - first + 1], wi = w[r - first + 1]
                        for j in 0..<size { row[j] -= vi * w[j] + wi * v[j] }
                    }
                    if let next {
                        let vi = next[r - first], tail = row + 1
                        for j in 0..<rows { acc[j] += vi * tail[j] }
                    }
                }
            }
            if next != nil { for t in 1..<bands { for j in 0..<rows { partials[j] += partials[t * n + j] } } }
        }
        var current = reflectors > 0 ? reflect(0, into: v) : (beta: T(0), tau: T(0))
        if current.tau != 0 { sweep(first: 1, update: false, v: v, next: v) }      // A₂₂v for step 0
        for k in 0..<reflectors {
            let size = n - k - 1
            let (beta, tau) = current
            d[k] = a[k * n + k]
            e[k] = beta
            taus[k] = tau
            if tau != 0 {
                // p = τ A₂₂v (from partials); w = p − (τ/2)(pᵀv) v.
                var pv: T = 0
                for i in 0..<size {
                    partials[i] *= tau
                    pv += partials[i] * v[i]
                }
                let half = tau * pv / 2
                for i in 0..<size { w[i] = partials[i] - half * v[i] }
                // A₂₂'s first row now, as it holds the next reflector.
                let row = a + (k + 1) * n + k + 1, v0 = v[0], w0 = w[0]
                for j in 0..<size { row[j] -= v0 * w[j] + w0 * v[j] }
            }
            guard k + 1 < reflectors else {
                if tau != 0 { sweep(first: k + 2, update: true, v: v, next: nil) }
                break
            }
            let following = reflect(k + 1, into: vNext)
            if tau != 0 || following.tau != 0 {
                sweep(first: k + 2, update: tau != 0, v: v, next: following.tau != 0 ? vNext : nil)
            }
            current = following
            swap(&v, &vNext)
        }
        if n >= 2 {
            d[n - 2] = a[(n - 2) * n + n - 2]
            e[n - 2] = a[(n - 1) * n + n - 2]
        }
        d[n - 1] = a[(n - 1) * n + n - 1]
        e[n - 1] = 0
    }

    /// Zᵀ ← Qᵀ = H_{n−3}⋯H_0 from the reflectors `tridiagonalize` left in
    /// `a`, with `zt` holding the identity on entry.
    ///
    /// Blocked, from the last reflectors to the first: a block of b
    /// consecutive reflectors is H_{j+b−1}⋯H_j = I − V Tᵀ Vᵀ (compact WY), so
    /// Zᵀ ← Zᵀ (I − V Tᵀ Vᵀ) is two GEMMs. Only rows and columns from j + 1
    /// on change (the rest of Zᵀ is still the identity), which makes the
    /// whole accumulation ≈ (4/3)n³ flops at GEMM speed.
    static func accumulateReflectors<T: Scalar>(_ a: UnsafeMutablePointer<T>, n: Int, taus: [T], zt: UnsafeMutablePointer<T>) {
        let reflectors = Swift.max(n - 2, 0)
        guard reflectors > 0 else { return }
        let blockSize = 32
        for first in stride(from: ((reflectors - 1) / blockSize) * blockSize, through: 0, by: -blockSize) {
            let b = Swift.min(blockSize, reflectors - first)
            let s = first + 1, size = n - s                 // the block acts on indices s..<n
            let block = BlockReflector(count: b, length: size, taus: taus[first..<(first + b)]) { c, i in a[(first + c) * n + s + i] }
            block.applyFromRight(to: zt + s * n + s, rows: size, ldx: n, transposedT: true)
        }
    }

    /// Diagonalises tridiag(e, d, e) by implicit QL sweeps; rotations are
    /// applied to the rows of Zᵀ. Returns false if some eigenvalue needed more
    /// than `maxIterationsPerValue` sweeps.
    @inline(__always)
    static func implicitQL<T: Scalar>(n: Int, d: inout [T], e: inout [T], zt: UnsafeMutablePointer<T>?) -> Bool {
        let eps = T.ulpOfOne
        var pending = PendingRotations<T>()
        defer { if let zt { pending.apply(to: zt, n: n) } }
        for l in 0..<n {
            var iterations = 0
            while true {
                var m = l
                while m < n - 1 {
                    let scale = d[m].magnitude + d[m + 1].magnitude
                    if e[m].magnitude <= eps * scale || e[m] == 0 { break }
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
                pending.beginSweep(bottom: m)
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
                    pending.append(cosine: c, sine: s)
                    i -= 1
                }
                if let zt, pending.count >= 8 * n { pending.apply(to: zt, n: n) }
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
        let avx2 = NativeKernel.current == .avx2
        bottoms.withUnsafeBufferPointer { bp in
            starts.withUnsafeBufferPointer { sp in
                cosines.withUnsafeBufferPointer { cp in
                    sines.withUnsafeBufferPointer { snp in
                        Backend.forEachChunk(bands) { band in
                            let first = band * bandWidth, last = Swift.min(n, first + bandWidth)
                            NativeRotations.apply(avx2: avx2, sweepCount: bp.count, bottoms: bp.baseAddress!, starts: sp.baseAddress!,
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
/// AVX2 kernel module.
enum NativeRotations {
    static func apply<T: Scalar>(avx2: Bool, sweepCount: Int, bottoms: UnsafePointer<Int>, starts: UnsafePointer<Int>, rotationCount: Int,
                                 cosines: UnsafePointer<T>, sines: UnsafePointer<T>,
                                 z: UnsafeMutablePointer<T>, ldz: Int, columns: Range<Int>) {
        switch T.precision {
        case .single:
            let c = UnsafeRawPointer(cosines).assumingMemoryBound(to: Float.self), s = UnsafeRawPointer(sines).assumingMemoryBound(to: Float.self)
            let z = UnsafeMutableRawPointer(z).assumingMemoryBound(to: Float.self)
            #if canImport(GEMMKernelsAVX2)
            if avx2 {
                GEMMKernelsAVX2.PlaneRotations.apply(sweepCount: sweepCount, bottoms: bottoms, starts: starts, rotationCount: rotationCount,
                                                     cosines: c, sines: s, z: z, ldz: ldz, columns: columns)
                return
            }
            #endif
            GEMMKernels.PlaneRotations.apply(sweepCount: sweepCount, bottoms: bottoms, starts: starts, rotationCount: rotationCount,
                                             cosines: c, sines: s, z: z, ldz: ldz, columns: columns)
        case .double:
            let c = UnsafeRawPointer(cosines).assumingMemoryBound(to: Double.self), s = UnsafeRawPointer(sines).assumingMemoryBound(to: Double.self)
            let z = UnsafeMutableRawPointer(z).assumingMemoryBound(to: Double.self)
            #if canImport(GEMMKernelsAVX2)
            if avx2 {
                GEMMKernelsAVX2.PlaneRotations.apply(sweepCount: sweepCount, bottoms: bottoms, starts: starts, rotationCount: rotationCount,
                                                     cosines: c, sines: s, z: z, ldz: ldz, columns: columns)
                return
            }
            #endif
            GEMMKernels.PlaneRotations.apply(sweepCount: sweepCount, bottoms: bottoms, starts: starts, rotationCount: rotationCount,
                                             cosines: c, sines: s, z: z, ldz: ldz, columns: columns)
        }
    }
}
