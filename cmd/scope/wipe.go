package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"scope/dialogue"
)

func cmdWipe(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "wipe", "[--yes] [--db FILE] [--unverified]", `Delete every conversation, turn and cached embedding on this device: the dialogue
store file is overwritten with zeros and removed (the next start creates an empty one),
with what an interrupted wipe or compaction left beside it. It also removes what ONNX
Runtime's built-in telemetry may have left on this machine before scope switched it off:
its store under ~/.cache/Microsoft/DeveloperTools/.onnxruntime and empty
/tmp/mat-debug-<pid>.log files of this user.

This cannot be undone. Without --yes it only says exactly what --yes would delete. It also
works on a damaged store that scope can no longer open, but it refuses a file that is not
a scope store (another program's bbolt database named by --db by mistake). Stop the scope
daemon first.`)
	db, cfg := dbFlags(fs)
	yes := fs.Bool("yes", false, "really delete everything")
	unverified := fs.Bool("unverified", false, "also wipe a bbolt file so damaged that scope cannot tell whether it is its store")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("scope wipe takes no arguments, got %q: %w", fs.Args(), errUsage)
	}
	path, err := dialoguePath(*db, *cfg)
	if err != nil {
		return err
	}
	plan, refusal := wipePlan(path, *unverified)
	home, _ := os.UserHomeDir()
	leftovers := telemetryLeftovers(home, wipeTmpDirs)
	if !*yes {
		if refusal != nil {
			fmt.Fprintf(a.stdout, "would NOT touch %s: %v\n", path, refusal)
		}
		for _, p := range plan {
			fmt.Fprintf(a.stdout, "would %s\n", p)
		}
		for _, p := range leftovers {
			fmt.Fprintf(a.stdout, "would remove %s\n", p)
		}
		if len(plan) == 0 && len(leftovers) == 0 {
			if refusal == nil {
				fmt.Fprintf(a.stdout, "nothing to wipe: no dialogue store at %s\n", path)
				return nil
			}
			return fmt.Errorf("not wiped: %w", refusal)
		}
		return fmt.Errorf("not wiped: run `scope wipe --yes` to do the above: %w", errUsage)
	}
	if refusal != nil {
		return fmt.Errorf("not wiping %s: %w", path, refusal)
	}
	wipe := dialogue.WipeFile
	if *unverified {
		wipe = dialogue.WipeUnverifiedFile
	}
	existed, err := wipe(path)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range damagedCopies(path) {
		if _, err := dialogue.WipeUnverifiedFile(d); err != nil {
			errs = append(errs, err)
		}
	}
	if existed || len(plan) > 0 {
		for _, p := range plan {
			fmt.Fprintf(a.stdout, "done: %s\n", p)
		}
	} else {
		fmt.Fprintf(a.stdout, "nothing to wipe: no dialogue store at %s\n", path)
	}
	for _, p := range leftovers {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(a.stdout, "removed %s\n", p)
	}
	// The folders ONNX Runtime made above its store, when nothing else is in them.
	if home != "" && len(leftovers) > 0 {
		for _, d := range []string{"DeveloperTools", ""} {
			os.Remove(filepath.Join(home, ".cache", "Microsoft", d)) // fails, harmlessly, unless empty
		}
	}
	return errors.Join(errs...)
}

// wipePlan lists what `wipe --yes` does to the store at path, or says why it will not.
func wipePlan(path string, unverified bool) (plan []string, refusal error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	case info.IsDir():
		return nil, fmt.Errorf("%s is a directory, not a dialogue store", path)
	default:
		if err := dialogue.Whose(path); err != nil && !(unverified && errors.Is(err, dialogue.ErrUnverified)) {
			if errors.Is(err, dialogue.ErrUnverified) {
				err = fmt.Errorf("%w (if you are sure it is scope's store, add --unverified)", err)
			}
			return nil, err
		}
		plan = append(plan, fmt.Sprintf("overwrite with zeros and remove %s (%d bytes): %s", path, info.Size(), describeStore(path)))
	}
	for _, suffix := range []string{".wiping", ".compact"} {
		if st, err := os.Lstat(path + suffix); err == nil {
			plan = append(plan, fmt.Sprintf("overwrite with zeros and remove %s%s (%d bytes), left by an interrupted wipe or compaction", path, suffix, st.Size()))
		}
	}
	for _, d := range damagedCopies(path) {
		if st, err := os.Lstat(d); err == nil {
			plan = append(plan, fmt.Sprintf("overwrite with zeros and remove %s (%d bytes), a damaged store the daemon moved aside", d, st.Size()))
		}
	}
	return plan, nil
}

// damagedCopies are the damaged stores the daemon moved aside (dialogue.Options.Quarantine)
// that are scope's by their buckets, or too damaged to tell (they sit under scope's name).
func damagedCopies(path string) []string {
	all, _ := filepath.Glob(path + ".damaged-*")
	var out []string
	for _, d := range all {
		if err := dialogue.Whose(d); err == nil || errors.Is(err, dialogue.ErrUnverified) {
			out = append(out, d)
		}
	}
	return out
}

// describeStore says what the store holds. A store that cannot be opened is still
// described, since wiping it is how the user recovers.
func describeStore(path string) string {
	s, err := dialogue.Open(path, dialogue.Options{MustExist: true, ReadOnly: true})
	if err != nil {
		return fmt.Sprintf("a store scope cannot read (%v)", err)
	}
	defer s.Close()
	cs, err := s.Conversations(context.Background())
	if err != nil {
		return fmt.Sprintf("a store scope cannot read (%v)", err)
	}
	turns := 0
	for _, c := range cs {
		turns += c.Turns
	}
	return fmt.Sprintf("%d conversations, %d turns and their cached embeddings", len(cs), turns)
}

// wipeTmpDirs are where ONNX Runtime's telemetry writes its debug logs.
var wipeTmpDirs = []string{"/tmp"}

// telemetryLeftovers lists what ONNX Runtime's telemetry may have left: its store in the
// user's cache (scope switches the telemetry off, see models/runtime; older scope builds
// did not) and empty mat-debug-<pid>.log files owned by this user.
func telemetryLeftovers(home string, tmpDirs []string) []string {
	var out []string
	if home != "" {
		d := filepath.Join(home, ".cache", "Microsoft", "DeveloperTools", ".onnxruntime")
		if _, err := os.Lstat(d); err == nil {
			out = append(out, d)
		}
	}
	uid := os.Getuid()
	for _, dir := range tmpDirs {
		logs, _ := filepath.Glob(filepath.Join(dir, "mat-debug-*.log"))
		for _, p := range logs {
			st, err := os.Lstat(p)
			if err != nil || !st.Mode().IsRegular() || st.Size() != 0 {
				continue
			}
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) == uid {
				out = append(out, p)
			}
		}
	}
	return out
}
