import Foundation
import Testing
import LinearAlgebra
@testable import KernelRegression

@Suite("kernel models with inconsistent contents")
struct HostileKernelTests {
    let x = Matrix<Double>(rows: 6, columns: 2) { i, j in Double(i + 2 * j) / 7 }

    @Test("predict with mismatched dual coefficients or Nyström tensors throws instead of trapping")
    func shapes() throws {
        let model = KernelRidgeModel(kernel: .rbf(gamma: 0.5), alpha: 1, trainingInputs: x, dualCoefficients: Matrix(rows: 4, columns: 1, repeating: 1.0))
        #expect(throws: KernelRegressionError.self) { try model.predict(x) }
        let map = Nystroem.FeatureMap<Double>(kernel: .rbf(gamma: 0.5), landmarks: x, normalization: Matrix(rows: 6, columns: 5, repeating: 1.0))
        #expect(throws: KernelRegressionError.self) { try NystroemRidge.Model(featureMap: map, coefficients: Matrix(rows: 6, columns: 1, repeating: 1.0)).predict(x) }
        let square = Nystroem.FeatureMap<Double>(kernel: .rbf(gamma: 0.5), landmarks: x, normalization: Matrix(rows: 6, columns: 6, repeating: 1.0))
        #expect(throws: KernelRegressionError.self) { try NystroemRidge.Model(featureMap: square, coefficients: Matrix(rows: 3, columns: 1, repeating: 1.0)).predict(x) }
        #expect(try NystroemRidge.Model(featureMap: square, coefficients: Matrix(rows: 6, columns: 1, repeating: 1.0)).predict(x).rows == 6)
    }

    @Test("an overflowing kernel matrix is refused by fit, LOO search and Nyström")
    func overflow() throws {
        let big = Kernel.polynomial(degree: 400, gamma: 1000, coef0: 1)
        let y = Matrix<Double>(rows: 6, columns: 1) { i, _ in Double(i) }
        let bigX = x.map { $0 + 1 }
        #expect(throws: KernelRegressionError.self) { try KernelRidge(kernel: big, alpha: 1).fit(bigX, y) }
        #expect(throws: KernelRegressionError.self) { try LeaveOneOutSearch(kernel: big, alphas: [1]).search(bigX, y) }
        #expect(throws: KernelRegressionError.self) { try NystroemRidge(nystroem: Nystroem(kernel: big, components: 3), alpha: 1).fit(bigX, y) }
    }
}
