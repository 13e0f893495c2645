import LinearAlgebra

/// Nyström approximation of a kernel's feature map (Williams and Seeger,
/// 2001), with scikit-learn's `Nystroem` construction.
///
/// m landmark rows are chosen by a seeded permutation; K_mm = U S Vᵀ with S
/// clamped at 1e-12; features Φ(X) = K(X, landmarks)·(U S^{-1/2} Vᵀ)ᵀ, so that
/// Φ Φᵀ = K_nm K_mm⁺ K_mn. Ridge on Φ then costs O(n m²) instead of O(n³),
/// and with m = n it reproduces exact kernel ridge.
public struct Nystroem: Sendable, Equatable {
    /// The kernel whose feature map is approximated.
    public var kernel: Kernel
    /// m, the number of landmarks (default 100, scikit-learn's); at least 1,
    /// capped at the number of samples.
    public var components: Int
    /// Seed of the landmark permutation.
    public var seed: UInt64

    /// A Nyström map of `components` landmarks chosen with `seed`.
    public init(kernel: Kernel, components: Int = 100, seed: UInt64 = 0) {
        self.kernel = kernel
        self.components = components
        self.seed = seed
    }

    /// The fitted feature map.
    public struct FeatureMap<Element: Scalar>: Sendable {
        /// The kernel with γ resolved.
        public var kernel: Kernel
        /// Landmark rows `[m, d]`.
        public var landmarks: Matrix<Element>
        /// (U S^{-1/2} Vᵀ)ᵀ `[m, m]`.
        public var normalization: Matrix<Element>
        /// Set when m was clamped to n.
        public var warnings: [String]

        /// A feature map from its parts (for example read back from a file).
        public init(kernel: Kernel, landmarks: Matrix<Element>, normalization: Matrix<Element>, warnings: [String] = []) {
            self.kernel = kernel
            self.landmarks = landmarks
            self.normalization = normalization
            self.warnings = warnings
        }

        /// Φ(X) `[n, m]`.
        public func transform(_ x: Matrix<Element>) -> Matrix<Element> {
            kernel.matrix(x, landmarks) * normalization
        }

    }

