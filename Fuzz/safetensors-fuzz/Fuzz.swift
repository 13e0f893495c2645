import Foundation
import WeightFiles

// Fuzz target for the safetensors header parser and validator.
//
// Built normally it replays files: `safetensors-fuzz FILE...` runs each file
// through `SafetensorsFile.validate` and prints the verdict (used to turn a
// crash libFuzzer found into a corpus test). `make fuzz` builds it with
// `-sanitize=fuzzer -DFUZZING` and runs libFuzzer for a bounded time.

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? SafetensorsFile.validate(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links executables with `main` aliased to `<target>_main`, which
/// displaces libFuzzer's own `main`; hand control to libFuzzer's driver.
@_cdecl("safetensors_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzz(data, size) }
}
#else
@main
struct Replay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { print("\(path): unreadable"); continue }
            do {
                let tensors = try data.withUnsafeBytes { try SafetensorsFile.validate($0, file: path) }
                print("\(path): valid, \(tensors.count) tensors")
            } catch {
                print("\(error)")
            }
        }
    }
}
#endif
