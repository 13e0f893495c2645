import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the backends run on, for `rankwise env`, benchmark records and bug
/// reports (like numpy's `show_config()`): the CPU and the instruction sets
/// it can use, OpenBLAS's version, configuration, core and threads, and the
/// native kernel chosen.
public struct BackendDiagnostics: Codable, Sendable, Equatable {
    /// OpenBLAS as loaded in this process.
    public struct OpenBLAS: Codable, Sendable, Equatable {
        /// The version from its configuration string (e.g. `0.3.21`).
        public var version: String
        /// `openblas_get_config()`: build options, the core, MAX_THREADS.
        public var configuration: String
        /// `openblas_get_corename()`: the kernel set it dispatched to (e.g. `Haswell`, `SkylakeX`, `Prescott`).
        public var core: String
        /// `openblas_get_num_threads()`.
        public var threads: Int
        /// `OPENBLAS_CORETYPE` as this process found it, if set (it overrides OpenBLAS's own detection).
        public var coretypeEnvironment: String?
        /// Whether `core` is one of OpenBLAS's generic fallbacks (no AVX kernels).
        public var isGenericCore: Bool
        /// When `core` is a generic fallback: the core this CPU should use (`Backend.recommendedOpenBLASCore`).
        public var recommendedCore: String?

        enum CodingKeys: String, CodingKey {
            case version, configuration, core, threads
            case coretypeEnvironment = "coretype_environment", isGenericCore = "is_generic_core", recommendedCore = "recommended_core"
        }
    }

    /// `model name` from /proc/cpuinfo.
    public var cpuModel: String
    /// `vendor_id` (GenuineIntel, AuthenticAMD, …).
    public var cpuVendor: String
    /// The vector instruction sets the CPU reports and the OS has enabled
    /// (the kernel lists AVX and AVX-512 only when it saves their registers).
    public var instructionSets: [String]
    /// Logical processors available to this process.
    public var processors: Int
    /// Whether this build has the OpenBLAS backend (the package trait).
    public var builtWithOpenBLAS: Bool
    /// nil in a build without OpenBLAS.
    public var openBLAS: OpenBLAS?
    /// The native kernel in use (`baseline`, `avx2`).
    public var nativeKernel: String
    /// The native kernels this CPU and build can run.
    public var nativeKernels: [String]
    /// The process default backend (`openblas` or `native`).
    public var defaultBackend: String
    /// Threads for BLAS work (`Backend.threadCount`).
    public var threads: Int

    enum CodingKeys: String, CodingKey {
        case processors, threads
        case cpuModel = "cpu_model", cpuVendor = "cpu_vendor", instructionSets = "instruction_sets", builtWithOpenBLAS = "built_with_openblas"
        case openBLAS = "openblas", nativeKernel = "native_kernel", nativeKernels = "native_kernels", defaultBackend = "default_backend"
    }
}

