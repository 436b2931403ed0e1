// Package tinyllama makes tiny llama-architecture models with random weights, for tests and
// benchmarks that must not depend on a trained model: a GGUF that llama.cpp loads and
// generates from (nonsense text, but real computation), and the same weights as a Hugging
// Face-style folder (config.json, model.safetensors, tokenizer.model, tokenizer.json,
// special_tokens_map.json) for the converters and for PyTorch reference runs.
//
// Weights are drawn from a seeded generator and rounded to float16, so the F16 and F32 forms
// of a model hold the same numbers.
package tinyllama

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/ollama/ollama/convert/sentencepiece"
	"github.com/x448/float16"
	"google.golang.org/protobuf/proto"

	"scope/models/slt/gguf"
	"scope/models/slt/safetensors"
)

// Config sizes a model. Embd and FF must be multiples of 32 for Q4_0/Q8_0 quantisation (256
// for K-quants).
type Config struct {
	Embd, FF, Layers, Heads, KVHeads, Context int
	Seed                                      uint64
	ChatTemplate                              bool // add ChatML control tokens and template
}

// Default is a 2-layer model with a 64-wide hidden state.
func Default() Config {
	return Config{Embd: 64, FF: 128, Layers: 2, Heads: 4, KVHeads: 2, Context: 512, Seed: 1, ChatTemplate: true}
}

// Model is a tiny llama: its configuration, vocabulary and weights in PyTorch layout
// ([out][in] row-major, Hugging Face names).
type Model struct {
	Config
	Tokens  []string
	Scores  []float32
	Types   []int32 // llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte
	Weights []safetensors.Tensor
}

// Token ids shared by every tiny model.
const (
	UNK = 0
	BOS = 1
	EOS = 2
)

// ChatMLTemplate is the Jinja text of the ChatML template; llama.cpp recognises it.
const ChatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

var words = []string{"▁", "▁der", "▁die", "▁das", "▁und", "▁im", "▁am", "▁es", "▁regen", "▁sonne", "▁wolken",
	"▁wind", "▁morgen", "▁heute", "▁norden", "▁süden", "▁westen", "▁osten", "▁grad", "▁wetter", "▁.", "▁,"}

// New draws a model.
func New(c Config) (*Model, error) {
	if c.Heads <= 0 || c.KVHeads <= 0 || c.Embd%c.Heads != 0 || c.Heads%c.KVHeads != 0 || (c.Embd/c.Heads)%2 != 0 || c.Layers <= 0 || c.FF <= 0 {
		return nil, fmt.Errorf("tinyllama: inconsistent config %+v", c)
	}
	m := &Model{Config: c}
	add := func(tok string, score float32, typ int32) {
		m.Tokens = append(m.Tokens, tok)
		m.Scores = append(m.Scores, score)
		m.Types = append(m.Types, typ)
	}
	add("<unk>", 0, 2)
	add("<s>", 0, 3)
	add("</s>", 0, 3)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, 6)
	}
	for r := 'a'; r <= 'z'; r++ {
		add(string(r), -1, 1)
		add("▁"+string(r), -0.5, 1)
	}
	for _, r := range "äöüß" {
		add(string(r), -1, 1)
	}
	for i, w := range words {
		add(w, float32(-0.1*float64(i)/float64(len(words))), 1)
	}
	if c.ChatTemplate {
		add("<|im_start|>", 0, 3)
		add("<|im_end|>", 0, 3)
	}
	for len(m.Tokens)%8 != 0 { // a round vocabulary size
		add(fmt.Sprintf("<unused%d>", len(m.Tokens)), 0, 5)
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5c09e))
	w := func(name string, std float64, shape ...int) {
		t := safetensors.Tensor{Name: name, Shape: shape}
		t.Data = make([]float32, t.Len())
		for i := range t.Data {
			if std == 0 {
				t.Data[i] = 1
			} else {
				t.Data[i] = float16.Fromfloat32(float32(rng.NormFloat64() * std)).Float32()
			}
		}
		m.Weights = append(m.Weights, t)
	}
	V, D, F, hd := len(m.Tokens), c.Embd, c.FF, c.Embd/c.Heads
	std := 1 / math.Sqrt(float64(D))
	w("model.embed_tokens.weight", 1, V, D)
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		w(p+"input_layernorm.weight", 0, D)
		w(p+"self_attn.q_proj.weight", std, D, D)
		w(p+"self_attn.k_proj.weight", std, c.KVHeads*hd, D)
		w(p+"self_attn.v_proj.weight", std, c.KVHeads*hd, D)
		w(p+"self_attn.o_proj.weight", std, D, D)
		w(p+"post_attention_layernorm.weight", 0, D)
		w(p+"mlp.gate_proj.weight", std, F, D)
		w(p+"mlp.up_proj.weight", std, F, D)
		w(p+"mlp.down_proj.weight", 1/math.Sqrt(float64(F)), D, F)
	}
	w("model.norm.weight", 0, D)
	w("lm_head.weight", std*2, V, D)
	return m, nil
}

