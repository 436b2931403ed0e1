package main

import (
	"errors"
	"strings"
	"testing"
)

// TestNumberFlagsRefuseNaNAndInf: Go's flag package parses NaN and Inf, and bounds
// written as "x < lo" let NaN through: bench slr --fps Inf panicked in makeslice, synth
// --bias NaN wrote a corpus, bundle build --golden-margin NaN built a bundle whose golden
// check compared with NaN, gate calibrate --margin Inf was taken. Every number flag of
// every command is now refused before the command starts, naming the flag.
func TestNumberFlagsRefuseNaNAndInf(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"bench", "slr", "--fps", "Inf"},
		{"bench", "slr", "--seconds", "NaN"},
		{"synth", "--out", dir + "/s", "--dialogues", "1", "--bias", "NaN"},
		{"synth", "--out", dir + "/s", "--dialogues", "1", "--ambiguous-share", "-Inf"},
		{"bundle", "build", "--out", dir + "/b", "--golden-margin", "NaN"},
		{"gate", "calibrate", "--data", dir, "--margin", "Inf"},
		{"dataset", "import", "--annotations", dir + "/a.csv", "--out", dir + "/d", "--dev-share", "NaN"},
		{"eval", "slt", "--lora-scale", "NaN"},
	} {
		_, _, err := run(t, args...)
		flagName := ""
		for _, a := range args {
			if strings.HasPrefix(a, "--") {
				flagName = a
			}
		}
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), flagName) {
			t.Errorf("scope %s: err = %v, want a usage error naming %s", strings.Join(args, " "), err, flagName)
		}
	}
}

// TestBenchSLRBoundsTheSegment: a segment longer than a minute or faster than 240
// frames/s is refused before any memory is taken for it (--fps 1e12 used to panic).
func TestBenchSLRBoundsTheSegment(t *testing.T) {
	for _, args := range [][]string{{"--fps", "1e12"}, {"--seconds", "1e9"}, {"--fps", "0"}, {"--seconds", "-1"}} {
		_, _, err := run(t, append([]string{"bench", "slr"}, args...)...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("scope bench slr %s: err = %v, want a usage error naming %s", strings.Join(args, " "), err, args[0])
		}
	}
}
