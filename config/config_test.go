package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "scope.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFileOverridesDefaults(t *testing.T) {
	p := writeFile(t, `
capture:
  source: /dev/video2
  fps: 25
pose:
  complexity: full
dialogue:
  retention: 7d
slt:
  adapters: {pharmacy: /models/pharmacy.gguf}
  domain: pharmacy
  model: /models/base.gguf
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Capture.Source != "/dev/video2" || c.Capture.FPS != 25 || c.Pose.Complexity != "full" {
		t.Fatalf("file values not applied: %+v %+v", c.Capture, c.Pose)
	}
	if time.Duration(c.Dialogue.Retention) != 7*24*time.Hour {
		t.Fatalf("retention = %s, want 7d", c.Dialogue.Retention)
	}
	if c.SLR.BeamWidth != Default().SLR.BeamWidth {
		t.Fatal("unset field lost its default")
	}
}

func TestErrorsNameTheField(t *testing.T) {
	cases := []struct {
		yaml string
		want []string
	}{
		{"pose:\n  complexity: ultra\n", []string{"pose.complexity", `"ultra"`, "lite, full, heavy"}},
		{"slr:\n  beam_width: 0\n", []string{"slr.beam_width", "between 1 and 256"}},
		{"slr:\n  top_k: 20\n", []string{"slr.top_k", "slr.beam_width"}},
		{"edge:\n  provider: npu\n", []string{"edge.provider", "auto, cpu, cuda, tensorrt"}},
		{"daemon:\n  listen: localhost\n", []string{"daemon.listen", "host:port"}},
		{"daemon:\n  tls_cert: a.pem\n", []string{"tls_cert/tls_key", "both or neither"}},
		{"capture:\n  buffer: 0\n", []string{"capture.buffer"}},
		{"dialogue:\n  retention: forever\n", []string{"bad duration", "30d"}},
		{"pose:\n  complexiti: full\n", []string{"pose.complexiti", "unknown key", "complexity, hand_model"}},
		{"log:\n  level: loud\n", []string{"log.level", "debug, info, warn, error"}},
	}
	for _, tc := range cases {
		p := writeFile(t, tc.yaml)
		_, err := Load(p)
		if err == nil {
			t.Errorf("%q: no error", tc.yaml)
			continue
		}
		for _, w := range append(tc.want, p) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", tc.yaml, err, w)
			}
		}
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	p := writeFile(t, "capture:\n  source: a.mp4\n")
	t.Setenv("SCOPE_CAPTURE_SOURCE", "rtsp://127.0.0.1/cam")
	t.Setenv("SCOPE_SLR_BEAM_WIDTH", "16")
	t.Setenv("SCOPE_CAPTURE_LOOP", "true")
	t.Setenv("SCOPE_DIALOGUE_RETENTION", "36h")
	t.Setenv("SCOPE_SLT_ADAPTERS", "reception=r.gguf, pharmacy=p.gguf")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Capture.Source != "rtsp://127.0.0.1/cam" || c.SLR.BeamWidth != 16 || !c.Capture.Loop ||
		time.Duration(c.Dialogue.Retention) != 36*time.Hour || c.SLT.Adapters["pharmacy"] != "p.gguf" {
		t.Fatalf("environment not applied: %+v %+v %+v", c.Capture, c.SLR, c.SLT)
	}
}

func TestEnvironmentErrors(t *testing.T) {
	for k, want := range map[string]string{
		"SCOPE_SLR_BEAM_WIDHT": "names no setting",
		"SCOPE_SLR_BEAM_WIDTH": "want an integer",
		"SCOPE_CAPTURE_LOOP":   "want true or false",
	} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, "x")
			_, err := Load("")
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), k) {
				t.Fatalf("err = %v, want it to name %s and say %q", err, k, want)
			}
		})
	}
	// Variables outside the settings' sections are not ours to judge.
	t.Setenv("SCOPE_CACHE", "/tmp/x")
	if _, err := Load(""); err != nil {
		t.Fatal(err)
	}
}

func TestPrintedConfigLoadsBackTheSame(t *testing.T) {
	c := Default()
	c.SLT.Adapters = map[string]string{"reception": "r.gguf"}
	c.Dialogue.Retention = Duration(90 * time.Minute)
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(writeFile(t, string(out)))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip changed the config:\n%+v\n%+v", back, c)
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "1.5d": 36 * time.Hour, "90s": 90 * time.Second, "2h30m": 150 * time.Minute} {
		d, err := ParseDuration(in)
		if err != nil || time.Duration(d) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
	if _, err := ParseDuration("soon"); err == nil {
		t.Error("ParseDuration(soon): no error")
	}
}

// TestNonFiniteNumbersAreRejected: NaN compares false with every bound, so each numeric
// setting is tried with NaN and both infinities, from the file and from the environment.
func TestNonFiniteNumbersAreRejected(t *testing.T) {
	for _, key := range []string{"capture.fps", "slt.lora_scale"} {
		sec, k, _ := strings.Cut(key, ".")
		for _, v := range []string{".nan", ".inf", "-.inf"} {
			_, err := Load(writeFile(t, sec+":\n  "+k+": "+v+"\n"))
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("%s: %s: err = %v, want an error naming %s", key, v, err, key)
			}
		}
		env := "SCOPE_" + strings.ToUpper(sec+"_"+k)
		for _, v := range []string{"NaN", "Inf", "-Inf"} {
			t.Setenv(env, v)
			if _, err := Load(""); err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("%s=%s: err = %v, want an error naming %s", env, v, err, key)
			}
		}
		os.Unsetenv(env)
	}
	for _, v := range []string{"NaNd", "Infd", "-Infd", "99999999999d", "1e300d", "9999999999999h"} {
		if d, err := ParseDuration(v); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", v, time.Duration(d))
		}
	}
	_, err := Load(writeFile(t, "dialogue:\n  retention: 99999999999d\n"))
	if err == nil || !strings.Contains(err.Error(), "dialogue.retention") || !strings.Contains(err.Error(), "at most 106751d") {
		t.Errorf("retention 99999999999d: err = %v, want dialogue.retention and the largest allowed", err)
	}
	if d, err := ParseDuration("106751d"); err != nil || d <= 0 {
		t.Errorf("ParseDuration(106751d) = %v, %v; want the longest duration", d, err)
	}
}

// TestEveryProblemIsReported: two bad durations, a word where a number belongs, an
// unknown key and an out-of-range value all come back from one Load, each with its line
// (the out-of-range value used to wait until the file's own errors were fixed).
func TestEveryProblemIsReported(t *testing.T) {
	p := writeFile(t, `capture:
  reconnect: soon
  buffer: many
dialogue:
  retention: forever
slr:
  beam_width: 0
  beam_widht: 4
`)
	_, err := Load(p)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"line 2: capture.reconnect", "line 3: capture.buffer: want an integer", "line 5: dialogue.retention",
		"line 8: unknown key slr.beam_widht", "slr.beam_width", p} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	// The values that did parse are validated too once the file's own errors are fixed;
	// a bad value never replaces its default.
	c := Default()
	if err := c.overlayYAML([]byte("capture:\n  buffer: many\n  fps: 30\n")); err == nil || c.Capture.Buffer != Default().Capture.Buffer || c.Capture.FPS != 30 {
		t.Errorf("after a bad buffer: err %v, buffer %d, fps %g", err, c.Capture.Buffer, c.Capture.FPS)
	}
}

func TestThreadSettingsAreBounded(t *testing.T) {
	for _, env := range []string{"SCOPE_SLT_THREADS", "SCOPE_EDGE_THREADS"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "100000")
			_, err := Load("")
			if err == nil || !strings.Contains(err.Error(), "100000") || !strings.Contains(err.Error(), "CPUs") {
				t.Fatalf("err = %v, want the value and this machine's CPU count", err)
			}
		})
	}
	t.Setenv("SCOPE_SLT_THREADS", "1")
	if _, err := Load(""); err != nil {
		t.Fatal(err)
	}
}

func TestReconnectAndImageSizeBounds(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"capture:\n  reconnect: 1ns\n", "capture.reconnect"},
		{"capture:\n  reconnect: -1s\n", "capture.reconnect"},
		{"capture:\n  width: 16000\n  height: 12000\n", "capture.width/height"},
		{"slt:\n  context_tokens: 99999999\n", "slt.context_tokens"},
		{"daemon:\n  listen: 127.0.0.1:99999\n", "daemon.listen"},
	} {
		if _, err := Load(writeFile(t, tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %s", tc.yaml, err, tc.want)
		}
	}
	if _, err := Load(writeFile(t, "capture:\n  reconnect: 0s\n")); err != nil {
		t.Errorf("reconnect 0 (give up): %v", err)
	}
}

func TestSecretsAreHiddenWhenPrinted(t *testing.T) {
	c := Default()
	c.Daemon.Token = "s3cret-token-value"
	out, err := c.Redact().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), Redacted) {
		t.Fatalf("printed configuration shows the token:\n%s", out)
	}
	if c.Daemon.Token != "s3cret-token-value" {
		t.Fatal("Redact changed the original")
	}
	// The printed placeholder, loaded back as a token, is refused by name.
	if _, err := Load(writeFile(t, string(out))); err == nil || !strings.Contains(err.Error(), "daemon.token") {
		t.Fatalf("placeholder token: err = %v", err)
	}
	if out, _ := Default().Redact().YAML(); strings.Contains(string(out), Redacted) {
		t.Fatal("an unset token is shown as hidden")
	}
}

func TestCheckFilesNamesEveryMissingOrWrongFile(t *testing.T) {
	dir := t.TempDir()
	notGGUF := filepath.Join(dir, "model.gguf")
	os.WriteFile(notGGUF, []byte("not a model"), 0o644)
	gguf := filepath.Join(dir, "ok.gguf")
	os.WriteFile(gguf, []byte("GGUF\x03\x00\x00\x00"), 0o644)
	c := Default()
	c.SLR.Bundle = filepath.Join(dir, "no-bundle")
	c.SLT.Model = notGGUF
	c.SLT.Adapters = map[string]string{"pharmacy": filepath.Join(dir, "missing.gguf"), "reception": gguf}
	c.Runtime.ONNXRuntimeLibrary = "/etc/passwd"
	c.Daemon.TLSCert, c.Daemon.TLSKey = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	err := c.CheckFiles()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"slr.bundle: " + c.SLR.Bundle + ": no such file", "slt.model: " + notGGUF + ": not the right kind",
		"slt.adapters.pharmacy", "runtime.onnxruntime_library: /etc/passwd", "daemon.tls_cert", "daemon.tls_key"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "reception") {
		t.Errorf("a good adapter is reported:\n%v", err)
	}
	os.MkdirAll(filepath.Join(dir, "bundle"), 0o755)
	c = Default()
	c.SLR.Bundle = filepath.Join(dir, "bundle")
	if err := c.CheckFiles(); err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("bundle without manifest: %v", err)
	}
	if err := Default().CheckFiles(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestCheckFilesDoesNotWaitOnAPipe: a named pipe where a model, adapter, library,
// certificate or bundle manifest belongs is refused as not a regular file; opening it
// first waited for a writer, so `config check` hung. (The minute below only turns such a
// hang into a failure; nothing is timed.)
func TestCheckFilesDoesNotWaitOnAPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "bundle"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(dir, "bundle", "manifest.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.SLR.Bundle = filepath.Join(dir, "bundle")
	c.SLT.Model = fifo
	c.SLT.Adapters = map[string]string{"pharmacy": fifo}
	c.Runtime.ONNXRuntimeLibrary = fifo
	c.Daemon.TLSCert, c.Daemon.TLSKey = fifo, fifo
	done := make(chan error, 1)
	go func() { done <- c.CheckFiles() }()
	select {
	case err := <-done:
		for _, w := range []string{"slr.bundle", "slt.model: " + fifo + ": not a regular file", "slt.adapters.pharmacy",
			"runtime.onnxruntime_library: " + fifo + ": not a regular file", "daemon.tls_cert", "daemon.tls_key"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error does not mention %q:\n%v", w, err)
			}
		}
	case <-time.After(time.Minute):
		t.Fatal("CheckFiles is waiting on a named pipe")
	}
}
