import Foundation
import LinearAlgebra

/// rankwise-bench: times Rankwise's backends and writes `swift.json` into the
/// output folder. `Benchmarks/reference/*.py` time numpy/scipy/scikit-learn on
/// the same sizes, and `Benchmarks/report.py` merges both into one table with
/// ratios (`make bench`).
///
/// Usage: rankwise-bench [--quick] [--repetitions N] [--threads N] [--output DIR]
///                       [--suites linalg,rsvd,eora,kernel] [--backends openblas,native]
///                       [--max-native-decomposition N] [--gemm-sizes 256,512]
///                       [--decomposition-sizes 512,1024]
@main
struct RankwiseBench {
    var harness: Harness
    let quick: Bool
    let backends: [Backend]
    let maxNativeDecomposition: Int
    var gemmSizes: [Int]
    var decompositionSizes: [Int]

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        func option(_ name: String) -> String? {
            guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
            return arguments[i + 1]
        }
        if arguments.contains("--help") || arguments.contains("-h") {
            print("""
                usage: rankwise-bench [--quick] [--repetitions N] [--threads N] [--output DIR]
                                      [--suites linalg,rsvd,eora,kernel] [--backends openblas,native]
                                      [--max-native-decomposition N] [--gemm-sizes 256,512,...]
                                      [--decomposition-sizes 512,1024,...]
                Times Rankwise's backends; writes DIR/swift.json (default DIR: bench-results).
                """)
            return
        }
        let quick = arguments.contains("--quick")
        func sizes(_ name: String) -> [Int]? { option(name).map { $0.split(separator: ",").compactMap { Int($0) } } }
        let output = URL(fileURLWithPath: option("--output") ?? "bench-results")
        let suites = Set((option("--suites") ?? "linalg,rsvd,eora,kernel").split(separator: ",").map(String.init))
        if let threads = option("--threads").flatMap(Int.init) { Backend.threadCount = threads }
        var bench = RankwiseBench(
            harness: Harness(repetitions: option("--repetitions").flatMap(Int.init) ?? (quick ? 3 : 5)),
            quick: quick,
            backends: (option("--backends")?.split(separator: ",").compactMap { Backend(name: String($0)) } ?? Backend.available)
                .filter(\.isAvailable),
            maxNativeDecomposition: option("--max-native-decomposition").flatMap(Int.init) ?? (quick ? 512 : 2048),
            gemmSizes: sizes("--gemm-sizes") ?? (quick ? [256, 512, 1024] : [256, 512, 1024, 2048, 4096]),
            decompositionSizes: sizes("--decomposition-sizes") ?? (quick ? [256, 512] : [512, 1024, 2048]))
        warmUpThreads()
        do {
            if suites.contains("linalg") {
                try bench.linalg(Float.self)
                try bench.linalg(Double.self)
            }
            if suites.contains("rsvd") { try bench.randomizedSVD() }
            if suites.contains("eora") { try bench.eora() }
            if suites.contains("kernel") { try bench.kernel() }
            try bench.write(to: output)
        } catch {
            FileHandle.standardError.write(Data("rankwise-bench: error: \(error)\n".utf8))
            exit(1)
        }
    }


    mutating func linalg<T: Scalar>(_: T.Type) throws {
        let dtype = dtypeName(T.self)
        for n in gemmSizes {
            let a = benchMatrix(T.self, n, n, seed: 1), b = benchMatrix(T.self, n, n, seed: 2)
            var c = Matrix<T>.zeros(rows: n, columns: n)
            for backend in backends {
                Backend.withCurrent(backend) {
                    harness.measure(suite: "linalg", operation: "gemm", dtype: dtype, size: "\(n)", implementation: backend.rawValue,
                                    flops: 2 * Double(n) * Double(n) * Double(n)) {
                        Matrix.gemm(a, b, into: &c)
                    }
                }
            }
        }
        for n in decompositionSizes {
            let a = benchMatrix(T.self, n, n)
            let s = spdMatrix(T.self, n)
            for backend in backends where backend != .native || n <= maxNativeDecomposition {
                try Backend.withCurrent(backend) {
                    let impl = backend.rawValue
                    try harness.measure(suite: "linalg", operation: "svd", dtype: dtype, size: "\(n)", implementation: impl) { _ = try a.svd() }
                    try harness.measure(suite: "linalg", operation: "eigh", dtype: dtype, size: "\(n)", implementation: impl) { _ = try s.symmetricEigen() }
                    try harness.measure(suite: "linalg", operation: "cholesky", dtype: dtype, size: "\(n)", implementation: impl) { _ = try s.cholesky() }
                    try harness.measure(suite: "linalg", operation: "qr", dtype: dtype, size: "\(n)", implementation: impl) { _ = try a.qr() }
                }
            }
        }
    }

    /// Rank-128 randomized SVD of a matrix with a decaying spectrum (Gaussian
    /// with column scales 1/(j+1)), beside scikit-learn's randomized_svd.
    mutating func randomizedSVD() throws {
        let n = quick ? 1024 : 4096, rank = 128
        var a = Matrix<Float>.random(rows: n, columns: n, seed: 5)
        a.scaleColumns(by: (0..<n).map { 1 / Float($0 + 1) })
        for backend in backends {
            try Backend.withCurrent(backend) {
                try harness.measure(suite: "rsvd", operation: "randomized_svd r=\(rank)", dtype: "float32", size: "\(n)",
                                    implementation: backend.rawValue) {
                    _ = try a.randomizedSVD(rank: rank, oversampling: 10, powerIterations: 4, seed: 0)
                }
            }
        }
    }

    func write(to output: URL) throws {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        struct Document: Encodable { let meta: [String: String]; let records: [Record] }
        let document = Document(meta: [
            "threads": "\(Backend.threadCount)",
            "backends": Backend.available.map(\.rawValue).joined(separator: ","),
            "openblas": Backend.openBLASConfiguration ?? "none",
            "native_kernel": NativeKernel.current.rawValue,
            "rankwise": rankwiseVersion,
        ], records: harness.records)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(document).write(to: output.appendingPathComponent("swift.json"))
    }
}
