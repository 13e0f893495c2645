import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A path that cannot be read or written the way a command needs: one line
/// naming the path and the reason (`cannot write x: Read-only file system`).
public struct FileAccessError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path concerned, as given (`url.path`).
    public var path: String
    /// What is wrong, in words, e.g. `cannot write: Read-only file system` or `a FIFO (named pipe), not a regular file`.
    public var reason: String
    /// An error about `path`; `reason` is printed after it.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// The OS's words for `errno`.
func osReason(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// What kind of file system object a `stat` mode is, for messages.
func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: return "a regular file"
    case S_IFDIR: return "a folder"
    case S_IFIFO: return "a FIFO (named pipe)"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    case S_IFLNK: return "a symbolic link"
    default: return "not a regular file"
    }
}

/// Opens `url` for reading only if it is a regular file (after symlinks).
/// The open itself does not block on a FIFO (O_NONBLOCK, cleared again for a
/// regular file), so a pipe, device or socket given as an input is refused
/// at once instead of hanging the command. Returns the descriptor and size.
func openRegularFile(_ url: URL) throws -> (descriptor: Int32, size: Int) {
    let fd = open(url.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { throw FileAccessError(path: url.path, reason: "cannot open: \(osReason())") }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
        let why = osReason()
        close(fd)
        throw FileAccessError(path: url.path, reason: "cannot open: \(why)")
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
        close(fd)
        throw FileAccessError(path: url.path, reason: "\(fileKind(st.st_mode)), not a regular file")
    }
    let flags = fcntl(fd, F_GETFL)
    if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    return (fd, Int(st.st_size))
}

/// The whole of a small regular file: index JSON, configs, CSV, `.npy`.
/// Refuses what is not a regular file and anything over `limit` bytes,
/// naming the path.
public func readRegularFile(_ url: URL, limit: Int) throws -> Data {
    let (fd, size) = try openRegularFile(url)
    defer { close(fd) }
    guard size <= limit else {
        throw FileAccessError(path: url.path, reason: "\(size) bytes, more than the \(limit)-byte limit for this kind of file")
    }
    var data = Data(count: size)
    var done = 0
    try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
        while done < size {
            let n = read(fd, buffer.baseAddress! + done, size - done)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileAccessError(path: url.path, reason: "cannot read: \(osReason())") }
            if n == 0 { break }   // shrank while reading
            done += n
        }
    }
    return data.prefix(done)
}

/// Checks, before any work, that a command can create or replace its output.
public enum OutputPath {
    /// What the output is: `file`, one regular file; `folder`, a folder the command creates or fills.
    public enum Kind: Sendable { case file, folder }

    /// `url` must be a regular file or not exist (`.file`), or a folder or
    /// not exist (`.folder`); devices, FIFOs, sockets and paths under a
    /// non-folder are refused, and the folder that will receive it (the
    /// nearest existing one) must be writable. Throws `FileAccessError`.
    public static func check(_ url: URL, as kind: Kind) throws {
        let path = url.path
        var st = stat()
        if stat(path, &st) == 0 {
            let mode = st.st_mode & S_IFMT
            switch kind {
            case .file:
                if mode == S_IFDIR { throw FileAccessError(path: path, reason: "is a folder; name a file for the output") }
                guard mode == S_IFREG else { throw FileAccessError(path: path, reason: "refusing to write over \(fileKind(st.st_mode))") }
            case .folder:
                if mode == S_IFREG { throw FileAccessError(path: path, reason: "is a file; the output is a folder (name a new or existing folder)") }
                guard mode == S_IFDIR else { throw FileAccessError(path: path, reason: "refusing to write over \(fileKind(st.st_mode))") }
                guard access(path, W_OK) == 0 else { throw FileAccessError(path: path, reason: "cannot write: \(osReason())") }
                return
            }
        } else if errno == ENOTDIR {
            throw FileAccessError(path: path, reason: "cannot write: a part of the path is not a folder")
        }
        // The nearest existing ancestor receives the new entries: a writable folder.
        var folder = url.deletingLastPathComponent().standardizedFileURL
        while stat(folder.path, &st) != 0 {
            if errno == ENOTDIR { throw FileAccessError(path: path, reason: "cannot write: a part of the path is not a folder") }
            guard folder.path != "/" else { break }
            folder = folder.deletingLastPathComponent()
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw FileAccessError(path: path, reason: "cannot write: \(folder.path) is not a folder")
        }
        guard access(folder.path, W_OK) == 0 else {
            throw FileAccessError(path: path, reason: "cannot write: \(osReason())")
        }
    }
}

/// Writes `data` to `url` atomically: a temporary file in the same folder
/// (removed on failure or interrupt), fsynced and renamed into place. Refuses
/// to replace any of `inputs`, or anything but a regular file.
public func writeFileAtomically(_ data: Data, to url: URL, protecting inputs: [URL] = []) throws {
    if inputs.contains(where: { sameFile($0, url) }) { throw SafetensorsError(file: url.path, rule: .wouldOverwriteInput) }
    try OutputPath.check(url, as: .file)
    let file = try AtomicFile(destination: url)
    try data.withUnsafeBytes { try file.write($0) }
    try file.commit()
}

/// Asks the kernel to back the 2 MiB-aligned interior of a large, freshly allocated output with transparent huge
/// pages (where THP is in `madvise` mode), so that filling it takes 512 times fewer page faults: for a 113 MB
/// embedding the faults, not the decoding, are most of the time. Advice only; nothing changes if it is refused.
func adviseHugePages(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
    let huge = 2 << 20
    guard byteCount >= 4 * huge else { return }
    let start = (Int(bitPattern: pointer) + huge - 1) / huge * huge, end = (Int(bitPattern: pointer) + byteCount) / huge * huge
    guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(aligned, end - start, 14)   // MADV_HUGEPAGE
}