// Weight returns the tensor named name.
func (m *Model) Weight(name string) *safetensors.Tensor {
	for i := range m.Weights {
		if m.Weights[i].Name == name {
			return &m.Weights[i]
		}
	}
	return nil
}

// PermuteRows reorders the rows of a q or k projection ([heads*headDim][cols]) from the
// Hugging Face rotary layout (rotate_half: first half, second half of each head) to
// llama.cpp's interleaved pairs.
func PermuteRows(data []float32, heads, rows, cols int) []float32 {
	hd := rows / heads
	out := make([]float32, len(data))
	for h := 0; h < heads; h++ {
		for s := 0; s < 2; s++ {
			for j := 0; j < hd/2; j++ {
				src := h*hd + s*hd/2 + j
				dst := h*hd + 2*j + s
				copy(out[dst*cols:(dst+1)*cols], data[src*cols:(src+1)*cols])
			}
		}
	}
	return out
}

var ggufNames = map[string]string{
	"input_layernorm.weight":          "attn_norm.weight",
	"self_attn.q_proj.weight":         "attn_q.weight",
	"self_attn.k_proj.weight":         "attn_k.weight",
	"self_attn.v_proj.weight":         "attn_v.weight",
	"self_attn.o_proj.weight":         "attn_output.weight",
	"post_attention_layernorm.weight": "ffn_norm.weight",
	"mlp.gate_proj.weight":            "ffn_gate.weight",
	"mlp.up_proj.weight":              "ffn_up.weight",
	"mlp.down_proj.weight":            "ffn_down.weight",
}

// GGUFName maps a Hugging Face llama tensor name to llama.cpp's.
func GGUFName(hf string) (string, bool) {
	switch hf {
	case "model.embed_tokens.weight":
		return "token_embd.weight", true
	case "model.norm.weight":
		return "output_norm.weight", true
	case "lm_head.weight":
		return "output.weight", true
	}
	var layer int
	var rest string
	if n, _ := fmt.Sscanf(hf, "model.layers.%d.%s", &layer, &rest); n == 2 {
		if g, ok := ggufNames[rest]; ok {
			return fmt.Sprintf("blk.%d.%s", layer, g), true
		}
	}
	return "", false
}

// Metadata returns the GGUF metadata of m.
func (m *Model) Metadata(fileType uint32) []gguf.KV {
	c := m.Config
	kv := []gguf.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: "scope tiny llama (random weights, synthetic)"},
		{Key: "general.file_type", Value: fileType},
		{Key: "llama.context_length", Value: uint32(c.Context)},
		{Key: "llama.embedding_length", Value: uint32(c.Embd)},
		{Key: "llama.block_count", Value: uint32(c.Layers)},
		{Key: "llama.feed_forward_length", Value: uint32(c.FF)},
		{Key: "llama.attention.head_count", Value: uint32(c.Heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(c.KVHeads)},
		{Key: "llama.rope.dimension_count", Value: uint32(c.Embd / c.Heads)},
		{Key: "llama.rope.freq_base", Value: float32(10000)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
		{Key: "llama.vocab_size", Value: uint32(len(m.Tokens))},
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Value: m.Tokens},
		{Key: "tokenizer.ggml.scores", Value: m.Scores},
		{Key: "tokenizer.ggml.token_type", Value: m.Types},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(UNK)},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(BOS)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(EOS)},
		{Key: "tokenizer.ggml.add_bos_token", Value: true},
		{Key: "tokenizer.ggml.add_eos_token", Value: false},
	}
	if c.ChatTemplate {
		kv = append(kv, gguf.KV{Key: "tokenizer.chat_template", Value: ChatMLTemplate})
	}
	return kv
}

