import Foundation
import LinearAlgebra

/// NumPy `.npy` files, versions 1.0, 2.0 and 3.0, dtypes `<f4` and `<f8`, C order,
/// 1-D (read as one column) or 2-D.
public enum NPY {
    /// The largest `.npy` file read (8 GiB): the whole file is held in memory.
    public static let sizeLimit = 8 << 30
    /// The largest header accepted (NumPy itself refuses headers over 10,000 bytes by default).
    public static let headerLimit = 1 << 20

    /// Reads a 1-D (n×1) or 2-D array. Refuses what is not a regular file,
    /// files over `sizeLimit`, and headers whose shape is negative, not an
    /// integer, or whose byte count overflows or disagrees with the data.
    public static func read(_ url: URL) throws -> Matrix<Double> {
        let path = url.path
        let data = try readRegularFile(url, limit: sizeLimit)
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw NPYError(file: path, reason: "not a .npy file (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        guard major >= 1 && major <= 3 else { throw NPYError(file: path, reason: "unsupported .npy version \(major).\(bytes[7])") }
        let (lengthSize, headerStart): (Int, Int) = major == 1 ? (2, 10) : (4, 12)
        guard bytes.count >= headerStart else { throw NPYError(file: path, reason: "truncated header") }
        let headerLength = lengthSize == 2 ? Int(bytes[8]) | Int(bytes[9]) << 8
                                           : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard headerLength <= headerLimit else {
            throw NPYError(file: path, reason: "header length \(headerLength) exceeds the \(headerLimit)-byte limit")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw NPYError(file: path, reason: "truncated header (\(headerLength) bytes announced, \(bytes.count - headerStart) present)")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr") else { throw NPYError(file: path, reason: "no 'descr' in the header") }
        let size: Int
        if descr.hasPrefix("'<f8'") { size = 8 } else if descr.hasPrefix("'<f4'") { size = 4 } else {
            throw NPYError(file: path, reason: "dtype \(descr.prefix { $0 != "," }.prefix(40)) is not supported (use little-endian float32 '<f4' or float64 '<f8')")
        }
        guard let order = field("fortran_order"), order.hasPrefix("False") else {
            throw NPYError(file: path, reason: "Fortran-ordered arrays are not supported (save with numpy.ascontiguousarray)")
        }
        guard let shapeText = field("shape"), let open = shapeText.firstIndex(of: "("), let close = shapeText.firstIndex(of: ")"), open < close else {
            throw NPYError(file: path, reason: "no 'shape' in the header")
        }
        let entries = shapeText[shapeText.index(after: open)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var dims: [Int] = []
        for entry in entries {
            guard let d = Int(entry) else {
                throw NPYError(file: path, reason: "shape entry '\(entry.prefix(40))' is not an integer that fits in 64 bits")
            }
            guard d >= 0 else { throw NPYError(file: path, reason: "shape (\(entries.joined(separator: ", "))) has a negative dimension") }
            dims.append(d)
        }
        guard dims.count == 1 || dims.count == 2 else { throw NPYError(file: path, reason: "expected a 1-D or 2-D array, found \(dims.count)-D") }
        let (rows, columns) = dims.count == 2 ? (dims[0], dims[1]) : (dims[0], 1)
        let (count, countOverflow) = rows.multipliedReportingOverflow(by: columns)
        let (needed, bytesOverflow) = count.multipliedReportingOverflow(by: size)
        guard !countOverflow, !bytesOverflow else {
            throw NPYError(file: path, reason: "shape \(dims) is too large (its byte count overflows 64 bits)")
        }
        let start = headerStart + headerLength
        guard bytes.count - start == needed else {
            throw NPYError(file: path, reason: "data holds \(bytes.count - start) bytes, shape \(dims) needs \(needed)")
        }
        let values: [Double] = bytes.withUnsafeBytes { raw in
            (0..<count).map { i in
                size == 8 ? Double(bitPattern: raw.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self).littleEndian)
                          : Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self).littleEndian))
            }
        }
        return Matrix(rows: rows, columns: columns, elements: values)
    }

    /// Writes a 2-D `<f8` array (version 1.0), atomically.
    public static func write(_ m: Matrix<Double>, to url: URL) throws {
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (\(m.rows), \(m.columns)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        for x in m.elements { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes += $0 } }
        let file = try AtomicFile(destination: url)
        try file.write(bytes)
        try file.commit()
    }
}

/// A `.npy` file that cannot be read: wrong magic, unsupported version, dtype or order, bad shape or size.
public struct NPYError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file's path, as given.
    public var file: String
    /// What is wrong with it, in words.
    public var reason: String
    public var description: String { "\(file): \(reason)" }
}

/// CSV with a header row and numeric cells.
public struct CSVTable: Sendable {
    /// The header row's names, in file order, with surrounding spaces and double quotes trimmed.
    public var columns: [String]
    /// `[rows, columns]`.
    public var values: Matrix<Double>

    /// A table from its column names and a `[rows, columns.count]` matrix of values (not checked).
    public init(columns: [String], values: Matrix<Double>) {
        self.columns = columns
        self.values = values
    }

    /// The largest CSV file read (2 GiB).
    public static let sizeLimit = 2 << 30

    /// Reads a CSV file (a regular file of at most `sizeLimit` bytes).
    public static func read(_ url: URL) throws -> CSVTable {
        let path = url.path
        let data = try readRegularFile(url, limit: sizeLimit)
        guard let text = String(data: data, encoding: .utf8) else { throw CSVError(file: path, reason: "cannot read the file as UTF-8 text") }
        var lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !lines.isEmpty else { throw CSVError(file: path, reason: "empty file (a header row is required)") }
        let header = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\""))) }
        var values: [Double] = []
        values.reserveCapacity(lines.count * header.count)
        for (r, line) in lines.enumerated() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == header.count else {
                throw CSVError(file: path, reason: "row \(r + 2) has \(cells.count) cells, the header has \(header.count)")
            }
            for (c, cell) in cells.enumerated() {
                guard let v = Double(cell.trimmingCharacters(in: .whitespaces)) else {
                    throw CSVError(file: path, reason: "row \(r + 2), column '\(header[c])': '\(cell)' is not a number")
                }
                values.append(v)
            }
        }
        return CSVTable(columns: header, values: Matrix(rows: lines.count, columns: header.count, elements: values))
    }

    /// Splits off the named target columns: (features, targets).
    public func split(targets: [String]) throws -> (x: Matrix<Double>, y: Matrix<Double>, features: [String]) {
        for t in targets where !columns.contains(t) {
            throw CSVError(file: "", reason: "unknown target column '\(t)' (columns: \(columns.joined(separator: ", ")))")
        }
        let targetIndices = targets.map { columns.firstIndex(of: $0)! }
        let featureIndices = columns.indices.filter { !targetIndices.contains($0) }
        let x = Matrix(rows: values.rows, columns: featureIndices.count) { i, j in values[i, featureIndices[j]] }
        let y = Matrix(rows: values.rows, columns: targetIndices.count) { i, j in values[i, targetIndices[j]] }
        return (x, y, featureIndices.map { columns[$0] })
    }
}

/// A CSV file that cannot be read as a numeric table, or a column asked for that it does not have.
public struct CSVError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file's path; empty when the error is not about a file (`split(targets:)` naming an unknown column).
    public var file: String
    /// What is wrong, with the row and column where there is one (rows counted from 1, the header being row 1).
    public var reason: String
    /// An error about `file` (or none, when empty).
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
    public var description: String { file.isEmpty ? reason : "\(file): \(reason)" }
}
