// Package config holds SCOPE's typed configuration.
//
// A Config starts from Default(), is overlaid by a YAML file (unknown keys are errors),
// then by environment variables, then by command-line flags that commands map onto
// fields, and is checked once by Validate. Every error names the field by its YAML path
// (for example `slt.max_tokens`) and says what is allowed.
//
// Environment variables are SCOPE_<SECTION>_<KEY> in upper case, for example
// SCOPE_CAPTURE_SOURCE=/dev/video0 or SCOPE_DIALOGUE_RETENTION=720h.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration.
type Config struct {
	Capture  Capture  `yaml:"capture"`
	Pose     Pose     `yaml:"pose"`
	SLR      SLR      `yaml:"slr"`
	SLT      SLT      `yaml:"slt"`
	Dialogue Dialogue `yaml:"dialogue"`
	Edge     Edge     `yaml:"edge"`
	Runtime  Runtime  `yaml:"runtime"`
	Daemon   Daemon   `yaml:"daemon"`
	OTA      OTA      `yaml:"ota"`
	Log      Log      `yaml:"log"`
}

// Capture configures the frame source.
type Capture struct {
	// Source is a camera index ("0"), a device path ("/dev/video0"), a video file, an
	// RTSP/HTTP URL or GStreamer pipeline, or an image sequence ("frames/%04d.png").
	// Empty means the built-in demo input.
	Source string `yaml:"source"`
	// Width and Height request a camera resolution; 0 keeps the source's own.
	Width  int `yaml:"width"`
	Height int `yaml:"height"`
	// FPS paces files to real time when > 0 and requests a camera rate; 0 reads files
	// as fast as the pipeline takes them.
	FPS float64 `yaml:"fps"`
	// Buffer is how many frames may wait for the pose stage before the oldest is dropped.
	Buffer int `yaml:"buffer"`
	// Loop restarts a file source at its end.
	Loop bool `yaml:"loop"`
	// Reconnect is how long to wait before reopening a camera or stream that failed;
	// 0 gives up at the first failure.
	Reconnect Duration `yaml:"reconnect"`
}

// Pose configures the keypoint pipeline.
type Pose struct {
	// Complexity names the pose landmark model, as MediaPipe's modelComplexity does.
	Complexity string `yaml:"complexity"`
	// HandModel is "full" (as Holistic uses) or "lite".
	HandModel string `yaml:"hand_model"`
	Smoothing bool   `yaml:"smoothing"`
	// ModelDir holds the converted ONNX models; empty means <cache>/onnx.
	ModelDir string `yaml:"model_dir"`
}

// SLR configures the recogniser.
type SLR struct {
	// Bundle is the recogniser's model folder (with manifest.json); empty means the
	// demo bundle that ships with scope.
	Bundle    string `yaml:"bundle"`
	BeamWidth int    `yaml:"beam_width"`
	TopK      int    `yaml:"top_k"`
	// Int8 selects the int8 model of the bundle when it has one.
	Int8 bool `yaml:"int8"`
}

// SLT configures the translator.
type SLT struct {
	// Model is a llama.cpp GGUF file; empty means the demo model that ships with scope.
	Model string `yaml:"model"`
	// Adapters maps a domain name to a LoRA adapter GGUF file.
	Adapters map[string]string `yaml:"adapters"`
	// Domain selects the adapter in use; empty means none.
	Domain    string  `yaml:"domain"`
	LoRAScale float64 `yaml:"lora_scale"`
	MaxTokens int     `yaml:"max_tokens"`
	// ContextTokens bounds the prompt's dialogue context; the oldest turns go first.
	ContextTokens int `yaml:"context_tokens"`
	// Threads for llama.cpp; 0 takes it from the edge budget.
	Threads int `yaml:"threads"`
}

// Dialogue configures the conversation store.
type Dialogue struct {
	// Path of the bbolt file; empty means <data dir>/dialogue.db.
	Path string `yaml:"path"`
	// Retention deletes conversations older than this; 0 keeps them until wiped.
	Retention Duration `yaml:"retention"`
	// ContextTurns and ContextTokens bound the context window the stages read.
	ContextTurns  int `yaml:"context_turns"`
	ContextTokens int `yaml:"context_tokens"`
}

// Edge configures hardware use.
type Edge struct {
	// Threads is the CPU thread budget shared by ONNX Runtime and llama.cpp; 0 means
	// the number of CPUs.
	Threads int `yaml:"threads"`
	// Provider is the ONNX Runtime execution provider: auto, cpu, cuda or tensorrt.
	Provider string `yaml:"provider"`
}

// Runtime locates native libraries.
type Runtime struct {
	// ONNXRuntimeLibrary is libonnxruntime.so.1; empty means the one `make setup`
	// extracted into the cache.
	ONNXRuntimeLibrary string `yaml:"onnxruntime_library"`
}

