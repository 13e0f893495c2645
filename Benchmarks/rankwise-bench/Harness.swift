import Foundation
import LinearAlgebra

/// One measured row: an operation at a size, by one implementation.
struct Record: Codable {
    var suite: String
    var operation: String
    var dtype: String
    var size: String
    var implementation: String
    var median: Double
    var min: Double
    var max: Double? = nil
    var repetitions: Int
    /// Floating-point operations of one run, when the operation has a
    /// standard count (GEMM: 2mnk), so the report can give GFLOP/s.
    var flops: Double?
    /// A quality figure reported beside the time (e.g. the relative activation
    /// error of an EoRA run), so speed is never shown without accuracy.
    var metric: Double? = nil
    var metricName: String? = nil
    /// The 1-minute load average when the row started, and whether it was
    /// above the cores this run uses plus one (another program was busy:
    /// the row's times are suspect).
    var load: Double? = nil
    var busy: Bool? = nil
}

/// Times rows: every implementation warmed up, then timed in interleaved
/// rounds; records min/median/max and the load average.
///
/// Protocol, measured on a 2-core VM (native 1024³ Float GEMM, 5–7 ms a run):
/// - No pause before a row. After any idle spell, 0.2 s or 1 s alike, the
///   first ~60 ms of work run at 55–75% speed on either backend (the vCPUs
///   wake slowly), so a pause slows whatever comes next. (An earlier version
///   paused 1 s before each row and blamed OpenBLAS's idle threads for the
///   slow first rows it measured.)
/// - Warm-up by time: each implementation runs until `warmUpSeconds` have
///   passed (at least once), which also covers that wake-up.
/// - The timed runs alternate A B B A A B …, so each side runs about as often
///   after itself as after the other.
/// - A busy wait of `handoverSeconds` on this thread whenever the next run is
///   another implementation's: OpenBLAS's worker threads spin for 2²⁸ TSC
///   cycles (≈ 0.1 s) after each call, and a native run started meanwhile
///   shares a core with them (measured: a native Double 1024³ GEMM at 55–60%
///   of its speed when started 20 ms after an OpenBLAS one, full speed after
///   0.1–0.15 s). Busy, not asleep: a sleep lets the vCPUs idle (above).
struct Harness {
    var repetitions: Int
    /// A run slower than this gets no repetitions beyond the first timed one.
    var slowRunSeconds: Double = 30
    /// Each implementation of a row runs for at least this long before timing.
    var warmUpSeconds: Double = 0.3
    /// The busy wait between runs of different implementations (see the type).
    var handoverSeconds: Double = 0.15
    var records: [Record] = []

    /// One implementation's row (the Python side, or an operation only
    /// Rankwise has in this bench).
    mutating func measure(suite: String, operation: String, dtype: String, size: String, implementation: String,
                          flops: Double? = nil, metricName: String? = nil, metric: (() -> Double)? = nil,
                          _ body: () throws -> Void) throws {
        try withoutActuallyEscaping(body) { body in
            try compare(suite: suite, operation: operation, dtype: dtype, size: size, flops: flops, [(implementation, body)])
        }
        if let metric {
            records[records.count - 1].metric = metric()
            records[records.count - 1].metricName = metricName
        }
    }

    /// Times several implementations of one row, interleaved (see the type).
    mutating func compare(suite: String, operation: String, dtype: String, size: String, flops: Double? = nil,
                          _ implementations: [(name: String, body: () throws -> Void)]) throws {
        let load = Self.loadAverage()
        var times = [[Double]](repeating: [], count: implementations.count)
        var slow = [Bool](repeating: false, count: implementations.count)
        var previous: Int?
        func handOver(to i: Int) {
            if let previous, previous != i { busyWait(handoverSeconds) }
            previous = i
        }
        for (i, implementation) in implementations.enumerated() {
            handOver(to: i)
            let start = ContinuousClock.now
            var last: Double
            repeat { last = try time(implementation.body) } while seconds(since: start) < warmUpSeconds && last <= slowRunSeconds
            if last > slowRunSeconds { times[i] = [last]; slow[i] = true }
        }
        for round in 0..<repetitions {
            // A B, B A, A B, …
            let order = round % 2 == 0 ? Array(implementations.indices) : implementations.indices.reversed()
            for i in order where !slow[i] {
                handOver(to: i)
                times[i].append(try time(implementations[i].body))
            }
        }
        for (i, implementation) in implementations.enumerated() {
            let sorted = times[i].sorted()
            let record = Record(suite: suite, operation: operation, dtype: dtype, size: size, implementation: implementation.name,
                                median: sorted[sorted.count / 2], min: sorted[0], max: sorted.last, repetitions: sorted.count, flops: flops,
                                load: load, busy: load.map { $0 > Double(Backend.threadCount) + 1 })
            records.append(record)
            var line = "\(suite)/\(operation) \(dtype) \(size) [\(implementation.name)]: min \(String(format: "%.4f", record.min)) s, "
                + "median \(String(format: "%.4f", record.median)), max \(String(format: "%.4f", record.max!))"
            if let flops { line += String(format: "  %.1f GFLOP/s", flops / record.median / 1e9) }
            if record.busy == true { line += "  (busy machine: load \(load!))" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// The 1-minute load average, from /proc/loadavg.
    static func loadAverage() -> Double? {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) }
    }

    private func busyWait(_ duration: Double) {
        let start = ContinuousClock.now
        while seconds(since: start) < duration {}
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private func time(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        return seconds(since: start)
    }
}

/// Keeps every thread busy for half a second before anything is timed. The
/// Dispatch pool behind the native kernels starts its worker threads lazily:
/// the first few parallel calls of a process run on one thread (measured: the
/// first four 1024³ native GEMMs at half speed), which would otherwise land
/// in the first rows' medians. OpenBLAS starts its threads when it loads.
func warmUpThreads() {
    let start = ContinuousClock.now
    let threads = Swift.max(1, Backend.threadCount)
    while ContinuousClock.now - start < .milliseconds(500) {
        Backend.forEachChunk(threads) { _ in
            var x = 1.0
            for i in 0..<200_000 { x = x * 1.000001 + Double(i & 1) }
            if x == 0 { print(x) }   // keeps the loop from being optimised away
        }
    }
}

/// A matrix for timing: seeded Gaussian, or symmetric positive definite.
func benchMatrix<T: Scalar>(_: T.Type, _ m: Int, _ n: Int, seed: UInt64 = 1) -> Matrix<T> {
    Matrix<T>.random(rows: m, columns: n, seed: seed)
}

func spdMatrix<T: Scalar>(_: T.Type, _ n: Int) -> Matrix<T> {
    let a = Matrix<T>.random(rows: n, columns: n, seed: 2)
    return a.gram() + T(n) * Matrix<T>.identity(n)
}

func dtypeName<T: Scalar>(_: T.Type) -> String { T.precision == .single ? "float32" : "float64" }
