package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Architectures lists the values of general.architecture that SCOPE accepts: the llama
// family (Llama 2 and 3, Mistral, TinyLlama, SmolLM and the project's own models all use
// it). Every hyperparameter llama.cpp reads for it, and every tensor's shape, is checked
// here before llama.cpp sees the file: llama.cpp aborts the process on some bad values
// (block_count 0, an RMS epsilon of NaN, a "bert" tokenizer on a llama) and answers
// others with "failed to load model" and no reason.
var Architectures = []string{"llama"}

// Limits llama.cpp compiles in (llama-hparams.h) or that no real model comes near.
const (
	maxLayers  = 512     // LLAMA_MAX_LAYERS
	maxWidth   = 1 << 17 // embedding, feed-forward and head sizes
	maxContext = 1 << 24 // llama.context_length
	maxHeads   = 1 << 12
)

// hparamError names the file, the key, the value and what is allowed.
func (f *File) hparamError(key string, v any, allowed string) error {
	if v == nil {
		return fmt.Errorf("%w: %s: %s is missing; want %s", ErrFormat, f.Path, key, allowed)
	}
	return fmt.Errorf("%w: %s: %s = %v; want %s", ErrFormat, f.Path, key, v, allowed)
}

// llamaParams are the hyperparameters of a llama model as llama.cpp derives them.
type llamaParams struct {
	embd, layers, vocab int
	heads, kvHeads, ff  []int // per layer
	headK, headV, rot   int
	ropeScaling         string
}

// u32 reads a uint32 key in [lo, hi]; llama.cpp reads these keys as uint32 only.
func (f *File) u32(key string, lo, hi uint64, required bool, def int) (int, error) {
	v, ok := f.Get(key)
	if !ok {
		if required {
			return 0, f.hparamError(key, nil, fmt.Sprintf("a uint32 from %d to %d", lo, hi))
		}
		return def, nil
	}
	x, isU32 := v.(uint32)
	if !isU32 || uint64(x) < lo || uint64(x) > hi {
		return 0, f.hparamError(key, describe(v), fmt.Sprintf("a uint32 from %d to %d", lo, hi))
	}
	return int(x), nil
}

// perLayer reads a key that is one uint32 for every layer or an array of one per layer.
func (f *File) perLayer(key string, layers int, lo, hi uint64, def []int) ([]int, error) {
	v, ok := f.Get(key)
	if !ok {
		if def == nil {
			return nil, f.hparamError(key, nil, fmt.Sprintf("a uint32 from %d to %d, or an array of one per layer", lo, hi))
		}
		return def, nil
	}
	out := make([]int, layers)
	bad := f.hparamError(key, describe(v), fmt.Sprintf("a uint32 from %d to %d, or an array of %d (one per layer)", lo, hi, layers))
	switch x := v.(type) {
	case uint32:
		if uint64(x) < lo || uint64(x) > hi {
			return nil, bad
		}
		for i := range out {
			out[i] = int(x)
		}
	case []uint32:
		if len(x) != layers {
			return nil, bad
		}
		for i, n := range x {
			if uint64(n) < lo || uint64(n) > hi {
				return nil, bad
			}
			out[i] = int(n)
		}
	case []int32:
		if len(x) != layers {
			return nil, bad
		}
		for i, n := range x {
			if n < 0 || uint64(n) < lo || uint64(n) > hi {
				return nil, bad
			}
			out[i] = int(n)
		}
	default:
		return nil, bad
	}
	return out, nil
}

// f32 reads a float32 key that must be finite and within [lo, hi].
func (f *File) f32(key string, lo, hi float64, required bool) error {
	v, ok := f.Get(key)
	if !ok {
		if required {
			return f.hparamError(key, nil, fmt.Sprintf("a finite float32 from %g to %g", lo, hi))
		}
		return nil
	}
	x, isF32 := v.(float32)
	if !isF32 || math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || float64(x) < lo || float64(x) > hi {
		return f.hparamError(key, describe(v), fmt.Sprintf("a finite float32 from %g to %g", lo, hi))
	}
	return nil
}

