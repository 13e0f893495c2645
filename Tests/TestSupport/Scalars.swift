import Testing
import LinearAlgebra

/// Both scalar types, for checks written once as generic functions and run as
/// `@Test(arguments: ScalarKind.allCases)`.
public enum ScalarKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case float, double
    public var testDescription: String { rawValue }
}

/// Runs a generic check for the scalar kind.
public func withScalar(_ kind: ScalarKind, _ body: (any Scalar.Type) throws -> Void) rethrows {
    switch kind {
    case .float: try body(Float.self)
    case .double: try body(Double.self)
    }
}

/// A tolerance for relative errors: c · ε · √n.
public func tolerance<T: Scalar>(_: T.Type, n: Int, c: Double = 30) -> T {
    T(c) * T.ulpOfOne * T(Double(Swift.max(n, 1)).squareRoot())
}
