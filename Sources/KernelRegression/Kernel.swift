import LinearAlgebra

#if canImport(Glibc)
import Glibc
#endif

/// A kernel k(x, y) between samples (rows), with scikit-learn's parameter
/// meanings and defaults: γ = 1/n_features when nil, coef0 = 1, degree = 3.
///
/// - linear: xᵀy
/// - polynomial: (γ xᵀy + coef0)^degree
/// - rbf: exp(−γ‖x − y‖²), with ‖x − y‖² = ‖x‖² − 2xᵀy + ‖y‖² clamped at 0
///   and exactly 0 on the diagonal of K(X, X)
/// - laplacian: exp(−γ‖x − y‖₁)
/// - sigmoid: tanh(γ xᵀy + coef0)
public enum Kernel: Sendable, Equatable {
    case linear
    case polynomial(degree: Double = 3, gamma: Double? = nil, coef0: Double = 1)
    case rbf(gamma: Double? = nil)
    case laplacian(gamma: Double? = nil)
    case sigmoid(gamma: Double? = nil, coef0: Double = 1)

    /// The kernel's name as scikit-learn spells it.
    public var name: String {
        switch self {
        case .linear: return "linear"
        case .polynomial: return "poly"
        case .rbf: return "rbf"
        case .laplacian: return "laplacian"
        case .sigmoid: return "sigmoid"
        }
    }

    /// γ, if the kernel has one (nil before `resolved(features:)` when defaulted).
    public var gamma: Double? {
        switch self {
        case .linear: return nil
        case .polynomial(_, let g, _), .sigmoid(let g, _): return g
        case .rbf(let g), .laplacian(let g): return g
        }
    }

    /// The same kernel with γ fixed to 1/n_features where it was nil, so a
    /// saved model predicts with the γ it was fitted with.
    public func resolved(features: Int) -> Kernel {
        let d = 1 / Double(Swift.max(features, 1))
        switch self {
        case .linear: return .linear
        case .polynomial(let degree, let g, let c): return .polynomial(degree: degree, gamma: g ?? d, coef0: c)
        case .rbf(let g): return .rbf(gamma: g ?? d)
        case .laplacian(let g): return .laplacian(gamma: g ?? d)
        case .sigmoid(let g, let c): return .sigmoid(gamma: g ?? d, coef0: c)
        }
    }

    /// K(X, Y) `[n, m]` for samples X `[n, d]` and Y `[m, d]`. Dot-product
    /// kernels and rbf cost one GEMM (2nmd flops) plus O(nm) elementwise work;
    /// laplacian costs 3nmd.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func matrix<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<T>) -> Matrix<T> {
        precondition(x.columns == y.columns, "kernel: X has \(x.columns) features, Y has \(y.columns)")
        let k = resolved(features: x.columns)
        switch k {
        case .linear:
            return Matrix.product(x, .none, y, .transposed)
        case .polynomial(let degree, let g, let c):
            return Matrix.product(x, .none, y, .transposed).map { T(pow($0.doubleValue * g! + c, degree)) }
        case .sigmoid(let g, let c):
            return Matrix.product(x, .none, y, .transposed).map { T(tanh($0.doubleValue * g! + c)) }
        case .rbf(let g):
            var d = squaredDistances(x, y)
            let scale = -g!
            updateInParallel(&d) { T(exp(scale * $0.doubleValue)) }
            return d
        case .laplacian(let g):
            return Matrix(rows: x.rows, columns: y.rows) { i, j in
                var s = 0.0
                for f in 0..<x.columns { s += abs(Double(x[i, f]) - Double(y[j, f])) }
                return T(exp(-g! * s))
            }
        }
    }

    /// K(X, X), exactly symmetric, with rbf's diagonal exactly 1 (distance 0).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func gram<T: Scalar>(_ x: Matrix<T>) -> Matrix<T> {
        var k = matrix(x, x)
        let n = k.rows
        // Symmetrise exactly (GEMM rounding may differ across the diagonal),
        // in 64×64 tiles so both the reads and the transposed writes stay in cache.
        let rbf: Bool
        if case .rbf = self { rbf = true } else { rbf = false }
        k.withUnsafeMutableBufferPointer { p in
            let tile = 64
            for bi in stride(from: 0, to: n, by: tile) {
                for bj in stride(from: 0, to: bi + 1, by: tile) {
                    for i in bi..<Swift.min(n, bi + tile) {
                        for j in bj..<Swift.min(i, bj + tile) { p[j * n + i] = p[i * n + j] }
                    }
                }
            }
            if rbf { for i in 0..<n { p[i * n + i] = 1 } }
        }
        return k
    }
}

/// m[i] ← f(m[i]) for every element, in chunks across the cores.
func updateInParallel<T: Scalar>(_ m: inout Matrix<T>, _ f: (T) -> T) {
    m.withUnsafeMutableBufferPointer { p in
        let chunk = 1 << 16
        Backend.forEachChunk((p.count + chunk - 1) / chunk) { c in
            for i in (c * chunk)..<Swift.min(p.count, (c + 1) * chunk) { p[i] = f(p[i]) }
        }
    }
}

/// ‖xᵢ − yⱼ‖² = ‖xᵢ‖² − 2xᵢᵀyⱼ + ‖yⱼ‖², clamped at 0.
@_specialize(where T == Float)
@_specialize(where T == Double)
func squaredDistances<T: Scalar>(_ x: Matrix<T>, _ y: Matrix<T>) -> Matrix<T> {
    let xx = (0..<x.rows).map { i in x.row(i).reduce(T(0)) { $0 + $1 * $1 } }
    let yy = (0..<y.rows).map { j in y.row(j).reduce(T(0)) { $0 + $1 * $1 } }
    var d = Matrix.product(x, .none, y, .transposed)
    let m = y.rows
    d.withUnsafeMutableBufferPointer { p in
        for i in 0..<x.rows {
            for j in 0..<m { p[i * m + j] = Swift.max(0, xx[i] - 2 * p[i * m + j] + yy[j]) }
        }
    }
    return d
}
