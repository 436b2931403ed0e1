package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = runMain(context.Background(), args, &o, &e)
	return o.String(), e.String(), err
}

// mustRun runs scope with args, stops the test with what it printed when it fails, and
// returns its standard output.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, err := run(t, args...)
	if err != nil {
		t.Fatalf("scope %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errs)
	}
	return out
}

func TestHelpListsEveryCommand(t *testing.T) {
	out, _, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("help does not list %q:\n%s", c.name, out)
		}
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		out, _, err := run(t, c.name, "--help")
		if err != nil && !strings.Contains(err.Error(), "help") {
			t.Errorf("scope %s --help: %v", c.name, err)
		}
		if !strings.Contains(out, "Usage: scope "+c.name) {
			t.Errorf("scope %s --help printed no usage:\n%s", c.name, out)
		}
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	_, stderr, err := run(t, "frobnicate")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("err = %v, want a usage error naming the command", err)
	}
	if !strings.Contains(stderr, "Commands:") {
		t.Fatalf("no command list on stderr:\n%s", stderr)
	}
}

func TestConfigPrintShowsEnvironmentOverrides(t *testing.T) {
	t.Setenv("SCOPE_POSE_COMPLEXITY", "heavy")
	out, _, err := run(t, "config", "print")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "complexity: heavy") {
		t.Fatalf("config print ignores SCOPE_POSE_COMPLEXITY:\n%s", out)
	}
	t.Setenv("SCOPE_POSE_COMPLEXITY", "ultra")
	if _, _, err := run(t, "config", "print"); err == nil || !strings.Contains(err.Error(), "pose.complexity") {
		t.Fatalf("err = %v, want it to name pose.complexity", err)
	}
}

// The built binary reports every library; bbolt's version is the one the Go toolchain
// recorded in the binary, which only a real build carries.
func TestVersionCommand(t *testing.T) {
	bin := scopeBinary(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("scope version: %v\n%s", err, out)
	}
	gomod, _ := os.ReadFile("../../go.mod")
	bbolt := regexp.MustCompile(`go.etcd.io/bbolt (v\S+)`).FindSubmatch(gomod)
	for _, want := range []string{"OpenCV        4.6.0", "ONNX Runtime  1.30.0", "llama.cpp     llama.cpp ", "bbolt         " + string(bbolt[1])} {
		if !strings.Contains(string(out), want) {
			t.Errorf("scope version lacks %q:\n%s", want, out)
		}
	}
}
