// Package dataset reads and writes SCOPE's keypoint dialogue datasets: a directory that
// holds manifest.jsonl (one JSON object per dialogue turn, see Entry) and the .pose files
// of the signer turns, plus an optional info.json (see Info) that says how the data was
// made. The synthetic signer (package synth) writes this format, the importers here turn
// a folder of recordings with CSV or Phoenix-style stm annotations into it, and the
// recogniser's training code (train/slr) and `scope eval` read it.
//
// Data enters through ReadManifest/Open (or the importers) and leaves through
// ManifestWriter and WriteInfo. Splits are by signer: every turn of a signer carries the
// same split, so test signers never appear in training. Stats summarises a dataset:
// vocabulary, durations, out-of-vocabulary rate against a model's vocabulary, and the
// share of context-dependent (ambiguous) tokens.
//
// The format is described for non-Go readers in README.md beside this file.
package dataset
