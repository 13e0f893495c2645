import Foundation
import ModelSurgery

#if canImport(Glibc)
import Glibc
#endif

/// Where the CLI writes: progress and the closing summary on stderr, results
/// on stdout (or a single JSON object there with --json).
/// On a terminal, per-item progress is one redrawn bar with an ETA instead of
/// a line per item; elsewhere (a pipe, a log file) each item keeps its line.
/// Names from files are printed with control characters escaped.
struct Console {
    let quiet: Bool
    let verbose: Bool
    let json: Bool
    /// The bar's state, when stderr is a terminal (and not --quiet/--verbose).
    private let bar: ProgressBar?

    init(quiet: Bool, verbose: Bool, json: Bool, terminal: Bool = isatty(2) == 1) {
        self.quiet = quiet
        self.verbose = verbose
        self.json = json
        bar = terminal && !quiet && !verbose ? ProgressBar() : nil
    }

    /// A progress or summary line on stderr (suppressed by --quiet).
    func progress(_ line: String) {
        guard !quiet else { return }
        bar?.clear()
        FileHandleOutput.standardError.write(terminalSafe(line, keepNewlines: true) + "\n")
    }

    /// Item `index` (0-based) of `count` is done; `line` describes it. On a
    /// terminal: the bar, with the item's name and an ETA from the mean time
    /// per item so far. Otherwise: the line.
    func step(_ index: Int, of count: Int, name: String, _ line: String) {
        guard !quiet else { return }
        if let bar { bar.draw(done: index + 1, of: count, label: terminalSafe(name, keepNewlines: false)) } else { progress(line) }
    }

    /// A job's events: each layer through `step` with the line `line` makes
    /// of it, warnings as warnings, notes as --verbose detail.
    func observer(_ line: @escaping (_ index: Int, _ count: Int, LayerReport) -> String) -> JobObserver {
        { event in
            switch event {
            case .layer(let index, let count, let report): step(index, of: count, name: report.layer, line(index, count, report))
            case .warning(let text): warning(text)
            case .note(let text): detail(text)
            }
        }
    }

    /// The --json summary of a job's `Codable` report (sorted keys, on stdout).
    func emitJSON<T: Encodable>(_ report: T) throws {
        guard json else { return }
        FileHandleOutput.standardOutput.write(String(decoding: try encodeJSON(report), as: UTF8.self))
    }

    /// Detail on stderr, with --verbose only.
    func detail(_ line: String) {
        guard verbose, !quiet else { return }
        FileHandleOutput.standardError.write(terminalSafe(line, keepNewlines: true) + "\n")
    }

    /// A warning on stderr (shown even with --quiet: it changes what the result means).
    func warning(_ line: String) {
        bar?.clear()
        FileHandleOutput.standardError.write("rankwise: warning: \(terminalSafe(line, keepNewlines: false))\n")
    }

    /// Human-readable results on stdout (not in --json mode).
    func output(_ text: String) {
        guard !json, !quiet else { return }
        bar?.clear()
        FileHandleOutput.standardOutput.write(terminalSafe(text, keepNewlines: true) + "\n")
    }

    /// The --json summary of a `[String: Any]` object (the demo's table).
    func emitJSON(object: [String: Any]) throws {
        guard json else { return }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        FileHandleOutput.standardOutput.write(String(decoding: data, as: UTF8.self) + "\n")
    }
}

/// A one-line bar on stderr: `[#######.....]  12/196  ETA 1m20s  name`.
final class ProgressBar {
    /// The command's start (the console is made as it starts), so the ETA counts the setup too.
    private let start = ContinuousClock.now
    private var visible = false

    func draw(done: Int, of total: Int, label: String) {
        let width = 24, filled = total > 0 ? min(width, done * width / total) : width
        let elapsed = secondsSince(start)
        let remaining = done > 0 ? elapsed / Double(done) * Double(max(total - done, 0)) : 0
        let eta = done >= total ? "done in \(Self.duration(elapsed))" : "ETA \(Self.duration(remaining))"
        var text = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "\(done)/\(total)  \(eta)  \(label)"
        let columns = Self.terminalColumns()
        if text.count > columns - 1 { text = String(text.prefix(max(columns - 2, 10))) + "…" }
        FileHandleOutput.standardError.write("\r\u{1B}[2K" + text + (done >= total ? "\n" : ""))
        visible = done < total
    }

    /// Erases the bar so that a line printed next starts clean (the next draw brings it back).
    func clear() {
        guard visible else { return }
        FileHandleOutput.standardError.write("\r\u{1B}[2K")
        visible = false
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return String(format: "%.1fs", seconds) }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m"
    }

    static func terminalColumns() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
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

/// 1.5 GB, 12.0 MB, 512 B.
func formatBytes(_ n: Int) -> String {
    let units = [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
    for (size, unit) in units where Double(n) >= size { return String(format: "%.1f %@", Double(n) / size, unit) }
    return "\(n) B"
}

/// `16x24`.
func shapeText(_ shape: [Int]?) -> String { (shape ?? []).map(String.init).joined(separator: "x") }

/// What a model job wrote: the file, or `N shards + index`.
func writtenText(_ report: ModelReport) -> String {
    report.files.count <= 1 ? report.output : "\(report.files.count - 1) shards + \(URL(fileURLWithPath: report.files.last!).lastPathComponent)"
}
