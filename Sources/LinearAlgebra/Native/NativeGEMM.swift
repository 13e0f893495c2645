import Foundation

/// Which build of the native kernels runs: the same Swift sources
/// (`PackedGEMM`, and `PlaneRotations` for the eigen solver) compiled for the
/// baseline CPU, for AVX2 + FMA, or for AVX-512.
public enum NativeKernel: String, Sendable, CaseIterable {
    /// The baseline target (SSE2 on x86-64, NEON on arm64): 6×8 Float and
    /// 6×4 Double register tiles.
    case baseline
    /// Haswell-class x86-64 (AVX2, FMA, BMI1/2, F16C, MOVBE, LZCNT): 6×16
    /// Float and 6×8 Double register tiles with fused multiply-add.
    case avx2
    /// Skylake-SP-class x86-64 (AVX-512 F, CD, BW, DQ, VL on top of AVX2):
    /// 8×32 Float and 8×16 Double register tiles in sixteen 512-bit
    /// accumulators. Chosen only when the OS saves the ZMM registers (Linux
    /// lists the avx512 flags in /proc/cpuinfo only then).
    case avx512

    /// Whether this build has the kernel and this CPU can run it.
    public var isAvailable: Bool {
        let haswell: Set<String> = ["avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"]
        switch self {
        case .baseline: return true
        case .avx2:
            #if canImport(GEMMKernelsAVX2)
            return CPUFeatures.current.isSuperset(of: haswell)
            #else
            return false
            #endif
        case .avx512:
            #if canImport(GEMMKernelsAVX512)
            return CPUFeatures.current.isSuperset(of: haswell.union(["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]))
            #else
            return false
            #endif
        }
    }

    /// Kernels this process can run.
    public static var available: [NativeKernel] { allCases.filter(\.isAvailable) }

    /// The process default: `RANKWISE_NATIVE_KERNEL=baseline|avx2|avx512` if it names
    /// an available kernel, else the fastest available. Read once.
    public static let processDefault: NativeKernel = {
        if let value = getenv("RANKWISE_NATIVE_KERNEL"), let named = NativeKernel(rawValue: String(cString: value).lowercased()), named.isAvailable {
            return named
        }
        return available.last!
    }()

    @TaskLocal static var scoped: NativeKernel?

    /// The kernels the native backend's GEMM and QL rotations use: the innermost `withCurrent`
    /// override, else the process default.
    public static var current: NativeKernel { scoped ?? processDefault }

    /// Runs `body` with `kernel` for the native GEMM (task-local, like
    /// `Backend.withCurrent`). For tests and benchmarks that compare builds.
    public static func withCurrent<R>(_ kernel: NativeKernel, _ body: () throws -> R) rethrows -> R {
        precondition(kernel.isAvailable, "Native kernel \(kernel) cannot run on this CPU or is not in this build")
        return try $scoped.withValue(kernel, operation: body)
    }
}

/// The CPU feature flags, from `/proc/cpuinfo` on Linux (empty elsewhere, which
/// selects the baseline kernels).
enum CPUFeatures {
    static let current: Set<String> = Set((cpuInfo.fields["flags"] ?? "").split(separator: " ").map(String.init))

    /// The first processor's entry of /proc/cpuinfo (empty elsewhere).
    static let cpuInfo: (model: String, vendor: String, fields: [String: String]) = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return ("unknown", "unknown", [:]) }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { if !fields.isEmpty { break } else { continue } }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return (fields["model name"] ?? "unknown", fields["vendor_id"] ?? "unknown", fields)
    }()
}

/// C ← α·op(A)·op(B) + β·C in pure Swift: forwards to `PackedGEMM` in the
/// kernel module `NativeKernel.current` names, on `Backend.threadCount` threads.
enum NativeGEMM {
    /// One build's `PackedGEMM.multiply` for one scalar type.
    typealias Kernel<U> = (_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
                           _ alpha: U, _ a: UnsafePointer<U>, _ lda: Int, _ b: UnsafePointer<U>, _ ldb: Int,
                           _ beta: U, _ c: UnsafeMutablePointer<U>, _ ldc: Int, _ threads: Int) -> Void

    /// `threads`: the GEMM's own threads (default `Backend.threadCount`; 1 inside work already spread over the cores).
    static func multiply<T: Scalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int, threads: Int? = nil
    ) {
        func run<U: BinaryFloatingPoint>(_ kernel: Kernel<U>) {
            kernel(transposeA, transposeB, m, n, k, U(alpha.doubleValue), UnsafeRawPointer(a).assumingMemoryBound(to: U.self), lda,
                   UnsafeRawPointer(b).assumingMemoryBound(to: U.self), ldb, U(beta.doubleValue),
                   UnsafeMutableRawPointer(c).assumingMemoryBound(to: U.self), ldc, threads ?? Backend.threadCount)
        }
        switch T.precision {
        case .single: run(NativeKernel.current.entries(Float.self).gemm)
        case .double: run(NativeKernel.current.entries(Double.self).gemm)
        }
    }


}
