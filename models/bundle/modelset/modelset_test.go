package modelset

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"scope/internal/assets"
	"scope/models/bundle"
)

var (
	built    string
	builtErr error
	once     sync.Once
)

// demoBundle builds one bundle of the demo recogniser and translator (no pose models:
// small and quick) for every test of this package; tests copy it before changing it.
func demoBundle(t *testing.T) string {
	t.Helper()
	once.Do(func() {
		dir, err := os.MkdirTemp("", "modelset-test-")
		if err != nil {
			builtErr = err
			return
		}
		built = filepath.Join(dir, "bundle")
		_, builtErr = Build(context.Background(), BuildOptions{Out: built, Version: "1.0.0", NoPose: true, GoldenSentences: 2})
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

func copyBundle(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "b")
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestBuildThenCheckPasses(t *testing.T) {
	dir := demoBundle(t)
	m, err := bundle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Roles(), ","); got != "golden,lexicon,slr,slt,slt-adapter" {
		t.Errorf("roles %s, want golden,lexicon,slr,slt,slt-adapter", got)
	}
	if m.Name != "scope-demo" || m.Version != "1.0.0" || m.Format != bundle.FormatRevision || len(m.Hash()) != 64 {
		t.Errorf("manifest %s %s %s hash %q", m.Name, m.Version, m.Format, m.Hash())
	}
	e, err := ReadExpected(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.SLR) != 2 || len(e.SLT) < 3 {
		t.Fatalf("golden: %d sentences and %d translations, want 2 and one per adapter (3)", len(e.SLR), len(e.SLT))
	}
	for _, c := range e.SLR {
		if strings.Join(c.Top1["fp32"], " ") != strings.Join(c.Meant, " ") || len(c.Top1["int8"]) == 0 {
			t.Errorf("golden sentence %s: top-1 %v, meant %v", c.Input, c.Top1, c.Meant)
		}
	}
	rep, err := CheckDir(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 2 sentences x 2 precisions + the translations.
	if n := len(rep.Results); n != 4+len(e.SLT) {
		t.Errorf("%d golden results, want %d", n, 4+len(e.SLT))
	}
}

func TestGoldenDifferenceFails(t *testing.T) {
	dir := copyBundle(t, demoBundle(t))
	m, err := bundle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ReadExpected(m)
	if err != nil {
		t.Fatal(err)
	}
	e.SLR[0].Top1["int8"] = []string{"HELLO"}
	e.SLT[0].Text = "A sentence the translator never wrote."
	b, _ := json.Marshal(e)
	if err := os.WriteFile(filepath.Join(dir, ExpectedName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddFile(bundle.RoleGolden, ExpectedName, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.Write(); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckDir(context.Background(), dir, Options{})
	if !errors.Is(err, ErrGolden) {
		t.Fatalf("err %v, want ErrGolden", err)
	}
	f := rep.Failed()
	if len(f) != 2 || !strings.HasPrefix(f[0].Case, "slr int8") || !strings.HasPrefix(f[1].Case, "slt ") {
		t.Fatalf("failed cases %+v, want the int8 sentence and the first translation", f)
	}
	if !strings.Contains(err.Error(), "recorded HELLO") {
		t.Errorf("error does not say what was recorded: %v", err)
	}
}

func TestModelThatDoesNotLoadFails(t *testing.T) {
	dir := copyBundle(t, demoBundle(t))
	m, err := bundle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.FileFor(bundle.RoleSLT, "")
	if err != nil {
		t.Fatal(err)
	}
	// A GGUF cut short, re-hashed: the manifest matches, the model does not load.
	p := m.Path(f)
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, b[:len(b)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddFile(bundle.RoleSLT, f.Path, f.Precision); err != nil {
		t.Fatal(err)
	}
	if err := m.Write(); err != nil {
		t.Fatal(err)
	}
	_, err = CheckDir(context.Background(), dir, Options{})
	if !errors.Is(err, ErrLoad) || !strings.Contains(err.Error(), f.Path[strings.LastIndex(f.Path, "/")+1:]) {
		t.Fatalf("err %v, want ErrLoad naming %s", err, f.Path)
	}
}

func TestTamperedFileRefusedBeforeLoading(t *testing.T) {
	dir := copyBundle(t, demoBundle(t))
	p := filepath.Join(dir, "slr", "slr.int8.onnx")
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{})
	if !errors.Is(err, bundle.ErrTampered) {
		t.Fatalf("err %v, want ErrTampered", err)
	}
}

func TestBuildRefusesNonEmptyOut(t *testing.T) {
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "x"), []byte("x"), 0o644)
	if _, err := Build(context.Background(), BuildOptions{Out: out, NoPose: true}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err %v, want a refusal to write into a non-empty folder", err)
	}
}

// A bundle of every model the device runs: the Holistic pose ONNX set (converted from
// MediaPipe's models in the cache) beside the recogniser in both precisions and the
// translator with its adapters; its golden check covers the pose models on a real
// photograph as well.
func TestBuildWithPoseModelsThenCheckPasses(t *testing.T) {
	need := func(err error) {
		if err == nil {
			return
		}
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	_, err := os.Stat(DefaultGoldenImage)
	need(err)
	_, err = assets.MediaPipeModel("pose_landmark_lite.tflite")
	need(err)
	out := filepath.Join(t.TempDir(), "b")
	if _, err := Build(context.Background(), BuildOptions{Out: out, Version: "1.0.0", GoldenSentences: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := bundle.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Roles(), ","); got != "golden,lexicon,pose,slr,slt,slt-adapter" {
		t.Errorf("roles %s, want golden,lexicon,pose,slr,slt,slt-adapter", got)
	}
	rep, err := CheckDir(context.Background(), out, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	pose := 0
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Case, "pose ") && r.OK {
			pose++
		}
	}
	if pose == 0 || len(rep.Failed()) > 0 {
		t.Fatalf("golden check: %+v", rep.Results)
	}
}
