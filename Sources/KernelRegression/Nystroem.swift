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
public struct NystroemRidge: Sendable, Equatable {
    public var nystroem: Nystroem
    public var alpha: Double

    public init(nystroem: Nystroem, alpha: Double = 1) {
        self.nystroem = nystroem
        self.alpha = alpha
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
            return featureMap.transform(x) * coefficients
        }
    }

    public func fit<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<T>) throws -> Model<T> {
        try KernelRidge(kernel: nystroem.kernel, alpha: alpha).validate(x, y)
        let map = try nystroem.fit(x)
        let phi = map.transform(x)
        let (w, warning) = try solveRidge(phi.gram(), Matrix.product(phi, .transposed, y, .none), alpha: alpha)
        return Model(featureMap: map, coefficients: w, warnings: map.warnings + (warning.map { [$0] } ?? []))
    }
}
