import Dispatch

extension Backend {
    /// Calls `body(i)` for every i in 0..<count: across the cores with
    /// Dispatch when there are two or more and `threadCount` > 1, else in
    /// order on this thread. Each index must touch data no other index
    /// touches; the call returns when all are done.
    ///
    /// For elementwise work cut into chunks (Fisher merging, kernel maps,
    /// the native eigen solver's rotations).
    public static func forEachChunk(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1 && threadCount > 1 else {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: count) { body($0) }
        }
    }
}
