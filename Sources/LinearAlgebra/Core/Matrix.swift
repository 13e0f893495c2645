/// A dense, row-major matrix of `Float` or `Double` with value semantics.
///
/// Element (i, j) lives at `elements[i * columns + j]`, the layout of numpy,
/// PyTorch and safetensors, so a weight `W[out, in]` loads without a copy or a
/// transpose. Storage is a Swift array, so copies are cheap until one side is
/// mutated (copy-on-write).
///
/// Arithmetic that matters for speed (`*`, `gram()`, the decompositions) goes
/// through the current `Backend`.
public struct Matrix<Element: Scalar>: Sendable, Equatable {
    /// Number of rows (m).
    public let rows: Int
    /// Number of columns (n).
    public let columns: Int
    /// The m·n entries in row-major order.
    public internal(set) var elements: [Element]

    /// A matrix with the given entries in row-major order.
    ///
    /// - Precondition: `elements.count == rows * columns`, both dimensions ≥ 0.
    public init(rows: Int, columns: Int, elements: [Element]) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative, got \(rows)×\(columns)")
        precondition(elements.count == rows * columns,
                     "Matrix \(rows)×\(columns) needs \(rows * columns) elements, got \(elements.count)")
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    /// A matrix with every entry equal to `value`.
    public init(rows: Int, columns: Int, repeating value: Element) {
        self.init(rows: rows, columns: columns, elements: Array(repeating: value, count: rows * columns))
    }

    /// A matrix whose entry (i, j) is `entry(i, j)`.
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public init(rows: Int, columns: Int, _ entry: (_ row: Int, _ column: Int) throws -> Element) rethrows {
        var elements = [Element]()
        elements.reserveCapacity(rows * columns)
        for i in 0..<rows {
            for j in 0..<columns { elements.append(try entry(i, j)) }
        }
        self.init(rows: rows, columns: columns, elements: elements)
    }

    /// A matrix from nested row arrays, for literals in tests and examples.
    ///
    /// - Precondition: every row has the same length.
    public init(_ rowArrays: [[Element]]) {
        let columns = rowArrays.first?.count ?? 0
        precondition(rowArrays.allSatisfy { $0.count == columns }, "Matrix rows must all have the same length")
        self.init(rows: rowArrays.count, columns: columns, elements: rowArrays.flatMap { $0 })
    }

    /// The m×n zero matrix.
    public static func zeros(rows: Int, columns: Int) -> Matrix {
        Matrix(rows: rows, columns: columns, repeating: 0)
    }

    /// The n×n identity.
    public static func identity(_ n: Int) -> Matrix {
        var m = zeros(rows: n, columns: n)
        for i in 0..<n { m.elements[i * n + i] = 1 }
        return m
    }

    /// The square matrix with `values` on its diagonal.
    public static func diagonal(_ values: [Element]) -> Matrix {
        let n = values.count
        var m = zeros(rows: n, columns: n)
        for i in 0..<n { m.elements[i * n + i] = values[i] }
        return m
    }

    /// `(rows, columns)`.
    public var shape: (rows: Int, columns: Int) { (rows, columns) }

    /// Number of entries, m·n.
    public var count: Int { elements.count }

    /// True when m = n.
    public var isSquare: Bool { rows == columns }

    /// True when the matrix has no entries (m = 0 or n = 0).
    public var isEmpty: Bool { elements.isEmpty }

