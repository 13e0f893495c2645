import ArgumentParser
import CSystem
import Foundation
import LinearAlgebra

/// rankwise-bench: times Rankwise's backends and writes `swift.json` into the
/// output folder. `Benchmarks/reference/*.py` time numpy/scipy/scikit-learn on
/// the same sizes, and `Benchmarks/report.py` merges both into one table with
/// ratios (`make bench`).
///
/// Usage: rankwise-bench [--quick] [--repetitions N] [--threads N] [--output DIR]
///                       [--suites linalg,gemm-avx2,rsvd,eora,gptq,forward,kernel,gguf] [--backends openblas,native]
///                       [--max-native-decomposition N] [--gemm-sizes 256,512]
///                       [--decomposition-sizes 512,1024]
@main
struct RankwiseBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rankwise-bench",
        abstract: "Times Rankwise's backends; writes DIR/swift.json (default DIR: bench-results).",
        discussion: """
            Each row warms every implementation up for 0.3 s, then times them in alternating rounds \
            (A B B A …) and records the minimum, median and maximum. \
            Benchmarks/reference/*.py time numpy, scipy and scikit-learn on the same sizes; \
            Benchmarks/report.py merges both into one table (make bench).
            """)

    /// The largest matrix side accepted for `--gemm-sizes`, `--decomposition-sizes`
    /// and `--max-native-decomposition`: three Double matrices of 16384² are 6 GiB.
    static let maxSize = 16_384

    @Flag(help: "A small subset: smaller sizes and fewer repetitions (a couple of minutes).")
    var quick = false

    @Option(help: ArgumentHelp("Timed runs after the warm-up, 1...1000 (default: 5; with --quick, 3).", valueName: "n"))
    var repetitions: Int?

    @Option(help: ArgumentHelp("Threads for both backends, 1...1024 (default: all cores).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("The folder that receives swift.json.", valueName: "dir"))
    var output = "bench-results"

    @Option(help: ArgumentHelp("The suites to run, comma-separated.", valueName: "suite,..."))
    var suites = CommaSeparated(Suite.allCases)

    @Option(help: ArgumentHelp("The backends to time, comma-separated (default: every backend this build has).",
                               valueName: "backend,..."))
    var backends: CommaSeparated<Backend>?

    @Option(help: ArgumentHelp("""
        The largest size at which the native backend runs the decompositions, 0...\(maxSize) \
        (0: none; default: 2048; with --quick, 512).
        """, valueName: "n"))
    var maxNativeDecomposition: Int?

    @Option(help: ArgumentHelp("GEMM sizes n (n×n times n×n), each 1...\(maxSize) (default: 256,512,1024,2048,4096; with --quick, 256,512,1024).",
                               valueName: "n,..."))
    var gemmSizes: CommaSeparated<Int>?

    @Option(help: ArgumentHelp("Sizes n of the n×n SVD, eigen, Cholesky and QR runs, each 1...\(maxSize) (default: 512,1024,2048; with --quick, 256,512).",
                               valueName: "n,..."))
    var decompositionSizes: CommaSeparated<Int>?

    func validate() throws {
        if let repetitions, !(1...1000).contains(repetitions) {
            throw ValidationError("--repetitions must be 1...1000 (got \(repetitions)).")
        }
        if let threads, !(1...1024).contains(threads) {
            throw ValidationError("--threads must be 1...1024 (got \(threads)).")
        }
        if let maxNativeDecomposition, !(0...Self.maxSize).contains(maxNativeDecomposition) {
            throw ValidationError("--max-native-decomposition must be 0...\(Self.maxSize) (got \(maxNativeDecomposition)).")
        }
        for (flag, sizes) in [("--gemm-sizes", gemmSizes), ("--decomposition-sizes", decompositionSizes)] {
            if let bad = sizes?.values.first(where: { !(1...Self.maxSize).contains($0) }) {
                throw ValidationError("\(flag): each size must be 1...\(Self.maxSize) (got \(bad)).")
            }
        }
        if let unavailable = backends?.values.first(where: { !$0.isAvailable }) {
            throw ValidationError("--backends: \(unavailable) is not available in this build (built without the OpenBLAS trait).")
        }
    }

    /// OpenBLAS on a generic fallback core would time the wrong thing: restart
    /// with the core this CPU should use (unless OPENBLAS_CORETYPE is set).
    static func main() {
        Backend.relaunchWithBestOpenBLASCoreIfNeeded()
        main(nil)
    }

    func run() throws {
        // The heap policy the rankwise CLI sets for itself (no block from its own mmap, the heap never
        // trimmed), so timings are the CLI's; `make bench` runs the Python side under the same policy
        // (GLIBC_TUNABLES), so neither side pays for re-faulting freed memory between steps.
        _ = rankwise_keep_heap(0, Int32.max)
        if let threads { Backend.threadCount = threads }
        var bench = RankwiseBench(
            harness: Harness(repetitions: repetitions ?? (quick ? 3 : 5)),
            quick: quick,
            backends: backends?.values ?? Backend.available,
            maxNativeDecomposition: maxNativeDecomposition ?? (quick ? 512 : 2048),
            gemmSizes: gemmSizes?.values ?? (quick ? [256, 512, 1024] : [256, 512, 1024, 2048, 4096]),
            decompositionSizes: decompositionSizes?.values ?? (quick ? [256, 512] : [512, 1024, 2048]))
        bench.output = URL(fileURLWithPath: output)
        let suites = Set(suites.values)
        warmUpThreads()
        do {
            if suites.contains(.linalg) {
                try bench.linalg(Float.self)
                try bench.linalg(Double.self)
            }
            if suites.contains(.gemmAVX2) { try bench.gemmAVX2() }
            if suites.contains(.rsvd) { try bench.randomizedSVD() }
            if suites.contains(.eora) { try bench.eora() }
            if suites.contains(.gptq) {
                try bench.gptq()
                try bench.gptqQuality()
            }
            if suites.contains(.forward) {
                try bench.forward()
                try bench.forwardSmolLM2()
            }
            if suites.contains(.kernel) { try bench.kernel() }
            if suites.contains(.gguf) { try bench.gguf() }
            try bench.write(to: URL(fileURLWithPath: output))
        } catch {
            FileHandle.standardError.write(Data("rankwise-bench: error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// The groups of rows `--suites` selects.
enum Suite: String, CaseIterable, ExpressibleByArgument {
    case linalg, gemmAVX2 = "gemm-avx2", rsvd, eora, gptq, forward, kernel, gguf

    static var allValueDescriptions: [String: String] {
        [
            "linalg": "GEMM, SVD, symmetric eigen, Cholesky and QR, Float and Double",
            "gemm-avx2": "GEMM with the native AVX2 kernel beside OpenBLAS's Haswell core (a child run unless that core is in use)",
            "rsvd": "rank-128 randomized SVD",
            "eora": "exact and fast EoRA on one 4-bit layer",
            "gptq": "GPTQ (4-bit, groups of 128) and SparseGPT (50 %) of one layer",
            "forward": "all-MiniLM-L6-v2 sentence embeddings, SmolLM2-135M NLL (needs make test-models)",
            "kernel": "exact kernel ridge and Nyström ridge",
            "gguf": "GGUF dequantization of a 49152×576 tensor per block format",
        ]
    }
}

/// `openblas` / `native` (case-insensitive; `swift` names the native backend too).
extension Backend: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// A comma-separated list of values, as `--suites linalg,eora` or `--gemm-sizes 256,512`
/// (empty items are skipped; any other item that does not parse rejects the list).
struct CommaSeparated<Element: ExpressibleByArgument>: ExpressibleByArgument {
    var values: [Element]

    init(_ values: [Element]) { self.values = values }

    init?(argument: String) {
        var values: [Element] = []
        for item in argument.split(separator: ",") {
            guard let value = Element(argument: String(item)) else { return nil }
            values.append(value)
        }
        guard !values.isEmpty else { return nil }
        self.values = values
    }

    var defaultValueDescription: String { values.map(\.defaultValueDescription).joined(separator: ",") }
    static var allValueStrings: [String] { Element.allValueStrings }
    static var allValueDescriptions: [String: String] { Element.allValueDescriptions }
}

/// One run of the selected suites; collects the records and writes them.
struct RankwiseBench {
    var harness: Harness
    let quick: Bool
    let backends: [Backend]
    let maxNativeDecomposition: Int
    var gemmSizes: [Int]
    var decompositionSizes: [Int]
    /// The results folder (rows that share prepared inputs with the Python side keep them here).
    var output = URL(fileURLWithPath: "bench-results")
    /// The quality table of the gptq suite (no timings): written to swift.json as `quality`.
    var quality: [QualityRow] = []

    mutating func linalg<T: Scalar>(_: T.Type) throws {
        let dtype = dtypeName(T.self)
        for n in gemmSizes { try gemmRow(T.self, n) }
        for n in decompositionSizes {
            let a = benchMatrix(T.self, n, n)
            let s = spdMatrix(T.self, n)
            let sides = backends.filter { $0 != .native || n <= maxNativeDecomposition }
            func each(_ body: @escaping () throws -> Void) -> [(name: String, body: () throws -> Void)] {
                sides.map { backend in (backend.rawValue, { try Backend.withCurrent(backend) { try body() } }) }
            }
            try harness.compare(suite: "linalg", operation: "svd", dtype: dtype, size: "\(n)", each { _ = try a.svd() })
            try harness.compare(suite: "linalg", operation: "eigh", dtype: dtype, size: "\(n)", each { _ = try s.symmetricEigen() })
            try harness.compare(suite: "linalg", operation: "cholesky", dtype: dtype, size: "\(n)", each { _ = try s.cholesky() })
            try harness.compare(suite: "linalg", operation: "qr", dtype: dtype, size: "\(n)", each { _ = try a.qr() })
        }
    }

    /// Rank-128 randomized SVD of a matrix with a decaying spectrum (Gaussian
    /// with column scales 1/(j+1)), beside scikit-learn's randomized_svd.
    mutating func randomizedSVD() throws {
        let n = quick ? 1024 : 4096, rank = 128
        var a = Matrix<Float>.random(rows: n, columns: n, seed: 5)
        a.scaleColumns(by: (0..<n).map { 1 / Float($0 + 1) })
        try harness.compare(suite: "rsvd", operation: "randomized_svd r=\(rank)", dtype: "float32", size: "\(n)",
                            backends.map { backend in (backend.rawValue, {
                                _ = try Backend.withCurrent(backend) { try a.randomizedSVD(rank: rank, oversampling: 10, powerIterations: 4, seed: 0) }
                            }) })
    }

    func write(to output: URL) throws {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        struct Document: Encodable { let meta: [String: String]; let records: [Record]; let quality: [QualityRow] }
        let diagnostics = Backend.diagnostics
        let document = Document(meta: [
            "threads": "\(Backend.threadCount)",
            "backends": Backend.available.map(\.rawValue).joined(separator: ","),
            "openblas": Backend.openBLASConfiguration ?? "none",
            "native_kernel": NativeKernel.current.rawValue,
            "rankwise": rankwiseVersion,
            "cpu_model": diagnostics.cpuModel,
            "instruction_sets": diagnostics.instructionSets.joined(separator: ","),
            "openblas_core": diagnostics.openBLAS?.core ?? "none",
            "openblas_coretype_env": diagnostics.openBLAS?.coretypeEnvironment ?? "unset",
            "heap": "glibc mmap_max 0, trim_threshold 2147483647 (as the rankwise CLI)",
            "load_average": (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "",
        ], records: harness.records, quality: quality)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(document).write(to: output.appendingPathComponent("swift.json"))
    }
}
