import ArgumentParser
import LowRank

/// The SVD flags shared by compensate and extract.
struct SVDOptions: ParsableArguments {
    @Option(help: "Adapter rank r.")
    var rank: Int

    @Option(help: ArgumentHelp("exact or randomized.", valueName: "method"))
    var svd: String = "exact"

    @Option(help: "Randomized SVD: extra sketch columns p.")
    var oversampling = 10

    @Option(help: "Randomized SVD: power iterations q.")
    var powerIterations = 4

    @Option(help: "Seed of the randomized SVD's test matrix.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("With --calib: eigen (exact EoRA) or cholesky (fast path).", valueName: "method"))
    var whitening: String = "eigen"

    mutating func validate() throws {
        guard rank >= 1 else { throw ValidationError("--rank must be at least 1, got \(rank)") }
        guard svd == "exact" || svd == "randomized" else { throw ValidationError("--svd must be exact or randomized, got '\(svd)'") }
        guard EoRA.Whitening(rawValue: whitening) != nil else { throw ValidationError("--whitening must be eigen or cholesky, got '\(whitening)'") }
        guard oversampling >= 0, powerIterations >= 0 else { throw ValidationError("--oversampling and --power-iterations must be ≥ 0") }
    }

    var method: SVDMethod {
        svd == "exact" ? .exact : .randomized(oversampling: oversampling, powerIterations: powerIterations, seed: seed)
    }

    var eora: EoRA { EoRA(rank: rank, method: method, whitening: EoRA.Whitening(rawValue: whitening)!) }
}
