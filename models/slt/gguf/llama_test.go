package gguf_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
)

// tinyModel writes the tiny random llama (F16) and returns its path.
func tinyModel(t *testing.T) string {
	t.Helper()
	m, err := tinyllama.New(tinyllama.Default())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := m.WriteGGUF(p, gguf.F16); err != nil {
		t.Fatal(err)
	}
	return p
}

func setKV(kv []gguf.KV, key string, v any) []gguf.KV {
	for i := range kv {
		if kv[i].Key == key {
			kv[i].Value = v
			return kv
		}
	}
	return append(kv, gguf.KV{Key: key, Value: v})
}

func dropKV(kv []gguf.KV, key string) []gguf.KV {
	var out []gguf.KV
	for _, x := range kv {
		if x.Key != key {
			out = append(out, x)
		}
	}
	return out
}

type edit func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor)

func meta(key string, v any) edit {
	return func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) { return setKV(kv, key, v), ts }
}

func drop(key string) edit {
	return func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) { return dropKV(kv, key), ts }
}

func tensors(f func(ts []gguf.Tensor) []gguf.Tensor) edit {
	return func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) { return kv, f(ts) }
}

// BadLlamaEdits are metadata and tensor edits of a valid llama model that llama.cpp
// aborts on or refuses without a reason; each must be refused by CheckModel with an error
// that names the file and the key or tensor (want) and what is allowed (allowed).
var badLlamaEdits = []struct {
	name, want, allowed string
	edit                edit
}{
	{"block_count 0", "llama.block_count = 0", "from 1 to 512", meta("llama.block_count", uint32(0))},
	{"block_count 99", "blk.", "missing", meta("llama.block_count", uint32(99))},
	{"block_count 1 with 2 layers of tensors", "blk.1.", "llama.block_count is 1", meta("llama.block_count", uint32(1))},
	{"block_count missing", "llama.block_count is missing", "uint32", drop("llama.block_count")},
	{"block_count as float", "llama.block_count", "uint32", meta("llama.block_count", float32(2))},
	{"bert tokenizer on a llama", "tokenizer.ggml.model = \"bert\"", `"llama"`, meta("tokenizer.ggml.model", "bert")},
	{"junk tokenizer", "tokenizer.ggml.model = \"junk\"", `"gpt2"`, meta("tokenizer.ggml.model", "junk")},
	{"tokenizer missing", "tokenizer.ggml.model is missing", `"llama"`, drop("tokenizer.ggml.model")},
	{"gpt2 tokenizer without merges", "tokenizer.ggml.merges is missing", "merges", meta("tokenizer.ggml.model", "gpt2")},
	{"RMS epsilon NaN", "llama.attention.layer_norm_rms_epsilon = NaN", "finite float32", meta("llama.attention.layer_norm_rms_epsilon", float32(math.NaN()))},
	{"RMS epsilon Inf", "layer_norm_rms_epsilon = +Inf", "finite", meta("llama.attention.layer_norm_rms_epsilon", float32(math.Inf(1)))},
	{"RMS epsilon negative", "layer_norm_rms_epsilon = -1", "finite", meta("llama.attention.layer_norm_rms_epsilon", float32(-1))},
	{"RMS epsilon 0", "layer_norm_rms_epsilon = 0", "finite", meta("llama.attention.layer_norm_rms_epsilon", float32(0))},
	{"RMS epsilon missing", "layer_norm_rms_epsilon is missing", "float32", drop("llama.attention.layer_norm_rms_epsilon")},
	{"RMS epsilon as float64", "layer_norm_rms_epsilon", "float32", meta("llama.attention.layer_norm_rms_epsilon", float64(1e-5))},
	{"heads 0", "llama.attention.head_count = 0", "from 1", meta("llama.attention.head_count", uint32(0))},
	{"heads 3 with 2 kv heads", "not a multiple of llama.attention.head_count_kv", "", meta("llama.attention.head_count", uint32(3))},
	{"kv heads 0", "llama.attention.head_count_kv = 0", "from 1", meta("llama.attention.head_count_kv", uint32(0))},
	{"heads per layer, wrong count", "llama.attention.head_count", "array of 2", meta("llama.attention.head_count", []uint32{4, 4, 4})},
	{"embedding length 7", "embedding_length 7 is not a multiple", "", meta("llama.embedding_length", uint32(7))},
	{"embedding length 32", "llama.rope.dimension_count = 16", "head size 8", meta("llama.embedding_length", uint32(32))},
	{"feed forward 96", "ffn_gate.weight has shape [64 128]", "want [64 96] (embedding_length x feed_forward_length", meta("llama.feed_forward_length", uint32(96))},
	{"rope dimensions 0", "llama.rope.dimension_count = 0", "from 1", meta("llama.rope.dimension_count", uint32(0))},
	{"rope dimensions 8", "llama.rope.dimension_count = 8", "head size 16", meta("llama.rope.dimension_count", uint32(8))},
	{"rope freq base NaN", "llama.rope.freq_base = NaN", "finite", meta("llama.rope.freq_base", float32(math.NaN()))},
	{"rope scaling type junk", "llama.rope.scaling.type = \"junk\"", "none, linear, yarn, longrope", meta("llama.rope.scaling.type", "junk")},
	{"rope scaling factor Inf", "llama.rope.scaling.factor = +Inf", "finite", meta("llama.rope.scaling.factor", float32(math.Inf(1)))},
	{"context length 0", "llama.context_length = 0", "from 1", meta("llama.context_length", uint32(0))},
	{"feed forward 0", "llama.feed_forward_length = 0", "from 1", meta("llama.feed_forward_length", uint32(0))},
	{"feed forward missing", "llama.feed_forward_length is missing", "uint32", drop("llama.feed_forward_length")},
	{"experts", "llama.expert_count = 8", "mixture-of-experts", meta("llama.expert_count", uint32(8))},
	{"vocab size", "llama.vocab_size", "size of tokenizer.ggml.tokens", meta("llama.vocab_size", uint32(7))},
	{"architecture gpt2", "general.architecture = \"gpt2\"", "one of llama", meta("general.architecture", "gpt2")},
	{"architecture junk", "general.architecture = \"junk\"", "one of llama", meta("general.architecture", "junk")},
	{"architecture missing", "general.architecture is missing", "one of llama", drop("general.architecture")},
	{"no tokens", "tokenizer.ggml.tokens is missing", "non-empty array", func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
		for _, k := range []string{"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"} {
			kv = dropKV(kv, k)
		}
		return kv, ts
	}},
	{"empty tokens", "tokenizer.ggml.tokens", "non-empty array", meta("tokenizer.ggml.tokens", []string{})},
	{"token type 9", "tokenizer.ggml.token_type[", "0 to 6", func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
		for i := range kv {
			if kv[i].Key == "tokenizer.ggml.token_type" {
				tt := append([]int32(nil), kv[i].Value.([]int32)...)
				tt[40] = 9
				kv[i].Value = tt
			}
		}
		return kv, ts
	}},
	{"every token a control token", "only 0 of", "blank", func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
		for i := range kv {
			if kv[i].Key == "tokenizer.ggml.token_type" {
				tt := make([]int32, len(kv[i].Value.([]int32)))
				for j := range tt {
					tt[j] = 3
				}
				kv[i].Value = tt
			}
		}
		return kv, ts
	}},
	{"score NaN", "tokenizer.ggml.scores[", "finite", func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
		for i := range kv {
			if kv[i].Key == "tokenizer.ggml.scores" {
				s := append([]float32(nil), kv[i].Value.([]float32)...)
				s[5] = float32(math.NaN())
				kv[i].Value = s
			}
		}
		return kv, ts
	}},
	{"missing tensor", "blk.1.ffn_up.weight", "missing", tensors(func(ts []gguf.Tensor) []gguf.Tensor {
		var out []gguf.Tensor
		for _, x := range ts {
			if x.Name != "blk.1.ffn_up.weight" {
				out = append(out, x)
			}
		}
		return out
	})},
	{"transposed tensor", "blk.0.ffn_down.weight has shape [64 128]", "want [128 64]", tensors(func(ts []gguf.Tensor) []gguf.Tensor {
		for i := range ts {
			if ts[i].Name == "blk.0.ffn_down.weight" {
				ts[i].Shape = []uint64{ts[i].Shape[1], ts[i].Shape[0]}
			}
		}
		return ts
	})},
	{"extra tensor", "tensor blk.0.junk.weight is not part of a llama model", "", tensors(func(ts []gguf.Tensor) []gguf.Tensor {
		return append(ts, gguf.Tensor{Name: "blk.0.junk.weight", Shape: []uint64{4}, Type: gguf.F32, Data: make([]byte, 16)})
	})},
}

