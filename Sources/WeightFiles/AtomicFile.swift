import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A file written under a temporary name in its destination folder and
/// renamed into place only when complete, so that a failed or interrupted
/// run leaves nothing at the destination and never a half-written file.
final class AtomicFile {
    let destination: URL
    let temporary: URL
    private(set) var descriptor: Int32
    private var committed = false

    init(destination: URL) throws {
        self.destination = destination
        let folder = destination.deletingLastPathComponent()
        temporary = folder.appendingPathComponent(".\(destination.lastPathComponent).rankwise-\(UInt32.random(in: 0...UInt32.max)).tmp")
        descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SafetensorsError(file: destination.path, rule: .cannotWrite(String(cString: strerror(errno))))
        }
    }

    /// Writes all of `bytes` at the current end.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SafetensorsError(file: destination.path, rule: .cannotWrite(String(cString: strerror(errno))))
            }
            offset += n
        }
    }

    /// Writes all of `bytes` at `offset` (the file grows as needed).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SafetensorsError(file: destination.path, rule: .cannotWrite(String(cString: strerror(errno))))
            }
            done += n
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// fsync, close, rename over the destination, fsync the folder.
    func commit() throws {
        guard fsync(descriptor) == 0 else { throw SafetensorsError(file: destination.path, rule: .cannotWrite("fsync: \(String(cString: strerror(errno)))")) }
        close(descriptor)
        descriptor = -1
        guard rename(temporary.path, destination.path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary.path)
            throw SafetensorsError(file: destination.path, rule: .cannotWrite("rename: \(why)"))
        }
        committed = true
        let folder = open(destination.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        if folder >= 0 { fsync(folder); close(folder) }
    }

    /// Removes the temporary file (no-op after `commit`).
    func discard() {
        if descriptor >= 0 { close(descriptor); descriptor = -1 }
        if !committed { unlink(temporary.path) }
    }

    deinit { discard() }
}

/// True when both URLs name the same existing file (or the same path).
func sameFile(_ a: URL, _ b: URL) -> Bool {
    if a.standardizedFileURL.resolvingSymlinksInPath().path == b.standardizedFileURL.resolvingSymlinksInPath().path { return true }
    var sa = stat(), sb = stat()
    guard stat(a.path, &sa) == 0, stat(b.path, &sb) == 0 else { return false }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}
