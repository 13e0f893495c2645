import Testing
@testable import LinearAlgebra

@Suite("Backend selection")
struct BackendTests {
    @Test func namesAndAvailability() {
        #expect(Backend(name: "native") == .native && Backend(name: "OpenBLAS") == .openBLAS && Backend(name: "cuda") == nil)
        #expect(Backend.available.contains(.native))
        #expect(Backend.available.contains(.openBLAS) == Backend.isOpenBLASAvailable)
        #expect(Backend.processDefault.isAvailable)
    }

    @Test func scopedOverrideNests() {
        let outer = Backend.current
        Backend.withCurrent(.native) {
            #expect(Backend.current == .native)
            if Backend.isOpenBLASAvailable {
                Backend.withCurrent(.openBLAS) { #expect(Backend.current == .openBLAS) }
            }
            #expect(Backend.current == .native)
        }
        #expect(Backend.current == outer)
    }

    @Test func threadCount() {
        let before = Backend.threadCount
        #expect(before >= 1)
        Backend.threadCount = 1
        #expect(Backend.threadCount == 1)
        Backend.threadCount = 0
        #expect(Backend.threadCount == 1, "clamped to at least one thread")
        Backend.threadCount = before
    }
}
