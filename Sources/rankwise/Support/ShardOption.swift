import ArgumentParser

/// `--max-shard-size` (default 5 GB): outputs larger than this are written as
/// shards plus a `*.safetensors.index.json`.
struct ShardOption: ParsableArguments {
    @Option(help: ArgumentHelp("Largest output file before sharding, e.g. 5GB, 500MB, 2000000 (bytes).", valueName: "size"))
    var maxShardSize: String = "5GB"

    mutating func validate() throws {
        guard Self.bytes(maxShardSize) != nil else { throw ValidationError("--max-shard-size must look like 5GB, 500MB, 64kB or a byte count, at most 1 PB, got '\(maxShardSize)'") }
    }

    var limit: Int { Self.bytes(maxShardSize)! }

    static func bytes(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("GIB", 1_073_741_824), ("MIB", 1_048_576), ("KIB", 1024), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            // Digits and one point only: no "inf", "nan", exponents or signs.
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let v = Double(number), v.isFinite, v >= 1 / factor else { return nil }
            let bytes = v * factor
            guard bytes.isFinite, bytes <= Double(largest) else { return nil }
            return Int(bytes)
        }
        guard let v = Int(t), (1...largest).contains(v) else { return nil }
        return v
    }

    /// 1 PB: far beyond any one file, far from overflow.
    static let largest = 1 << 50
}
