/// A thin singular value decomposition A = U Σ Vᵀ of an m×n matrix, k = min(m, n).
public struct SVD<Element: Scalar>: Sendable, Equatable {
    /// m×k, orthonormal columns: the left singular vectors.
    public var u: Matrix<Element>
    /// k values, descending and non-negative.
    public var singularValues: [Element]
    /// k×n, orthonormal rows: the right singular vectors, transposed.
    public var vt: Matrix<Element>

    /// Wraps given factors as they are: U m×k, σ of length k, Vᵀ k×n. Nothing is checked or
    /// reordered, so the caller keeps the contract (orthonormal U and Vᵀ, σ descending and non-negative).
    public init(u: Matrix<Element>, singularValues: [Element], vt: Matrix<Element>) {
        self.u = u
        self.singularValues = singularValues
        self.vt = vt
    }

    /// The number of singular triplets held.
    public var rank: Int { singularValues.count }

    /// The leading r triplets (U_r, σ_1..r, V_rᵀ).
    public func truncated(to r: Int) -> SVD {
        let r = Swift.min(r, singularValues.count)
        return SVD(u: u.leadingColumns(r), singularValues: Array(singularValues.prefix(r)), vt: vt.leadingRows(r))
    }

    /// U diag(σ) Vᵀ.
    public func reconstructed() -> Matrix<Element> {
        var us = u
        us.scaleColumns(by: singularValues)
        return us * vt
    }
}

/// The eigendecomposition S = Q Λ Qᵀ of a symmetric n×n matrix.
public struct SymmetricEigen<Element: Scalar>: Sendable, Equatable {
    /// n eigenvalues, ascending (the LAPACK order).
    public var values: [Element]
    /// n×n orthogonal Q; column j belongs to `values[j]`.
    public var vectors: Matrix<Element>

    /// Wraps given eigenpairs as they are: n values and an n×n Q whose column j belongs to `values[j]`.
    /// Nothing is checked or sorted, so the caller keeps the contract (ascending values, orthogonal Q).
    public init(values: [Element], vectors: Matrix<Element>) {
        self.values = values
        self.vectors = vectors
    }
}

/// A thin QR decomposition A = Q R of an m×n matrix, k = min(m, n).
public struct QR<Element: Scalar>: Sendable, Equatable {
    /// m×k with orthonormal columns.
    public var q: Matrix<Element>
    /// k×n upper triangular (upper trapezoidal when n > m).
    public var r: Matrix<Element>

    /// Wraps given factors as they are: Q m×k with orthonormal columns, R k×n upper triangular.
    /// Nothing is checked, so the caller keeps the contract.
    public init(q: Matrix<Element>, r: Matrix<Element>) {
        self.q = q
        self.r = r
    }
}
