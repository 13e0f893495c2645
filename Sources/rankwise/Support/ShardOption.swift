import ArgumentParser

/// `--max-shard-size` (default 5 GB): outputs larger than this are written as
/// shards plus a `*.safetensors.index.json`.
struct ShardOption: ParsableArguments {
    @Option(help: ArgumentHelp("Largest output file before sharding, e.g. 5GB, 500MB, 2000000 (bytes).", valueName: "size"))
    var maxShardSize: String = "5GB"

    mutating func validate() throws {
        guard Self.bytes(maxShardSize) != nil else { throw ValidationError("--max-shard-size must look like 5GB, 500MB, 64kB or a byte count, got '\(maxShardSize)'") }
    }

    var limit: Int { Self.bytes(maxShardSize)! }

    static func bytes(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("GIB", 1_073_741_824), ("MIB", 1_048_576), ("KIB", 1024), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v > 0 else { return nil }
            return Int(v * factor)
        }
        guard let v = Int(t), v > 0 else { return nil }
        return v
    }
}
