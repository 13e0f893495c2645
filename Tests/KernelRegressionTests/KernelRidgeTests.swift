import Foundation
import Testing
import LinearAlgebra
import TestSupport
@testable import KernelRegression

/// scikit-learn's KernelRidge on a seeded data set (scripts/make_kernel_fixtures.py).
struct SklearnFixture {
    struct Case {
        let kernel: Kernel, alpha: Double, weighted: Bool, multi: Bool
        let prediction: Matrix<Double>, dual: Matrix<Double>
        var label: String { "\(kernel) α=\(alpha) weighted=\(weighted) multi=\(multi)" }
    }
    let xTrain: Matrix<Double>, yTrain: Matrix<Double>, xTest: Matrix<Double>, weights: [Double]
    let cases: [Case]

    static let shared: SklearnFixture = {
        let url = Bundle.module.url(forResource: "sklearn_kernel_ridge", withExtension: "json", subdirectory: "Fixtures")!
        let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        func matrix(_ value: Any?) -> Matrix<Double> { Matrix((value as! [[NSNumber]]).map { $0.map(\.doubleValue) }) }
        let cases = (json["cases"] as! [[String: Any]]).map { c -> Case in
            let p = c["params"] as! [String: Double]
            let kernel: Kernel
            switch c["kernel"] as! String {
            case "linear": kernel = .linear
            case "poly": kernel = .polynomial(degree: p["degree"] ?? 3, gamma: p["gamma"], coef0: p["coef0"] ?? 1)
            case "rbf": kernel = .rbf(gamma: p["gamma"])
            case "laplacian": kernel = .laplacian(gamma: p["gamma"])
            default: kernel = .sigmoid(gamma: p["gamma"], coef0: p["coef0"] ?? 1)
            }
            return Case(kernel: kernel, alpha: c["alpha"] as! Double, weighted: c["weighted"] as! Bool, multi: c["multi"] as! Bool,
                        prediction: matrix(c["prediction"]), dual: matrix(c["dual"]))
        }
        return SklearnFixture(xTrain: matrix(json["x_train"]), yTrain: matrix(json["y_train"]), xTest: matrix(json["x_test"]),
                              weights: (json["sample_weight"] as! [NSNumber]).map(\.doubleValue), cases: cases)
    }()
}

@Suite("Kernel ridge against scikit-learn")
struct KernelRidgeTests {
    @Test("predictions and dual coefficients match scikit-learn to 1e-8 (Double)", arguments: testBackends)
    func matchesSklearn(backend: Backend) throws {
        let f = SklearnFixture.shared
        #expect(f.cases.count == 72)
        try Backend.withCurrent(backend) {
            for c in f.cases {
                let y = c.multi ? f.yTrain : f.yTrain.leadingColumns(1)
                let model = try KernelRidge(kernel: c.kernel, alpha: c.alpha).fit(f.xTrain, y, sampleWeight: c.weighted ? f.weights : nil)
                let prediction = try model.predict(f.xTest)
                #expect(relativeDifference(prediction, c.prediction) <= 1e-8, "\(c.label): prediction")
                #expect(relativeDifference(model.dualCoefficients, c.dual) <= 1e-8, "\(c.label): dual")
            }
        }
    }

    @Test("Float agrees with scikit-learn to single precision on positive definite kernels", arguments: testBackends)
    func float(backend: Backend) throws {
        let f = SklearnFixture.shared
        try Backend.withCurrent(backend) {
            for c in f.cases where c.kernel.name == "rbf" || c.kernel.name == "laplacian" {
                let y = c.multi ? f.yTrain : f.yTrain.leadingColumns(1)
                let model = try KernelRidge(kernel: c.kernel, alpha: c.alpha)
                    .fit(f.xTrain.converted(to: Float.self), y.converted(to: Float.self), sampleWeight: c.weighted ? f.weights : nil)
                let prediction = try model.predict(f.xTest.converted(to: Float.self)).converted(to: Double.self)
                #expect(relativeDifference(prediction, c.prediction) <= 1e-4, "\(c.label)")
            }
        }
    }

