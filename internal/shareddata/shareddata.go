// Package shareddata finds the developers' measuring data (../shared/data beside the
// repository: Phoenix-2014T annotations and real MediaPipe .pose samples) for tests and
// benchmarks. The data is read in place and never copied into the project.
//
// When the data is missing a test fails if CI=true (CI always has it) and is skipped
// with a message otherwise, so a user's clone still passes `make test`.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the shared data folder: $SCOPE_SHARED_DATA if set, else
// <repository>/../shared/data. ok is false when it does not exist.
func Root() (dir string, ok bool) {
	if d := os.Getenv("SCOPE_SHARED_DATA"); d != "" {
		return d, isDir(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir = filepath.Join(filepath.Dir(d), "shared", "data")
			return dir, isDir(dir)
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

// Dir returns the path of sub (for example "phoenix2014t" or "pose-samples") inside the
// shared data folder, or ends the test: Fatal under CI=true, Skip elsewhere.
func Dir(tb testing.TB, sub string) string {
	tb.Helper()
	root, ok := Root()
	p := filepath.Join(root, sub)
	if ok && isDir(p) {
		return p
	}
	msg := "shared data " + p + " not found (set SCOPE_SHARED_DATA or check out ../shared beside the repository)"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
