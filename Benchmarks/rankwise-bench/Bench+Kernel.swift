import KernelRegression
import Foundation
import LinearAlgebra

extension RankwiseBench {
    /// Exact kernel ridge (rbf) on 20,000 samples and Nyström ridge with
    /// m = 2,000 on 1,000,000 samples × 20 features, in Double; the test RMSE
    /// is recorded beside the time.
    mutating func kernel() throws {
        let d = 20
        let exactN = quick ? 4000 : 20_000, nystroemN = quick ? 100_000 : 1_000_000, m = quick ? 500 : 2000
        let test = benchRegression(rows: 2000, features: d, seed: 99)
        let exact = benchRegression(rows: exactN, features: d, seed: 1)
        var rmse = 0.0
        try harness.measure(suite: "kernel", operation: "krr rbf fit+predict", dtype: "float64", size: "n=\(exactN) d=\(d)",
                            implementation: Backend.current.rawValue, metricName: "test RMSE", metric: { rmse }) {
            let model = try KernelRidge(kernel: .rbf(gamma: 0.05), alpha: 0.1).fit(exact.x, exact.y)
            rmse = rootMeanSquare(try model.predict(test.x) - test.y)
        }
        let big = benchRegression(rows: nystroemN, features: d, seed: 2)
        try harness.measure(suite: "kernel", operation: "nystroem m=\(m) fit+predict", dtype: "float64", size: "n=\(nystroemN) d=\(d)",
                            implementation: Backend.current.rawValue, metricName: "test RMSE", metric: { rmse }) {
            let model = try NystroemRidge(nystroem: Nystroem(kernel: .rbf(gamma: 0.05), components: m, seed: 0), alpha: 0.1).fit(big.x, big.y)
            rmse = rootMeanSquare(try model.predict(test.x) - test.y)
        }
    }
}

/// y = sin(x₀) + x₁·x₂/2 + 0.1·noise on Gaussian x: smooth, so rbf fits it.
func benchRegression(rows: Int, features: Int, seed: UInt64) -> (x: Matrix<Double>, y: Matrix<Double>) {
    let x = Matrix<Double>.random(rows: rows, columns: features, seed: seed)
    let noise = Matrix<Double>.random(rows: rows, columns: 1, seed: seed &+ 1000)
    let y = Matrix<Double>(rows: rows, columns: 1) { i, _ in
        sin(x[i, 0]) + 0.5 * x[i, 1] * x[i, 2] + 0.1 * noise[i, 0]
    }
    return (x, y)
}

func rootMeanSquare(_ m: Matrix<Double>) -> Double {
    (m.elements.map { $0 * $0 }.reduce(0, +) / Double(Swift.max(m.count, 1))).squareRoot()
}
