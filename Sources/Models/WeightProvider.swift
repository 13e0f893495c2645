import Foundation
import LinearAlgebra
import WeightFiles

/// Where a forward pass reads its weights: a `Checkpoint` (safetensors, packed
/// GPTQ/AWQ, GGUF), or a checkpoint with a LoRA adapter merged on the fly.
/// Weights are read as Float when a block needs them and released after.
public protocol WeightProvider: AnyObject, Sendable {
    /// The file or folder, for messages.
    var location: String { get }
    /// The stored shape of a tensor, or nil when there is none of that name.
    func shape(of name: String) -> [Int]?
    /// A 1-D or 2-D tensor as Float (a weight `[out, in]`; a vector as 1×n).
    func matrix(_ name: String) throws -> Matrix<Float>
    /// Lets the pages of a tensor go (a hint).
    func release(_ name: String)
}

extension Checkpoint: WeightProvider {
    /// The path given when the checkpoint was opened.
    public var location: String { url.path }
    /// `self[name]?.shape`.
    public func shape(of name: String) -> [Int]? { self[name]?.shape }
    /// `matrix(name, as: Float.self)`.
    public func matrix(_ name: String) throws -> Matrix<Float> { try matrix(name, as: Float.self) }
    /// `evict(name)`.
    public func release(_ name: String) { evict(name) }
}

/// A checkpoint with a PEFT LoRA adapter merged on the fly: each adapted
/// module's weight is W + s·B·A (s = lora_alpha / r, or / √r with rsLoRA,
/// per module from `rank_pattern`/`alpha_pattern`), computed when the block
/// that uses it runs. The checkpoint itself is not changed.
public final class LoRAMergedWeights: WeightProvider, @unchecked Sendable {
    /// The base weights.
    public let base: WeightProvider
    /// The adapter.
    public let adapter: PEFTAdapter
    private let scales: [String: Float]

    /// The base with `adapter` merged; every adapted module must exist in the
    /// base as `M.weight` with the shape [B.rows, A.columns].
    ///
    /// - Throws: `ModelError.badWeight` naming the first module that does not fit.
    public init(base: WeightProvider, adapter: PEFTAdapter) throws {
        self.base = base
        self.adapter = adapter
        let config = adapter.config
        let rank = (config["r"] as? NSNumber)?.doubleValue ?? 8
        let alpha = (config["lora_alpha"] as? NSNumber)?.doubleValue ?? rank
        let rsLoRA = (config["use_rslora"] as? Bool) ?? false
        let ranks = config["rank_pattern"] as? [String: Any] ?? [:], alphas = config["alpha_pattern"] as? [String: Any] ?? [:]
        var scales: [String: Float] = [:]
        for module in adapter.modules {
            let (a, b): (Matrix<Float>, Matrix<Float>) = try adapter.factors(module)
            guard let shape = base.shape(of: module + ".weight"), shape == [b.rows, a.columns] else {
                throw ModelError.badWeight(file: base.location, tensor: module + ".weight",
                                           reason: "the adapter's factors need \(b.rows)x\(a.columns), the model has \(base.shape(of: module + ".weight") ?? [])")
            }
            func lookup(_ pattern: [String: Any]) -> Double? {
                pattern.first { module == $0.key || module.hasSuffix("." + $0.key) }.flatMap { ($0.value as? NSNumber)?.doubleValue }
            }
            let r = lookup(ranks) ?? rank, al = lookup(alphas) ?? alpha
            scales[module] = Float(rsLoRA ? al / r.squareRoot() : al / r)
        }
        self.scales = scales
    }

    /// The base's location.
    public var location: String { base.location }
    /// The base's shapes (the merge keeps them).
    public func shape(of name: String) -> [Int]? { base.shape(of: name) }

    /// W + s·B·A for an adapted module's weight; other tensors as stored.
    public func matrix(_ name: String) throws -> Matrix<Float> {
        var w = try base.matrix(name)
        guard name.hasSuffix(".weight"), let s = scales[String(name.dropLast(".weight".count))] else { return w }
        let (a, b): (Matrix<Float>, Matrix<Float>) = try adapter.factors(String(name.dropLast(".weight".count)))
        Matrix.gemm(b, .none, a, .none, alpha: s, beta: 1, into: &w)
        return w
    }

    /// Releases the base's pages.
    public func release(_ name: String) { base.release(name) }
}
