import LinearAlgebra

/// ‖A − B‖_F in Double.
public func distance<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) -> Double {
    precondition(a.rows == b.rows && a.columns == b.columns)
    var s = 0.0
    for (x, y) in zip(a.elements, b.elements) { let d = Double(x) - Double(y); s += d * d }
    return s.squareRoot()
}

/// max |aᵢⱼ − bᵢⱼ| in Double (0 for empty matrices).
public func maxDifference<T: Scalar>(_ a: Matrix<T>, _ b: Matrix<T>) -> Double {
    zip(a.elements, b.elements).map { abs(Double($0) - Double($1)) }.max() ?? 0
}

/// ‖A − B‖_F / ‖B‖_F (the denominator floored at 1e-300, so B = 0 gives ‖A‖_F / 1e-300).
public func relativeDifference(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double {
    (a - b).frobeniusNorm() / Swift.max(b.frobeniusNorm(), 1e-300)
}

/// ‖QᵀQ − I‖_F for a matrix whose columns should be orthonormal.
public func orthonormalityError<T: Scalar>(columnsOf q: Matrix<T>) -> Double {
    distance(Matrix.product(q, .transposed, q, .none), .identity(q.columns))
}

/// ‖QQᵀ − I‖_F for a matrix whose rows should be orthonormal.
public func orthonormalityError<T: Scalar>(rowsOf q: Matrix<T>) -> Double {
    distance(Matrix.product(q, .none, q, .transposed), .identity(q.rows))
}

/// The product computed naively in Double, as an independent reference.
public func referenceProduct<T: Scalar>(_ a: Matrix<T>, _ opA: Transpose, _ b: Matrix<T>, _ opB: Transpose) -> Matrix<Double> {
    let a = opA == .none ? a : a.transposed(), b = opB == .none ? b : b.transposed()
    return Matrix<Double>(rows: a.rows, columns: b.columns) { i, j in
        var s = 0.0
        for p in 0..<a.columns { s += Double(a[i, p]) * Double(b[p, j]) }
        return s
    }
}
