/// A merge parameter that mergekit lets differ per model (`weight`, `density`,
/// `gamma`, `epsilon`): one value for every model, or one value each.
///
/// Literals read naturally: `density: 0.5` (all models) or
/// `density: [0.5, 0.7, 0.3]` (one per model, in the order of the tensors passed
/// to `merge`, the base not counted).
public enum PerModel: Sendable, Equatable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    /// The same value for every model.
    case all(Double)
    /// One value per model.
    case each([Double])

    /// `.all(value)`.
    public init(floatLiteral value: Double) { self = .all(value) }
    /// `.all(Double(value))`.
    public init(integerLiteral value: Int) { self = .all(Double(value)) }
    /// `.each(values)`.
    public init(arrayLiteral values: Double...) { self = .each(values) }

    /// The value for each of `models` models. Cost: O(models).
    ///
    /// - Throws: `MergingError.weightCount` when `.each` has another count than `models`.
    public func values(models: Int) throws -> [Double] {
        switch self {
        case .all(let value): return Array(repeating: value, count: models)
        case .each(let values):
            guard values.count == models else { throw MergingError.weightCount(expected: models, got: values.count) }
            return values
        }
    }

    /// The value, or the list of values, as written in a config.
    public var description: String {
        switch self {
        case .all(let value): return "\(value)"
        case .each(let values): return "\(values)"
        }
    }
}
