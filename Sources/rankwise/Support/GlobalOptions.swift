import ArgumentParser
import LinearAlgebra

/// The options every command shares (docs/cli.md, "Common flags").
struct GlobalOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Threads for BLAS work, 1 to 1024 (default: all cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("Linear-algebra backend: openblas or native (default: openblas when built with it, or RANKWISE_BACKEND).", valueName: "name"))
    var backend: BackendArgument?

    @Flag(name: .shortAndLong, help: "Print nothing but warnings and errors (and the --json object).")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Print more detail while working.")
    var verbose = false

    @Flag(help: "Print one JSON summary object on stdout; progress stays on stderr.")
    var json = false

    mutating func validate() throws {
        if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be between 1 and 1024, got \(threads)") }
        if let backend, !backend.backend.isAvailable {
            throw ValidationError("--backend openblas: this rankwise was built without OpenBLAS (use --backend native)")
        }
    }

    /// The backend asked for, else the process default.
    var chosenBackend: Backend { backend?.backend ?? Backend.processDefault }

    /// Sets threads, then runs `body` with the chosen backend and a console
    /// that honours --quiet/--verbose/--json.
    func run<R>(_ body: (Console) throws -> R) throws -> R {
        if let threads { Backend.threadCount = threads }
        let console = Console(quiet: quiet, verbose: verbose, json: json)
        return try Backend.withCurrent(chosenBackend) { try body(console) }
    }
}
