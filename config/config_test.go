package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
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
		{"pose:\n  complexiti: full\n", []string{"complexiti", "not found"}},
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
