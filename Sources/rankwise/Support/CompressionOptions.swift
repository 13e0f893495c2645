import ArgumentParser
import LowRank

/// The SVD flags shared by compensate and extract.
struct SVDOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Adapter rank r (at most min(out, in) of every selected layer).")
    var rank: Int

    @Option(help: ArgumentHelp("exact or randomized.", valueName: "method"))
    var svd: String = "exact"

    @Option(parsing: .unconditional, help: "Randomized SVD: extra sketch columns p (0 to 10000).")
    var oversampling = 10

    @Option(parsing: .unconditional, help: "Randomized SVD: power iterations q (0 to 100).")
    var powerIterations = 4

    @Option(parsing: .unconditional, help: "Seed of the randomized SVD's test matrix.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("With --calib: eigen (exact EoRA) or cholesky (fast path).", valueName: "method"))
    var whitening: String = "eigen"

    mutating func validate() throws {
        guard (1...Self.maximumRank).contains(rank) else { throw ValidationError("--rank must be between 1 and \(Self.maximumRank), got \(rank)") }
        guard svd == "exact" || svd == "randomized" else { throw ValidationError("--svd must be exact or randomized, got '\(svd)'") }
        guard EoRA.Whitening(rawValue: whitening) != nil else { throw ValidationError("--whitening must be eigen or cholesky, got '\(whitening)'") }
        guard (0...10_000).contains(oversampling) else { throw ValidationError("--oversampling must be between 0 and 10000, got \(oversampling)") }
        guard (0...100).contains(powerIterations) else { throw ValidationError("--power-iterations must be between 0 and 100, got \(powerIterations)") }
    }

    /// No layer has more than 2²⁰ rows and columns; a larger rank is a typo.
    static let maximumRank = 1 << 20

    var method: SVDMethod {
        svd == "exact" ? .exact : .randomized(oversampling: oversampling, powerIterations: powerIterations, seed: seed)
    }

    var eora: EoRA { EoRA(rank: rank, method: method, whitening: EoRA.Whitening(rawValue: whitening)!) }
}
