package slr

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModelThatDoesNotFitItsManifestIsRefusedAtLoad edits the demo bundle's manifest so
// that it no longer describes its model: Open must refuse it, naming the model file and
// what does not fit, instead of failing at the first sentence.
func TestModelThatDoesNotFitItsManifestIsRefusedAtLoad(t *testing.T) {
	src, err := DefaultBundleDir()
	if err != nil {
		t.Skip(err)
	}
	raw, err := os.ReadFile(filepath.Join(src, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(m map[string]any)
	}{
		{"gloss list of another model", "classes, slr.glosses has", func(m map[string]any) {
			s := m["slr"].(map[string]any)
			g := s["glosses"].([]any)
			s["glosses"] = g[:len(g)-1]
		}},
		{"declared output shape", "the manifest says", func(m map[string]any) {
			f := m["files"].([]any)[0].(map[string]any)
			o := f["outputs"].([]any)[0].(map[string]any)
			o["shape"] = []any{1, "steps", 999}
		}},
		{"declared input name", `the manifest says "frames_in"`, func(m map[string]any) {
			f := m["files"].([]any)[0].(map[string]any)
			i := f["inputs"].([]any)[0].(map[string]any)
			i["name"] = "frames_in"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			b, _ := json.Marshal(m)
			os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644)
			for _, f := range []string{"slr.onnx", "slr.int8.onnx"} {
				if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
					t.Fatal(err)
				}
			}
			r, err := Open(dir, Options{Precision: "fp32"})
			if err == nil {
				r.Close()
				t.Fatal("opened")
			}
			for _, w := range []string{filepath.Join(dir, "slr.onnx"), tc.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}
