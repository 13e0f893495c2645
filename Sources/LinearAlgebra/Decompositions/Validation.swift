extension Matrix {
    /// Throws `.nonFiniteInput(operation:)` unless every entry is finite.
    func requireFinite(_ operation: String) throws {
        guard isFinite else { throw LinearAlgebraError.nonFiniteInput(operation: operation) }
    }
}
