package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeBundle writes a bundle with one model file and returns its folder.
func writeBundle(t *testing.T, edit func(m map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	model := []byte("not really onnx, but hashed like one")
	if err := os.WriteFile(filepath.Join(dir, "slr.onnx"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(model)
	dim := 4*3 + 2
	ones := make([]float32, dim)
	for i := range ones {
		ones[i] = 1
	}
	m := map[string]any{
		"format": "scope-bundle/1", "name": "test", "version": "1.2.3", "min_scope_version": "0.1.0",
		"files": []any{map[string]any{"role": "slr", "path": "slr.onnx", "precision": "fp32",
			"sha256": hex.EncodeToString(sum[:]), "bytes": len(model),
			"inputs":  []any{map[string]any{"name": "features", "type": "float32", "shape": []any{1, "frames", dim}}},
			"outputs": []any{map[string]any{"name": "log_probs", "type": "float32", "shape": []any{1, "steps", 3}}}}},
		"slr": map[string]any{"glosses": []string{"<blank>", "A", "B"}, "blank": 0, "frame_stride": 4, "context": false,
			"features": map[string]any{"name": "scope-slr-keypoints", "version": 1, "points": []int{11, 12, 501},
				"left_hand": []int{501, 522}, "right_hand": []int{522, 543}, "ref_fps": 25, "dim": dim,
				"mean": make([]float32, dim), "std": ones},
			"context_tokenizer": nil},
		"ota": map[string]any{"channel": "stable"},
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadVerifyAndKeepUnknownSections(t *testing.T) {
	dir := writeBundle(t, nil)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(); err != nil {
		t.Fatal(err)
	}
	f, err := m.FileFor("slr", "fp32")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Inputs[0].Shape[1].String(); got != "frames" {
		t.Errorf("dynamic dim %q, want frames", got)
	}
	if _, err := m.FileFor("slr", "int8"); err == nil || !strings.Contains(err.Error(), "fp32") {
		t.Errorf("missing int8: %v, want an error listing fp32", err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"ota":{"channel":"stable"}`) {
		t.Errorf("unknown section lost on write: %s", b)
	}
	if err := m.CheckScopeVersion("0.0.9"); err == nil {
		t.Error("scope 0.0.9 accepted for a bundle that needs 0.1.0")
	}
	if err := m.CheckScopeVersion("v0.2.0"); err != nil {
		t.Error(err)
	}
}

func TestVerifyFindsTamperedFiles(t *testing.T) {
	dir := writeBundle(t, nil)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slr.onnx"), []byte("not really onnx, but hashed like onE"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(); !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v, want ErrTampered", err)
	}
}

func TestInvalidManifestsNameTheField(t *testing.T) {
	file := func(m map[string]any) map[string]any { return m["files"].([]any)[0].(map[string]any) }
	slr := func(m map[string]any) map[string]any { return m["slr"].(map[string]any) }
	for _, c := range []struct {
		field string
		edit  func(m map[string]any)
	}{
		{"format", func(m map[string]any) { m["format"] = "scope-bundle/2" }},
		{"version", func(m map[string]any) { m["version"] = "latest" }},
		{"min_scope_version", func(m map[string]any) { delete(m, "min_scope_version") }},
		{"files[0].path", func(m map[string]any) { file(m)["path"] = "../../etc/passwd" }},
		{"files[0].sha256", func(m map[string]any) { file(m)["sha256"] = "abc" }},
		{"slr.blank", func(m map[string]any) { slr(m)["blank"] = 7 }},
		{"slr.features.mean/std", func(m map[string]any) {
			slr(m)["features"].(map[string]any)["mean"] = []float32{0}
		}},
		{"slr.context_tokenizer", func(m map[string]any) { slr(m)["context"] = true }},
	} {
		dir := writeBundle(t, c.edit)
		_, err := Load(dir)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), ManifestName) {
			t.Errorf("%s: got %v, want ErrInvalid naming the file and the field", c.field, err)
		}
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("a folder without manifest.json loaded")
	}
}

func TestMinScopeVersionEnforcedAtLoad(t *testing.T) {
	dir := writeBundle(t, func(m map[string]any) { m["min_scope_version"] = "99.0.0" })
	_, err := Load(dir)
	if !errors.Is(err, ErrTooNew) || !strings.Contains(err.Error(), "99.0.0") {
		t.Fatalf("err %v, want ErrTooNew naming 99.0.0", err)
	}
}

func TestSectionsAndRoles(t *testing.T) {
	dir := writeBundle(t, func(m map[string]any) {
		m["format"] = "scope-bundle/1.7" // a later minor revision is still read
		m["gate"] = map[string]any{"min_confidence": 0.7}
	})
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var gate struct {
		MinConfidence float64 `json:"min_confidence"`
	}
	if ok, err := m.Section("gate", &gate); !ok || err != nil || gate.MinConfidence != 0.7 {
		t.Fatalf("gate section %v %v %+v", ok, err, gate)
	}
	if err := m.SetSection("slr", 1); err == nil {
		t.Error("SetSection overwrote a modelled section")
	}
	if !m.HasRole(RoleSLR) || m.HasRole(RolePose) || len(m.Hash()) != 64 {
		t.Errorf("roles %v hash %q", m.Roles(), m.Hash())
	}
	// A pose section needs pose files; an adapter must be a file of the bundle.
	for name, edit := range map[string]func(map[string]any){
		"pose without files": func(m map[string]any) {
			m["pose"] = map[string]any{"dir": "pose", "complexity": "lite", "hand_model": "full"}
		},
		"adapter not in files": func(m map[string]any) {
			m["slt"] = map[string]any{"adapters": map[string]any{"pharmacy": "lora.gguf"}}
		},
		"golden not in files": func(m map[string]any) { m["golden"] = map[string]any{"expected": "golden/expected.json"} },
		"major 2":             func(m map[string]any) { m["format"] = "scope-bundle/2" },
	} {
		if _, err := Load(writeBundle(t, edit)); !errors.Is(err, ErrInvalid) && !strings.Contains(err.Error(), "reads") {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	dir := writeBundle(t, nil)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lexicon.tsv"), []byte("HELLO\thello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddFile("lexicon", "lexicon.tsv", ""); err != nil {
		t.Fatal(err)
	}
	if err := m.Write(); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Verify(); err != nil {
		t.Fatal(err)
	}
	if m2.Hash() != m.Hash() || !m2.HasRole("lexicon") || !strings.Contains(string(m2.Other["ota"]), `"stable"`) {
		t.Errorf("round trip lost something: hash %s vs %s, roles %v, other %s", m2.Hash(), m.Hash(), m2.Roles(), m2.Other["ota"])
	}
}
