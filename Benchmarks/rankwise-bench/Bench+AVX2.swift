import Foundation
import LinearAlgebra

extension RankwiseBench {
    /// GEMM with the native AVX2 kernel beside OpenBLAS on its Haswell core,
    /// the two AVX2 builds, on any CPU that runs them (on an AVX-512 CPU both
    /// libraries otherwise use their AVX-512 kernels). OpenBLAS picks its core
    /// once per process, so unless this process already runs the Haswell core
    /// the rows come from a child run of this tool with
    /// `OPENBLAS_CORETYPE=Haswell`.
    mutating func gemmAVX2() throws {
        guard NativeKernel.avx2.isAvailable, backends.contains(.openBLAS), let core = Backend.diagnostics.openBLAS?.core else {
            FileHandle.standardError.write(Data("gemm-avx2: skipped (needs the AVX2 kernel and the OpenBLAS backend)\n".utf8))
            return
        }
        let operation = "gemm, AVX2 kernel vs Haswell core"
        if core == "Haswell" {
            for n in gemmSizes {
                try gemmRow(Float.self, n, operation: operation, kernel: .avx2)
                try gemmRow(Double.self, n, operation: operation, kernel: .avx2)
            }
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rankwise-bench-avx2-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        child.arguments = ["--suites", "gemm-avx2", "--backends", "openblas,native", "--repetitions", "\(harness.repetitions)",
                           "--threads", "\(Backend.threadCount)", "--gemm-sizes", gemmSizes.map(String.init).joined(separator: ","),
                           "--output", folder.path]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = "Haswell"
        child.environment = environment
        try child.run()
        child.waitUntilExit()
        guard child.terminationStatus == 0 else {
            throw BenchError("the gemm-avx2 child run (OPENBLAS_CORETYPE=Haswell) exited with status \(child.terminationStatus)")
        }
        struct Document: Decodable { let records: [Record] }
        let document = try JSONDecoder().decode(Document.self, from: Data(contentsOf: folder.appendingPathComponent("swift.json")))
        harness.records += document.records
    }

    /// One GEMM row, n×n times n×n, OpenBLAS beside the native backend
    /// (with `kernel`, or the process's default).
    mutating func gemmRow<T: Scalar>(_: T.Type, _ n: Int, operation: String = "gemm", kernel: NativeKernel? = nil) throws {
        let a = benchMatrix(T.self, n, n, seed: 1), b = benchMatrix(T.self, n, n, seed: 2)
        nonisolated(unsafe) var c = Matrix<T>.zeros(rows: n, columns: n)
        let kernel = kernel ?? NativeKernel.current
        try harness.compare(suite: "linalg", operation: operation, dtype: dtypeName(T.self), size: "\(n)", flops: 2 * Double(n) * Double(n) * Double(n),
                            backends.map { backend in (backend.rawValue, {
                                NativeKernel.withCurrent(kernel) { Backend.withCurrent(backend) { Matrix.gemm(a, b, into: &c) } }
                            }) })
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
