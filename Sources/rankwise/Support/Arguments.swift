import ArgumentParser
import LinearAlgebra
import LowRank
import ModelSurgery
import WeightFiles

// The fixed sets of values the flags take, parsed by ArgumentParser (which
// lists the choices in --help and in its error for a wrong value).

extension EoRA.Whitening: ExpressibleByArgument {}
extension LoRAGA.Direction: ExpressibleByArgument {}
extension LoRAGA.Scale: ExpressibleByArgument {}
extension MergeJob.Method: ExpressibleByArgument {}

/// `--svd exact|randomized`.
enum SVDKind: String, CaseIterable, ExpressibleByArgument { case exact, randomized }

/// `--kernel`.
enum KernelName: String, CaseIterable, ExpressibleByArgument { case linear, poly, rbf, laplacian, sigmoid }

/// `--dtype f32|f16|bf16|f64` (also float32, fp16, bfloat16, …).
struct DTypeArgument: ExpressibleByArgument {
    var dtype: DType
    init(_ dtype: DType) { self.dtype = dtype }
    init?(argument: String) {
        guard let d = DType(cliName: argument) else { return nil }
        dtype = d
    }
    static var allValueStrings: [String] { ["f32", "f16", "bf16", "f64"] }
    var defaultValueDescription: String { dtype.rawValue.lowercased() }
}

/// `--backend openblas|native`.
struct BackendArgument: ExpressibleByArgument {
    var backend: Backend
    init?(argument: String) {
        guard let b = Backend(name: argument) else { return nil }
        backend = b
    }
    static var allValueStrings: [String] { ["openblas", "native"] }
}

/// A byte count: `5GB`, `500MB`, `64kB`, `2GiB` or a plain number, at most 1 PB.
struct ByteSize: ExpressibleByArgument, CustomStringConvertible {
    var bytes: Int
    var text: String

    /// 1 PB: far beyond any one file, far from overflow.
    static let largest = 1 << 50

    init?(argument: String) {
        let t = argument.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("GIB", 1_073_741_824), ("MIB", 1_048_576), ("KIB", 1024), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1)]
        text = argument
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            // Digits and one point only: no "inf", "nan", exponents or signs.
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let v = Double(number), v.isFinite, v >= 1 / factor else { return nil }
            let bytes = v * factor
            guard bytes.isFinite, bytes <= Double(Self.largest) else { return nil }
            self.bytes = Int(bytes)
            return
        }
        guard let v = Int(t), (1...Self.largest).contains(v) else { return nil }
        bytes = v
    }

    var description: String { text }
    var defaultValueDescription: String { text }
}
