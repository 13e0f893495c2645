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

/// Warm-up, then repetitions; reports the median and minimum wall time.
struct Harness {
    var repetitions: Int
    /// A run slower than this gets no repetitions beyond the first timed one.
    var slowRunSeconds: Double = 30
    var records: [Record] = []

    mutating func measure(suite: String, operation: String, dtype: String, size: String, implementation: String,
                          flops: Double? = nil, metricName: String? = nil, metric: (() -> Double)? = nil,
                          _ body: () throws -> Void) rethrows {
        let warmup = try time(body)
        var times: [Double] = []
        if warmup > slowRunSeconds {
            times = [warmup]
        } else {
            for _ in 0..<repetitions { times.append(try time(body)) }
        }
        times.sort()
        let record = Record(suite: suite, operation: operation, dtype: dtype, size: size, implementation: implementation,
                            median: times[times.count / 2], min: times[0], repetitions: times.count, flops: flops,
                            metric: metric?(), metricName: metricName)
        records.append(record)
        var line = "\(suite)/\(operation) \(dtype) \(size) [\(implementation)]: median \(String(format: "%.4f", record.median)) s"
        if let flops { line += String(format: "  %.1f GFLOP/s", flops / record.median / 1e9) }
        if let value = record.metric, let name = record.metricName { line += "  \(name) \(String(format: "%.5f", value))" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Times several implementations of one row, one after the other, each
    /// with a warm-up, recording min/median/max and the load average. OpenBLAS
    /// goes last and the row starts after a pause of `settle` seconds: after
    /// each call OpenBLAS's idle threads keep competing for the cores for a
    /// while, and whatever runs next is slowed. Measured on a 2-core VM, a
    /// 1024³ native Float GEMM ran at 455 GFLOP/s on its own but 231–373
    /// interleaved with OpenBLAS (A B A B with 0.2 s pauses) and 369–430 with
    /// 3 s pauses; so the sides are not interleaved.
    mutating func compare(suite: String, operation: String, dtype: String, size: String, flops: Double? = nil,
                          _ implementations: [(name: String, body: () throws -> Void)]) throws {
        Thread.sleep(forTimeInterval: settle)
        let load = Self.loadAverage()
        let ordered = implementations.filter { $0.name != "openblas" } + implementations.filter { $0.name == "openblas" }
        for implementation in ordered {
            let warmup = try time(implementation.body)
            var times: [Double] = []
            if warmup > slowRunSeconds {
                times = [warmup]
            } else {
                for _ in 0..<repetitions { times.append(try time(implementation.body)) }
            }
            times.sort()
            let record = Record(suite: suite, operation: operation, dtype: dtype, size: size, implementation: implementation.name,
                                median: times[times.count / 2], min: times[0], max: times.last, repetitions: times.count, flops: flops,
                                load: load, busy: load.map { $0 > Double(Backend.threadCount) + 1 })
            records.append(record)
            var line = "\(suite)/\(operation) \(dtype) \(size) [\(implementation.name)]: min \(String(format: "%.4f", record.min)) s, "
                + "median \(String(format: "%.4f", record.median)), max \(String(format: "%.4f", record.max!))"
            if let flops { line += String(format: "  %.1f GFLOP/s", flops / record.min / 1e9) }
            if record.busy == true { line += "  (busy machine: load \(load!))" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// Seconds of pause before each `compare` row (see there).
    var settle = 1.0

    /// The 1-minute load average, from /proc/loadavg.
    static func loadAverage() -> Double? {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) }
    }

    private func time(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
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
