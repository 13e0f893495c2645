import LinearAlgebra

/// Kernel ridge regression with scikit-learn's `KernelRidge` semantics: no
/// intercept, no centring, dual coefficients (K + αI)⁻¹ y.
///
/// Fit solves by Cholesky; if K + αI is not positive definite it falls back
/// to least squares and records a warning (as scikit-learn does). Multi-
/// output y is a matrix `[n, targets]`. Sample weights w follow scikit-learn:
/// K ← D K D, y ← D y, dual ← D dual with D = diag(√w).
/// Cost: the kernel matrix (n²d) plus n³/3 for Cholesky.
public struct KernelRidge: Sendable, Equatable {
    /// The kernel; a nil γ resolves to 1/d at fit time, as in scikit-learn.
    public var kernel: Kernel
    /// α ≥ 0, the ridge added to the kernel matrix (default 1, scikit-learn's).
    public var alpha: Double

    /// Kernel ridge with this kernel and α (checked at fit time).
    public init(kernel: Kernel = .linear, alpha: Double = 1) {
        self.kernel = kernel
        self.alpha = alpha
    }

    /// Fits to samples X `[n, d]` and targets Y `[n, t]`.
    ///
    /// - Throws: `KernelRegressionError` for α < 0, NaN data, mismatched shapes
    ///   or negative sample weights.
    public func fit<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<T>, sampleWeight: [Double]? = nil) throws -> KernelRidgeModel<T> {
        try validate(x, y)
        if let w = sampleWeight {
            guard w.count == x.rows else {
                throw KernelRegressionError.sampleCountMismatch(operand: "the sample weights", count: w.count, expected: x.rows)
            }
            if let bad = w.first(where: { !($0.isFinite && $0 >= 0) }) {
                throw KernelRegressionError.invalidParameter(parameter: .sampleWeights, value: "\(bad)", expected: "finite and ≥ 0")
            }
        }
        let resolved = kernel.resolved(features: x.columns)
        var k = resolved.gram(x)
        guard k.isFinite else { throw KernelRegressionError.kernelOverflow }
        var targets = y
        let roots = sampleWeight.map { $0.map { T($0.squareRoot()) } }
        if let roots {
            k.scaleRows(by: roots)
            k.scaleColumns(by: roots)
            targets.scaleRows(by: roots)
        }
        var (dual, warning) = try solveRidge(consume k, targets, alpha: alpha)
        if let roots { dual.scaleRows(by: roots) }
        return KernelRidgeModel(kernel: resolved, alpha: alpha, trainingInputs: x, dualCoefficients: dual, warnings: warning.map { [$0] } ?? [])
    }

    func validate<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<T>) throws {
        guard alpha >= 0, alpha.isFinite else { throw KernelRegressionError.invalidParameter(parameter: .alpha, value: "\(alpha)", expected: "finite and ≥ 0") }
        guard x.rows == y.rows else { throw KernelRegressionError.sampleCountMismatch(operand: "the targets", count: y.rows, expected: x.rows) }
        guard x.rows > 0 else { throw KernelRegressionError.noSamples }
        guard x.isFinite else { throw KernelRegressionError.nonFiniteData("the training inputs") }
        guard y.isFinite else { throw KernelRegressionError.nonFiniteData("the training targets") }
    }
}

/// (K + αI)⁻¹ Y by Cholesky, or least squares with a warning.
func solveRidge<T: Scalar>(_ k: consuming Matrix<T>, _ y: Matrix<T>, alpha: Double) throws -> (Matrix<T>, String?) {
    var shifted = k           // k is consumed: at n = 20,000 a copy is 3.2 GB
    let n = shifted.rows
    shifted.withUnsafeMutableBufferPointer { p in
        for i in 0..<n { p[i * n + i] += T(alpha) }
    }
    do {
        let l = try shifted.cholesky()
        let z = try l.solveTriangular(y, triangle: .lower)
        return (try l.solveTriangular(z, triangle: .lower, transpose: true), nil)
    } catch LinearAlgebraError.notPositiveDefinite {
        return (try shifted.leastSquares(y), "K + αI is not positive definite (singular or indefinite kernel matrix); used the least-squares solution")
    }
}

/// A fitted kernel ridge model: predictions K(X_test, X_train) · dual.
public struct KernelRidgeModel<Element: Scalar>: Sendable {
    /// The kernel with γ resolved, so predictions use what the fit used.
    public var kernel: Kernel
    /// The α the model was fitted with (recorded; predictions do not use it).
    public var alpha: Double
    /// X_train `[n, d]`.
    public var trainingInputs: Matrix<Element>
    /// `[n, targets]`.
    public var dualCoefficients: Matrix<Element>
    /// What the fit had to work around (e.g. the least-squares fallback).
    public var warnings: [String]

    /// A model from its parts (for example read back from a file); `predict` checks that the shapes agree.
    public init(kernel: Kernel, alpha: Double, trainingInputs: Matrix<Element>, dualCoefficients: Matrix<Element>, warnings: [String] = []) {
        self.kernel = kernel
        self.alpha = alpha
        self.trainingInputs = trainingInputs
        self.dualCoefficients = dualCoefficients
        self.warnings = warnings
    }

    /// Predictions `[m, targets]` for X `[m, d]`.
    public func predict(_ x: Matrix<Element>) throws -> Matrix<Element> {
        guard x.columns == trainingInputs.columns else {
            throw KernelRegressionError.featureCountMismatch(operand: "the inputs to predict", features: x.columns, expected: trainingInputs.columns)
        }
        guard dualCoefficients.rows == trainingInputs.rows else {
            throw KernelRegressionError.inconsistentModel(part: "the dual coefficients", shape: [dualCoefficients.rows, dualCoefficients.columns],
                                                       expected: [trainingInputs.rows, 0])
        }
        guard x.isFinite else { throw KernelRegressionError.nonFiniteData("the inputs to predict") }
        return kernel.matrix(x, trainingInputs) * dualCoefficients
    }
}