    /// Chooses landmarks from X `[n, d]` and builds the map. m > n is clamped
    /// to n with a warning.
    public func fit<T: Scalar>(_ x: Matrix<T>) throws -> FeatureMap<T> {
        guard components >= 1 else { throw KernelRegressionError.invalidParameter(parameter: .components, value: "\(components)", expected: "at least 1") }
        guard x.rows > 0 else { throw KernelRegressionError.noSamples }
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
        guard kmm.isFinite else { throw KernelRegressionError.kernelOverflow }
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
/// Φ never exists whole: it is formed `blockRows` samples at a time and
/// ΦᵀΦ `[m, m]`, Φᵀy accumulated, so memory is O(m² + blockRows·m) whatever n
/// is (n = 10⁶, m = 2,000 needs about 200 MB instead of 16 GB). Going through
/// Φ (rather than Nᵀ(K_nmᵀK_nm)N) keeps the conditioning of K itself, so with
/// m = n landmarks the fit reproduces exact kernel ridge to rounding. Cost:
/// 2·n·m² for the blocks (K_nm·N and the Gram) plus O(m³).
public struct NystroemRidge: Sendable, Equatable {
    /// The feature map to fit first: kernel, landmark count m and seed.
    public var nystroem: Nystroem
    /// α ≥ 0, the ridge on the m×m normal equations (default 1).
    public var alpha: Double
    /// Samples per block of K_nm (default 8192): memory O(blockRows·m) for the features.
    public var blockRows: Int

    /// Nyström ridge with these settings (checked at fit time).
    public init(nystroem: Nystroem, alpha: Double = 1, blockRows: Int = 8192) {
        self.nystroem = nystroem
        self.alpha = alpha
        self.blockRows = blockRows
    }

    /// A fitted Nyström ridge model: the feature map and w.
    public struct Model<Element: Scalar>: Sendable {
        /// The landmarks, kernel and normalization N of Φ.
        public var featureMap: Nystroem.FeatureMap<Element>
        /// w `[m, targets]`.
        public var coefficients: Matrix<Element>
        /// Remarks from the fit (more components than samples, a least-squares fallback).
        public var warnings: [String]

        /// A model from its parts (e.g. read back from a file); checked when predicting.
        public init(featureMap: Nystroem.FeatureMap<Element>, coefficients: Matrix<Element>, warnings: [String] = []) {
            self.featureMap = featureMap
            self.coefficients = coefficients
            self.warnings = warnings
        }

        /// Predictions Φ(x) w `[n, targets]` for inputs X `[n, d]`, in row
        /// blocks of 8192. Cost: n·m·(d + t).
        ///
        /// - Throws: `KernelRegressionError.featureCountMismatch` when X's
        ///   width differs from the landmarks'; `.inconsistentModel` when N is
        ///   not m×m or w has not m rows; `.nonFiniteData` for NaN or ±∞ in X.
        public func predict(_ x: Matrix<Element>) throws -> Matrix<Element> {
            guard x.columns == featureMap.landmarks.columns else {
                throw KernelRegressionError.featureCountMismatch(operand: "the inputs to predict", features: x.columns, expected: featureMap.landmarks.columns)
            }
            let m = featureMap.landmarks.rows
            guard featureMap.normalization.rows == m, featureMap.normalization.columns == m else {
                throw KernelRegressionError.inconsistentModel(part: "the Nyström normalization", shape: [featureMap.normalization.rows, featureMap.normalization.columns],
                                                           expected: [m, m])
            }
            guard coefficients.rows == m else {
                throw KernelRegressionError.inconsistentModel(part: "the coefficients (one row per landmark)", shape: [coefficients.rows, coefficients.columns],
                                                           expected: [m, 0])
            }
            guard x.isFinite else { throw KernelRegressionError.nonFiniteData("the inputs to predict") }
            // Φ(x) w = K(x, L) (N w): n·m·t flops instead of n·m², in row
            // blocks so K(x, L) never exists whole.
            let weights = featureMap.normalization * coefficients
            let t = coefficients.columns
            var out = [Element]()
            out.reserveCapacity(x.rows * t)
            var start = 0
            while start < x.rows {
                let end = Swift.min(start + 8192, x.rows)
                let block = featureMap.kernel.matrix(x.submatrix(rows: start..<end, columns: 0..<x.columns), featureMap.landmarks)
                out.append(contentsOf: (block * weights).elements)
                start = end
            }
            return Matrix(rows: x.rows, columns: t, elements: out)
        }
    }

    /// Fits the feature map on X `[n, d]`, then the ridge on Φ(X) for Y `[n, t]`.
    /// 
    /// - Throws: `KernelRegressionError` for α < 0, NaN data, mismatched shapes or overflowing kernel values.
    public func fit<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<T>) throws -> Model<T> {
        try KernelRidge(kernel: nystroem.kernel, alpha: alpha).validate(x, y)
        let map = try nystroem.fit(x)
        // Φ = K_nm N with N = `normalization`, formed a block of rows at a
        // time, and ΦᵀΦ, Φᵀy accumulated from those blocks. Forming
        // Nᵀ(K_nmᵀK_nm)N instead would be cheaper by one n·m² product but
        // squares K's conditioning (with m = n, K_nmᵀK_nm = K²): on an
        // ill-conditioned kernel (κ ≈ 1e12) that lost five digits against
        // exact kernel ridge; through Φ the match is to rounding, as with
        // scikit-learn's Nystroem + Ridge. Memory stays O(m² + blockRows·m).
        let m = map.landmarks.rows
        var phiTphi = Matrix<T>.zeros(rows: m, columns: m)
        var phiTy = Matrix<T>.zeros(rows: m, columns: y.columns)
        var start = 0
        while start < x.rows {
            let end = Swift.min(start + Swift.max(blockRows, 1), x.rows)
            let phi = map.kernel.matrix(x.submatrix(rows: start..<end, columns: 0..<x.columns), map.landmarks) * map.normalization
            phiTphi += phi.gram()
            Matrix.gemm(phi, .transposed, y.submatrix(rows: start..<end, columns: 0..<y.columns), .none, alpha: 1, beta: 1, into: &phiTy)
            start = end
        }
        let (w, warning) = try solveRidge(phiTphi, phiTy, alpha: alpha)
        return Model(featureMap: map, coefficients: w, warnings: map.warnings + (warning.map { [$0] } ?? []))
    }
}
