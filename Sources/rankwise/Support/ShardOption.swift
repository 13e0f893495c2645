import ArgumentParser

/// `--max-shard-size` (default 5 GB): outputs larger than this are written as
/// shards plus a `*.safetensors.index.json`.
struct ShardOption: ParsableArguments {
    @Option(help: ArgumentHelp("Largest output file before sharding: 5GB, 500MB, 64kB, 2GiB or a byte count (at most 1 PB).", valueName: "size"))
    var maxShardSize = ByteSize(argument: "5GB")!

    var limit: Int { maxShardSize.bytes }
}
