import Foundation
import WeightFiles

// Fuzz target for the safetensors and GGUF header parsers and validators.
//
// An input starting with the magic `GGUF` goes to `GGUFFile.validate`, any
// other to `SafetensorsFile.validate` (the corpus seeds both). Built normally
// it replays files: `safetensors-fuzz FILE...` runs each file through its
// validator and prints the verdict (used to turn a crash libFuzzer found into
// a corpus test). `make fuzz` builds it with `-sanitize=fuzzer -DFUZZING` and
// runs libFuzzer for a bounded time.

/// Whether the bytes start with GGUF's magic.
func isGGUF(_ bytes: UnsafeRawBufferPointer) -> Bool { bytes.count >= 4 && Array(bytes.prefix(4)) == Array("GGUF".utf8) }

/// The number of tensors of a valid input; throws the validator's error otherwise.
func validate(_ bytes: UnsafeRawBufferPointer, file: String = "<memory>") throws -> Int {
    isGGUF(bytes) ? try GGUFFile.validate(bytes, file: file).count : try SafetensorsFile.validate(bytes, file: file).count
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? validate(UnsafeRawBufferPointer(start: data, count: size))
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
                let tensors = try data.withUnsafeBytes { try validate($0, file: path) }
                print("\(path): valid, \(tensors) tensors")
            } catch {
                print("\(error)")
            }
        }
    }
}
#endif
