/// One value of a merge parameter as a mergekit config writes it: a number, a
/// boolean or a string.
public enum ParameterValue: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// A number (YAML int or float).
    case number(Double)
    /// A boolean.
    case bool(Bool)
    /// A string.
    case string(String)

    /// The value as a number, booleans as 0 and 1 (as Python counts them); nil for strings.
    public var number: Double? {
        switch self {
        case .number(let x): return x
        case .bool(let b): return b ? 1 : 0
        case .string: return nil
        }
    }

    /// The value as a boolean: a boolean itself, or a number other than 0 (Python's
    /// truth of what a numeric gradient yields); nil for strings.
    public var bool: Bool? {
        switch self {
        case .number(let x): return x != 0
        case .bool(let b): return b
        case .string: return nil
        }
    }

    /// The value as a config would write it.
    public var description: String {
        switch self {
        case .number(let x): return "\(x)"
        case .bool(let b): return "\(b)"
        case .string(let s): return s
        }
    }
}

/// mergekit's parameter setting (`config.py`): a plain value, a gradient over the
/// layers, or a list of values filtered by tensor name, evaluated per tensor.
///
/// `evaluate(tensor:position:)` at layer position t ∈ [0, 1] (see `LayerSlicePlan`):
/// - `.value(v)`: v.
/// - `.gradient(v₀ … v_{n−1})` of numbers (booleans count as 0/1, as in Python):
///   s = t(n − 1), i₀ = int(s), i₁ = min(n − 1, i₀ + 1), f = s − i₀, and the value is
///   the number (1 − f)·v_{i₀} + f·v_{i₁}: piecewise linear through the points
///   evenly spread over [0, 1], the ends exact. So a list of booleans yields a number
///   (use `ParameterValue.bool`, which reads it as Python's truth).
/// - `.gradient` with a string among its values: v_{int(t(n − 1))}, no interpolation.
/// - `.filtered(entries)`: the first entry whose `filter` is nil, "*", or a substring
///   of the tensor's name decides (its value is evaluated in turn, even if that is
///   "not set"); no match is "not set" (nil).
///
/// t is clamped to [0, 1]; an empty gradient is "not set". Which name a setting is
/// matched against is the caller's part: mergekit matches per-model parameters
/// against the model's input tensor name and the others against the output name.
public indirect enum ParameterSetting: Sendable, Equatable, Hashable {
    /// A plain value.
    case value(ParameterValue)
    /// A list of values over the layers.
    case gradient([ParameterValue])
    /// A list of `{filter, value}` entries, the first match deciding.
    case filtered([Filtered])

    /// One `{filter: …, value: …}` entry of a filtered list.
    public struct Filtered: Sendable, Equatable, Hashable {
        /// A substring of the tensor names it applies to; nil or "*" matches all.
        public var filter: String?
        /// Its value (a plain value or a gradient).
        public var value: ParameterSetting

        /// An entry applying `value` to tensors whose name contains `filter`.
        public init(filter: String?, value: ParameterSetting) {
            self.filter = filter
            self.value = value
        }
    }

    /// The value for tensor `tensor` at layer position `position` (t), or nil when
    /// not set. Cost: O(entries + name length · filters).
    public func evaluate(tensor: String, position: Double) -> ParameterValue? {
        let t = position.isNaN ? 0 : Swift.min(Swift.max(position, 0), 1)
        switch self {
        case .value(let v):
            return v
        case .gradient(let values):
            guard !values.isEmpty else { return nil }
            let scaled = t * Double(values.count - 1)
            let numbers = values.compactMap(\.number)
            guard numbers.count == values.count else { return values[Int(scaled)] }
            let i0 = Int(scaled), i1 = Swift.min(values.count - 1, i0 + 1)
            let fraction = scaled - Double(i0)
            return .number((1 - fraction) * numbers[i0] + fraction * numbers[i1])
        case .filtered(let entries):
            for entry in entries {
                if entry.filter == nil || entry.filter == "*" || (!tensor.isEmpty && tensor.contains(entry.filter!)) {
                    return entry.value.evaluate(tensor: tensor, position: position)
                }
            }
            return nil
        }
    }

    /// mergekit's lookup order: the first of `settings` (most specific first: the
    /// slice source's, the output slice's, the module's, the top-level parameters)
    /// that is present and set for this tensor; nil means the method's default.
    /// Cost: the evaluations'.
    public static func resolve(_ settings: [ParameterSetting?], tensor: String, position: Double) -> ParameterValue? {
        for setting in settings {
            if let value = setting?.evaluate(tensor: tensor, position: position) { return value }
        }
        return nil
    }
}
