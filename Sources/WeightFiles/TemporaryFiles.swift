import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Every temporary file this process has open for writing, and every folder
/// a writer created for its output, kept so that a signal handler can remove
/// them: `removeAllNow()` only calls `unlink` and `rmdir` over a fixed table
/// of C strings (async-signal-safe), so a host program may call it from a
/// SIGINT/SIGTERM/SIGHUP handler before it exits. The library installs no
/// handler itself.
///
/// Temporary names carry the writing process's pid
/// (`.NAME.rankwise-PID-RANDOM.tmp`); `removeStale(in:)` deletes those whose
/// process is gone (after a `kill -9`, say), so the next run in that folder
/// cleans up.
public enum TemporaryFiles {
    /// Slots of the table: file paths first, folders after.
    private static let capacity = 4096
    nonisolated(unsafe) private static let files = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
    nonisolated(unsafe) private static let folders = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
    private static let lock = NSLock()
    nonisolated(unsafe) private static var initialised: Bool = {
        files.initialize(repeating: nil, count: capacity)
        folders.initialize(repeating: nil, count: capacity)
        return true
    }()

    /// Makes the table ready (call once before installing a signal handler
    /// that uses it; registration does it too).
    public static func prepare() { _ = initialised }

    private static func insert(_ path: String, into table: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) {
        prepare()
        lock.lock()
        defer { lock.unlock() }
        for i in 0..<capacity where table[i] == nil {
            table[i] = strdup(path)
            return
        }
        // Full: the file is still removed by its writer on error or deinit; only a signal would miss it.
    }

    private static func remove(_ path: String, from table: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) {
        prepare()
        lock.lock()
        defer { lock.unlock() }
        for i in 0..<capacity {
            if let p = table[i], strcmp(p, path) == 0 {
                table[i] = nil
                free(p)
                return
            }
        }
    }

    /// A temporary file now being written.
    public static func register(file path: String) { insert(path, into: files) }
    /// The temporary is gone (renamed into place or removed).
    public static func unregister(file path: String) { remove(path, from: files) }
    /// A folder created for an output that is not yet complete.
    public static func register(folder path: String) { insert(path, into: folders) }
    /// The output is complete (or the folder removed).
    public static func unregister(folder path: String) { remove(path, from: folders) }

    /// Unlinks every registered temporary file, then removes the registered
    /// folders, newest first, where they are empty. Async-signal-safe.
    public static func removeAllNow() { removeAll(under: nil) }

    /// `removeAllNow` restricted to the paths that start with `prefix` (all
    /// when nil), so that a test can exercise it without touching the
    /// temporaries of tests running beside it. Async-signal-safe.
    static func removeAll(under prefix: UnsafePointer<CChar>?) {
        let length = prefix.map { strlen($0) } ?? 0
        func selected(_ p: UnsafeMutablePointer<CChar>) -> Bool { prefix.map { strncmp(p, $0, length) == 0 } ?? true }
        for i in 0..<capacity { if let p = files[i], selected(p) { unlink(p) } }
        // Twice, newest slot first: a parent registered in a later slot than its child goes on the second pass.
        for _ in 0..<2 {
            var i = capacity - 1
            while i >= 0 {
                if let p = folders[i], selected(p) { rmdir(p) }
                i -= 1
            }
        }
    }

    /// The name a writer in this process gives the temporary for `name`.
    static func temporaryName(for name: String, tag: String = "") -> String {
        ".\(name)\(tag).rankwise-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
    }

    /// Removes the rankwise temporaries in `folder` whose writing process no
    /// longer exists. Returns how many went.
    @discardableResult
    public static func removeStale(in folder: URL) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return 0 }
        var removed = 0
        for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            guard let marker = name.range(of: ".rankwise-", options: .backwards) else { continue }
            let rest = name[marker.upperBound...].dropLast(".tmp".count)
            let parts = rest.split(separator: "-")
            guard parts.count == 2, let pid = Int32(parts[0]), pid > 0, UInt32(parts[1]) != nil, pid != getpid() else { continue }
            // kill(pid, 0) fails with ESRCH only when no such process exists.
            if kill(pid, 0) != 0 && errno == ESRCH {
                if unlink(folder.appendingPathComponent(name).path) == 0 { removed += 1 }
            }
        }
        return removed
    }
}

/// The files this process has memory-mapped, so that a SIGBUS handler can
/// name the one that changed under the mapping (a file truncated while it is
/// read faults with SIGBUS, not an error code). `path(containing:)` only
/// reads a fixed table: async-signal-safe.
public enum MappedFiles {
    private struct Slot { var start: UInt, end: UInt, path: UnsafeMutablePointer<CChar>? }
    private static let capacity = 1024
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<Slot> = {
        let p = UnsafeMutablePointer<Slot>.allocate(capacity: capacity)
        p.initialize(repeating: Slot(start: 0, end: 0, path: nil), count: capacity)
        return p
    }()
    private static let lock = NSLock()

    /// Makes the table ready before a signal handler may read it.
    public static func prepare() { _ = slots }

    static func register(_ base: UnsafeRawPointer, size: Int, path: String) {
        lock.lock()
        defer { lock.unlock() }
        for i in 0..<capacity where slots[i].path == nil {
            let start = UInt(bitPattern: base)
            slots[i] = Slot(start: start, end: start + UInt(size), path: strdup(path))
            return
        }
    }

    static func unregister(_ base: UnsafeRawPointer) {
        lock.lock()
        defer { lock.unlock() }
        for i in 0..<capacity where slots[i].start == UInt(bitPattern: base) && slots[i].path != nil {
            let p = slots[i].path
            slots[i].path = nil
            free(p)
            return
        }
    }

    /// The path of the mapped file holding `address`, or nil.
    public static func path(containing address: UnsafeRawPointer?) -> UnsafePointer<CChar>? {
        guard let address else { return nil }
        let a = UInt(bitPattern: address)
        for i in 0..<capacity {
            if let p = slots[i].path, slots[i].start <= a, a < slots[i].end { return UnsafePointer(p) }
        }
        return nil
    }
}
