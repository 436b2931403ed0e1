package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"scope/dialogue"
	"scope/internal/assets"
)

// TestFailedRunInputLeavesNoConversation: a `scope run --input` whose input cannot be
// read (missing, not a video, not an image, not a .pose file, a truncated .pose header, a
// camera that is not there) fails with the input named and leaves no conversation in the
// store: one used to stay behind, empty, for every failed run.
func TestFailedRunInputLeavesNoConversation(t *testing.T) {
	if _, err := assets.ONNXRuntimeLibrary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	t.Setenv("SCOPE_DATA_DIR", dir)
	t.Setenv("SCOPE_CONFIG", "")
	t.Setenv("SCOPE_EDGE_THREADS", "1")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A .pose file that ends right after its version (float32 0.1).
	truncPose := []byte{0xcd, 0xcc, 0xcc, 0x3d}
	for _, c := range []struct{ name, input string }{
		{"missing video", filepath.Join(dir, "missing.mp4")},
		{"not a video", write("junk.mp4", []byte("this is not a video\n"))},
		{"not an image", write("junk.jpg", []byte("this is not an image\n"))},
		{"not a .pose file", write("junk.pose", []byte("junk\n"))},
		{"truncated .pose header", write("short.pose", truncPose)},
		{"no such camera", "/dev/video99"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, err := run(t, "run", "--input", c.input)
			if err == nil {
				t.Fatalf("scope run --input %s succeeded:\n%s\n%s", c.input, out, stderr)
			}
			if !strings.Contains(err.Error(), c.input) {
				t.Errorf("error does not name the input %s: %v", c.input, err)
			}
		})
	}
	db := filepath.Join(dir, "dialogue.db")
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		return // nothing was stored at all
	}
	st, err := dialogue.Open(db, dialogue.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, err := st.Conversations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 0 {
		t.Errorf("failed runs left %d conversations behind: %+v", len(cs), cs)
	}
}

// TestRunWithAConfiguredONNXRuntimeLibrary: the README's way to use another build of
// ONNX Runtime (runtime.onnxruntime_library) made `scope run` fail with "already loaded",
// because the recogniser initialised the runtime from the cache path first. A copy of the
// library at another path, named by the setting, now runs the demo (in a child process:
// a process loads one library).
func TestRunWithAConfiguredONNXRuntimeLibrary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	lib, err := assets.ONNXRuntimeLibrary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	b, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyLib := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(copyLib, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(scopeBinary(t), "run", "--no-store", "--no-translate")
	cmd.Env = append(os.Environ(), "SCOPE_RUNTIME_ONNXRUNTIME_LIBRARY="+copyLib, "SCOPE_EDGE_THREADS=1", "SCOPE_CONFIG=")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "already loaded") || !strings.Contains(string(out), "gloss WER") {
		t.Fatalf("scope run with runtime.onnxruntime_library=%s: %v\n%s", copyLib, err, out)
	}
}
