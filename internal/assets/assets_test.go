package assets

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFindWalksUpToTheSourceTree(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "models", "demo", "slr"), 0o755)
	os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(filepath.Join(root, "a", "b"))
	got, err := Find("models/demo/slr")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(filepath.Join(root, "models", "demo", "slr")); got != want && got != filepath.Join(root, "models", "demo", "slr") {
		t.Fatalf("Find = %s, want %s", got, want)
	}
	if _, err := Find("models/demo/none"); !errors.Is(err, ErrNotInTree) {
		t.Fatalf("missing path: err = %v, want ErrNotInTree", err)
	}
}

func TestCacheDirHonoursSCOPE_CACHE(t *testing.T) {
	t.Setenv("SCOPE_CACHE", "/somewhere/else")
	if d := CacheDir(); d != "/somewhere/else" {
		t.Fatalf("CacheDir = %s", d)
	}
	if _, err := ONNXRuntimeLibrary(); !errors.Is(err, ErrMissing) {
		t.Fatalf("library in an empty cache: err = %v, want ErrMissing", err)
	}
}
