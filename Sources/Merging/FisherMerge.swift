import LinearAlgebra

/// Fisher-weighted averaging (Matena and Raffel, 2022).
///
/// For parameter j and models i with weights λᵢ and diagonal Fishers Fᵢ:
/// θ*_j = Σᵢ λ′ᵢ F̃ᵢⱼ θᵢⱼ / Σᵢ λ′ᵢ F̃ᵢⱼ, where
/// - with `normalize` (default) λ′ᵢ = λᵢ / ‖Fᵢ‖₂, the L2 norm of model i's
///   whole Fisher over all its tensors (computed in a first pass, see
///   `FisherNorms`), so a model whose Fisher is on a larger scale does not
///   dominate; otherwise λ′ᵢ = λᵢ;
/// - F̃ = max(F, floor) (default 1e-6) for the first (target) model only, or
///   for every model with `floorAll`; where every F̃ᵢⱼ is 0 the result is the
///   λ-weighted mean.
///
/// Properties: equal Fishers give Σλθ/Σλ; each merged value lies within
/// [minᵢ θᵢⱼ, maxᵢ θᵢⱼ]; scaling all λ changes nothing; with normalisation,
/// scaling one model's Fisher changes nothing (except where the floor binds).
public struct FisherMerge: Sendable, Equatable {
    /// λᵢ, one per model (nil: equal weights).
    public var weights: [Double]?
    /// Divide each λᵢ by model i's whole-Fisher norm (default true).
    public var normalize: Bool
    /// Lower bound applied to Fisher values (default 1e-6), so that no parameter has zero total weight.
    public var floor: Double
    /// Floor every model's Fisher, not only the first (target) model's (default false).
    public var floorAll: Bool

    /// A Fisher merge with these settings; nothing is checked until `merge`.
    public init(weights: [Double]? = nil, normalize: Bool = true, floor: Double = 1e-6, floorAll: Bool = false) {
        self.weights = weights
        self.normalize = normalize
        self.floor = floor
        self.floorAll = floorAll
    }

    /// λ′ᵢ for the given whole-model Fisher norms (ignored without normalisation).
    public func effectiveWeights(models: Int, fisherNorms: [Double]?) throws -> [Double] {
        let w = try resolvedWeights(weights, models: models)
        guard normalize else { return w }
        guard let norms = fisherNorms, norms.count == models else {
            throw MergingError.invalidParameter(parameter: .fisherNorms, value: fisherNorms.map { "\($0.count) norms" } ?? "none",
                                                expected: "one per model (\(models)) for Fisher normalisation")
        }
        // A model whose Fisher is all zero has no information to weigh by: keep its λ.
        return zip(w, norms).map { $1 > 0 ? $0 / $1 : $0 }
    }

    /// Merges one tensor (flat arrays, one per model, with their Fishers).
    ///
    /// - Parameters:
    ///   - tensors: θᵢ, the tensor's values in each model (same size).
    ///   - fishers: Fᵢ, the diagonal Fisher of each model for this tensor (same size, finite, ≥ 0).
    ///   - fisherNorms: ‖Fᵢ‖₂ over each model's whole Fisher; needed when `normalize` is on.
    ///   - name: the tensor's name, for errors.
    /// - Throws: `MergingError` for mismatched sizes, negative or non-finite Fishers.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func merge<T: Scalar>(_ tensors: [[T]], fishers: [[T]], fisherNorms: [Double]?, name: String = "tensor") throws -> [T] {
        let lambda = try effectiveWeights(models: tensors.count, fisherNorms: fisherNorms)
        guard fishers.count == tensors.count else {
            throw MergingError.sizeMismatch(tensor: name, detail: "\(fishers.count) Fisher tensors for \(tensors.count) models")
        }
        try checkSameSize(tensors, name: name)
        try checkSameSize(fishers, name: name, what: "Fisher values")
        guard fishers[0].count == tensors[0].count else {
            throw MergingError.sizeMismatch(tensor: name, detail: "the Fisher has \(fishers[0].count) values, the parameter \(tensors[0].count)")
        }
        for (i, f) in fishers.enumerated() {
            let scan = ValueScan(f)
            if scan.anyNegative, let bad = f.first(where: { $0 < 0 }) { throw MergingError.negativeFisher(tensor: name, model: i, value: Double(bad)) }
        }
        let lambdaSum = lambda.reduce(0, +)
        let count = tensors[0].count
        var out = [T](repeating: 0, count: count)
        let floor = self.floor, floorAll = self.floorAll
        // Elementwise and independent: chunks of 16K values across threads;
        // within a chunk, model by model over contiguous values (so the
        // loops vectorise) into Double accumulators that stay in L2.
        let chunk = 1 << 14, chunks = (count + chunk - 1) / chunk
        out.withUnsafeMutableBufferPointer { result in
            let work = { (c: Int) in
                let first = c * chunk, length = Swift.min(count, first + chunk) - first
                var numerator = [Double](repeating: 0, count: length)
                var denominator = numerator, plain = numerator
                for i in tensors.indices {
                    let l = lambda[i], floored = i == 0 || floorAll
                    tensors[i].withUnsafeBufferPointer { theta in
                        fishers[i].withUnsafeBufferPointer { fisher in
                            for j in 0..<length {
                                var f = fisher[first + j].doubleValue
                                if floored { f = Swift.max(f, floor) }
                                let t = theta[first + j].doubleValue
                                numerator[j] += l * f * t
                                denominator[j] += l * f
                                plain[j] += l * t
                            }
                        }
                    }
                }
                for j in 0..<length {
                    result[first + j] = T(denominator[j] > 0 ? numerator[j] / denominator[j] : plain[j] / lambdaSum)
                }
            }
            Backend.forEachChunk(chunks, work)
        }
        return out
    }
}

/// Accumulates ‖Fᵢ‖₂ over all of a model's Fisher tensors (the first pass of a
/// normalised Fisher merge).
public struct FisherNorms: Sendable {
    private var squares: [Double]

    /// An accumulator for `models` models, all sums zero.
    public init(models: Int) { squares = Array(repeating: 0, count: models) }

    /// Adds one tensor of model `model`'s Fisher.
    public mutating func add<T: Scalar>(_ fisher: [T], model: Int) {
        squares[model] += fisher.withUnsafeBufferPointer { Matrix<T>.sumOfSquares($0) }
    }

    /// ‖Fᵢ‖₂ for every model.
    public var norms: [Double] { squares.map { $0.squareRoot() } }
}
