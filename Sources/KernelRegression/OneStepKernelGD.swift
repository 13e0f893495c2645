import LinearAlgebra

/// One step of gradient descent in a kernel's feature space, the
/// in-context-learning view of Sun, Jadbabaie and Azizan: from w₀ = 0 on
/// L(w) = 1/(2n) Σ (wᵀφ(xᵢ) − yᵢ)², one step of size η predicts
/// ŷ(x) = (η/n) Σᵢ yᵢ k(xᵢ, x). The default kernel k(x, x′) = (xᵀx′)² is
/// φ(x) = vec(x xᵀ). Compare with `KernelRidge` to see how far one step is
/// from the full solution.
public struct OneStepKernelGD: Sendable, Equatable {
    /// k(x, x′) (default (xᵀx′)², the quadratic feature map).
    public var kernel: Kernel
    /// η, the step size (default 1).
    public var learningRate: Double

    /// One gradient step with this kernel and step size.
    public init(kernel: Kernel = .polynomial(degree: 2, gamma: 1, coef0: 0), learningRate: Double = 1) {
        self.kernel = kernel
        self.learningRate = learningRate
    }

    /// Predictions `[m, targets]` for X_test from training X `[n, d]`, Y `[n, t]`.
    public func predict<T: Scalar>(train x: Matrix<T>, _ y: Matrix<T>, test: Matrix<T>) throws -> Matrix<T> {
        try KernelRidge(kernel: kernel, alpha: 0).validate(x, y)
        guard test.columns == x.columns else {
            throw KernelRegressionError.featureCountMismatch(operand: "the test data", features: test.columns, expected: x.columns)
        }
        return T(learningRate / Double(x.rows)) * (kernel.resolved(features: x.columns).matrix(test, x) * y)
    }
}
