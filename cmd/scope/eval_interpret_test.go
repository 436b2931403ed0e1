package main

import (
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
