import Foundation

/// Where the CLI writes: progress and the closing summary on stderr, results
/// on stdout (or a single JSON object there with --json).
struct Console {
    let quiet: Bool
    let verbose: Bool
    let json: Bool

    /// A progress or summary line on stderr (suppressed by --quiet).
    func progress(_ line: String) {
        guard !quiet else { return }
        FileHandleOutput.standardError.write(line + "\n")
    }

    /// Detail on stderr, with --verbose only.
    func detail(_ line: String) {
        guard verbose, !quiet else { return }
        FileHandleOutput.standardError.write(line + "\n")
    }

    /// A warning on stderr (shown even with --quiet: it changes what the result means).
    func warning(_ line: String) {
        FileHandleOutput.standardError.write("rankwise: warning: \(line)\n")
    }

    /// Human-readable results on stdout (not in --json mode).
    func output(_ text: String) {
        guard !json, !quiet else { return }
        FileHandleOutput.standardOutput.write(text + "\n")
    }

    /// The --json summary: one object, sorted keys, on stdout.
    func emitJSON(_ object: [String: Any]) throws {
        guard json else { return }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        FileHandleOutput.standardOutput.write(String(decoding: data, as: UTF8.self) + "\n")
    }
}

/// Unbuffered writes to the standard streams.
enum FileHandleOutput {
    case standardOutput, standardError

    func write(_ text: String) {
        let handle: FileHandle = self == .standardOutput ? .standardOutput : .standardError
        handle.write(Data(text.utf8))
    }
}

/// Seconds since `start`, for reports.
func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

extension Double {
    /// Fixed-point with `digits` decimals, for tables.
    func formatted(_ digits: Int) -> String { String(format: "%.\(digits)f", self) }
}
