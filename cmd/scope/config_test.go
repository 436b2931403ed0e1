package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigPrintHidesTheToken(t *testing.T) {
	t.Setenv("SCOPE_DAEMON_TOKEN", "s3cret-token-value")
	out, _, err := run(t, "config", "print")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "s3cret") || !strings.Contains(out, "token: <hidden>") {
		t.Fatalf("config print shows the token, or does not say it is set:\n%s", out)
	}
}

func TestConfigCheckReportsMissingFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "scope.yaml")
	os.WriteFile(cfg, []byte("slr:\n  bundle: "+dir+"/nope\nslt:\n  model: "+dir+"/nope.gguf\nruntime:\n  onnxruntime_library: /etc/passwd\n"), 0o644)
	_, _, err := run(t, "config", "check", cfg)
	if err == nil {
		t.Fatal("config check passed missing models and /etc/passwd as the ONNX Runtime library")
	}
	for _, w := range []string{cfg, "slr.bundle", "slt.model", "runtime.onnxruntime_library: /etc/passwd"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	os.WriteFile(cfg, []byte("capture:\n  fps: 25\n"), 0o644)
	if out, _, err := run(t, "config", "check", cfg); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("a good file: %v %s", err, out)
	}
}

// TestConfigCheckReportsEverythingAtOnce: a bad duration hid the out-of-range values and
// the missing files of the same file; one config check now lists them all.
func TestConfigCheckReportsEverythingAtOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "scope.yaml")
	os.WriteFile(cfg, []byte("dialogue:\n  retention: 99999999999d\ncapture:\n  reconnect: 1ns\nslt:\n  lora_scale: .nan\n  model: "+dir+"/nope.gguf\nruntime:\n  onnxruntime_library: /etc/passwd\n"), 0o644)
	_, _, err := run(t, "config", "check", cfg)
	if err == nil {
		t.Fatal("config check passed")
	}
	for _, w := range []string{cfg, "line 2: dialogue.retention", "at most 106751d", "capture.reconnect", "100ms", "slt.lora_scale", "NaN",
		"slt.model: " + dir + "/nope.gguf", "runtime.onnxruntime_library: /etc/passwd"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}
