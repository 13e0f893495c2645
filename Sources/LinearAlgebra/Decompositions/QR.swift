extension Matrix {
    /// The thin QR decomposition A = Q R by Householder reflections.
    ///
    /// For an m×n A with k = min(m, n): `q` is m×k with orthonormal columns and
    /// `r` is k×n upper triangular (trapezoidal when n > m). The signs of R's
    /// diagonal are not normalised. OpenBLAS: `gelqf` + `orglq` on the
    /// transpose (no copy); native: Householder QR. Cost O(m·n·k).
    ///
    /// - Throws: `.nonFiniteInput`.
    public func qr() throws -> QR<Element> {
        try requireFinite("qr")
        let k = Swift.min(rows, columns)
        guard k > 0 else { return QR(q: .zeros(rows: rows, columns: 0), r: .zeros(rows: 0, columns: columns)) }
        return Backend.current.kernels.qr(self)
    }
}
