import CSystem
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
    private var settled = false   // renamed into place, or removed

    init(destination: URL) throws {
        self.destination = destination
        let folder = destination.deletingLastPathComponent()
        TemporaryFiles.removeStale(in: folder)
        temporary = folder.appendingPathComponent(TemporaryFiles.temporaryName(for: destination.lastPathComponent))
        // Registered before it exists, so that an interrupt between open and registration cannot leave it behind.
        TemporaryFiles.register(file: temporary.path)
        descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            let why = String(cString: strerror(errno))
            TemporaryFiles.unregister(file: temporary.path)
            throw SafetensorsError(file: destination.path, rule: .cannotWrite(why))
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

    /// Copies `count` bytes from `source` at `sourceOffset` to `offset` in
    /// this file (at its current end when nil). The kernel copies file to
    /// file where it can (`copy_file_range`: no mapping, no user-space
    /// buffer, a reflink on file systems that share extents); otherwise the
    /// bytes go through a bounded buffer.
    /// (`inKernel: false` takes the buffered path, for tests.)
    func copy(from source: URL, at sourceOffset: Int, count: Int, to offset: Int?, inKernel: Bool = true) throws {
        guard count > 0 else { return }
        let input = open(source.path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw SafetensorsError(file: source.path, rule: .cannotOpen(String(cString: strerror(errno)))) }
        defer { close(input) }
        var done = 0
        if inKernel {
            var from = Int64(sourceOffset), to = Int64(offset ?? 0)
            while done < count {
                let n = offset == nil ? rankwise_copy_file_range(input, &from, descriptor, nil, count - done, 0)
                                      : rankwise_copy_file_range(input, &from, descriptor, &to, count - done, 0)
                if n > 0 { done += n; continue }
                if n < 0 && errno == EINTR { continue }
                break   // not supported here (another file system, an old kernel): the buffer does the rest
            }
        }
        guard done < count else { return }
        let chunk = 8 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.min(chunk, count - done), alignment: 16)
        defer { buffer.deallocate() }
        while done < count {
            let want = Swift.min(buffer.count, count - done)
            let got = pread(input, buffer.baseAddress!, want, off_t(sourceOffset + done))
            guard got > 0 else { throw SafetensorsError(file: source.path, rule: .cannotWrite("reading \(source.lastPathComponent) failed")) }
            let piece = UnsafeRawBufferPointer(rebasing: buffer[0..<got])
            if let offset { try write(piece, at: offset + done) } else { try write(piece) }
            done += got
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
            TemporaryFiles.unregister(file: temporary.path)
            throw SafetensorsError(file: destination.path, rule: .cannotWrite("rename: \(why)"))
        }
        settled = true
        TemporaryFiles.unregister(file: temporary.path)
        let folder = open(destination.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        if folder >= 0 { fsync(folder); close(folder) }
    }

    /// Removes the temporary file (no-op after `commit`).
    func discard() {
        if descriptor >= 0 { close(descriptor); descriptor = -1 }
        if !settled {
            unlink(temporary.path)
            TemporaryFiles.unregister(file: temporary.path)
            settled = true
        }
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