// describe renders a value with its type when the type is what is wrong.
func describe(v any) string {
	switch x := v.(type) {
	case uint32, float32:
		return fmt.Sprint(x)
	case string:
		return strconv.Quote(x)
	}
	s := fmt.Sprintf("%v", v)
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return fmt.Sprintf("%s (%T)", s, v)
}

// checkLlama checks a llama model's hyperparameters, tokenizer and tensor shapes.
func (f *File) checkLlama() error {
	var p llamaParams
	var err error
	if _, err = f.u32("llama.context_length", 1, maxContext, true, 0); err != nil {
		return err
	}
	if p.embd, err = f.u32("llama.embedding_length", 1, maxWidth, true, 0); err != nil {
		return err
	}
	if p.layers, err = f.u32("llama.block_count", 1, maxLayers, true, 0); err != nil {
		return err
	}
	if p.ff, err = f.perLayer("llama.feed_forward_length", p.layers, 1, maxWidth, nil); err != nil {
		return err
	}
	if p.heads, err = f.perLayer("llama.attention.head_count", p.layers, 1, maxHeads, nil); err != nil {
		return err
	}
	if p.kvHeads, err = f.perLayer("llama.attention.head_count_kv", p.layers, 1, maxHeads, p.heads); err != nil {
		return err
	}
	for i := range p.layers {
		if p.heads[i]%p.kvHeads[i] != 0 {
			return fmt.Errorf("%w: %s: llama.attention.head_count %d is not a multiple of llama.attention.head_count_kv %d (layer %d); grouped-query attention needs whole groups",
				ErrFormat, f.Path, p.heads[i], p.kvHeads[i], i)
		}
	}
	// llama.cpp takes the head sizes from the first layer's head count.
	defHead := 0
	if p.embd%p.heads[0] == 0 {
		defHead = p.embd / p.heads[0]
	}
	_, hasK := f.Get("llama.attention.key_length")
	_, hasV := f.Get("llama.attention.value_length")
	if defHead == 0 && (!hasK || !hasV) {
		return fmt.Errorf("%w: %s: llama.embedding_length %d is not a multiple of llama.attention.head_count %d, and llama.attention.key_length/value_length do not say the head size",
			ErrFormat, f.Path, p.embd, p.heads[0])
	}
	if p.headK, err = f.u32("llama.attention.key_length", 1, maxWidth, false, defHead); err != nil {
		return err
	}
	if p.headV, err = f.u32("llama.attention.value_length", 1, maxWidth, false, defHead); err != nil {
		return err
	}
	if p.rot, err = f.u32("llama.rope.dimension_count", 1, maxWidth, false, p.headK); err != nil {
		return err
	}
	if p.rot != p.headK {
		return f.hparamError("llama.rope.dimension_count", p.rot, fmt.Sprintf("the head size %d (llama.cpp rotates whole heads of a llama)", p.headK))
	}
	if p.rot%2 != 0 {
		return f.hparamError("llama.rope.dimension_count", p.rot, "an even number")
	}
	if err := f.f32("llama.attention.layer_norm_rms_epsilon", math.SmallestNonzeroFloat32, 1, true); err != nil {
		return err
	}
	if err := f.f32("llama.rope.freq_base", math.SmallestNonzeroFloat32, 1e12, false); err != nil {
		return err
	}
	for _, key := range []string{"llama.rope.scaling.factor", "llama.rope.scale_linear"} {
		if err := f.f32(key, 0, 1e6, false); err != nil {
			return err
		}
	}
	if err := f.f32("llama.rope.scaling.attn_factor", math.SmallestNonzeroFloat32, 1e6, false); err != nil {
		return err
	}
	if _, err := f.u32("llama.rope.scaling.original_context_length", 1, maxContext, false, 0); err != nil {
		return err
	}
	p.ropeScaling = "linear"
	if v, ok := f.Get("llama.rope.scaling.type"); ok {
		s, _ := v.(string)
		switch s {
		case "none", "linear", "yarn", "longrope":
			p.ropeScaling = s
		default:
			return f.hparamError("llama.rope.scaling.type", describe(v), "one of none, linear, yarn, longrope")
		}
	}
	for _, key := range []string{"llama.expert_count", "llama.expert_used_count"} {
		if v, ok := f.Get(key); ok {
			if n, _ := v.(uint32); n != 0 {
				return f.hparamError(key, describe(v), "0 or absent: mixture-of-experts models are not accepted")
			}
		}
	}
	tokens, err := f.checkLlamaTokenizer()
	if err != nil {
		return err
	}
	p.vocab = len(tokens)
	if _, err := f.u32("llama.vocab_size", uint64(p.vocab), uint64(p.vocab), false, 0); err != nil {
		return fmt.Errorf("%w (the size of tokenizer.ggml.tokens)", err)
	}
	return f.checkLlamaTensors(p)
}

