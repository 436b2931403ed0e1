package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsReportABadManifestLine: a signer entry with empty glosses and spans made
// `dataset stats`, `dataset check` and `eval slr` panic; each now names the line.
func TestCommandsReportABadManifestLine(t *testing.T) {
	dir := t.TempDir()
	line := `{"id":"a","dialogue_id":"d","turn":0,"speaker":"signer","signer_id":"s1","split":"test","pose":"p.pose","glosses":[],"spans":[],"frames":10,"text":"","ambiguous":[]}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "manifest.jsonl"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"dataset", "stats", dir}, {"dataset", "check", dir}, {"eval", "slr", "--data", dir, "--split", "test"}} {
		_, _, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), "manifest.jsonl:1") || !strings.Contains(err.Error(), "glosses") {
			t.Errorf("scope %s: err = %v, want the manifest line and the field", strings.Join(args, " "), err)
		}
	}
}
