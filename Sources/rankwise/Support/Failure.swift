import Foundation
import Compression
import KernelRegression
import LowRank
import Merging
import ModelSurgery
import WeightFiles

#if canImport(Glibc)
import Glibc
#endif

/// A failure as the CLI reports it: one line, and for --json the file and
/// tensor it concerns where the error knows them.
struct FailureReport {
    var message: String
    var file: String?
    var tensor: String?

    init(_ error: Error) {
        switch error {
        case let e as SafetensorsError:
            (message, file, tensor) = (e.description, e.file, e.tensor)
        case let e as FileAccessError:
            (message, file) = (e.description, e.path)
        case let e as GGUFError:
            (message, file, tensor) = (e.description, e.file, e.tensor)
        case let e as PackedLinearError:
            (message, file, tensor) = (e.description, e.file, e.tensor)
        case let e as QuantizationConfigError:
            (message, file) = (e.description, e.file)
        case let e as NPYError:
            (message, file) = (e.description, e.file)
        case let e as CSVError:
            (message, file) = (e.description, e.file.isEmpty ? nil : e.file)
        case let e as CalibrationError:
            message = e.description
            switch e {
            case .badShape(let t, _), .nonFinite(let t), .asymmetric(let t, _), .indefinite(let t, _), .badTokens(let t, _): tensor = t
            case .missingLayer(_, let f): file = f
            }
        case let e as CheckpointError:
            message = e.description
            switch e {
            case .notFound(let p), .noSafetensors(let p), .ambiguous(let p, _), .badIndex(let p, _), .missingShard(let p, _),
                 .shardOutsideFolder(let p, _): file = p
            case .tensorNotInShard(let p, let t, _), .tensorNotInIndex(let p, let t, _): (file, tensor) = (p, t)
            }
        case let e as ModelSurgeryError:
            (message, file, tensor) = (Self.withFlags(e), e.file, e.tensor)
        case CompressionError.invalidParameter(let p, let value, let expected):
            message = "\(Self.flag(for: p)) must be \(expected), got \(value)"
        case LowRankError.invalidParameter(let p, let value, let expected):
            message = "\(Self.flag(for: p)) must be \(expected), got \(value)"
        case KernelRegressionError.invalidParameter(let p, let value, let expected):
            message = "\(Self.flag(for: p)) must be \(expected), got \(value)"
        case MergingError.invalidParameter(let p, let value, let expected):
            message = "\(Self.flag(for: p)) must be \(expected), got \(value)"
        case let e as LocatedError:
            (message, file, tensor) = (e.description, e.file, e.tensor)
        case let e as CocoaError:
            message = Self.describe(e as NSError)
        case _ where type(of: error) is NSError.Type:
            message = Self.describe(error as NSError)
        case let e as CustomStringConvertible:
            message = e.description
        default:
            message = Self.describe(error as NSError)
        }
        message = terminalSafe(message, keepNewlines: false)
    }

    /// The job's parameter names as the flags that set them.
    static let flags = ["rank": "--rank", "lambda": "--lambda", "weights": "--weights", "fisher floor": "--fisher-floor",
                        "nondiag alpha": "--nondiag-alpha", "omega": "--omega", "base": "--base", "fisher": "--fisher", "gram": "--gram"]

    /// The flag that sets a library parameter (its name in words otherwise).
    static func flag<P: RawRepresentable>(for parameter: P) -> String where P.RawValue == String {
        let known = ["bits": "--bits", "group size": "--group-size", "N:M pattern": "--pattern", "sparsity": "--sparsity", "rank": "--rank",
                     "alpha": "--alpha", "the alpha grid": "--alphas", "merge weights": "--weights", "the non-diagonal alpha": "--nondiag-alpha",
                     "omega": "--omega", "components": "--nystroem"]
        return known[parameter.rawValue] ?? parameter.rawValue
    }

    static func withFlags(_ error: ModelSurgeryError) -> String {
        switch error {
        case .invalidParameter(let parameter, let value, let expected):
            return "\(flags[parameter] ?? parameter) must be \(expected), got \(value)"
        case .rankTooLarge(let layer, let shape, let rank, let maximum, let requirement):
            return "layer '\(layer)' (\(shape.map(String.init).joined(separator: "x"))) allows a rank of at most \(maximum)\(requirement.map { " (\($0))" } ?? ""), "
                + "--rank is \(rank); lower --rank or --exclude the layer"
        default:
            return error.description
        }
    }

