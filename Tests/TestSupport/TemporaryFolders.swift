import Foundation

/// A fresh, empty folder under the system's temporary directory, named
/// `<prefix>-<UUID>`; one per call, so tests running in parallel never share one.
public func temporaryFolder(prefix: String = "rankwise-tests") -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
