import Foundation
import LinearAlgebra

/// The backends the suites run on: every available one, or only the one named
/// by `RANKWISE_TEST_BACKEND` (for debugging a single backend).
public let testBackends: [Backend] = {
    if let name = ProcessInfo.processInfo.environment["RANKWISE_TEST_BACKEND"], let only = Backend(name: name) {
        return Backend.available.filter { $0 == only }
    }
    return Backend.available
}()
