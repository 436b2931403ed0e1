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
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
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
	Token   string `yaml:"token" secret:"true"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// IdleTimeout ends a conversation after this long without signing or a reply;
	// 0 keeps it open until it is ended.
	IdleTimeout Duration `yaml:"idle_timeout"`
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

// Bounds shared with the code that reads these settings.
const (
	// MaxImageSide bounds capture.width/height and every frame a source delivers: a
	// 16000x12000 image takes 576 MB as BGR before the pose models see it.
	MaxImageSide = 8192
	// MinReconnect is the shortest capture.reconnect: a missing camera retried every
	// nanosecond busy-loops and floods the log.
	MinReconnect = 100 * time.Millisecond
	MaxReconnect = 24 * time.Hour
	// MaxContextTokens bounds the context settings (far above any model's window).
	MaxContextTokens = 1 << 16
)

// Redacted is what Redact and `scope config print` show in place of a secret.
const Redacted = "<hidden>"

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		Capture:  Capture{Buffer: 4, Reconnect: Duration(2 * time.Second)},
		Pose:     Pose{Complexity: "lite", HandModel: "full", Smoothing: true},
		SLR:      SLR{BeamWidth: 8, TopK: 3},
		SLT:      SLT{LoRAScale: 1, MaxTokens: 48, ContextTokens: 256},
		Dialogue: Dialogue{Retention: Duration(30 * 24 * time.Hour), ContextTurns: 6, ContextTokens: 256},
		Edge:     Edge{Provider: "auto"},
		Daemon:   Daemon{Listen: "127.0.0.1:8580", IdleTimeout: Duration(3 * time.Minute)},
		OTA:      OTA{Poll: Duration(time.Hour), Clock: "system", MaxBundleMB: 4096, ProbationSentences: 10},
		Log:      Log{Level: "info"},
	}
}

// Load returns Default() overlaid by the YAML file at path (if path is not empty) and
// by the environment, validated.
//
// Every problem comes back at once: a value that does not parse keeps its default, so
// the values that did parse are still validated (a bad duration used to hide an
// out-of-range number elsewhere in the file).
func Load(path string) (Config, error) {
	c := Default()
	var errs []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := c.overlayYAML(data); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.overlayEnv(os.Environ()); err != nil {
		errs = append(errs, err)
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return c, nil
	}
	errs = append(errs, errors.New("(see `scope config print` for every key and its default)"))
	if path != "" {
		return c, fmt.Errorf("config %s: %w", path, errors.Join(errs...))
	}
	return c, errors.Join(errs...)
}

// overlayYAML applies a YAML document key by key, so that one bad value (a duration
// that does not parse, a word where a number belongs, an unknown key) does not hide the
// others: every problem comes back, each with its line and its section.key.
func (c *Config) overlayYAML(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want sections such as capture:, slt:, dialogue: at the top level", root.Line)
	}
	var errs []error
	rv := reflect.ValueOf(c).Elem()
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		sec, ok := fieldByYAML(rv, k.Value)
		if !ok {
			errs = append(errs, fmt.Errorf("line %d: unknown section %q; the sections are %s", k.Line, k.Value, strings.Join(yamlNames(rv.Type()), ", ")))
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue // an empty section keeps its defaults
		}
		if v.Kind != yaml.MappingNode {
			errs = append(errs, fmt.Errorf("line %d: %s: want a section of keys (key: value), got %q", v.Line, k.Value, v.Value))
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			kk, vv := v.Content[j], v.Content[j+1]
			name := k.Value + "." + kk.Value
			f, ok := fieldByYAML(sec, kk.Value)
			if !ok {
				errs = append(errs, fmt.Errorf("line %d: unknown key %s; the keys of %s are %s", kk.Line, name, k.Value, strings.Join(yamlNames(sec.Type()), ", ")))
				continue
			}
			if err := decodeField(f, vv); err != nil {
				errs = append(errs, fmt.Errorf("line %d: %s: %w", vv.Line, name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// decodeField decodes one value into a field, into a scratch copy first so that a value
// that fails leaves the default in place.
func decodeField(f reflect.Value, n *yaml.Node) error {
	tmp := reflect.New(f.Type())
	tmp.Elem().Set(f)
	if err := n.Decode(tmp.Interface()); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("want %s, got %q", kindName(f), n.Value)
		}
		return err
	}
	f.Set(tmp.Elem())
	return nil
}

func kindName(f reflect.Value) string {
	switch f.Kind() {
	case reflect.Int, reflect.Int64:
		if f.Type() == reflect.TypeOf(Duration(0)) {
			return "a duration such as 30d, 12h or 90s"
		}
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Map:
		return "a map of name: path"
	}
	return "text"
}

func fieldByYAML(v reflect.Value, name string) (reflect.Value, bool) {
	for i := 0; i < v.NumField(); i++ {
		if yamlName(v.Type().Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func yamlNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		out = append(out, yamlName(t.Field(i)))
	}
	return out
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
	// Every numeric bound is written so that NaN fails it: NaN compares false with
	// everything, so `x < lo || x > hi` would let it through.
	within := func(field string, v, lo, hi float64, allowed string) {
		if !(v >= lo && v <= hi) {
			bad(field, "must be %s, got %g", allowed, v)
		}
	}
	cpus := runtime.NumCPU()
	threads := func(field string, n int, zero string) {
		if n < 0 || n > cpus {
			bad(field, "%d is not allowed: this machine has %d CPUs; use 0 (%s) or 1 to %d", n, cpus, zero, cpus)
		}
	}
	if c.Capture.Width < 0 || c.Capture.Height < 0 || c.Capture.Width > MaxImageSide || c.Capture.Height > MaxImageSide {
		bad("capture.width/height", "must be 0 (source's own) or 1 to %d, got %dx%d", MaxImageSide, c.Capture.Width, c.Capture.Height)
	}
	within("capture.fps", c.Capture.FPS, 0, 240, "between 0 (unpaced) and 240")
	if c.Capture.Buffer < 1 || c.Capture.Buffer > 1024 {
		bad("capture.buffer", "must be between 1 and 1024 frames, got %d", c.Capture.Buffer)
	}
	if r := time.Duration(c.Capture.Reconnect); r != 0 && (r < MinReconnect || r > MaxReconnect) {
		bad("capture.reconnect", "must be 0 (give up) or between %s and %s, got %s", MinReconnect, MaxReconnect, c.Capture.Reconnect)
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
	if c.SLT.ContextTokens < 0 || c.SLT.ContextTokens > MaxContextTokens {
		bad("slt.context_tokens", "must be 0 (no context) or up to %d, got %d", MaxContextTokens, c.SLT.ContextTokens)
	}
	within("slt.lora_scale", c.SLT.LoRAScale, 0, 4, "between 0 and 4")
	if c.SLT.Domain != "" {
		if _, ok := c.SLT.Adapters[c.SLT.Domain]; !ok && c.SLT.Model != "" {
			bad("slt.domain", "%q has no adapter in slt.adapters", c.SLT.Domain)
		}
	}
	for name, path := range c.SLT.Adapters {
		if strings.TrimSpace(name) == "" || path == "" {
			bad("slt.adapters", "every entry needs a domain name and a GGUF file, got %q: %q", name, path)
		}
	}
	threads("slt.threads", c.SLT.Threads, "from edge.threads")
	if c.Dialogue.Retention < 0 {
		bad("dialogue.retention", "must be 0 (keep until wiped) or a positive duration, got %s", c.Dialogue.Retention)
	}
	if c.Dialogue.ContextTurns < 0 || c.Dialogue.ContextTurns > 1000 {
		bad("dialogue.context_turns", "must be between 0 and 1000, got %d", c.Dialogue.ContextTurns)
	}
	if c.Dialogue.ContextTokens < 0 || c.Dialogue.ContextTokens > MaxContextTokens {
		bad("dialogue.context_tokens", "must be 0 or up to %d, got %d", MaxContextTokens, c.Dialogue.ContextTokens)
	}
	threads("edge.threads", c.Edge.Threads, "all CPUs")
	oneOf("edge.provider", c.Edge.Provider, "auto", "cpu", "cuda", "tensorrt")
	if c.Daemon.Listen == "" {
		bad("daemon.listen", "must be host:port, for example 127.0.0.1:8580")
	} else if _, port, err := net.SplitHostPort(c.Daemon.Listen); err != nil {
		bad("daemon.listen", "%q must be host:port, for example 127.0.0.1:8580", c.Daemon.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("daemon.listen", "port %q must be a number from 0 to 65535", port)
	}
	if c.Daemon.Token == Redacted {
		bad("daemon.token", "is the placeholder `scope config print` shows in place of the token; write the real token (or set SCOPE_DAEMON_TOKEN)")
	}
	if c.Daemon.IdleTimeout < 0 {
		bad("daemon.idle_timeout", "must be 0 (never) or a positive duration, got %s", c.Daemon.IdleTimeout)
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

// Redact returns a copy with every secret (fields tagged secret:"true", such as
// daemon.token) that is set replaced by Redacted, for printing and logging.
func (c Config) Redact() Config {
	rv := reflect.ValueOf(&c).Elem()
	for i := 0; i < rv.NumField(); i++ {
		sec := rv.Field(i)
		for j := 0; j < sec.NumField(); j++ {
			if sec.Type().Field(j).Tag.Get("secret") == "true" && sec.Field(j).String() != "" {
				sec.Field(j).SetString(Redacted)
			}
		}
	}
	return c
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
// $SCOPE_DATA_DIR, else $SCOPE_HOME/data, else $XDG_DATA_HOME/scope, else ~/.local/share/scope.
func DataDir() string {
	if d := os.Getenv("SCOPE_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("SCOPE_HOME"); d != "" {
		return filepath.Join(d, "data")
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
