package mpref

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirFromEnv(t *testing.T) {
	here, err := os.Getwd() // tools/mpref/mpref
	if err != nil {
		t.Fatal(err)
	}
	harness := filepath.Dir(here)
	t.Setenv(DirEnv, harness)
	d, err := Dir()
	if err != nil || d != harness {
		t.Fatalf("Dir() with %s=%s: %q, %v", DirEnv, harness, d, err)
	}
	bad := t.TempDir()
	t.Setenv(DirEnv, bad)
	_, err = Dir()
	if !errors.Is(err, ErrNotSetUp) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "tools/mpref") {
		t.Errorf("Dir() with %s pointing at an empty folder: %v; want ErrNotSetUp naming the folder and what to point at", DirEnv, err)
	}
}

func TestDirFromTree(t *testing.T) {
	t.Setenv(DirEnv, "")
	d, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "holistic.mjs")); err != nil {
		t.Errorf("Dir() = %s, which has no holistic.mjs", d)
	}
}
