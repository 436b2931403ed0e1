package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"scope/dialogue"
	"scope/internal/assets"
)

// scope serve on the demo: it prints the page's address, becomes ready, prints sentences
// as the page shows them (labelled synthetic), and stops cleanly when cancelled, with the
// store closed and the conversation ended.
func TestServeDemo(t *testing.T) {
	data := t.TempDir()
	t.Setenv("SCOPE_DATA_DIR", data)
	t.Setenv("SCOPE_EDGE_THREADS", "2")
	var out, errs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- runMain(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, &out, &errs) }()
	deadline := time.Now().Add(2 * time.Minute)
	base := serveAddress(t, &out, &errs, deadline)
	for !strings.Contains(out.String(), "  shown:") && !strings.Contains(out.String(), "  unsure:") {
		if time.Now().After(deadline) {
			t.Fatalf("no sentence printed:\n%s\n%s", out.String(), errs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	res, err := http.Get(base + "readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("readyz while playing: %d %s", res.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("serve: %v\n%s", err, errs.String())
	}
	for _, want := range []string{"(synthetic)", "SYNTHETIC", "meant:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	st, err := dialogue.Open(filepath.Join(data, "dialogue.db"), dialogue.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("store not released after serve stopped: %v", err)
	}
	defer st.Close()
	cs, _ := st.Conversations(context.Background())
	if len(cs) == 0 || cs[len(cs)-1].Open() {
		t.Fatalf("conversations after stop: %+v", cs)
	}
}

// An installed layout works from any directory: with the models and the ONNX Runtime
// library under $SCOPE_HOME and the working directory outside any source tree (the test
// binary lives outside it too), scope run finds everything.
func TestRunFromAnInstalledLayout(t *testing.T) {
	demo, err := assets.Find("models/demo")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := assets.ONNXRuntimeLibrary()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "models"), 0o755)
	os.MkdirAll(filepath.Join(home, "onnxruntime"), 0o755)
	if err := os.Symlink(demo, filepath.Join(home, "models", "demo")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(lib, filepath.Join(home, "onnxruntime", "libonnxruntime.so.1")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, "scope.yaml"), []byte("edge:\n  threads: 2\n"), 0o644)
	t.Setenv("SCOPE_HOME", home)
	t.Setenv("SCOPE_CACHE", "")
	t.Setenv("SCOPE_CONFIG", "")
	t.Setenv("SCOPE_DATA_DIR", "")
	t.Chdir(t.TempDir())
	if p, err := assets.Find("models/demo/slr"); err != nil || !strings.HasPrefix(p, home) {
		t.Fatalf("demo models resolve to %s, %v; want under SCOPE_HOME", p, err)
	}
	out, stderr, err := run(t, "run", "--dialogues", "1")
	if err != nil {
		t.Fatalf("scope run from %s: %v\n%s\n%s", home, err, out, stderr)
	}
	if !strings.Contains(out, filepath.Join(home, "models", "demo", "slr")) || !strings.Contains(out, "gloss WER") {
		t.Fatalf("output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(home, "data", "dialogue.db")); err != nil {
		t.Fatalf("the store is not under $SCOPE_HOME/data: %v", err)
	}
}

// SIGTERM to the daemon drains the work in flight, ends the conversation and closes the
// store: the file opens at once afterwards and the conversation says why it ended. (The
// drain is bounded at 4 s in the engine; the time it took is logged, not asserted.)
func TestServeStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := scopeBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "SCOPE_DATA_DIR="+dir, "SCOPE_EDGE_THREADS=2")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "hearing:") {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not start a dialogue:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(stopGrace + 20*time.Second):
		t.Fatalf("scope serve still running after SIGTERM:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "draining") || !strings.Contains(out.String(), "stopped") {
		t.Errorf("no orderly stop in the log:\n%s", out.String())
	}
	st, err := dialogue.Open(filepath.Join(dir, "dialogue.db"), dialogue.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("store after SIGTERM: %v", err)
	}
	defer st.Close()
	cs, err := st.Conversations(context.Background())
	if err != nil || len(cs) == 0 {
		t.Fatalf("conversations: %v %v", cs, err)
	}
	if last := cs[len(cs)-1]; last.Open() || last.EndReason != "shutdown" {
		t.Fatalf("last conversation %+v: want ended by the shutdown", last)
	}
}

// serveAddress waits for scope serve to print its page's address and returns it.
func serveAddress(t *testing.T, out, errs *syncBuffer, deadline time.Time) string {
	t.Helper()
	addr := regexp.MustCompile(`signer's page (http://\S+/),`)
	for {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address printed:\n%s\n%s", out.String(), errs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
