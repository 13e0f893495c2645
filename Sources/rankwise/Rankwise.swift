import ArgumentParser
import LinearAlgebra

#if canImport(Glibc)
import Glibc
#endif

@main
struct Rankwise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rankwise",
        abstract: "Linear algebra on model weights: inspect, convert, compress, merge, regress.",
        discussion: """
            Weight files are safetensors (a file, a sharded index, or a folder holding one). \
            Exit status: 0 when everything asked for was written, 1 on bad input or a failed \
            computation, 2 on a usage error.
            """,
        version: rankwiseVersion,
        subcommands: [Inspect.self, Convert.self, Quantize.self, Prune.self, Compensate.self, Extract.self, LoRAGACommand.self, Merge.self, KernelCommand.self, Demo.self]
    )

    /// Parses, runs, and maps failures to the documented exit statuses: usage
    /// errors exit 2 with the usage text; any other error prints one line,
    /// `rankwise: error: …`, and exits 1.
    static func main() {
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)  // --help, --version
            }
            FileHandleOutput.standardError.write(fullMessage(for: error) + "\n")
            Glibc.exit(2)
        }
        do {
            var runnable = command
            try runnable.run()
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandleOutput.standardError.write(fullMessage(for: error) + "\n")
                Glibc.exit(2)
            }
            FileHandleOutput.standardError.write("rankwise: error: \(error)\n")
            Glibc.exit(1)
        }
    }
}
