import Foundation
import Testing
import LinearAlgebra
@testable import LowRank

/// Calibration inputs as columns X `[in, N]` with a few outlier channels (as in
/// real LLM activations), and C = X Xᵀ in Double.
func calibration(inFeatures: Int, tokens: Int, seed: UInt64) -> (x: Matrix<Double>, c: Matrix<Double>) {
    var x = Matrix<Double>.random(rows: inFeatures, columns: tokens, seed: seed)
    let scales: [Double] = (0..<inFeatures).map { (j: Int) -> Double in j % 17 == 3 ? 20 : 1 + 0.2 * Double(j % 5) }
    x.scaleRows(by: scales)
    return (x, Matrix.product(x, .none, x, .transposed))
}

/// A weight with a decaying spectrum, out×in.
func weight<T: Scalar>(_: T.Type, out: Int, in n: Int, seed: UInt64) -> Matrix<T> {
    var w = Matrix<Double>.random(rows: out, columns: n, seed: seed)
    w.scaleColumns(by: (0..<n).map { 1 / (1 + Double($0)).squareRoot() })
    return w.converted()
}

/// ‖M X‖_F computed the slow, obvious way.
func activationNorm<T: Scalar>(_ m: Matrix<T>, _ x: Matrix<Double>) -> Double {
    (m.converted(to: Double.self) * x).frobeniusNorm()
}
