import LinearAlgebra

/// Token sequences run together: their tokens are stacked into one
/// `[tokens, features]` matrix (no padding, so nothing needs masking and
/// every Linear layer is one GEMM over the whole batch); attention stays
/// within each sequence.
public struct TokenBatch: Sendable, Equatable {
    /// The token ids of each sequence.
    public let sequences: [[Int]]
    /// Sequence i occupies rows `offsets[i] ..< offsets[i + 1]`.
    public let offsets: [Int]

    /// A batch of `sequences` (each non-empty).
    ///
    /// - Throws: `ModelError.badInput` for an empty sequence.
    public init(_ sequences: [[Int]]) throws {
        if let empty = sequences.firstIndex(where: \.isEmpty) { throw ModelError.badInput(reason: "sequence \(empty) of the batch is empty") }
        self.sequences = sequences
        var offsets = [0]
        for s in sequences { offsets.append(offsets.last! + s.count) }
        self.offsets = offsets
    }

    /// The number of tokens over all sequences (rows of the activations).
    public var tokenCount: Int { offsets.last! }

    /// The rows of sequence i.
    public func rows(_ i: Int) -> Range<Int> { offsets[i]..<offsets[i + 1] }
}

/// The Linear layers of a block that read the same input, and that input:
/// what calibration statistics are collected from (one Gram per group, the
/// other members pointing at the first with `same_as`).
public struct LinearInput: Sendable, Equatable {
    /// The block (layer) index.
    public var block: Int
    /// The modules (weight names without `.weight`), the first being the one
    /// whose name a calibration file stores the statistics under.
    public var modules: [String]
}

/// Receives each Linear input of a forward pass, `[tokens, in]`, in the
/// order the layers run. A hook sees what GPTQ and EoRA need.
public typealias LinearInputObserver = (_ input: LinearInput, _ activations: Matrix<Float>) -> Void
