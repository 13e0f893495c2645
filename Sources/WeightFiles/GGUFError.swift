/// A GGUF file that breaks a rule of the format, or a GGUF tensor that cannot be read the way it was asked for.
/// `description` is one sentence naming the file, the metadata key or tensor concerned, and the rule.
public struct GGUFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The rule broken, with the numbers that show how.
    public enum Rule: Equatable, Sendable {
        /// The file cannot be opened, is not a regular file (a FIFO, a device, a folder), or cannot be mapped; the
        /// payload is the reason.
        case cannotOpen(String)
        /// The file does not start with the magic `GGUF` (the payload: its first bytes, printable ones as text).
        case badMagic(String)
        /// The file starts `version https://git-lfs`: a Git LFS pointer stands where the model should be.
        case gitLFSPointer
        /// The file starts `<!doctype html` or `<html`: a web page was saved instead of the model.
        case htmlPage
        /// The version is not 2 or 3. Version 1 (32-bit counts and lengths, 2023) is not read; newer ones are unknown.
        case unsupportedVersion(UInt32)
        /// The version field reads as a byte-swapped 2 or 3: a big-endian GGUF, which this reader does not handle.
        case bigEndian
        /// Reading `what` needs `needed` bytes at file offset `offset`, but the file ends first (`fileSize` bytes):
        /// a truncated file or a length that is too large.
        case truncated(what: String, needed: UInt64, offset: Int, fileSize: Int)
        /// A count (`what`: tensors, metadata pairs, array elements) is larger than the rest of the file could hold
        /// at `minimumBytes` per item (`available` bytes remain); refused before anything is allocated.
        case countTooLarge(what: String, count: UInt64, minimumBytes: Int, available: Int)
        /// A metadata value type (or array element type) that GGUF does not define (defined: 0–12).
        case unknownValueType(UInt32)
        /// Arrays nested deeper than `limit` levels.
        case nestingTooDeep(limit: Int)
        /// A metadata key appears twice.
        case duplicateKey
        /// Two tensors have the same name.
        case duplicateTensor
        /// A key or tensor name is not valid UTF-8.
        case notUTF8
        /// `general.alignment` is not a positive power of two that fits in 32 bits (the payload: the value as read).
        case badAlignment(String)
        /// A tensor has more than 4 dimensions (ggml's maximum).
        case tooManyDimensions(UInt32)
        /// A dimension, the element count or the byte size does not fit in a signed 64-bit integer.
        case sizeOverflow
        /// A tensor type id that ggml does not define (or has retired: 4, 5, 31–33, 36–38).
        case unknownTensorType(UInt32)
        /// The first dimension (`ne0`, the contiguous one) is not a whole number of the type's blocks.
        case partialBlock(ne0: Int, type: GGUFTensorType)
        /// The tensor's offset (relative to the data section) is not a multiple of the file's alignment.
        case misalignedOffset(offset: UInt64, alignment: Int)
        /// The tensor's bytes end at `end` (relative to the data section), past the data section's `dataSize` bytes.
        case pastEnd(end: UInt64, dataSize: Int)
        /// The tensor's bytes overlap those of the tensor named in the payload.
        case overlap(String)
        /// No tensor of that name.
        case noSuchTensor
        /// The tensor's type is not decoded to floats (integers, or a block format not implemented; see
        /// `GGUFTensorType.isDequantizable`).
        case notDequantizable(GGUFTensorType)
        /// A metadata key the Hugging Face view needs is missing (the payload says what for).
        case missingMetadata(String)
        /// A metadata value has the wrong type for its use (`expected`, `found`: GGUF type names).
        case wrongMetadataType(expected: String, found: String)
        /// A q/k weight of a `llama` model whose `rows` cannot be split into `heads` heads of an even size, so its
        /// rows cannot be un-permuted.
        case unpermutable(rows: Int, heads: Int)
        /// A split GGUF (`split.count` parts): each part holds some tensors; merge the parts first.
        case splitFile(parts: Int)
    }

    /// The file, as given.
    public var file: String
    /// The metadata key concerned, if any.
    public var key: String?
    /// The tensor concerned, if any.
    public var tensor: String?
    /// The rule broken.
    public var rule: Rule

    /// An error about `file` (and `key` or `tensor`) breaking `rule`.
    public init(file: String, key: String? = nil, tensor: String? = nil, rule: Rule) {
        self.file = file
        self.key = key
        self.tensor = tensor
        self.rule = rule
    }

    public var description: String {
        var place = file
        if let key { place += ": metadata key '\(key)'" }
        if let tensor { place += ": tensor '\(tensor)'" }
        return "\(place): \(reason)"
    }

    /// The rule as words, without the place.
    public var reason: String {
        switch rule {
        case .cannotOpen(let why): return "cannot open as GGUF: \(why)"
        case .badMagic(let head): return "not a GGUF file (it starts \(head), not \"GGUF\")"
        case .gitLFSPointer: return "a Git LFS pointer, not the model (run `git lfs pull`, or download the file itself)"
        case .htmlPage: return "an HTML page, not a GGUF file (the download saved a web page)"
        case .unsupportedVersion(let v):
            return v == 1 ? "GGUF version 1 is not supported (its 32-bit counts predate version 2, 2023); re-convert the model with a current llama.cpp"
                          : "GGUF version \(v) is not supported (versions 2 and 3 are)"
        case .bigEndian: return "a big-endian GGUF, which is not supported (only little-endian files are read)"
        case .truncated(let what, let needed, let offset, let size):
            return "\(what) needs \(needed) bytes at offset \(offset), past the end of the \(size)-byte file (truncated, or the length is wrong)"
        case .countTooLarge(let what, let count, let minimum, let available):
            return "\(what) count \(count) cannot fit: at least \(minimum) bytes each, and only \(available) bytes remain"
        case .unknownValueType(let t): return "unknown value type \(t) (GGUF defines 0–12)"
        case .nestingTooDeep(let limit): return "arrays nested more than \(limit) levels deep"
        case .duplicateKey: return "appears twice"
        case .duplicateTensor: return "appears twice"
        case .notUTF8: return "name is not valid UTF-8"
        case .badAlignment(let v): return "alignment \(v) is not a power of two between 1 and 2^31"
        case .tooManyDimensions(let n): return "\(n) dimensions (at most 4)"
        case .sizeOverflow: return "a dimension, the element count or the byte size does not fit in 64 bits"
        case .unknownTensorType(let t): return "unknown tensor type id \(t) (not a ggml type this reader knows, or one ggml has retired)"
        case .partialBlock(let ne0, let type): return "first dimension \(ne0) is not a multiple of \(type)'s block of \(type.blockSize)"
        case .misalignedOffset(let offset, let alignment): return "data offset \(offset) is not a multiple of the alignment \(alignment)"
        case .pastEnd(let end, let size): return "data ends at byte \(end) of the data section, past its end (\(size) bytes)"
        case .overlap(let other): return "data overlaps that of tensor '\(other)'"
        case .noSuchTensor: return "no such tensor"
        case .notDequantizable(let type):
            return type.isQuantized ? "type \(type) cannot be dequantized yet (supported: F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)"
                                    : "type \(type) holds integers, not floats"
        case .missingMetadata(let what): return "missing (needed for \(what))"
        case .wrongMetadataType(let expected, let found): return "is \(found), expected \(expected)"
        case .unpermutable(let rows, let heads):
            return "\(rows) rows do not split into \(heads) heads of an even size, so the llama q/k row order cannot be undone"
        case .splitFile(let parts): return "part of a GGUF split into \(parts) files; merge it first (llama-gguf-split --merge)"
        }
    }
}
