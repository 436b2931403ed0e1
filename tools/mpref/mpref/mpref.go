// Package mpref runs Google's originals as references for SCOPE's own code: LiteRT (the
// TFLite runtime) on single .tflite models, and MediaPipe's Holistic solution on images
// and videos. Both run in headless Chromium through the node scripts in tools/mpref
// (see tools/mpref/README.md); this package writes their requests, runs them and reads
// their results back.
//
// Data enters as Go values (input tensors, image paths) and leaves as Go values (output
// tensors, landmarks per frame, timings). Each call starts one Chromium, which takes
// about a second, so batch many runs into one call.
//
// It needs node, Chromium and `npm ci --prefix tools/mpref` (all done by `make setup`);
// when one is missing the error wraps ErrNotSetUp and says what to run.
package mpref

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"scope/internal/assets"
)

// ErrNotSetUp is returned (wrapped) when node, Chromium or the npm packages are missing.
var ErrNotSetUp = errors.New("reference harness not set up; run `make setup`")

// notSetUp is an error that says its own fix and matches ErrNotSetUp.
type notSetUp string

func (e notSetUp) Error() string        { return string(e) }
func (e notSetUp) Is(target error) bool { return target == ErrNotSetUp }

// Env says where the harness's parts are. The zero value is filled in by Locate.
type Env struct {
	Root     string    // the harness folder (tools/mpref of a scope source tree)
	Node     string    // node binary
	Chromium string    // Chromium binary handed to the scripts
	Verbose  bool      // forward the page's console to Stderr
	Stderr   io.Writer // if set, gets the scripts' stderr
}

// DirEnv names the environment variable that points at the harness folder (tools/mpref
// of a scope source tree where `make setup` has run) when scope runs outside the tree.
const DirEnv = "SCOPE_MPREF"

// chromiumCandidates are tried in order; /usr/bin/chromium is Debian's wrapper script.
var chromiumCandidates = []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"}

// Dir finds the harness folder: $SCOPE_MPREF if set, else tools/mpref of the source tree
// above the running binary (a scope built into the tree's bin/ finds it from anywhere),
// else of the tree above the working directory. The error says how to point at it.
func Dir() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		if _, err := os.Stat(filepath.Join(d, "holistic.mjs")); err != nil {
			return "", notSetUp(fmt.Sprintf("%s=%s: no holistic.mjs there; point it at the tools/mpref folder of a scope source tree", DirEnv, d))
		}
		return filepath.Abs(d)
	}
	d, err := assets.Find(filepath.Join("tools", "mpref", "holistic.mjs"))
	if err != nil {
		return "", notSetUp(fmt.Sprintf("MediaPipe reference harness not found: %v; run the scope built in a source tree (its bin/scope) or run from inside the tree, or set %s to the tree's tools/mpref folder (after `make setup` there)",
			err, DirEnv))
	}
	return filepath.Dir(d), nil
}

// Locate finds the harness folder (see Dir), node on PATH, Chromium ($MPREF_CHROMIUM,
// else Debian's) and checks that the npm packages are installed.
func Locate() (Env, error) {
	var env Env
	var err error
	if env.Root, err = Dir(); err != nil {
		return env, err
	}
	if env.Node, err = exec.LookPath("node"); err != nil {
		return env, fmt.Errorf("node not on PATH (install Node.js 18 or newer): %w", ErrNotSetUp)
	}
	cands := chromiumCandidates
	if c := os.Getenv("MPREF_CHROMIUM"); c != "" {
		cands = []string{c}
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			env.Chromium = c
			break
		}
	}
	if env.Chromium == "" {
		return env, fmt.Errorf("no Chromium at %s (apt-get install chromium, or set MPREF_CHROMIUM): %w",
			strings.Join(cands, " or "), ErrNotSetUp)
	}
	for _, pkg := range []string{"playwright-core", "@litertjs/core", "@litertjs/wasm-utils", "@mediapipe/holistic"} {
		p := filepath.Join(env.Root, "node_modules", filepath.FromSlash(pkg), "package.json")
		if _, err := os.Stat(p); err != nil {
			return env, fmt.Errorf("%s missing (npm ci --prefix %s, or `make setup` in the source tree): %w", p, env.Root, ErrNotSetUp)
		}
	}
	return env, nil
}

// run executes `node <harness>/<script> <request>` and returns its stdout. A failure
// carries the script's last stderr lines, which name the request field or model at fault.
func (e Env) run(ctx context.Context, script, request string) ([]byte, error) {
	args := []string{filepath.Join(e.Root, script)}
	if e.Verbose {
		args = append(args, "-v")
	}
	args = append(args, request)
	cmd := exec.CommandContext(ctx, e.Node, args...)
	// On cancellation ask node to stop: playwright then closes Chromium, which a kill
	// of node alone would leave running.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = e.Root
	cmd.Env = append(os.Environ(), "MPREF_CHROMIUM="+e.Chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if e.Stderr != nil {
		e.Stderr.Write(stderr.Bytes())
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", script, ctx.Err())
		}
		return nil, fmt.Errorf("%s %s: %v: %s", script, request, err, lastLines(stderr.String(), 8))
	}
	return stdout.Bytes(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