func TestCheckModelCoversEveryKey(t *testing.T) {
	src := tinyModel(t)
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CheckModel(); err != nil {
		t.Fatalf("the unedited model: %v", err)
	}
	dir := t.TempDir()
	for _, tc := range badLlamaEdits {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".gguf")
			if err := gguf.Rewrite(src, p, tc.edit); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			err = f.CheckModel()
			if err == nil {
				t.Fatal("CheckModel passed it")
			}
			for _, w := range []string{p, tc.want, tc.allowed} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// The demo translator and anything llama-shaped the project writes pass.
func TestCheckModelPassesGoodModels(t *testing.T) {
	for _, q := range []gguf.TensorType{gguf.F32, gguf.F16} {
		m, err := tinyllama.New(tinyllama.Config{Embd: 64, FF: 96, Layers: 3, Heads: 8, KVHeads: 8, Context: 128, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "m.gguf")
		if err := m.WriteGGUF(p, q); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.CheckModel(); err != nil {
			t.Errorf("%s: %v", q, err)
		}
		r, _ := os.Open(p)
		if err := f.CheckData(r); err != nil {
			t.Errorf("%s: %v", q, err)
		}
		r.Close()
	}
	demo, _ := filepath.Glob("../../demo/slt/*.gguf")
	for _, p := range demo {
		f, err := gguf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if f.String("general.type") == "adapter" {
			continue
		}
		if err := f.CheckModel(); err != nil {
			t.Errorf("demo model: %v", err)
		}
		r, _ := os.Open(p)
		if err := f.CheckData(r); err != nil {
			t.Errorf("demo model: %v", err)
		}
		r.Close()
	}
}

func TestCheckDataFindsNonFiniteWeights(t *testing.T) {
	dir := t.TempDir()
	f16NaN := []byte{0x00, 0x7e}
	f16Inf := []byte{0x00, 0x7c}
	for _, tc := range []struct {
		name string
		t    gguf.Tensor
		at   int // byte offset of the bad value
		bad  []byte
		want string
	}{
		{"F32 NaN", gguf.Tensor{Name: "w", Shape: []uint64{32, 2}, Type: gguf.F32, Data: make([]byte, 256)}, 4 * 37, []byte{0, 0, 0xc0, 0x7f}, "value 37"},
		{"F32 Inf", gguf.Tensor{Name: "w", Shape: []uint64{32, 2}, Type: gguf.F32, Data: make([]byte, 256)}, 0, []byte{0, 0, 0x80, 0x7f}, "value 0"},
		{"F16 NaN", gguf.Tensor{Name: "w", Shape: []uint64{64}, Type: gguf.F16, Data: make([]byte, 128)}, 2 * 63, f16NaN, "value 63"},
		{"BF16 Inf", gguf.Tensor{Name: "w", Shape: []uint64{64}, Type: gguf.BF16, Data: make([]byte, 128)}, 2 * 5, []byte{0x80, 0x7f}, "value 5"},
		{"Q4_0 scale Inf", gguf.Tensor{Name: "q", Shape: []uint64{64}, Type: gguf.Q4_0, Data: make([]byte, 2*18)}, 18, f16Inf, "block 1"},
		{"Q8_0 scale NaN", gguf.Tensor{Name: "q", Shape: []uint64{64}, Type: gguf.Q8_0, Data: make([]byte, 2*34)}, 0, f16NaN, "block 0"},
		{"Q4_K dmin Inf", gguf.Tensor{Name: "q", Shape: []uint64{256}, Type: gguf.Q4_K, Data: make([]byte, 144)}, 2, f16Inf, "block 0"},
		{"Q6_K scale NaN", gguf.Tensor{Name: "q", Shape: []uint64{512}, Type: gguf.Q6_K, Data: make([]byte, 2*210)}, 210 + 208, f16NaN, "block 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".gguf")
			write := func(data []byte) *gguf.File {
				x := tc.t
				x.Data = data
				fh, err := os.Create(p)
				if err != nil {
					t.Fatal(err)
				}
				defer fh.Close()
				if err := gguf.Write(fh, []gguf.KV{{Key: "general.architecture", Value: "llama"}}, []gguf.Tensor{x}); err != nil {
					t.Fatal(err)
				}
				f, err := gguf.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
			check := func(f *gguf.File) error {
				r, _ := os.Open(p)
				defer r.Close()
				return f.CheckData(r)
			}
			if err := check(write(tc.t.Data)); err != nil {
				t.Fatalf("clean tensor: %v", err)
			}
			data := append([]byte(nil), tc.t.Data...)
			copy(data[tc.at:], tc.bad)
			err := check(write(data))
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "tensor "+tc.t.Name) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want the file, tensor %s and %q", err, tc.t.Name, tc.want)
			}
		})
	}
}