extension Backend {
    /// The current facts (read each call; cheap).
    public static var diagnostics: BackendDiagnostics {
        let info = CPUFeatures.cpuInfo
        let interesting = ["sse4_2", "avx", "fma", "avx2", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16", "amx_tile"]
        var openBLAS: BackendDiagnostics.OpenBLAS?
        #if OpenBLAS
        let (config, core) = OpenBLASBackend.configuration
        let version = config.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        let recommended = recommendedOpenBLASCore(vendor: info.vendor, flags: CPUFeatures.current)
        openBLAS = .init(version: version, configuration: config.split(separator: " ").joined(separator: " "), core: core,
                         threads: OpenBLASBackend.threads, coretypeEnvironment: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"],
                         isGenericCore: isGenericOpenBLASCore(core), recommendedCore: isGenericOpenBLASCore(core) ? recommended : nil)
        #endif
        return BackendDiagnostics(
            cpuModel: info.model, cpuVendor: info.vendor, instructionSets: interesting.filter(CPUFeatures.current.contains),
            processors: ProcessInfo.processInfo.activeProcessorCount, builtWithOpenBLAS: isOpenBLASAvailable, openBLAS: openBLAS,
            nativeKernel: NativeKernel.current.rawValue, nativeKernels: NativeKernel.available.map(\.rawValue),
            defaultBackend: processDefault.rawValue, threads: threadCount)
    }

    /// OpenBLAS's generic x86 cores: what a DYNAMIC_ARCH build falls back to
    /// on a CPU it does not recognise, with SSE kernels about 8× slower than
    /// its AVX2 or AVX-512 ones.
    public static let genericOpenBLASCores: Set<String> = ["prescott", "katmai", "coppermine", "northwood", "banias", "core2", "penryn",
                                                          "dunnington", "nehalem", "atom", "opteron", "barcelona", "bobcat"]

    /// Whether `core` (as `openblas_get_corename()` spells it) is a generic fallback.
    public static func isGenericOpenBLASCore(_ core: String) -> Bool {
        genericOpenBLASCores.contains(core.lowercased().trimmingCharacters(in: .whitespaces))
    }

    /// The best OpenBLAS core for a CPU, from its vendor and the instruction
    /// sets the OS enabled: on Intel, Cooperlake (AVX-512 with BF16) or
    /// SkylakeX (AVX-512 F/DQ/CD/BW/VL), else Haswell (AVX2 + FMA), else
    /// Sandybridge (AVX); on AMD, Zen (AVX2 + FMA; OpenBLAS 0.3.21's AVX-512
    /// kernels are not chosen for AMD parts, where some builds misbehave);
    /// nil when nothing beyond SSE is usable.
    public static func recommendedOpenBLASCore(vendor: String, flags: Set<String>) -> String? {
        let avx512 = flags.isSuperset(of: ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"])
        let avx2 = flags.isSuperset(of: ["avx2", "fma"])
        if vendor == "AuthenticAMD" || vendor == "HygonGenuine" {
            return avx2 ? "Zen" : nil
        }
        if avx512 { return flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX" }
        if avx2 { return "Haswell" }
        if flags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// What a process should do about its OpenBLAS core.
    public enum OpenBLASCoreCheck: Sendable, Equatable {
        /// OpenBLAS runs kernels fit for this CPU (or is not in this build).
        case fine
        /// The user chose the core with OPENBLAS_CORETYPE: respected.
        case chosenByUser(String)
        /// A generic fallback core while `recommended` would run: a process
        /// that can restart should do so with OPENBLAS_CORETYPE=`recommended`
        /// (OpenBLAS reads it once, when the library loads).
        case generic(core: String, recommended: String)
    }

    /// Checks OpenBLAS's core against the CPU (see `OpenBLASCoreCheck`).
    public static var openBLASCoreCheck: OpenBLASCoreCheck {
        #if OpenBLAS
        if let chosen = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !chosen.isEmpty { return .chosenByUser(chosen) }
        let core = OpenBLASBackend.configuration.coreName
        guard isGenericOpenBLASCore(core),
              let recommended = recommendedOpenBLASCore(vendor: CPUFeatures.cpuInfo.vendor, flags: CPUFeatures.current) else { return .fine }
        return .generic(core: core, recommended: recommended)
        #else
        return .fine
        #endif
    }

    /// For command-line tools, first thing in `main`: when OpenBLAS fell back
    /// to a generic core on a CPU that can run a better one, replaces this
    /// process by itself (same executable, arguments and environment) with
    /// OPENBLAS_CORETYPE set to that core, once (`RANKWISE_OPENBLAS_RELAUNCHED`
    /// marks the second start). Returns normally when there is nothing to do,
    /// when OPENBLAS_CORETYPE was set by the user, or when exec fails.
    /// A library should call `openBLASCoreCheck` and report instead.
    public static func relaunchWithBestOpenBLASCoreIfNeeded() {
        guard case .generic(_, let recommended) = openBLASCoreCheck,
              ProcessInfo.processInfo.environment["RANKWISE_OPENBLAS_RELAUNCHED"] == nil else { return }
        setenv("OPENBLAS_CORETYPE", recommended, 1)
        setenv("RANKWISE_OPENBLAS_RELAUNCHED", "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed (no /proc): carry on with the generic core.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
