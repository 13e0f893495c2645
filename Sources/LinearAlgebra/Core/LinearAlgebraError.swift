/// A data-dependent failure of a linear-algebra routine.
///
/// Shape mismatches are programmer errors and stop with a precondition; what
/// depends on the numbers in a matrix is thrown as one of these.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An input to `operation` held NaN or ±∞.
    case nonFiniteInput(operation: String)
    /// Cholesky met a pivot ≤ 0 at this (0-based) row: the matrix is not
    /// positive definite.
    case notPositiveDefinite(pivot: Int)
    /// LU met an exactly zero pivot at this (0-based) column: the system is
    /// singular.
    case singular(pivot: Int)
    /// An iterative algorithm (SVD, eigen) did not converge.
    case noConvergence(operation: String)

    public var description: String {
        switch self {
        case .nonFiniteInput(let operation):
            return "\(operation): the input contains NaN or infinity"
        case .notPositiveDefinite(let pivot):
            return "cholesky: the matrix is not positive definite (pivot \(pivot) is not positive)"
        case .singular(let pivot):
            return "solve: the matrix is singular (zero pivot in column \(pivot))"
        case .noConvergence(let operation):
            return "\(operation): the iteration did not converge"
        }
    }
}
