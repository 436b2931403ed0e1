// Package ota moves model bundles (models/bundle) to devices as signed updates, with The
// Update Framework (github.com/theupdateframework/go-tuf/v2).
//
// Publisher side: GenerateKeys writes a key folder (ed25519 keys per role, policy.json with
// thresholds and expiry periods); Publish adds a bundle to a repository folder, as a
// deterministic tar named by its hash (consistent snapshots), and signs targets, snapshot
// and timestamp metadata, first writing the next root version when the key folder's keys
// differ from the repository's (key rotation, signed by the old root keys too). Any static
// web server serves the folder.
//
// Device side: an Updater keeps <data dir>/ota:
//
//	state.db        bbolt: the state (phase, current/previous/target bundle, probation counters,
//	                highest committed version, failed hashes, clock floor) and the history
//	tuf/            TUF's trusted metadata (root.json rotates forward) and the pinned anchor
//	download/       <sha256>.part: a download, resumed by HTTP Range after an interruption
//	slots/a, slots/b  the A/B bundle slots
//	current         symlink to slots/a or slots/b, replaced by rename (absent: built-in models)
//	lock            flock held by the process updating
//
// An update: TUF refresh against the pinned root -> choose the newest newer target ->
// resumable bounded download -> verify length and hashes -> unpack into the inactive slot
// and verify every file -> golden check (modelset.CheckDir) -> rename current -> Engine.Swap
// -> probation. Observe feeds sentence outcomes; the probation ends in a commit or in a
// rollback to the previous slot. Open and Boot recover from a kill at any step (see
// recover). The Config's Hook names the steps so tests can kill a child process there.
//
// Integration with the daemon: it calls Open (ota.Config from the ota.* settings), Boot at
// start to learn the bundle folder to load ("" = its configured models), Run in a goroutine
// with Config.Engine set to its engine, Observe after each sentence (the gate's "unsure",
// errors, non-finite outputs), serves the Updater as GET /api/ota, and exports
// Status().Metrics() in /metrics.
package ota