    /// Foundation's file errors as `cannot write PATH: OS reason`, never the
    /// `Error Domain=NSCocoaErrorDomain Code=642 …` dump.
    static func describe(_ error: NSError) -> String {
        let path = (error.userInfo[NSFilePathErrorKey] as? String) ?? (error.userInfo[NSURLErrorKey] as? URL)?.path
        var reason: String?
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code)))
        }
        if error.domain == NSCocoaErrorDomain {
            let code = CocoaError.Code(rawValue: error.code)
            let verb = (CocoaError.Code.fileWriteUnknown.rawValue...CocoaError.Code.fileWriteVolumeReadOnly.rawValue).contains(error.code)
                ? "cannot write" : "cannot read"
            if reason == nil {
                switch code {
                case .fileWriteVolumeReadOnly: reason = "Read-only file system"
                case .fileWriteOutOfSpace: reason = "No space left on device"
                case .fileWriteNoPermission, .fileReadNoPermission: reason = "Permission denied"
                case .fileNoSuchFile, .fileReadNoSuchFile: reason = "No such file or directory"
                case .fileWriteFileExists: reason = "File exists"
                default: reason = "error \(error.code)"
                }
            }
            return "\(verb) \(path ?? "a file"): \(reason!)"
        }
        return path.map { "\($0): \(reason ?? error.localizedDescription)" } ?? (reason ?? error.localizedDescription)
    }

    /// `{"error": …, "file": …, "tensor": …}` (null where unknown).
    var json: String {
        let object: [String: Any] = ["error": message, "file": file as Any? ?? NSNull(), "tensor": tensor as Any? ?? NSNull()]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{\"error\": \"?\"}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// An error of the CLI's own that knows its file and tensor.
protocol LocatedError: Error, CustomStringConvertible {
    var file: String? { get }
    var tensor: String? { get }
}

/// `text` with control characters (and, unless kept, newlines) shown as
/// escapes, so that a tensor name or path from a hostile file cannot move
/// the cursor, clear the screen or forge lines on a terminal.
func terminalSafe(_ text: String, keepNewlines: Bool) -> String {
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        let v = scalar.value
        if (v < 0x20 && !(keepNewlines && v == 0x0A)) || v == 0x7F || (0x80..<0xA0).contains(v) {
            switch v {
            case 0x0A: out.append(contentsOf: "\\n".unicodeScalars)
            case 0x09: out.append(contentsOf: "\\t".unicodeScalars)
            case 0x0D: out.append(contentsOf: "\\r".unicodeScalars)
            default: out.append(contentsOf: String(format: "\\x%02x", v).unicodeScalars)
            }
        } else {
            out.append(scalar)
        }
    }
    return String(out)
}

/// SIGINT, SIGTERM, SIGHUP and SIGPIPE (output piped into a reader that
/// quit) remove every temporary file (and folder made for an unfinished
/// output) and exit with 128 + the signal (130, 143, 129, 141). SIGBUS, which is how a memory-mapped input that was truncated
/// under the process shows itself, becomes one error line naming the file,
/// the same clean-up, and exit 1.
enum Interrupts {
    static func install() {
        TemporaryFiles.prepare()
        MappedFiles.prepare()
        // A parent may start us with these blocked (some process launchers do); unblock them.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGBUS] { sigaddset(&unblock, signal) }
        sigprocmask(SIG_UNBLOCK, &unblock, nil)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                TemporaryFiles.removeAllNow()
                _exit(128 + number)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(signal, &action, nil)
        }
        var bus = sigaction()
        bus.__sigaction_handler.sa_sigaction = { _, info, _ in
            TemporaryFiles.removeAllNow()
            let address = info?.pointee._sifields._sigfault.si_addr
            writeRaw("rankwise: error: ")
            if let path = MappedFiles.path(containing: address) {
                _ = write(2, path, strlen(path))
                writeRaw(": ")
            }
            writeRaw("an input file was truncated or changed while it was being read; no output was written\n")
            _exit(1)
        }
        sigemptyset(&bus.sa_mask)
        bus.sa_flags = SA_SIGINFO
        sigaction(SIGBUS, &bus, nil)
    }
}

/// write(2) of a static string, for signal handlers (no allocation).
private func writeRaw(_ text: StaticString) {
    _ = write(2, text.utf8Start, text.utf8CodeUnitCount)
}
