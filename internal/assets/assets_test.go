package assets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// An installed layout is found from any directory: $SCOPE_HOME first, then the system
// roots, and the source tree only last.
func TestInstallLayout(t *testing.T) {
	home, sys, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
	old := systemRoots
	systemRoots = []string{sys}
	defer func() { systemRoots = old }()
	t.Setenv("SCOPE_CACHE", "")
	t.Setenv("SCOPE_HOME", "")
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(elsewhere)

	write := func(p string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	write(filepath.Join(sys, "onnxruntime", "libonnxruntime.so.1"))
	write(filepath.Join(sys, "models", "demo", "slr", "manifest.json"))
	write(filepath.Join(sys, "scope.yaml"))
	if p, err := ONNXRuntimeLibrary(); err != nil || p != filepath.Join(sys, "onnxruntime", "libonnxruntime.so.1") {
		t.Fatalf("library from the system root: %s, %v", p, err)
	}
	if p, err := Find("models/demo/slr"); err != nil || p != filepath.Join(sys, "models", "demo", "slr") {
		t.Fatalf("demo models from the system root: %s, %v", p, err)
	}
	if ConfigFile() != filepath.Join(sys, "scope.yaml") {
		t.Fatalf("config file %q", ConfigFile())
	}
	// $SCOPE_HOME comes before the system.
	t.Setenv("SCOPE_HOME", home)
	write(filepath.Join(home, "models", "demo", "slr", "manifest.json"))
	write(filepath.Join(home, "scope.yaml"))
	if p, _ := Find("models/demo/slr"); p != filepath.Join(home, "models", "demo", "slr") {
		t.Fatalf("SCOPE_HOME not first: %s", p)
	}
	if ConfigFile() != filepath.Join(home, "scope.yaml") {
		t.Fatalf("config file %q", ConfigFile())
	}
	// $SCOPE_CACHE, when set, is the only place for the libraries.
	t.Setenv("SCOPE_CACHE", elsewhere)
	if _, err := ONNXRuntimeLibrary(); !errors.Is(err, ErrMissing) {
		t.Fatalf("SCOPE_CACHE without the library: %v", err)
	}
	// With nothing installed, the checkout is the last resort.
	systemRoots = nil
	t.Setenv("SCOPE_HOME", "")
	os.Chdir(wd)
	if p, err := Find("internal/assets"); err != nil || !strings.HasSuffix(p, filepath.Join("internal", "assets")) {
		t.Fatalf("checkout fallback: %s, %v", p, err)
	}
}
