package slt

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
)

// faultyModel writes the tiny F32 model with edit applied.
func faultyModel(t *testing.T, edit func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor)) string {
	t.Helper()
	cfg := tinyllama.Default()
	cfg.ChatTemplate = false
	m, err := tinyllama.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.gguf"), filepath.Join(dir, "faulty.gguf")
	if err := m.WriteGGUF(src, gguf.F32); err != nil {
		t.Fatal(err)
	}
	if err := gguf.Rewrite(src, dst, edit); err != nil {
		t.Fatal(err)
	}
	return dst
}

func fillF32(ts []gguf.Tensor, name string, v float32) {
	for i := range ts {
		if ts[i].Name == name {
			for j := 0; j+4 <= len(ts[i].Data); j += 4 {
				binary.LittleEndian.PutUint32(ts[i].Data[j:], math.Float32bits(v))
			}
		}
	}
}

// TestNonFiniteLogitsAreAnError: weights that are finite but overflow (so the load-time
// data check passes them) make every logit NaN; Translate must say so, naming the model,
// instead of returning a blank sentence.
func TestNonFiniteLogitsAreAnError(t *testing.T) {
	p := faultyModel(t, func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
		fillF32(ts, "output_norm.weight", 3e38)
		fillF32(ts, "blk.1.ffn_norm.weight", 3e38)
		return kv, ts
	})
	tr, err := Open(Config{Model: p, MaxTokens: 8, Context: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, err = tr.Translate(context.Background(), nil, hyps, nil)
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want ErrNonFinite naming %s", err, p)
	}
}

// TestEmptyTranslationIsAnError: a model whose first choice is the end of the sentence
// writes nothing; Translate returns ErrEmpty with the result, not "" and no error.
func TestEmptyTranslationIsAnError(t *testing.T) {
	p := faultyModel(t, func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
		fillF32(ts, "output_norm.weight", 0) // every logit 0: greedy takes token 0
		for i := range kv {
			switch kv[i].Key {
			case "tokenizer.ggml.eos_token_id":
				kv[i].Value = uint32(0) // ... and token 0 ends the sentence
			case "tokenizer.ggml.unknown_token_id":
				kv[i].Value = uint32(tinyllama.EOS)
			}
		}
		return kv, ts
	})
	tr, err := Open(Config{Model: p, MaxTokens: 8, Context: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	res, err := tr.Translate(context.Background(), nil, hyps, nil)
	if !errors.Is(err, ErrEmpty) || res.StoppedBy != "eos" || !strings.Contains(err.Error(), p) {
		t.Fatalf("res %+v, err = %v; want ErrEmpty naming the model", res, err)
	}
}

func TestLoRAScaleMustBeANumber(t *testing.T) {
	f := tiny(t)
	tr, err := Open(Config{Model: f.plain, Adapters: map[string]string{"a": f.adapterA}, MaxTokens: 4, Context: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, s := range []float32{float32(math.NaN()), float32(math.Inf(1)), -1, 5} {
		if err := tr.SetDomain("a", s); err == nil || !strings.Contains(err.Error(), "slt.lora_scale") {
			t.Errorf("scale %v: err = %v", s, err)
		}
	}
	if err := tr.SetDomain("a", 1); err != nil {
		t.Fatal(err)
	}
}