func TestCheckAdapter(t *testing.T) {
	dir := t.TempDir()
	m, err := tinyllama.New(tinyllama.Default())
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.gguf")
	if err := m.WriteGGUF(base, gguf.F32); err != nil {
		t.Fatal(err)
	}
	bf, err := gguf.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := bf.Tensor("blk.0.attn_q.weight")
	f32 := func(n int, v float32) []byte {
		b := make([]byte, 4*n)
		for i := range n {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	in, out := q.Shape[0], q.Shape[1]
	good := func() ([]gguf.KV, []gguf.Tensor) {
		return []gguf.KV{{Key: "general.architecture", Value: "llama"}, {Key: "general.type", Value: "adapter"},
				{Key: "adapter.type", Value: "lora"}, {Key: "adapter.lora.alpha", Value: float32(8)}},
			[]gguf.Tensor{
				{Name: "blk.0.attn_q.weight.lora_a", Shape: []uint64{in, 4}, Type: gguf.F32, Data: f32(int(in)*4, 0.01)},
				{Name: "blk.0.attn_q.weight.lora_b", Shape: []uint64{4, out}, Type: gguf.F32, Data: f32(4*int(out), 0.02)},
			}
	}
	write := func(kv []gguf.KV, ts []gguf.Tensor) *gguf.File {
		p := filepath.Join(t.TempDir(), "adapter.gguf")
		fh, _ := os.Create(p)
		if err := gguf.Write(fh, kv, ts); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		f, err := gguf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if err := write(good()).CheckAdapter(bf); err != nil {
		t.Fatalf("a good adapter: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor)
	}{
		{"alpha NaN", "adapter.lora.alpha = NaN", meta("adapter.lora.alpha", float32(math.NaN()))},
		{"other architecture", "general.architecture", meta("general.architecture", "gpt2")},
		{"not an adapter", "not a LoRA adapter", meta("general.type", "model")},
		{"wrong rank", "do not fit", tensors(func(ts []gguf.Tensor) []gguf.Tensor {
			ts[1] = gguf.Tensor{Name: ts[1].Name, Shape: []uint64{5, out}, Type: gguf.F32, Data: f32(5*int(out), 0.02)}
			return ts
		})},
		{"unknown target", "does not have", tensors(func(ts []gguf.Tensor) []gguf.Tensor {
			ts[0].Name, ts[1].Name = "blk.9.attn_q.weight.lora_a", "blk.9.attn_q.weight.lora_b"
			return ts
		})},
		{"half a pair", "only one of", tensors(func(ts []gguf.Tensor) []gguf.Tensor { return ts[:1] })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv, ts := good()
			f := write(tc.edit(kv, ts))
			if err := f.CheckAdapter(bf); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// Inf weights: the data check.
	kv, ts := good()
	ts[1].Data = f32(4*int(out), float32(math.Inf(1)))
	f := write(kv, ts)
	r, _ := os.Open(f.Path)
	defer r.Close()
	if err := f.CheckData(r); err == nil || !strings.Contains(err.Error(), "lora_b") {
		t.Fatalf("Inf adapter weights: %v", err)
	}
}
