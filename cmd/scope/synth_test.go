package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func synthRun(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := runMain(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("scope %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func TestSynthThenDatasetTools(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "corpus")
	out := synthRun(t, "synth", "--out", dir, "--dialogues", "4", "--seed", "9")
	if !strings.Contains(out, "synthetic") || !strings.Contains(out, "4 dialogues") {
		t.Errorf("synth printed %q", out)
	}
	// An existing corpus is not overwritten by accident.
	var o, e bytes.Buffer
	if err := runMain(context.Background(), []string{"synth", "--out", dir, "--dialogues", "1"}, &o, &e); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("writing into a full directory: %v, want an error suggesting --force", err)
	}
	vocab := filepath.Join(t.TempDir(), "vocab.txt")
	os.WriteFile(vocab, []byte("IX-1\nHELLO\n"), 0o644)
	stats := synthRun(t, "dataset", "stats", dir, "--split", "train", "--vocab", vocab)
	for _, want := range []string{"(synthetic)", "split train", "out of vocabulary against the model's 2 glosses", "ambiguous"} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats lack %q:\n%s", want, stats)
		}
	}
	if check := synthRun(t, "dataset", "check", dir); !strings.Contains(check, "all readable") {
		t.Errorf("check printed %q", check)
	}
}
