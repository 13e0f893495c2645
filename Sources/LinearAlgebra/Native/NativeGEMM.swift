import Foundation
import GEMMKernels
#if canImport(GEMMKernelsAVX2)
import GEMMKernelsAVX2
#endif

/// Which build of the native kernels runs: the same Swift sources
/// (`PackedGEMM`, and `PlaneRotations` for the eigen solver) compiled for the
/// baseline CPU or for AVX2 + FMA.
public enum NativeKernel: String, Sendable, CaseIterable {
    /// The baseline target (SSE2 on x86-64, NEON on arm64): 6×8 Float and
    /// 6×4 Double register tiles.
    case baseline
    /// Haswell-class x86-64 (AVX2, FMA, BMI1/2, F16C, MOVBE, LZCNT): 6×16
    /// Float and 6×8 Double register tiles with fused multiply-add.
    case avx2

    /// Whether this build has the kernel and this CPU can run it.
    public var isAvailable: Bool {
        switch self {
        case .baseline: true
        case .avx2:
            #if canImport(GEMMKernelsAVX2)
            CPUFeatures.current.isSuperset(of: ["avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"])
            #else
            false
            #endif
        }
    }

    /// Kernels this process can run.
    public static var available: [NativeKernel] { allCases.filter(\.isAvailable) }

    /// The process default: `RANKWISE_NATIVE_KERNEL=baseline|avx2` if it names
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
    static func multiply<T: Scalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        beta: T, c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        let threads = Backend.threadCount
        let avx2 = NativeKernel.current == .avx2
        switch T.precision {
        case .single:
            let a = UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), b = UnsafeRawPointer(b).assumingMemoryBound(to: Float.self)
            let c = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self)
            let alpha = alpha.doubleValue, beta = beta.doubleValue
            #if canImport(GEMMKernelsAVX2)
            if avx2 {
                GEMMKernelsAVX2.PackedGEMM.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: Float(alpha),
                                                    a: a, lda: lda, b: b, ldb: ldb, beta: Float(beta), c: c, ldc: ldc, threads: threads)
                return
            }
            #endif
            GEMMKernels.PackedGEMM.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: Float(alpha),
                                            a: a, lda: lda, b: b, ldb: ldb, beta: Float(beta), c: c, ldc: ldc, threads: threads)
        case .double:
            let a = UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), b = UnsafeRawPointer(b).assumingMemoryBound(to: Double.self)
            let c = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self)
            let alpha = alpha.doubleValue, beta = beta.doubleValue
            #if canImport(GEMMKernelsAVX2)
            if avx2 {
                GEMMKernelsAVX2.PackedGEMM.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                                    a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads)
                return
            }
            #endif
            GEMMKernels.PackedGEMM.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads)
        }
    }
}
