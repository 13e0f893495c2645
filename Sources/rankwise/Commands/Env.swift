import ArgumentParser
import LinearAlgebra

/// `rankwise env`: the backends and what they run on.
struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the CPU, its usable instruction sets, OpenBLAS (version, core, threads) and the native kernel.",
        discussion: """
            When OpenBLAS falls back to a generic core (Prescott, Core2, …) on a CPU with AVX2 or AVX-512, \
            rankwise restarts itself once with OPENBLAS_CORETYPE set to the core the CPU should use; \
            a value you set yourself is always respected.
            """)

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.run { console in
            let d = Backend.diagnostics
            var lines = [
                "cpu              \(d.cpuModel) (\(d.cpuVendor)), \(d.processors) processors",
                "instruction sets \(d.instructionSets.isEmpty ? "none beyond SSE2" : d.instructionSets.joined(separator: " "))",
            ]
            if let o = d.openBLAS {
                lines.append("openblas         \(o.version), core \(o.core)\(o.isGenericCore ? " (generic fallback)" : ""), \(o.threads) threads")
                lines.append("                 \(o.configuration)")
                lines.append("OPENBLAS_CORETYPE \(o.coretypeEnvironment.map { "\($0) (set in the environment)" } ?? "unset (OpenBLAS's own detection)")")
                if let better = o.recommendedCore { lines.append("recommended core \(better)") }
            } else {
                lines.append("openblas         not in this build (native backend only)")
            }
            lines.append("native kernel    \(d.nativeKernel) (available: \(d.nativeKernels.joined(separator: ", ")))")
            lines.append("backend          \(d.defaultBackend) by default, \(d.threads) threads")
            console.output(lines.joined(separator: "\n"))
            try console.emitJSON(d)
        }
    }
}