// checkLlamaTokenizer checks what a llama model's tokenizer needs and returns the tokens.
func (f *File) checkLlamaTokenizer() ([]string, error) {
	model, ok := f.Get("tokenizer.ggml.model")
	switch model {
	case "llama", "gpt2": // SentencePiece (Llama 2, Mistral) or byte-level BPE (Llama 3)
	default:
		if !ok {
			model = nil
		} else {
			model = describe(model)
		}
		return nil, f.hparamError("tokenizer.ggml.model", model, `"llama" (SentencePiece) or "gpt2" (byte-level BPE) for a llama model`)
	}
	v, ok := f.Get("tokenizer.ggml.tokens")
	tokens, isStrings := v.([]string)
	if !ok || !isStrings || len(tokens) == 0 {
		if !ok {
			v = nil
		} else {
			v = describe(v)
		}
		return nil, f.hparamError("tokenizer.ggml.tokens", v, "a non-empty array of strings (the vocabulary)")
	}
	if model == "gpt2" {
		m, ok := f.Get("tokenizer.ggml.merges")
		if ms, isStrings := m.([]string); !ok || !isStrings || len(ms) == 0 {
			if !ok {
				m = nil
			} else {
				m = describe(m)
			}
			return nil, f.hparamError("tokenizer.ggml.merges", m, `a non-empty array of "a b" merges (a "gpt2" tokenizer needs them)`)
		}
	}
	if v, ok := f.Get("tokenizer.ggml.scores"); ok {
		if s, isF32 := v.([]float32); isF32 {
			for i, x := range s {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return nil, fmt.Errorf("%w: %s: tokenizer.ggml.scores[%d] = %v; want finite scores", ErrFormat, f.Path, i, x)
				}
			}
		} else {
			return nil, f.hparamError("tokenizer.ggml.scores", describe(v), "an array of float32, one per token")
		}
	}
	if v, ok := f.Get("tokenizer.ggml.token_type"); ok {
		types, isI32 := v.([]int32)
		if !isI32 {
			return nil, f.hparamError("tokenizer.ggml.token_type", describe(v), "an array of int32, one per token")
		}
		text := 0
		for i, t := range types {
			if t < 0 || t > 6 {
				return nil, fmt.Errorf("%w: %s: tokenizer.ggml.token_type[%d] = %d; want 0 to 6 (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte)",
					ErrFormat, f.Path, i, t)
			}
			if t == 1 || t == 4 || t == 6 {
				text++
			}
		}
		if text*2 < len(types) {
			return nil, fmt.Errorf("%w: %s: only %d of %d tokens are normal, user-defined or byte tokens in tokenizer.ggml.token_type; the rest write no text, so translations would come out blank",
				ErrFormat, f.Path, text, len(types))
		}
	}
	return tokens, nil
}

var layerTensor = regexp.MustCompile(`^blk\.(\d+)\.(.+)$`)