    /// Entry (row, column).
    public subscript(row: Int, column: Int) -> Element {
        get {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "Index (\(row), \(column)) out of range for \(rows)×\(columns)")
            return elements[row * columns + column]
        }
        set {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "Index (\(row), \(column)) out of range for \(rows)×\(columns)")
            elements[row * columns + column] = newValue
        }
    }

    /// Calls `body` with the row-major storage, without copying.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        try elements.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with mutable row-major storage (copying first only if the
    /// storage is shared).
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Element>) throws -> R) rethrows -> R {
        try elements.withUnsafeMutableBufferPointer(body)
    }

    /// Row `i` as an array.
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public func row(_ i: Int) -> [Element] {
        precondition(i >= 0 && i < rows, "Row \(i) out of range for \(rows)×\(columns)")
        return Array(elements[i * columns ..< (i + 1) * columns])
    }

    /// Column `j` as an array.
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public func column(_ j: Int) -> [Element] {
        precondition(j >= 0 && j < columns, "Column \(j) out of range for \(rows)×\(columns)")
        return (0..<rows).map { elements[$0 * columns + j] }
    }

    /// The diagonal entries (i, i) for i < min(m, n).
    public var diagonalElements: [Element] {
        (0..<Swift.min(rows, columns)).map { elements[$0 * columns + $0] }
    }

    /// The block of rows `rowRange` and columns `columnRange`, as a new matrix.
    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    public func submatrix(rows rowRange: Range<Int>, columns columnRange: Range<Int>) -> Matrix {
        precondition(rowRange.lowerBound >= 0 && rowRange.upperBound <= rows, "Row range \(rowRange) out of bounds for \(rows) rows")
        precondition(columnRange.lowerBound >= 0 && columnRange.upperBound <= columns, "Column range \(columnRange) out of bounds for \(columns) columns")
        var out = [Element]()
        out.reserveCapacity(rowRange.count * columnRange.count)
        for i in rowRange {
            out.append(contentsOf: elements[i * columns + columnRange.lowerBound ..< i * columns + columnRange.upperBound])
        }
        return Matrix(rows: rowRange.count, columns: columnRange.count, elements: out)
    }

    /// The first `k` columns.
    public func leadingColumns(_ k: Int) -> Matrix { submatrix(rows: 0..<rows, columns: 0..<k) }

    /// The first `k` rows.
    public func leadingRows(_ k: Int) -> Matrix { submatrix(rows: 0..<k, columns: 0..<columns) }

    /// The same entries converted to another precision (rounded to nearest).
    /// Free when the types are equal; otherwise one tight loop over concrete
    /// Float/Double storage.
    public func converted<Other: Scalar>(to type: Other.Type = Other.self) -> Matrix<Other> {
        if let same = self as? Matrix<Other> { return same }
        let n = count
        let out = [Other](unsafeUninitializedCapacity: n) { destination, initialized in
            elements.withUnsafeBufferPointer { source in
                guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
                switch Element.precision {
                case .single:  // Float → Double
                    let s = UnsafeRawPointer(src).assumingMemoryBound(to: Float.self)
                    let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Double.self)
                    for i in 0..<n { d[i] = Double(s[i]) }
                case .double:  // Double → Float
                    let s = UnsafeRawPointer(src).assumingMemoryBound(to: Double.self)
                    let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self)
                    for i in 0..<n { d[i] = Float(s[i]) }
                }
            }
            initialized = n
        }
        return Matrix<Other>(rows: rows, columns: columns, elements: out)
    }

    /// True when every entry is finite (no NaN, no ±∞).
    public var isFinite: Bool { allFinite() }

    @_specialize(where Element == Float)
    @_specialize(where Element == Double)
    func allFinite() -> Bool {
        elements.withUnsafeBufferPointer { p in
            for x in p where !x.isFinite { return false }
            return true
        }
    }
}

extension Matrix: CustomStringConvertible {
    public var description: String {
        let shown = Swift.min(rows, 8)
        var lines = ["Matrix<\(Element.self)> \(rows)×\(columns)"]
        for i in 0..<shown {
            let cols = Swift.min(columns, 8)
            let entries = (0..<cols).map { "\(elements[i * columns + $0])" }.joined(separator: ", ")
            lines.append("  [" + entries + (columns > cols ? ", …]" : "]"))
        }
        if rows > shown { lines.append("  …") }
        return lines.joined(separator: "\n")
    }
}
