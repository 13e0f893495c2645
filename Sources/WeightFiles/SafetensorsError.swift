/// A safetensors file that breaks a rule of the format (spec/formats.md), or
/// a tensor that cannot be read the way it was asked for.
public struct SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Rule: Equatable, Sendable {
        case cannotOpen(String)
        case tooShort(bytes: Int)
        /// (The length is not quoted: for a file that is not safetensors it
        /// would be the file's first eight bytes.)
        case headerTooLarge
        case headerPastEnd(fileSize: Int)
        case gitLFSPointer
        case htmlPage
        case notUTF8
        case invalidJSON(String)
        case notAnObject
        case duplicateKey(String)
        case invalidEntry(String)
        case unknownDType(String)
        case invalidShape(String)
        case sizeOverflow
        case sizeMismatch(expected: Int, actual: Int)
        case overlap
        case gap(expected: Int, found: Int)
        case pastEnd(end: Int, bufferSize: Int)
        case trailingBytes(Int)
        case metadataNotString(key: String)
        case noSuchTensor
        case notFloatingPoint(DType)
        case wrongRank(Int)
        case cannotWrite(String)
        case duplicateTensor
        case wouldOverwriteInput
    }

    public var file: String
    public var tensor: String?
    public var rule: Rule

    public init(file: String, tensor: String? = nil, rule: Rule) {
        self.file = file
        self.tensor = tensor
        self.rule = rule
    }

    public var description: String {
        let place = tensor.map { "\(file): tensor '\($0)'" } ?? file
        return "\(place): \(explanation)"
    }

    var explanation: String {
        switch rule {
        case .cannotOpen(let why): return "cannot open: \(why)"
        case .tooShort(let bytes): return "not a safetensors file: \(bytes) bytes, shorter than the 8-byte header length"
        case .headerTooLarge: return "not a safetensors file: its first 8 bytes give a header length over 100,000,000 bytes"
        case .headerPastEnd(let size): return "not a safetensors file: its header length runs past the end of the \(size)-byte file (truncated download?)"
        case .gitLFSPointer: return "this looks like a Git LFS pointer, not the weights: run `git lfs pull` (or download the real file)"
        case .htmlPage: return "this looks like an HTML page, not the weights (a login or error page saved instead of the file?)"
        case .notUTF8: return "the header is not valid UTF-8"
        case .invalidJSON(let why): return "the header is not valid JSON: \(why)"
        case .notAnObject: return "the header is not a JSON object"
        case .duplicateKey(let key): return "the header has the key '\(key)' twice"
        case .invalidEntry(let why): return "invalid header entry: \(why)"
        case .unknownDType(let d): return "unknown dtype '\(d)' (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL)"
        case .invalidShape(let why): return "invalid shape: \(why)"
        case .sizeOverflow: return "the element count or byte size overflows"
        case .sizeMismatch(let expected, let actual): return "data_offsets cover \(actual) bytes but dtype and shape need \(expected)"
        case .overlap: return "its data overlaps another tensor's"
        case .gap(let expected, let found): return "a gap in the data buffer: expected data at byte \(expected), the next tensor starts at \(found)"
        case .pastEnd(let end, let size): return "data ends at byte \(end), past the \(size)-byte data buffer (truncated file?)"
        case .trailingBytes(let n): return "\(n) bytes after the last tensor are not covered by any tensor"
        case .metadataNotString(let key): return "__metadata__ value for '\(key)' is not a string"
        case .noSuchTensor: return "no such tensor"
        case .notFloatingPoint(let d): return "dtype \(d.rawValue) is not floating point"
        case .wrongRank(let rank): return "expected a 1-D or 2-D tensor, found \(rank)-D"
        case .cannotWrite(let why): return "cannot write: \(why)"
        case .duplicateTensor: return "added twice"
        case .wouldOverwriteInput: return "refusing to overwrite an input file"
        }
    }
}
