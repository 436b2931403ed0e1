package llamacpp

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
)

var (
	fuzzOnce sync.Once
	fuzzSrc  string
	fuzzErr  error
)

// FuzzHyperparameters sets the hyperparameters and tokenizer keys llama.cpp reads to
// arbitrary values on a tiny llama and loads it in this process: whatever LoadModel lets
// through must load, take a context and decode without llama.cpp aborting the process
// (an abort ends the fuzzer with the input that caused it). Seeds: the model's own
// values and the edits that used to abort (testdata/fuzz/FuzzHyperparameters).
func FuzzHyperparameters(f *testing.F) {
	f.Add(uint32(2), uint32(64), uint32(128), uint32(4), uint32(2), uint32(16), float32(1e-5), float32(10000), "llama", "llama", "linear", uint32(512))
	f.Fuzz(func(t *testing.T, blocks, embd, ff, heads, kvHeads, rot uint32, eps, freqBase float32, arch, tokenizer, ropeScaling string, ctxLen uint32) {
		fuzzOnce.Do(func() {
			dir, err := os.MkdirTemp("", "fuzz-llama-")
			if err != nil {
				fuzzErr = err
				return
			}
			m, err := tinyllama.New(tinyllama.Default())
			if err != nil {
				fuzzErr = err
				return
			}
			fuzzSrc = filepath.Join(dir, "src.gguf")
			fuzzErr = m.WriteGGUF(fuzzSrc, gguf.F32)
		})
		if fuzzErr != nil {
			t.Fatal(fuzzErr)
		}
		p := filepath.Join(t.TempDir(), "m.gguf")
		err := gguf.Rewrite(fuzzSrc, p, func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			set := func(key string, v any) {
				for i := range kv {
					if kv[i].Key == key {
						kv[i].Value = v
						return
					}
				}
				kv = append(kv, gguf.KV{Key: key, Value: v})
			}
			set("llama.block_count", blocks)
			set("llama.embedding_length", embd)
			set("llama.feed_forward_length", ff)
			set("llama.attention.head_count", heads)
			set("llama.attention.head_count_kv", kvHeads)
			set("llama.rope.dimension_count", rot)
			set("llama.attention.layer_norm_rms_epsilon", eps)
			set("llama.rope.freq_base", freqBase)
			set("llama.rope.scaling.type", ropeScaling)
			set("llama.context_length", ctxLen)
			set("general.architecture", arch)
			set("tokenizer.ggml.model", tokenizer)
			return kv, ts
		})
		if err != nil {
			return // a key Write refuses (an invalid string)
		}
		m, err := LoadModel(p, ModelParams{})
		if err != nil {
			return
		}
		defer m.Close()
		c, err := NewContext(m, ContextParams{Context: 64})
		if err != nil {
			return
		}
		defer c.Close()
		toks, err := m.Tokenize("der regen im norden", true, false)
		if err != nil {
			return
		}
		_ = c.Decode(context.Background(), toks, 0, false)
	})
}
