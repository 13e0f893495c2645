import LinearAlgebra

/// Nyström approximation of a kernel's feature map (Williams and Seeger,
/// 2001), with scikit-learn's `Nystroem` construction.
///
/// m landmark rows are chosen by a seeded permutation; K_mm = U S Vᵀ with S
/// clamped at 1e-12; features Φ(X) = K(X, landmarks)·(U S^{-1/2} Vᵀ)ᵀ, so that
/// Φ Φᵀ = K_nm K_mm⁺ K_mn. Ridge on Φ then costs O(n m²) instead of O(n³),
/// and with m = n it reproduces exact kernel ridge.
public struct Nystroem: Sendable, Equatable {
    public var kernel: Kernel
    public var components: Int
    public var seed: UInt64

    public init(kernel: Kernel, components: Int = 100, seed: UInt64 = 0) {
        self.kernel = kernel
        self.components = components
        self.seed = seed
    }

    /// The fitted feature map.
    public struct FeatureMap<Element: Scalar>: Sendable {
        public var kernel: Kernel
        /// Landmark rows `[m, d]`.
        public var landmarks: Matrix<Element>
        /// (U S^{-1/2} Vᵀ)ᵀ `[m, m]`.
        public var normalization: Matrix<Element>
        /// Set when m was clamped to n.
        public var warnings: [String]

        /// Φ(X) `[n, m]`.
        public func transform(_ x: Matrix<Element>) -> Matrix<Element> {
            kernel.matrix(x, landmarks) * normalization
        }

        /// Calls `body` with (first row, Φ of rows [first, first + b)) for
        /// consecutive blocks of at most `blockRows` rows, so that Φ for a
        /// million samples never exists whole (memory: blockRows·m).
        public func forEachBlock(of x: Matrix<Element>, blockRows: Int, _ body: (Int, Matrix<Element>) throws -> Void) rethrows {
            var start = 0
            while start < x.rows {
                let end = Swift.min(start + blockRows, x.rows)
                try body(start, transform(x.submatrix(rows: start..<end, columns: 0..<x.columns)))
                start = end
            }
        }
    }

    /// Chooses landmarks from X `[n, d]` and builds the map. m > n is clamped
    /// to n with a warning.
    public func fit<T: Scalar>(_ x: Matrix<T>) throws -> FeatureMap<T> {
        guard components >= 1 else { throw KernelRegressionError.invalidParameter("the number of Nyström components must be ≥ 1") }
        guard x.rows > 0 else { throw KernelRegressionError.shapeMismatch("no samples") }
        guard x.isFinite else { throw KernelRegressionError.nonFiniteData("the training inputs") }
        var warnings: [String] = []
        var m = components
        if m > x.rows {
            warnings.append("n_components = \(m) is larger than the \(x.rows) samples; using \(x.rows)")
            m = x.rows
        }
        var generator = SeededGenerator(seed: seed)
        var order = Array(0..<x.rows)
        for i in stride(from: order.count - 1, to: 0, by: -1) {   // Fisher–Yates
            order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
        let chosen = order.prefix(m).sorted()
        let landmarks = Matrix<T>(rows: m, columns: x.columns) { i, j in x[chosen[i], j] }
        let resolved = kernel.resolved(features: x.columns)
        let kmm = resolved.gram(landmarks).converted(to: Double.self)
        let svd = try kmm.svd()
        var scaledU = svd.u
        scaledU.scaleColumns(by: svd.singularValues.map { 1 / Swift.max($0, 1e-12).squareRoot() })
        let normalization = Matrix.product(scaledU, .none, svd.vt, .none).transposed()
        return FeatureMap(kernel: resolved, landmarks: landmarks, normalization: normalization.converted(), warnings: warnings)
    }
}

/// Ridge regression on Nyström features (primal, an m×m solve):
/// w = (ΦᵀΦ + αI)⁻¹ Φᵀ y, predictions Φ(x) w.
///
/// Φ is never formed whole: ΦᵀΦ `[m, m]` and Φᵀy are accumulated over blocks
/// of `blockRows` samples, so memory is O(m² + blockRows·m) whatever n is
/// (n = 10⁶, m = 2,000 needs about 100 MB instead of 16 GB). Cost O(n·m·(d + m)).
public struct NystroemRidge: Sendable, Equatable {
    public var nystroem: Nystroem
    public var alpha: Double
    public var blockRows: Int

    public init(nystroem: Nystroem, alpha: Double = 1, blockRows: Int = 8192) {
        self.nystroem = nystroem
        self.alpha = alpha
        self.blockRows = blockRows
    }

    public struct Model<Element: Scalar>: Sendable {
        public var featureMap: Nystroem.FeatureMap<Element>
        /// w `[m, targets]`.
        public var coefficients: Matrix<Element>
        public var warnings: [String]

        public func predict(_ x: Matrix<Element>) throws -> Matrix<Element> {
            guard x.columns == featureMap.landmarks.columns else {
                throw KernelRegressionError.shapeMismatch("the model was fitted on \(featureMap.landmarks.columns) features, the data has \(x.columns)")
            }
            guard x.isFinite else { throw KernelRegressionError.nonFiniteData("the inputs to predict") }
            var out = Matrix<Element>.zeros(rows: x.rows, columns: coefficients.columns)
            let t = coefficients.columns
            featureMap.forEachBlock(of: x, blockRows: 8192) { start, phi in
                let block = phi * coefficients
                out.withUnsafeMutableBufferPointer { p in
                    block.withUnsafeBufferPointer { q in
                        for i in 0..<q.count { p[start * t + i] = q[i] }
                    }
                }
            }
            return out
        }
    }

    public func fit<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<T>) throws -> Model<T> {
        try KernelRidge(kernel: nystroem.kernel, alpha: alpha).validate(x, y)
        let map = try nystroem.fit(x)
        let m = map.landmarks.rows
        var phiTphi = Matrix<T>.zeros(rows: m, columns: m)
        var phiTy = Matrix<T>.zeros(rows: m, columns: y.columns)
        map.forEachBlock(of: x, blockRows: Swift.max(blockRows, 1)) { start, phi in
            let targets = y.submatrix(rows: start..<(start + phi.rows), columns: 0..<y.columns)
            Matrix.gemm(phi, .transposed, phi, .none, alpha: 1, beta: 1, into: &phiTphi)
            Matrix.gemm(phi, .transposed, targets, .none, alpha: 1, beta: 1, into: &phiTy)
        }
        let (w, warning) = try solveRidge(phiTphi, phiTy, alpha: alpha)
        return Model(featureMap: map, coefficients: w, warnings: map.warnings + (warning.map { [$0] } ?? []))
    }
}
