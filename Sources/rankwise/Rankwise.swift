import ArgumentParser
import CSystem
import LinearAlgebra

#if canImport(Glibc)
import Glibc
#endif

/// The commands stream a model tensor by tensor, so they allocate and free
/// buffers of the same few large sizes over and over. glibc serves blocks
/// above its mmap threshold (at most 32 MB) with a fresh mmap each time, and
/// the kernel then zero-fills every page again on first touch: merging four
/// 1 GiB models spent 8 of its 11 seconds in those page faults. Serving every
/// block from the heap and never trimming it lets a freed tensor's memory be
/// reused for the next one; peak memory is unchanged in practice (the heap
/// holds what the largest step needs).
private func keepLargeBuffersInTheHeap() {
    _ = rankwise_keep_heap(0, Int32.max)   // M_MMAP_MAX 0: no block from its own mmap; never trim the heap's top
}

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
        subcommands: [Inspect.self, Convert.self, Quantize.self, Prune.self, Compensate.self, Extract.self, LoRAGACommand.self, Merge.self, Calibrate.self, Eval.self, KernelCommand.self, Demo.self, Env.self]
    )

    /// Parses, runs, and maps failures to the documented exit statuses:
    /// help and --version print on stdout and exit 0; usage errors exit 2
    /// with the usage text; any other error prints one line,
    /// `rankwise: error: …`, and exits 1. With --json a failure also prints
    /// `{"error": …, "file": …, "tensor": …}` on stdout.
    static func main() {
        // OpenBLAS on a generic fallback core runs ~8× slower: restart once with the core this CPU should use.
        Backend.relaunchWithBestOpenBLASCoreIfNeeded()
        keepLargeBuffersInTheHeap()
        Interrupts.install()
        let arguments = Array(CommandLine.arguments.dropFirst())
        let json = arguments.prefix { $0 != "--" }.contains("--json")
        var stage = "parse"
        do {
            var command = try parseAsRoot(arguments)
            stage = "run"
            try command.run()
        } catch {
            if let code = error as? ExitCode { Glibc.exit(code.rawValue) }
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }   // --help, -h, help CMD, --version, bare commands
            let usage = stage == "parse" || code == .validationFailure
            let message = usage ? fullMessage(for: error) : "rankwise: error: " + FailureReport(error).message
            FileHandleOutput.standardError.write(terminalSafe(message, keepNewlines: usage) + "\n")
            if json {
                var report = FailureReport(error)
                if usage { report.message = terminalSafe(message.split(separator: "\n").first.map(String.init) ?? message, keepNewlines: false) }
                FileHandleOutput.standardOutput.write(report.json + "\n")
            }
            Glibc.exit(usage ? 2 : 1)
        }
    }
}