    @Test("kernel matrices: rbf diagonal exactly 1 and symmetric; defaults γ = 1/d")
    func kernels() {
        let x = Matrix<Double>.random(rows: 6, columns: 3, seed: 1)
        let k = Kernel.rbf().gram(x)
        #expect((0..<6).allSatisfy { k[$0, $0] == 1 } && k == k.transposed())
        #expect(Kernel.rbf().resolved(features: 4) == .rbf(gamma: 0.25))
        let d = (0..<3).map { x[0, $0] - x[1, $0] }
        #expect(abs(Kernel.rbf(gamma: 0.5).matrix(x, x)[0, 1] - exp(-0.5 * d.map { $0 * $0 }.reduce(0, +))) < 1e-14)
        #expect(abs(Kernel.laplacian(gamma: 0.5).matrix(x, x)[0, 1] - exp(-0.5 * d.map(abs).reduce(0, +))) < 1e-14)
        let dot = (0..<3).map { x[0, $0] * x[1, $0] }.reduce(0, +)
        #expect(abs(Kernel.polynomial(degree: 2, gamma: 1, coef0: 0).matrix(x, x)[0, 1] - dot * dot) < 1e-14)
        #expect(abs(Kernel.sigmoid(gamma: 0.1, coef0: 1).matrix(x, x)[0, 1] - tanh(0.1 * dot + 1)) < 1e-14)
    }

    @Test("errors: NaN data, α < 0, mismatched shapes, bad weights")
    func errors() {
        let x = Matrix<Double>.random(rows: 5, columns: 2, seed: 1), y = Matrix<Double>.random(rows: 5, columns: 1, seed: 2)
        var bad = x
        bad[2, 1] = .nan
        #expect(throws: KernelRegressionError.nonFiniteData("the training inputs")) { try KernelRidge().fit(bad, y) }
        #expect(throws: KernelRegressionError.invalidParameter(parameter: .alpha, value: "-1.0", expected: "finite and ≥ 0")) { try KernelRidge(alpha: -1).fit(x, y) }
        #expect(KernelRegressionError.invalidParameter(parameter: .alpha, value: "-1.0", expected: "finite and ≥ 0").description
                == "alpha must be finite and ≥ 0, got -1.0")
        #expect(throws: KernelRegressionError.self) { try KernelRidge().fit(x, y.leadingRows(3)) }
        #expect(throws: KernelRegressionError.self) { try KernelRidge().fit(x, y, sampleWeight: [1, 2]) }
        #expect(throws: KernelRegressionError.self) { try KernelRidge().fit(x, y, sampleWeight: [1, 1, -1, 1, 1]) }
        #expect(throws: KernelRegressionError.self) { try KernelRidge().fit(x, y).predict(Matrix<Double>.zeros(rows: 1, columns: 3)) }
    }

    @Test("a singular system falls back to least squares with a warning")
    func fallback() throws {
        // Duplicate samples with α = 0: K is singular.
        let x = Matrix<Double>([[1, 0], [1, 0], [0, 1]]), y = Matrix<Double>([[1], [1], [2]])
        let model = try KernelRidge(kernel: .linear, alpha: 0).fit(x, y)
        #expect(!model.warnings.isEmpty)
        #expect(relativeDifference(try model.predict(x), y) < 1e-12)
    }
}

@Suite("Leave-one-out CV, Nyström, one-step kernel GD")
struct KernelModelSelectionTests {
    @Test("LOO residuals equal brute-force refits; the best α wins, ties to the larger", arguments: testBackends)
    func leaveOneOut(backend: Backend) throws {
        let f = SklearnFixture.shared
        try Backend.withCurrent(backend) {
            let alphas = [1e-3, 1e-2, 0.1, 1, 10]
            let result = try LeaveOneOutSearch(kernel: .rbf(gamma: 0.3), alphas: alphas).search(f.xTrain, f.yTrain)
            #expect(result.scores.count == alphas.count)
            #expect(result.bestScore == result.scores.min())
            // Brute force at the chosen α.
            let n = f.xTrain.rows
            for i in 0..<n {
                let keep = (0..<n).filter { $0 != i }
                let x = Matrix<Double>(rows: n - 1, columns: f.xTrain.columns) { r, c in f.xTrain[keep[r], c] }
                let y = Matrix<Double>(rows: n - 1, columns: 2) { r, c in f.yTrain[keep[r], c] }
                let model = try KernelRidge(kernel: .rbf(gamma: 0.3), alpha: result.bestAlpha).fit(x, y)
                let predicted = try model.predict(Matrix(rows: 1, columns: f.xTrain.columns, elements: f.xTrain.row(i)))
                for t in 0..<2 {
                    #expect(abs((f.yTrain[i, t] - predicted[0, t]) - result.residuals[i, t]) <= 1e-8 * Swift.max(1, abs(result.residuals[i, t])))
                }
            }
            // Identical scores: the larger α.
            let tie = try LeaveOneOutSearch(kernel: .linear, alphas: [0.5, 0.5]).search(f.xTrain, f.yTrain)
            #expect(tie.bestAlpha == 0.5)
            let constant = Matrix<Double>(rows: f.xTrain.rows, columns: 1, repeating: 0)
            let zero = try LeaveOneOutSearch(kernel: .rbf(), alphas: [1, 2, 3]).search(f.xTrain, constant)
            #expect(zero.bestAlpha == 3, "all scores 0: ties go to the largest α")
        }
    }