// checkLlamaTensors compares every tensor with the shape llama.cpp will ask for.
func (f *File) checkLlamaTensors(p llamaParams) error {
	type want struct {
		shape    []int
		required bool
		from     string
	}
	expect := map[string]want{
		"token_embd.weight":  {[]int{p.embd, p.vocab}, true, "embedding_length x vocabulary"},
		"output_norm.weight": {[]int{p.embd}, true, "embedding_length"},
		"output.weight":      {[]int{p.embd, p.vocab}, false, "embedding_length x vocabulary"},
		"rope_freqs.weight":  {[]int{p.rot / 2}, false, "rope.dimension_count / 2"},
	}
	if p.ropeScaling == "longrope" {
		expect["rope_factors_long.weight"] = want{[]int{p.rot / 2}, false, "rope.dimension_count / 2"}
		expect["rope_factors_short.weight"] = want{[]int{p.rot / 2}, false, "rope.dimension_count / 2"}
	}
	for i := range p.layers {
		q, kv := p.headK*p.heads[i], p.headK*p.kvHeads[i]
		vv := p.headV * p.kvHeads[i]
		for name, w := range map[string]want{
			"attn_norm.weight":   {[]int{p.embd}, true, "embedding_length"},
			"attn_q.weight":      {[]int{p.embd, q}, true, "embedding_length x (key_length x head_count)"},
			"attn_k.weight":      {[]int{p.embd, kv}, true, "embedding_length x (key_length x head_count_kv)"},
			"attn_v.weight":      {[]int{p.embd, vv}, true, "embedding_length x (value_length x head_count_kv)"},
			"attn_output.weight": {[]int{q, p.embd}, true, "(key_length x head_count) x embedding_length"},
			"ffn_norm.weight":    {[]int{p.embd}, true, "embedding_length"},
			"ffn_gate.weight":    {[]int{p.embd, p.ff[i]}, true, "embedding_length x feed_forward_length"},
			"ffn_up.weight":      {[]int{p.embd, p.ff[i]}, true, "embedding_length x feed_forward_length"},
			"ffn_down.weight":    {[]int{p.ff[i], p.embd}, true, "feed_forward_length x embedding_length"},
			"attn_q.bias":        {[]int{p.embd}, false, "embedding_length"},
			"attn_k.bias":        {[]int{vv}, false, "value_length x head_count_kv"},
			"attn_v.bias":        {[]int{vv}, false, "value_length x head_count_kv"},
			"attn_output.bias":   {[]int{p.embd}, false, "embedding_length"},
			"ffn_gate.bias":      {[]int{p.ff[i]}, false, "feed_forward_length"},
			"ffn_up.bias":        {[]int{p.ff[i]}, false, "feed_forward_length"},
			"ffn_down.bias":      {[]int{p.embd}, false, "embedding_length"},
		} {
			expect[fmt.Sprintf("blk.%d.%s", i, name)] = w
		}
	}
	have := map[string]bool{}
	for _, t := range f.Tensors {
		have[t.Name] = true
		w, ok := expect[t.Name]
		if !ok {
			if m := layerTensor.FindStringSubmatch(t.Name); m != nil {
				if n, _ := strconv.Atoi(m[1]); n >= p.layers {
					return fmt.Errorf("%w: %s: tensor %s belongs to layer %d, but llama.block_count is %d", ErrFormat, f.Path, t.Name, n, p.layers)
				}
			}
			return fmt.Errorf("%w: %s: tensor %s is not part of a llama model (llama.cpp would refuse the file)", ErrFormat, f.Path, t.Name)
		}
		if !sameShape(t.Shape, w.shape) {
			return fmt.Errorf("%w: %s: tensor %s has shape %v, want %v (%s from the metadata); transposed, or the metadata does not match the weights",
				ErrFormat, f.Path, t.Name, t.Shape, w.shape, w.from)
		}
	}
	var missing []string
	for name, w := range expect {
		if w.required && !have[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		more := ""
		if len(missing) > 3 {
			more = fmt.Sprintf(" and %d more", len(missing)-3)
			missing = missing[:3]
		}
		return fmt.Errorf("%w: %s: tensor %s%s missing (llama.block_count %d, embedding_length %d)", ErrFormat, f.Path, strings.Join(missing, ", "), more, p.layers, p.embd)
	}
	return nil
}

// sameShape compares a tensor's shape with the wanted one; trailing 1s do not count.
func sameShape(got []uint64, want []int) bool {
	for len(got) > len(want) && got[len(got)-1] == 1 {
		got = got[:len(got)-1]
	}
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != uint64(want[i]) {
			return false
		}
	}
	return true
}

