import LinearAlgebra

/// A network run block by block: embeddings, then `blockCount` blocks, each
/// seeing the previous one's output `[tokens, H]`. Calibration and
/// evaluation drive it a block at a time over chunks of sequences, so memory
/// follows one block's activations, not the whole model's.
public protocol TransformerModel: AnyObject, Sendable {
    /// The number of blocks (layers).
    var blockCount: Int { get }
    /// H, the width of the hidden state.
    var hiddenSize: Int { get }
    /// The longest sequence the model takes (BERT's positions), nil when unbounded.
    var maxSequenceLength: Int? { get }
    /// Block `i`'s Linear layers grouped by shared input, in the order they run.
    func linearInputs(block i: Int) -> [LinearInput]
    /// The embeddings' output `[tokens, H]`.
    func embed(_ batch: TokenBatch) throws -> Matrix<Float>
    /// Block `i` applied to x `[tokens, H]`, `observer` seeing each Linear input.
    func block(_ i: Int, _ x: Matrix<Float>, batch: TokenBatch, observer: LinearInputObserver?) throws -> Matrix<Float>
}

extension BertEncoder: TransformerModel {
    /// H, `hidden_size`.
    public var hiddenSize: Int { configuration.hiddenSize }
    /// `max_position_embeddings`.
    public var maxSequenceLength: Int? { configuration.maxPositions }
}

extension LlamaDecoder: TransformerModel {
    /// H, `hidden_size`.
    public var hiddenSize: Int { configuration.hiddenSize }
    /// Unbounded (RoPE); long sequences simply cost more.
    public var maxSequenceLength: Int? { nil }
}
