// Whole-model jobs; see README.md.