// WriteGGUF writes m as a llama.cpp GGUF whose matrices have type t (F32 or F16; norms stay
// F32), with q/k rows permuted for llama.cpp's rotary layout.
func (m *Model) WriteGGUF(path string, t gguf.TensorType) error {
	if t != gguf.F32 && t != gguf.F16 {
		return fmt.Errorf("tinyllama: write F32 or F16 and quantise with `scope llm quantize`, not %s", t)
	}
	var ts []gguf.Tensor
	for _, w := range m.Weights {
		name, ok := GGUFName(w.Name)
		if !ok {
			return fmt.Errorf("tinyllama: no GGUF name for %s", w.Name)
		}
		data := w.Data
		switch {
		case containsAny(w.Name, "q_proj"):
			data = PermuteRows(data, m.Heads, w.Shape[0], w.Shape[1])
		case containsAny(w.Name, "k_proj"):
			data = PermuteRows(data, m.KVHeads, w.Shape[0], w.Shape[1])
		}
		shape := make([]uint64, len(w.Shape))
		for i, d := range w.Shape {
			shape[len(w.Shape)-1-i] = uint64(d)
		}
		tt := t
		if len(shape) == 1 {
			tt = gguf.F32
		}
		ts = append(ts, gguf.Tensor{Name: name, Shape: shape, Type: tt, Data: Encode(data, tt)})
	}
	ft := uint32(0)
	if t == gguf.F16 {
		ft = 1
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gguf.Write(f, m.Metadata(ft), ts); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

func containsAny(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// Encode turns float32 values into the bytes of an F32 or F16 tensor.
func Encode(data []float32, t gguf.TensorType) []byte {
	if t == gguf.F16 {
		out := make([]byte, 2*len(data))
		for i, v := range data {
			b := float16.Fromfloat32(v).Bits()
			out[2*i], out[2*i+1] = byte(b), byte(b>>8)
		}
		return out
	}
	out := make([]byte, 4*len(data))
	for i, v := range data {
		b := math.Float32bits(v)
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
	}
	return out
}

// WriteHF writes m as a Hugging Face-style folder: config.json, model.safetensors,
// tokenizer.model (sentencepiece), tokenizer.json (added tokens only) and
// special_tokens_map.json.
func (m *Model) WriteHF(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c := m.Config
	cfg := map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"hidden_size":             c.Embd,
		"intermediate_size":       c.FF,
		"num_hidden_layers":       c.Layers,
		"num_attention_heads":     c.Heads,
		"num_key_value_heads":     c.KVHeads,
		"max_position_embeddings": c.Context,
		"rms_norm_eps":            1e-5,
		"rope_theta":              10000.0,
		"vocab_size":              len(m.Tokens),
		"bos_token_id":            BOS,
		"eos_token_id":            EOS,
		"tie_word_embeddings":     false,
		"torch_dtype":             "float32",
		"_name_or_path":           "scope-tiny-llama-random-synthetic",
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), m.Weights); err != nil {
		return err
	}
	var sp sentencepiece.ModelProto
	for i, tok := range m.Tokens {
		typ := sentencepiece.ModelProto_SentencePiece_Type(m.Types[i])
		sp.Pieces = append(sp.Pieces, &sentencepiece.ModelProto_SentencePiece{Piece: proto.String(tok), Score: proto.Float32(m.Scores[i]), Type: &typ})
	}
	b, err := proto.Marshal(&sp)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), b, 0o644); err != nil {
		return err
	}
	var added []map[string]any
	for i, typ := range m.Types {
		if typ == 2 || typ == 3 {
			added = append(added, map[string]any{"id": i, "content": m.Tokens[i], "special": true,
				"single_word": false, "lstrip": false, "rstrip": false, "normalized": false})
		}
	}
	if err := writeJSON(filepath.Join(dir, "tokenizer.json"), map[string]any{"added_tokens": added, "model": map[string]any{"type": "BPE"}}); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "special_tokens_map.json"), map[string]any{
		"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "additional_special_tokens": []string{},
	}); err != nil {
		return err
	}
	tc := map[string]any{"add_bos_token": true, "add_eos_token": false}
	if c.ChatTemplate {
		tc["chat_template"] = ChatMLTemplate
	}
	return writeJSON(filepath.Join(dir, "tokenizer_config.json"), tc)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteAdapter writes a PEFT LoRA adapter for m into dir (adapter_config.json,
// adapter_model.safetensors): rank r, lora_alpha 2r, on the given projections of every layer
// (for example "q_proj", "k_proj", "v_proj"), with random non-zero A and B of standard
// deviation std.
func (m *Model) WriteAdapter(dir string, r int, targets []string, std float64, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := map[string]any{"r": r, "lora_alpha": 2 * r, "target_modules": targets, "peft_type": "LORA", "bias": "none"}
	if err := writeJSON(filepath.Join(dir, "adapter_config.json"), cfg); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0xada))
	randn := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float16.Fromfloat32(float32(rng.NormFloat64() * std)).Float32()
		}
		return out
	}
	var ts []safetensors.Tensor
	for l := 0; l < m.Layers; l++ {
		for _, p := range targets {
			mod := "self_attn"
			if p == "gate_proj" || p == "up_proj" || p == "down_proj" {
				mod = "mlp"
			}
			w := m.Weight(fmt.Sprintf("model.layers.%d.%s.%s.weight", l, mod, p))
			if w == nil {
				return fmt.Errorf("tinyllama: no projection %q", p)
			}
			name := fmt.Sprintf("base_model.model.model.layers.%d.%s.%s", l, mod, p)
			ts = append(ts,
				safetensors.Tensor{Name: name + ".lora_A.weight", Shape: []int{r, w.Shape[1]}, Data: randn(r * w.Shape[1])},
				safetensors.Tensor{Name: name + ".lora_B.weight", Shape: []int{w.Shape[0], r}, Data: randn(r * w.Shape[0])})
		}
	}
	return safetensors.WriteFile(filepath.Join(dir, "adapter_model.safetensors"), ts)
}