// Daemon configures the service's API.
type Daemon struct {
	Listen string `yaml:"listen"`
	// Token is required from clients when Listen is not a loopback address.
	Token   string `yaml:"token"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// OTA configures signed model updates (package ota; README "Model updates (OTA)").
type OTA struct {
	// Repository is the TUF repository to poll: an http(s) URL or a folder; empty means
	// offline installs only (`scope ota install`).
	Repository string `yaml:"repository"`
	// Root is the pinned root.json trusted the first time (then TUF rotates it forward).
	Root string `yaml:"root"`
	// Poll is how often the daemon checks the repository.
	Poll Duration `yaml:"poll"`
	// Clock is "system" (TUF expiry against the system clock) or "untrusted" for sites
	// without a trusted clock (expiry against the latest time the device knows has passed).
	Clock string `yaml:"clock"`
	// MaxBundleMB bounds a bundle download.
	MaxBundleMB int `yaml:"max_bundle_mb"`
	// ProbationSentences decide between commit and rollback after a switch.
	ProbationSentences int `yaml:"probation_sentences"`
}

// Log configures logging.
type Log struct {
	Level string `yaml:"level"`
}

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		Capture:  Capture{Buffer: 4, Reconnect: Duration(2 * time.Second)},
		Pose:     Pose{Complexity: "lite", HandModel: "full", Smoothing: true},
		SLR:      SLR{BeamWidth: 8, TopK: 3},
		SLT:      SLT{LoRAScale: 1, MaxTokens: 48, ContextTokens: 256},
		Dialogue: Dialogue{Retention: Duration(30 * 24 * time.Hour), ContextTurns: 6, ContextTokens: 256},
		Edge:     Edge{Provider: "auto"},
		Daemon:   Daemon{Listen: "127.0.0.1:8580"},
		OTA:      OTA{Poll: Duration(time.Hour), Clock: "system", MaxBundleMB: 4096, ProbationSentences: 10},
		Log:      Log{Level: "info"},
	}
}

// Load returns Default() overlaid by the YAML file at path (if path is not empty) and
// by the environment, validated.
func Load(path string) (Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := c.overlayYAML(data); err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := c.overlayEnv(os.Environ()); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		if path != "" {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
		return c, err
	}
	return c, nil
}

func (c *Config) overlayYAML(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%v (see `scope config print` for every key and its default)", err)
	}
	return nil
}

// overlayEnv applies SCOPE_<SECTION>_<KEY> variables. Unknown SCOPE_ variables that look
// like settings are reported so that a typo does not pass silently.
func (c *Config) overlayEnv(environ []string) error {
	fields := map[string]reflect.Value{}
	names := map[string]string{}
	root := reflect.ValueOf(c).Elem()
	for i := 0; i < root.NumField(); i++ {
		sec := yamlName(root.Type().Field(i))
		sv := root.Field(i)
		for j := 0; j < sv.NumField(); j++ {
			key := yamlName(sv.Type().Field(j))
			env := "SCOPE_" + strings.ToUpper(sec+"_"+key)
			fields[env] = sv.Field(j)
			names[env] = sec + "." + key
		}
	}
	sections := map[string]bool{}
	for i := 0; i < root.NumField(); i++ {
		sections[strings.ToUpper(yamlName(root.Type().Field(i)))] = true
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "SCOPE_") {
			continue
		}
		f, ok := fields[k]
		if !ok {
			sec, _, _ := strings.Cut(strings.TrimPrefix(k, "SCOPE_"), "_")
			if sections[sec] {
				return fmt.Errorf("environment variable %s names no setting (see `scope config print` for the keys)", k)
			}
			continue
		}
		if err := setFromString(f, v); err != nil {
			return fmt.Errorf("environment variable %s (%s): %w", k, names[k], err)
		}
	}
	return nil
}

func yamlName(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if n == "" {
		return strings.ToLower(f.Name)
	}
	return n
}

func setFromString(f reflect.Value, s string) error {
	if f.Type() == reflect.TypeOf(Duration(0)) {
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		f.SetInt(int64(n))
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", s)
		}
		f.SetFloat(x)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		f.SetBool(b)
	case reflect.Map:
		// domain=file,domain=file
		m := reflect.MakeMap(f.Type())
		for _, kv := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fmt.Errorf("want name=path[,name=path...], got %q", s)
			}
			m.SetMapIndex(reflect.ValueOf(strings.TrimSpace(k)), reflect.ValueOf(strings.TrimSpace(v)))
		}
		f.Set(m)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// FieldError is a validation error for one field.
type FieldError struct {
	Field   string // YAML path, e.g. "pose.complexity"
	Problem string // what is wrong and what is allowed
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate checks every field and returns all problems at once (errors.Join of
// *FieldError).
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	oneOf := func(field, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(field, "%q is not allowed; use one of %s", v, strings.Join(allowed, ", "))
	}
	if c.Capture.Width < 0 || c.Capture.Height < 0 {
		bad("capture.width/height", "must be 0 (source's own) or positive, got %dx%d", c.Capture.Width, c.Capture.Height)
	}
	if c.Capture.FPS < 0 || c.Capture.FPS > 240 {
		bad("capture.fps", "must be between 0 (unpaced) and 240, got %g", c.Capture.FPS)
	}
	if c.Capture.Buffer < 1 || c.Capture.Buffer > 1024 {
		bad("capture.buffer", "must be between 1 and 1024 frames, got %d", c.Capture.Buffer)
	}
	if c.Capture.Reconnect < 0 {
		bad("capture.reconnect", "must be 0 (give up) or a positive duration, got %s", c.Capture.Reconnect)
	}
	oneOf("pose.complexity", c.Pose.Complexity, "lite", "full", "heavy")
	oneOf("pose.hand_model", c.Pose.HandModel, "full", "lite")
	if c.SLR.BeamWidth < 1 || c.SLR.BeamWidth > 256 {
		bad("slr.beam_width", "must be between 1 and 256, got %d", c.SLR.BeamWidth)
	}
	if c.SLR.TopK < 1 || c.SLR.TopK > c.SLR.BeamWidth {
		bad("slr.top_k", "must be between 1 and slr.beam_width (%d), got %d", c.SLR.BeamWidth, c.SLR.TopK)
	}
	if c.SLT.MaxTokens < 1 || c.SLT.MaxTokens > 4096 {
		bad("slt.max_tokens", "must be between 1 and 4096, got %d", c.SLT.MaxTokens)
	}
	if c.SLT.ContextTokens < 0 {
		bad("slt.context_tokens", "must be 0 (no context) or positive, got %d", c.SLT.ContextTokens)
	}
	if c.SLT.LoRAScale < 0 || c.SLT.LoRAScale > 4 {
		bad("slt.lora_scale", "must be between 0 and 4, got %g", c.SLT.LoRAScale)
	}
	if c.SLT.Domain != "" {
		if _, ok := c.SLT.Adapters[c.SLT.Domain]; !ok && c.SLT.Model != "" {
			bad("slt.domain", "%q has no adapter in slt.adapters", c.SLT.Domain)
		}
	}
	if c.SLT.Threads < 0 {
		bad("slt.threads", "must be 0 (from edge.threads) or positive, got %d", c.SLT.Threads)
	}
	if c.Dialogue.Retention < 0 {
		bad("dialogue.retention", "must be 0 (keep until wiped) or a positive duration, got %s", c.Dialogue.Retention)
	}
	if c.Dialogue.ContextTurns < 0 || c.Dialogue.ContextTurns > 1000 {
		bad("dialogue.context_turns", "must be between 0 and 1000, got %d", c.Dialogue.ContextTurns)
	}
	if c.Dialogue.ContextTokens < 0 {
		bad("dialogue.context_tokens", "must be 0 or positive, got %d", c.Dialogue.ContextTokens)
	}
	if c.Edge.Threads < 0 {
		bad("edge.threads", "must be 0 (all CPUs) or positive, got %d", c.Edge.Threads)
	}
	oneOf("edge.provider", c.Edge.Provider, "auto", "cpu", "cuda", "tensorrt")
	if c.Daemon.Listen == "" {
		bad("daemon.listen", "must be host:port, for example 127.0.0.1:8580")
	} else if !strings.Contains(c.Daemon.Listen, ":") {
		bad("daemon.listen", "%q must be host:port, for example 127.0.0.1:8580", c.Daemon.Listen)
	}
	if (c.Daemon.TLSCert == "") != (c.Daemon.TLSKey == "") {
		bad("daemon.tls_cert/tls_key", "set both or neither")
	}
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("ota.clock", c.OTA.Clock, "system", "untrusted")
	if c.OTA.Poll < Duration(time.Minute) {
		bad("ota.poll", "must be at least 1m, got %s", c.OTA.Poll)
	}
	if c.OTA.MaxBundleMB < 1 {
		bad("ota.max_bundle_mb", "must be at least 1, got %d", c.OTA.MaxBundleMB)
	}
	if c.OTA.ProbationSentences < 1 || c.OTA.ProbationSentences > 10000 {
		bad("ota.probation_sentences", "must be between 1 and 10000, got %d", c.OTA.ProbationSentences)
	}
	return errors.Join(errs...)
}

// YAML renders the configuration as a YAML document.
func (c Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// DataDir is where SCOPE keeps its state (the dialogue store, OTA slots):
// $SCOPE_DATA_DIR, else $XDG_DATA_HOME/scope, else ~/.local/share/scope.
func DataDir() string {
	if d := os.Getenv("SCOPE_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "scope")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "scope")
	}
	return "scope-data"
}

// DialoguePath is dialogue.path, or its default under DataDir.
func (c Config) DialoguePath() string {
	if c.Dialogue.Path != "" {
		return c.Dialogue.Path
	}
	return filepath.Join(DataDir(), "dialogue.db")
}
