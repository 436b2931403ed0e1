package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/dataset"
)

// The gate's own calibration split is refused; other splits, other seeds and corpora
// without a name are scored.
func TestCalibrationOverlap(t *testing.T) {
	on := "synthetic dev split of scope-synthetic-dialogues seed 1 (529 signer turns, signers the models never saw)"
	corpus := func(seed int64) *dataset.Dataset {
		return &dataset.Dataset{Info: &dataset.Info{Name: "scope-synthetic-dialogues", Synthetic: true, Seed: seed}}
	}
	for _, c := range []struct {
		ds     *dataset.Dataset
		splits map[string]bool
		refuse bool
	}{
		{corpus(1), map[string]bool{"test": true}, false},
		{corpus(1), map[string]bool{"dev": true}, true},
		{corpus(1), map[string]bool{"test": true, "dev": true}, true},
		{corpus(1), map[string]bool{}, true}, // all splits
		{corpus(11), map[string]bool{"dev": true}, false},
		{corpus(10), map[string]bool{}, false}, // seed 10 is not seed 1
		{&dataset.Dataset{}, map[string]bool{"dev": true}, false},
	} {
		err := calibrationOverlap(on, c.ds, c.splits)
		if (err != nil) != c.refuse {
			t.Errorf("seed %v splits %v: err = %v, want refused %v", c.ds.Info, c.splits, err, c.refuse)
		}
		if err != nil && !strings.Contains(err.Error(), "--split test") {
			t.Errorf("the error does not say what to do: %v", err)
		}
	}
}

// The shipped demo models end to end through `scope eval interpret`, on a small corpus of
// signers they never saw: the bundle's calibrated gate is in use (not show-all), every
// signer turn gives one line, and what is shown never holds words the recognised glosses do
// not support and is never broken text: the faithful decoder and the gate's rules make
// that so whatever the models' accuracy, so it holds on any CPU. Accuracy itself is
// measured by the command, not asserted here.
func TestEvalInterpretOnTheDemoModels(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	mustRun(t, "synth", "--out", corpus, "--dialogues", "30", "--seed", "4242")
	jsonl := filepath.Join(dir, "interpret.jsonl")
	out := mustRun(t, "eval", "interpret", "--data", corpus, "--split", "test", "--quiet", "--out", jsonl)
	if !strings.Contains(out, "SYNTHETIC") || !strings.Contains(out, "calibrated confidence gate") {
		t.Fatalf("the run is not labelled synthetic or does not use the bundle's gate:\n%s", out)
	}
	var n int
	if _, err := fmt.Sscanf(out[strings.Index(out, "interpret (synthetic): "):], "interpret (synthetic): %d sentences", &n); err != nil || n == 0 {
		t.Fatalf("no summary line with sentences (%v):\n%s", err, out)
	}
	if !strings.Contains(out, "hallucinated 0.0%, degenerate 0") {
		t.Errorf("hallucinated or degenerate sentences were shown:\n%s", out)
	}
	b, err := os.ReadFile(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines in %s, the summary says %d sentences", len(lines), jsonl, n)
	}
	for _, l := range lines {
		var r struct {
			ID           string   `json:"id"`
			Shown        *string  `json:"shown"`
			Alternatives []string `json:"alternatives"`
			Reason       string   `json:"reason"`
			Hallucinated []string `json:"hallucinated"`
			Degenerate   string   `json:"degenerate"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if r.Shown != nil && (len(r.Hallucinated) > 0 || r.Degenerate != "") {
			t.Errorf("%s shown %q with unsupported words %v or degenerate %q", r.ID, *r.Shown, r.Hallucinated, r.Degenerate)
		}
		if r.Shown == nil && r.Reason == "" {
			t.Errorf("%s is unsure without a reason", r.ID)
		}
		if len(r.Alternatives) > 3 {
			t.Errorf("%s offers %d alternatives, at most 3", r.ID, len(r.Alternatives))
		}
	}
}
