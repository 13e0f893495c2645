import Foundation
import Testing
import LinearAlgebra
@testable import LowRank

enum ScalarKind: String, CaseIterable, Sendable {
    case float, double
}

func withScalar(_ kind: ScalarKind, _ body: (any Scalar.Type) throws -> Void) rethrows {
    switch kind {
    case .float: try body(Float.self)
    case .double: try body(Double.self)
    }
}

let testBackends: [Backend] = {
    if let name = ProcessInfo.processInfo.environment["RANKWISE_TEST_BACKEND"], let only = Backend(name: name) {
        return Backend.available.filter { $0 == only }
    }
    return Backend.available
}()

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

func maxDifference<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) -> Double {
    zip(a.elements, b.elements).map { abs(Double($0) - Double($1)) }.max() ?? 0
}
