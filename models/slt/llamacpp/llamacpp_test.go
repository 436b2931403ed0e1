package llamacpp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
)

func tinyModel(t testing.TB) string {
	t.Helper()
	m, err := tinyllama.New(tinyllama.Default())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := m.WriteGGUF(path, gguf.F32); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadAndGenerate(t *testing.T) {
	path := tinyModel(t)
	m, err := LoadModel(path, ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if v, ok := m.Meta("general.architecture"); !ok || v != "llama" {
		t.Errorf("general.architecture = %q, %v", v, ok)
	}
	if !strings.Contains(m.ChatTemplate(), "<|im_start|>") {
		t.Errorf("chat template not read: %q", m.ChatTemplate())
	}
	toks, err := m.Tokenize("der regen im norden", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) < 2 || toks[0] != m.BOS() {
		t.Fatalf("tokens %v do not start with BOS %d", toks, m.BOS())
	}
	if got := m.Detokenize(toks); strings.TrimSpace(got) != "der regen im norden" {
		t.Errorf("detokenize(tokenize(x)) = %q", got)
	}
	c, err := NewContext(m, ContextParams{Context: 128, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := NewSampler(SamplerParams{})
	defer s.Close()
	gen := func() []Token {
		c.ClearMemory()
		if err := c.Decode(context.Background(), toks, 0, false); err != nil {
			t.Fatal(err)
		}
		var out []Token
		pos := len(toks)
		for i := 0; i < 16; i++ {
			tok := s.Sample(c, -1)
			out = append(out, tok)
			if err := c.Decode(context.Background(), []Token{tok}, pos, false); err != nil {
				t.Fatal(err)
			}
			pos++
		}
		return out
	}
	a, b := gen(), gen()
	if len(a) != 16 || !equal(a, b) {
		t.Errorf("greedy generation not repeatable: %v vs %v", a, b)
	}
	logits := c.Logits(-1)
	if len(logits) != m.VocabSize() {
		t.Errorf("logits has %d values, vocabulary %d", len(logits), m.VocabSize())
	}
}

func equal(a, b []Token) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTruncatedModelIsAnError(t *testing.T) {
	path := tinyModel(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 3, 20, 200, 5000, len(b) / 2, len(b) - 1} {
		bad := filepath.Join(t.TempDir(), "cut.gguf")
		if err := os.WriteFile(bad, b[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadModel(bad, ModelParams{})
		if err == nil {
			t.Fatalf("loading a copy cut at %d of %d bytes succeeded", n, len(b))
		}
		if !errors.Is(err, gguf.ErrFormat) || !strings.Contains(err.Error(), bad) {
			t.Errorf("cut at %d: error %q does not name the file or the format problem", n, err)
		}
	}
}

func TestContextFull(t *testing.T) {
	m, err := LoadModel(tinyModel(t), ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := NewContext(m, ContextParams{Context: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	toks := make([]Token, c.Size()+1) // llama.cpp rounds the size up
	for i := range toks {
		toks[i] = 3 + Token(i%200)
	}
	if err := c.Decode(context.Background(), toks, 0, false); !errors.Is(err, ErrContextFull) {
		t.Errorf("decoding %d tokens into %d: %v, want ErrContextFull", len(toks), c.Size(), err)
	}
}

func TestBuildInfo(t *testing.T) {
	s := BuildInfo()
	if !strings.Contains(s, "llama.cpp") || !strings.Contains(s, "CPU") {
		t.Errorf("BuildInfo() = %q", s)
	}
	t.Log(s)
}

func TestChatTemplate(t *testing.T) {
	out, err := ApplyChatTemplate(tinyllama.ChatMLTemplate, []ChatMessage{{"system", "S"}, {"user", "U"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
	if out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if _, err := ApplyChatTemplate("{{ nonsense }}", []ChatMessage{{"user", "U"}}, true); !errors.Is(err, ErrTemplateUnsupported) {
		t.Errorf("unknown template: %v", err)
	}
}

// TestVocabularyLlamaCppWouldAbortOn covers metadata that ggml asserts on (killing the
// process) instead of reporting: each must come back as an error.
func TestVocabularyLlamaCppWouldAbortOn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m *tinyllama.Model)
		want   string
	}{
		{"duplicate token", func(m *tinyllama.Model) { m.Tokens[300] = m.Tokens[301] }, "duplicate"},
		{"malformed byte token", func(m *tinyllama.Model) { m.Tokens[10] = "<0x" }, "byte token"},
		{"scores too short", func(m *tinyllama.Model) { m.Scores = m.Scores[:5] }, "entries"},
	} {
		m, err := tinyllama.New(tinyllama.Default())
		if err != nil {
			t.Fatal(err)
		}
		tc.change(m)
		path := filepath.Join(t.TempDir(), "bad.gguf")
		if err := m.WriteGGUF(path, gguf.F16); err != nil {
			t.Fatal(err)
		}
		_, err = LoadModel(path, ModelParams{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v (want an error naming the file and %q)", tc.name, err, tc.want)
		}
	}
}

func TestKVCacheTypes(t *testing.T) {
	m, err := LoadModel(tinyModel(t), ModelParams{}) // heads of 16 values
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewContext(m, ContextParams{Context: 64, KV: KVQ8_0}); err == nil || !strings.Contains(err.Error(), "multiples of 32") {
		t.Errorf("a Q8_0 cache for 16-value heads: %v", err)
	}
	m.Close()
	cfg := tinyllama.Default()
	cfg.Embd, cfg.Heads, cfg.KVHeads = 128, 4, 2 // heads of 32
	tm, err := tinyllama.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "h32.gguf")
	if err := tm.WriteGGUF(path, gguf.F32); err != nil {
		t.Fatal(err)
	}
	m, err = LoadModel(path, ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	toks, _ := m.Tokenize("der regen im norden und süden", true, false)
	var ref []float32
	for _, kv := range []KVType{KVF32, KVF16, KVQ8_0, KVQ4_0} {
		c, err := NewContext(m, ContextParams{Context: 64, KV: kv})
		if err != nil {
			t.Fatalf("KV type %d: %v", kv, err)
		}
		if err := c.Decode(context.Background(), toks, 0, false); err != nil {
			t.Fatalf("KV type %d: %v", kv, err)
		}
		l := c.Logits(-1)
		c.Close()
		if ref == nil {
			ref = l
			continue
		}
		d := 0.0
		for i := range l {
			d = max(d, float64(abs32(l[i]-ref[i])))
		}
		t.Logf("KV type %d: max |logit diff| %.3g against F32", kv, d)
		if d > 0.5 {
			t.Errorf("KV type %d: logits differ from an F32 cache by %.3g", kv, d)
		}
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// TestThreadCountsAreBounded: a thread count above the machine's CPUs is refused before
// ggml starts any thread, with the count, the CPUs and the setting named.
func TestThreadCountsAreBounded(t *testing.T) {
	m, err := LoadModel(tinyModel(t), ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, cp := range []ContextParams{{Context: 64, Threads: 100000}, {Context: 64, Threads: 1, BatchThreads: 100000}} {
		c, err := NewContext(m, cp)
		if err == nil {
			c.Close()
			t.Fatalf("%+v: no error", cp)
		}
		if !strings.Contains(err.Error(), "100000") || !strings.Contains(err.Error(), "slt.threads") || !strings.Contains(err.Error(), "CPUs") {
			t.Errorf("%+v: %v", cp, err)
		}
	}
}
