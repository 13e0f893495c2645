import ArgumentParser
import LowRank
import ModelSurgery

/// The SVD flags shared by compensate and extract.
struct SVDOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Adapter rank r (at most min(out, in) of every selected layer).")
    var rank: Int

    @Option(help: "exact or randomized.")
    var svd: SVDKind = .exact

    @Option(parsing: .unconditional, help: "Randomized SVD: extra sketch columns p (0 to 10000).")
    var oversampling = 10

    @Option(parsing: .unconditional, help: "Randomized SVD: power iterations q (0 to 100).")
    var powerIterations = 4

    @Option(parsing: .unconditional, help: "Seed of the randomized SVD's test matrix.")
    var seed: UInt64 = 0

    @Option(help: "With --calib: eigen (exact EoRA) or cholesky (fast path).")
    var whitening: EoRA.Whitening = .eigen

    mutating func validate() throws {
        guard (1...Self.maximumRank).contains(rank) else { throw ValidationError("--rank must be between 1 and \(Self.maximumRank), got \(rank)") }
        guard (0...10_000).contains(oversampling) else { throw ValidationError("--oversampling must be between 0 and 10000, got \(oversampling)") }
        guard (0...100).contains(powerIterations) else { throw ValidationError("--power-iterations must be between 0 and 100, got \(powerIterations)") }
    }

    /// No layer has more than 2²⁰ rows and columns; a larger rank is a typo.
    static let maximumRank = 1 << 20

    var method: SVDMethod {
        svd == .exact ? .exact : .randomized(oversampling: oversampling, powerIterations: powerIterations, seed: seed)
    }
}

/// `--include REGEX` / `--exclude REGEX` (repeatable), matched against tensor names.
struct LayerSelectionOptions: ParsableArguments {
    @Option(name: .customLong("include"), help: ArgumentHelp("Select tensors whose name matches this regular expression (repeatable).", valueName: "regex"))
    var includePatterns: [String] = []

    @Option(name: .customLong("exclude"), help: ArgumentHelp("Skip tensors whose name matches this regular expression (repeatable).", valueName: "regex"))
    var excludePatterns: [String] = []

    mutating func validate() throws {
        do { _ = try selection() } catch let error as ModelSurgeryError { throw ValidationError(error.description) }
    }

    func selection() throws -> LayerSelection { try LayerSelection(include: includePatterns, exclude: excludePatterns) }
}
