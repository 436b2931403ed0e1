package llamacpp

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"scope/models/slt/convert"
	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
)

// TestAdapterSwitching switches adapters and scales between batches of the same shape, where
// llama.cpp would reuse its previous compute graph (with the old adapters) unless told not to.
func TestAdapterSwitching(t *testing.T) {
	dir := t.TempDir()
	m0, err := tinyllama.New(tinyllama.Default())
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.gguf")
	if err := m0.WriteGGUF(base, gguf.F32); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := 0; i < 2; i++ {
		peft := filepath.Join(dir, fmt.Sprint("peft", i))
		if err := m0.WriteAdapter(peft, 4, []string{"q_proj", "v_proj"}, 0.3, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, fmt.Sprint("a", i, ".gguf"))
		if err := convert.Adapter(peft, base, out); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, out)
	}
	m, err := LoadModel(base, ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a, err := m.LoadAdapter(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := m.LoadAdapter(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := m.LoadAdapter(base); err == nil {
		t.Error("a model file was accepted as an adapter")
	}
	for _, emb := range []bool{false, true} {
		c, err := NewContext(m, ContextParams{Context: 128, Embeddings: emb})
		if err != nil {
			t.Fatal(err)
		}
		toks := []Token{1, 300, 301, 302, 40}
		run := func() []float32 {
			c.ClearMemory()
			if err := c.Decode(context.Background(), toks, 0, emb); err != nil {
				t.Fatal(err)
			}
			if emb {
				return c.Embedding(len(toks) - 1)
			}
			return c.Logits(-1)
		}
		same := func(x, y []float32) bool {
			for i := range x {
				if math.Abs(float64(x[i]-y[i])) > 1e-4 {
					return false
				}
			}
			return true
		}
		base := run()
		steps := []struct {
			name   string
			do     func()
			sameAs string
		}{
			{"a at 1", func() { c.SetAdapter(a, 1) }, ""},
			{"a at 0", func() { c.SetAdapter(a, 0) }, "base"},
			{"a at 1 again", func() { c.SetAdapter(a, 1) }, "a at 1"},
			{"cleared", func() { c.ClearAdapters() }, "base"},
			{"b at 1", func() { c.SetAdapter(b, 1) }, ""},
			{"a and b", func() { c.SetAdapter(a, 1) }, ""},
			{"b removed", func() { c.RemoveAdapter(b) }, "a at 1"},
		}
		got := map[string][]float32{"base": base}
		for _, s := range steps {
			s.do()
			out := run()
			got[s.name] = out
			if s.sameAs != "" && !same(out, got[s.sameAs]) {
				t.Errorf("embeddings=%v: %s: output differs from %s", emb, s.name, s.sameAs)
			}
			if s.sameAs == "" && same(out, base) {
				t.Errorf("embeddings=%v: %s: output equals the base model's", emb, s.name)
			}
		}
		if same(got["b at 1"], got["a at 1"]) || same(got["a and b"], got["b at 1"]) {
			t.Errorf("embeddings=%v: different adapters give the same output", emb)
		}
		c.Close()
	}
}
