/// A safetensors file that breaks a rule of the format (docs/formats.md), or
/// a tensor that cannot be read the way it was asked for.
public struct SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The rule broken, with the numbers or text that show how; `description` turns it into one sentence.
    public enum Rule: Equatable, Sendable {
        /// The file cannot be opened, is not a regular file, or cannot be mapped; the payload is the OS's reason.
        case cannotOpen(String)
        /// The file has fewer than the 8 bytes of the header length (`bytes` is its size).
        case tooShort(bytes: Int)
        /// The header length (the first 8 bytes, little-endian) is over 100,000,000 bytes, the limit the safetensors reference reader also sets.
        /// (The length is not quoted: for a file that is not safetensors it
        /// would be the file's first eight bytes.)
        case headerTooLarge
        /// 8 + the header length runs past the end of the `fileSize`-byte file: usually a truncated download.
        case headerPastEnd(fileSize: Int)
        /// The file starts `version https://git-lfs`: a Git LFS pointer stands where the weights should be.
        /// (Reported instead of `tooShort`, `headerTooLarge` or `headerPastEnd` when the first bytes say so.)
        case gitLFSPointer
        /// The file starts `<!doctype html` or `<html`: a web page (login, error) was saved instead of the weights.
        /// (Reported instead of `tooShort`, `headerTooLarge` or `headerPastEnd` when the first bytes say so.)
        case htmlPage
        /// The header bytes are not valid UTF-8.
        case notUTF8
        /// The header is not valid JSON; the payload is the parser's message (what and where).
        case invalidJSON(String)
        /// The header's top-level JSON value is not an object.
        case notAnObject
        /// A JSON object in the header has this key twice (a reader must refuse it: which value wins is undefined).
        case duplicateKey(String)
        /// A tensor entry (or `__metadata__`) is malformed: not an object, no string `dtype`, or `data_offsets` not
        /// two integers [begin, end] with 0 ≤ begin ≤ end; the payload says which.
        case invalidEntry(String)
        /// The entry's `dtype` is none of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL (the payload is the text found).
        case unknownDType(String)
        /// The entry's `shape` is missing, not an array, or has a dimension that is not an integer or is negative.
        case invalidShape(String)
        /// A dimension, the element count or the byte size (count × dtype size) does not fit in `Int`.
        case sizeOverflow
        /// `data_offsets` span `actual` bytes, but dtype size × element count is `expected`.
        case sizeMismatch(expected: Int, actual: Int)
        /// The tensor's bytes start before the previous tensor's end (in offset order): two tensors share bytes.
        case overlap
        /// The data buffer has uncovered bytes: the previous tensor ends at `expected`, the next starts at `found`
        /// (offsets relative to the start of the data buffer).
        case gap(expected: Int, found: Int)
        /// The tensor ends at byte `end` of the data buffer, past its `bufferSize` bytes (file size − 8 − header length).
        case pastEnd(end: Int, bufferSize: Int)
        /// This many bytes at the end of the data buffer belong to no tensor.
        case trailingBytes(Int)
        /// The `__metadata__` value under `key` is not a string (the format allows string to string only).
        case metadataNotString(key: String)
        /// The file or checkpoint has no tensor of the name asked for.
        case noSuchTensor
        /// A floating-point operation met this integer or BOOL dtype: reading as Float/Double, or writing with or
        /// converting from it.
        case notFloatingPoint(DType)
        /// `matrix(_:)` was asked for a tensor of this rank; only 1-D (read as a 1×n row) and 2-D are matrices.
        case wrongRank(Int)
        /// Creating, writing, syncing or renaming the output (or reading back a spool or source while copying) failed;
        /// the payload is the step and the OS's reason.
        case cannotWrite(String)
        /// A writer was given the tensor name twice (added twice, or listed twice in a direct writer's layout).
        case duplicateTensor
        /// The output path (or a shard or index file of it) is one of the files this run reads: refused before writing.
        case wouldOverwriteInput
    }

    /// The path of the file concerned, as given (`url.path`): the file read, or the destination written.
    public var file: String
    /// The tensor's name in the header when the rule concerns one tensor; nil for rules about the whole file.
    public var tensor: String?
    /// Which rule was broken, and the evidence.
    public var rule: Rule

    /// An error for `rule` in `file`, about `tensor` when given (nil: the whole file).
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
