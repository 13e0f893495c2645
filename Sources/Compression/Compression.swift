// The compressors move here from LowRank (RTN, pruning); see README.md.