    @Test("Nyström: m = n reproduces exact KRR; ΦΦᵀ = K_nm K_mm⁺ K_mn", arguments: testBackends)
    func nystroem(backend: Backend) throws {
        let f = SklearnFixture.shared
        try Backend.withCurrent(backend) {
            let kernel = Kernel.rbf(gamma: 0.2)
            let exact = try KernelRidge(kernel: kernel, alpha: 0.5).fit(f.xTrain, f.yTrain).predict(f.xTest)
            let full = try NystroemRidge(nystroem: Nystroem(kernel: kernel, components: f.xTrain.rows, seed: 3), alpha: 0.5, blockRows: 7).fit(f.xTrain, f.yTrain)
            #expect(relativeDifference(try full.predict(f.xTest), exact) <= 1e-7)
            // m < n: Φ Φᵀ against the pseudo-inverse formula.
            let map = try Nystroem(kernel: kernel, components: 15, seed: 4).fit(f.xTrain)
            let phi = map.transform(f.xTrain)
            let knm = kernel.matrix(f.xTrain, map.landmarks)
            let kmm = kernel.gram(map.landmarks)
            let formula = knm * (try kmm.leastSquares(knm.transposed()))
            #expect(relativeDifference(Matrix.product(phi, .none, phi, .transposed), formula) <= 1e-8)
            // The seed picks the landmarks reproducibly.
            #expect(try Nystroem(kernel: kernel, components: 15, seed: 4).fit(f.xTrain).landmarks == map.landmarks)
            // More components than samples: clamped, with a warning.
            let clamped = try Nystroem(kernel: kernel, components: 1000).fit(f.xTrain)
            #expect(clamped.landmarks.rows == f.xTrain.rows && !clamped.warnings.isEmpty)
            #expect(throws: KernelRegressionError.self) { try Nystroem(kernel: kernel, components: 0).fit(f.xTrain) }
        }
    }

    @Test("Nyström with m = n matches exact kernel ridge to rounding on an ill-conditioned kernel (κ(K) ≈ 1e12)", arguments: testBackends)
    func nystroemIllConditioned(backend: Backend) throws {
        // Like scikit-learn's diabetes data: 350 rows of 10 small-scale features, rbf γ = 0.7, α = 0.05,
        // so K is nearly all ones. Forming Nᵀ(K_nmᵀK_nm)N squared κ(K) and lost 2.5e-5 relative.
        let x = 0.05 * Matrix<Double>.random(rows: 350, columns: 10, seed: 11)
        let y = Matrix<Double>(rows: 350, columns: 1) { i, _ in 150 + 400 * x[i, 0] - 300 * x[i, 3] + 200 * x[i, 1] * x[i, 2] }
        let test = 0.05 * Matrix<Double>.random(rows: 60, columns: 10, seed: 12)
        let kernel = Kernel.rbf(gamma: 0.7)
        try Backend.withCurrent(backend) {
            let eigenvalues = try kernel.gram(x).symmetricEigenvalues()
            #expect(eigenvalues.last! / Swift.max(eigenvalues.first!, .leastNormalMagnitude) > 1e10, "the kernel is ill-conditioned")
            let exact = try KernelRidge(kernel: kernel, alpha: 0.05).fit(x, y).predict(test)
            let nystroem = try NystroemRidge(nystroem: Nystroem(kernel: kernel, components: 350, seed: 1), alpha: 0.05, blockRows: 64).fit(x, y)
            let difference = relativeDifference(try nystroem.predict(test), exact)
            #expect(difference <= 1e-9, "relative difference \(difference)")
        }
    }

    @Test("one-step kernel GD is (η/n) Σ yᵢ k(xᵢ, x)")
    func oneStep() throws {
        let x = Matrix<Double>([[1, 0], [0, 2]]), y = Matrix<Double>([[3], [5]]), test = Matrix<Double>([[1, 1]])
        let prediction = try OneStepKernelGD(learningRate: 0.5).predict(train: x, y, test: test)
        // k = (xᵀx′)²: k(x₁, t) = 1, k(x₂, t) = 4 → 0.5/2 · (3 + 20).
        #expect(abs(prediction[0, 0] - 0.25 * 23) < 1e-14)
    }
}
