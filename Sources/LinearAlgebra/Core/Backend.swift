import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the heavy operations run: OpenBLAS/LAPACK or pure Swift.
///
/// Both backends implement the same operations with the same contracts; the
/// tests check that they agree. The process default is OpenBLAS when the
/// package was built with the `OpenBLAS` trait (the default) and native
/// otherwise; the environment variable `RANKWISE_BACKEND=native|openblas`
/// overrides it, and `withCurrent(_:_:)` overrides it for a scope.
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    /// BLAS and LAPACK from OpenBLAS (needs the `OpenBLAS` trait).
    case openBLAS = "openblas"
    /// The pure-Swift implementation, always available.
    case native

    public var description: String { rawValue }

    /// True when this build links OpenBLAS (the `OpenBLAS` trait).
    public static var isOpenBLASAvailable: Bool {
        #if OpenBLAS
        return true
        #else
        return false
        #endif
    }

    /// The backends this build can run: `[.openBLAS, .native]` or `[.native]`.
    public static var available: [Backend] {
        isOpenBLASAvailable ? [.openBLAS, .native] : [.native]
    }

    /// Whether this build can run the backend.
    public var isAvailable: Bool { self == .native || Backend.isOpenBLASAvailable }

    /// Parses `openblas` / `native` (case-insensitive), as `RANKWISE_BACKEND`
    /// and the CLI's `--backend` spell them.
    public init?(name: String) {
        switch name.lowercased() {
        case "openblas": self = .openBLAS
        case "native", "swift": self = .native
        default: return nil
        }
    }

    /// The backend in effect: the innermost `withCurrent` override, else the
    /// process default.
    public static var current: Backend { scoped ?? processDefault }

    /// The process default: `RANKWISE_BACKEND` if it names an available backend,
    /// else OpenBLAS when available, else native. Read once.
    public static let processDefault: Backend = {
        if let value = getenv("RANKWISE_BACKEND"), let named = Backend(name: String(cString: value)), named.isAvailable {
            return named
        }
        return isOpenBLASAvailable ? .openBLAS : .native
    }()

    @TaskLocal static var scoped: Backend?

    /// Runs `body` with `backend` as the current backend (task-local, so other
    /// tasks and threads are unaffected).
    ///
    /// - Precondition: `backend.isAvailable`.
    public static func withCurrent<R>(_ backend: Backend, _ body: () throws -> R) rethrows -> R {
        precondition(backend.isAvailable, "Backend \(backend) is not available in this build (built without the OpenBLAS trait)")
        return try $scoped.withValue(backend, operation: body)
    }

    /// Async variant of `withCurrent(_:_:)`.
    public static func withCurrent<R>(_ backend: Backend, _ body: () async throws -> R) async rethrows -> R {
        precondition(backend.isAvailable, "Backend \(backend) is not available in this build (built without the OpenBLAS trait)")
        return try await $scoped.withValue(backend, operation: body)
    }

    private static let threads = Mutex<Int>(defaultThreadCount)

    /// The number of cores the process may use.
    public static var defaultThreadCount: Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))).clamped(to: 1...1024)
    }

    /// Threads for BLAS-level work in both backends (OpenBLAS's thread pool and
    /// the native GEMM). Default: all online cores. Set it once, before heavy
    /// work; set it to 1 when running several operations concurrently yourself.
    public static var threadCount: Int {
        get { threads.withLock { $0 } }
        set {
            let n = Swift.max(1, newValue)
            threads.withLock { $0 = n }
            #if OpenBLAS
            OpenBLASBackend.setThreads(n)
            #endif
        }
    }

    /// OpenBLAS's build configuration and the CPU core type it dispatched to
    /// (e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH … / Haswell"), or nil in a build
    /// without the OpenBLAS trait. For benchmark and bug reports.
    public static var openBLASConfiguration: String? {
        #if OpenBLAS
        let (config, core) = OpenBLASBackend.configuration
        return config.split(separator: " ").joined(separator: " ") + " / " + core.split(separator: " ").joined(separator: " ")
        #else
        return nil
        #endif
    }

    /// The routines behind this backend.
    var kernels: any BackendKernels.Type {
        switch self {
        case .native:
            return NativeBackend.self
        case .openBLAS:
            #if OpenBLAS
            return OpenBLASBackend.self
            #else
            preconditionFailure("OpenBLAS backend requested in a build without the OpenBLAS trait")
            #endif
        }
    }
}

extension Comparable {
    func clamped(to range: ClosedRange<Self>) -> Self { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}