// CheckData reads every tensor of f from r (the file f was read from) and reports the
// first value that is not finite: a NaN or an infinity in a weight (flipped bytes, a bad
// conversion) makes every logit NaN, and llama.cpp then writes blank translations without
// an error. Float tensors are checked value by value, quantised ones by their block scales
// (the values inside a block are small integers). Types without a known block layout are
// skipped.
func (f *File) CheckData(r io.ReaderAt) error {
	buf := make([]byte, 1<<20)
	for _, t := range f.Tensors {
		lay, ok := scaleLayouts[t.Type]
		if !ok {
			continue
		}
		tt := typeTraits[t.Type]
		// Whole blocks per read.
		step := uint64(len(buf)) / tt.size * tt.size
		for off := uint64(0); off < t.Size; off += step {
			n := min(step, t.Size-off)
			b := buf[:n]
			if _, err := r.ReadAt(b, f.DataOffset+int64(t.Offset+off)); err != nil {
				return fmt.Errorf("%s: reading tensor %s: %w", f.Path, t.Name, err)
			}
			if i, ok := lay.firstNonFinite(b, tt.size); !ok {
				what := fmt.Sprintf("value %d", (off/tt.size)*tt.block+uint64(i))
				if tt.block > 1 {
					what = fmt.Sprintf("the scale of block %d", off/tt.size+uint64(i))
				}
				return fmt.Errorf("%w: %s: tensor %s (%s) holds NaN or Inf at %s: the file is damaged or was converted wrongly",
					ErrFormat, f.Path, t.Name, t.Type, what)
			}
		}
	}
	return nil
}

// scaleLayout says where a type's floats lie in one block: f16 or f32 values at offsets.
type scaleLayout struct {
	f16, f32 []int // byte offsets in a block
	f16All   bool  // every 2 bytes is an f16 (F16)
	bf16All  bool
	f32All   bool
}

// ggml's block layouts (ggml-common.h).
var scaleLayouts = map[TensorType]scaleLayout{
	0:  {f32All: true},       // F32
	1:  {f16All: true},       // F16
	30: {bf16All: true},      // BF16
	2:  {f16: []int{0}},      // Q4_0: d, qs[16]
	3:  {f16: []int{0, 2}},   // Q4_1: d, m, qs[16]
	6:  {f16: []int{0}},      // Q5_0: d, qh[4], qs[16]
	7:  {f16: []int{0, 2}},   // Q5_1: d, m, qh[4], qs[16]
	8:  {f16: []int{0}},      // Q8_0: d, qs[32]
	10: {f16: []int{80, 82}}, // Q2_K: scales[16], qs[64], d, dmin
	11: {f16: []int{108}},    // Q3_K: hmask[32], qs[64], scales[12], d
	12: {f16: []int{0, 2}},   // Q4_K: d, dmin, scales[12], qs[128]
	13: {f16: []int{0, 2}},   // Q5_K: d, dmin, scales[12], qh[32], qs[128]
	14: {f16: []int{208}},    // Q6_K: ql[128], qh[64], scales[16], d
	15: {f32: []int{0}},      // Q8_K: d (f32), qs[256], bsums[16]
}

