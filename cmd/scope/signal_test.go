package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestStopOnSignal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second bool
		code   int
	}{{"grace runs out", false, 143}, {"second signal", true, 143}} {
		t.Run(tc.name, func(t *testing.T) {
			sigs := make(chan os.Signal, 2)
			cancelled := make(chan struct{})
			exited := make(chan int, 1)
			var errb bytes.Buffer
			grace := time.Hour
			if !tc.second {
				grace = 10 * time.Millisecond
			}
			done := make(chan struct{})
			go func() {
				stopOnSignal(sigs, func() { close(cancelled) }, grace, &errb, func(c int) { exited <- c })
				close(done)
			}()
			sigs <- syscall.SIGTERM
			<-cancelled
			if tc.second {
				sigs <- syscall.SIGTERM
			}
			if c := <-exited; c != tc.code {
				t.Fatalf("exit code %d, want %d", c, tc.code)
			}
			<-done
			if !strings.Contains(errb.String(), "stopping") {
				t.Fatalf("no message: %q", errb.String())
			}
		})
	}
	// A command that finishes closes the channel: no exit, no cancel.
	sigs := make(chan os.Signal)
	close(sigs)
	stopOnSignal(sigs, func() { t.Fatal("cancelled") }, time.Millisecond, &bytes.Buffer{}, func(int) { t.Fatal("exited") })
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// scopeBinary builds ./cmd/scope once per test run.
func scopeBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scope-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "scope")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{err, string(out)}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

// TestLongCommandsStopOnSignal starts commands that run for a minute or more and sends
// SIGINT or SIGTERM once they are under way: each must exit, with the signal's code. The
// bound is loose on purpose (a hang is minutes); the time it took is logged.
func TestLongCommandsStopOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := scopeBinary(t)
	for _, tc := range []struct {
		name string
		args []string
		sig  syscall.Signal
	}{
		{"synth", []string{"synth", "--out", "CORPUS", "--dialogues", "5000", "--workers", "1"}, syscall.SIGINT},
		{"run demo", []string{"run", "--dialogues", "200", "--no-translate"}, syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, a := range tc.args {
				tc.args[i] = strings.ReplaceAll(a, "CORPUS", filepath.Join(dir, "corpus"))
			}
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), "SCOPE_DATA_DIR="+dir, "SCOPE_DIALOGUE_PATH="+filepath.Join(dir, "d.db"))
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Under way: it has printed something, or 20 s have passed.
			for i := 0; i < 200 && out.Len() == 0; i++ {
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			cmd.Process.Signal(tc.sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				took := time.Since(start)
				t.Logf("scope %s stopped %.2f s after %s: %v", tc.name, took.Seconds(), tc.sig, err)
				if code := cmd.ProcessState.ExitCode(); code != 128+int(tc.sig) {
					t.Errorf("exit status %d after %s; want %d\n%s", code, tc.sig, 128+int(tc.sig), out.String())
				}
			case <-time.After(stopGrace + 20*time.Second):
				cmd.Process.Kill()
				t.Fatalf("scope %s still running %s after %s\n%s", tc.name, stopGrace+20*time.Second, tc.sig, out.String())
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