// firstNonFinite returns the index of the first value (for whole-float types) or block
// (for quantised ones) in b that holds a NaN or an infinity.
func (l scaleLayout) firstNonFinite(b []byte, blockSize uint64) (int, bool) {
	f16bad := func(h uint16) bool { return h&0x7c00 == 0x7c00 }
	switch {
	case l.f32All:
		for i := 0; i+4 <= len(b); i += 4 {
			if binary.LittleEndian.Uint32(b[i:])&0x7f800000 == 0x7f800000 {
				return i / 4, false
			}
		}
	case l.f16All:
		for i := 0; i+2 <= len(b); i += 2 {
			if f16bad(binary.LittleEndian.Uint16(b[i:])) {
				return i / 2, false
			}
		}
	case l.bf16All:
		for i := 0; i+2 <= len(b); i += 2 {
			if binary.LittleEndian.Uint16(b[i:])&0x7f80 == 0x7f80 {
				return i / 2, false
			}
		}
	default:
		bs := int(blockSize)
		for blk := 0; (blk+1)*bs <= len(b); blk++ {
			base := b[blk*bs:]
			for _, o := range l.f16 {
				if f16bad(binary.LittleEndian.Uint16(base[o:])) {
					return blk, false
				}
			}
			for _, o := range l.f32 {
				if binary.LittleEndian.Uint32(base[o:])&0x7f800000 == 0x7f800000 {
					return blk, false
				}
			}
		}
	}
	return 0, true
}

// CheckAdapter checks a LoRA adapter before llama.cpp sees it, against the model it is
// for: it is an adapter of the same architecture, adapter.lora.alpha is finite, every
// lora_a/lora_b pair belongs to a tensor of the model with matching shapes, and (with
// CheckData) no weight is NaN or Inf.
func (f *File) CheckAdapter(model *File) error {
	if t := f.String("general.type"); t != "adapter" {
		return fmt.Errorf("%s is not a LoRA adapter (general.type %q, want \"adapter\"); convert PEFT adapters with `scope llm convert-adapter`", f.Path, t)
	}
	if a, m := f.String("general.architecture"), model.String("general.architecture"); a != m {
		return f.hparamError("general.architecture", strconv.Quote(a), fmt.Sprintf("%q, the architecture of %s", m, model.Path))
	}
	if t, ok := f.Get("adapter.type"); ok && t != "lora" {
		return f.hparamError("adapter.type", describe(t), `"lora"`)
	}
	if err := f.f32("adapter.lora.alpha", 0, 1e6, false); err != nil {
		return err
	}
	pairs := map[string][2]*TensorInfo{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		base, ab, ok := strings.Cut(t.Name, ".lora_")
		if !ok || (ab != "a" && ab != "b") {
			return fmt.Errorf("%w: %s: tensor %s is not a LoRA tensor (<name>.lora_a or <name>.lora_b)", ErrFormat, f.Path, t.Name)
		}
		p := pairs[base]
		p[map[string]int{"a": 0, "b": 1}[ab]] = t
		pairs[base] = p
	}
	if len(pairs) == 0 {
		return fmt.Errorf("%w: %s holds no LoRA tensors", ErrFormat, f.Path)
	}
	names := make([]string, 0, len(pairs))
	for n := range pairs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := pairs[n]
		if p[0] == nil || p[1] == nil {
			return fmt.Errorf("%w: %s: %s has only one of lora_a and lora_b", ErrFormat, f.Path, n)
		}
		mt, ok := model.Tensor(n)
		if !ok {
			return fmt.Errorf("%w: %s: adapts %s, which %s does not have (an adapter for another model?)", ErrFormat, f.Path, n, model.Path)
		}
		a, b := p[0].Shape, p[1].Shape
		if len(a) != 2 || len(b) != 2 || len(mt.Shape) < 2 || a[0] != mt.Shape[0] || b[1] != mt.Shape[1] || a[1] != b[0] {
			return fmt.Errorf("%w: %s: %s.lora_a %v and .lora_b %v do not fit %s %v of %s (want [%d r] and [r %d])",
				ErrFormat, f.Path, n, a, b, n, mt.Shape, model.Path, mt.Shape[0], mt.Shape[min(1, len(mt.Shape)-1)])
		}
	}
	return nil
}
