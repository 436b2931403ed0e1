package slt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"scope/models/slt/convert"
	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
)

func TestPlainPrompt(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  []string
		hyps []Hypothesis
		want string
	}{
		{"example of train/slt/README.md", []string{"am tag scheint  verbreitet die sonne ."}, []Hypothesis{{"ABEND REGION WOLKE", 1}},
			"ctx: am tag scheint verbreitet die sonne .\ngloss 1.00: ABEND REGION WOLKE\ntext:"},
		{"no context, three of four hypotheses, scores clamped", nil,
			[]Hypothesis{{"A B", 0.914}, {"A", 0.06}, {" B\tC ", -1}, {"D", 0.01}},
			"gloss 0.91: A B\ngloss 0.06: A\ngloss 0.00: B C\ntext:"},
		{"empty context turns are skipped", []string{"", "eins", "  "}, []Hypothesis{{"X", 2}},
			"ctx: eins\ngloss 1.00: X\ntext:"},
	} {
		got, err := PlainPrompt(tc.ctx, tc.hyps)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := PlainPrompt(nil, nil); err == nil {
		t.Error("a prompt without hypotheses was accepted")
	}
}

type fixture struct {
	dir, plain, chat, adapterA, adapterB string
}

var fx *fixture

// tiny writes the test models once per test binary: a plain-format model, a model with a
// ChatML template, and two LoRA adapters for the plain one.
func tiny(t testing.TB) *fixture {
	t.Helper()
	if fx != nil {
		return fx
	}
	dir, err := os.MkdirTemp("", "slt-test-")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, plain: filepath.Join(dir, "plain.gguf"), chat: filepath.Join(dir, "chat.gguf"),
		adapterA: filepath.Join(dir, "a.gguf"), adapterB: filepath.Join(dir, "b.gguf")}
	cfg := tinyllama.Default()
	cfg.ChatTemplate = false
	m, err := tinyllama.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WriteGGUF(f.plain, gguf.F16); err != nil {
		t.Fatal(err)
	}
	for i, out := range []string{f.adapterA, f.adapterB} {
		peft := filepath.Join(dir, fmt.Sprint("peft", i))
		if err := m.WriteAdapter(peft, 4, []string{"q_proj", "k_proj", "v_proj"}, 0.3, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
		if err := convert.Adapter(peft, f.plain, out); err != nil {
			t.Fatal(err)
		}
	}
	cm, err := tinyllama.New(tinyllama.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.WriteGGUF(f.chat, gguf.F16); err != nil {
		t.Fatal(err)
	}
	fx = f
	return f
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fx != nil {
		os.RemoveAll(fx.dir)
	}
	os.Exit(code)
}

var hyps = []Hypothesis{{"MORGEN REGEN NORD", 0.8}, {"MORGEN REGEN", 0.15}, {"REGEN", 0.05}}

func TestTranslateStreams(t *testing.T) {
	f := tiny(t)
	for _, tc := range []struct {
		model string
		chat  bool
	}{{f.plain, false}, {f.chat, true}} {
		tr, err := Open(Config{Model: tc.model, MaxTokens: 12, Context: 1024}) // the instruction is long in a 400-token vocabulary
		if err != nil {
			t.Fatal(err)
		}
		if tr.UsesChatTemplate() != tc.chat {
			t.Errorf("%s: chat template in use = %v, want %v", tc.model, tr.UsesChatTemplate(), tc.chat)
		}
		var pieces []string
		res, err := tr.Translate(context.Background(), []string{"guten tag"}, hyps, func(s string) error {
			pieces = append(pieces, s)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(pieces, "") != res.Text {
			t.Errorf("streamed %q, result %q", strings.Join(pieces, ""), res.Text)
		}
		if res.Tokens == 0 && res.StoppedBy != "eos" {
			t.Errorf("no tokens generated: %+v", res)
		}
		if res.Tokens > 12 {
			t.Errorf("%d tokens generated, max 12", res.Tokens)
		}
		again, err := tr.Translate(context.Background(), []string{"guten tag"}, hyps, nil)
		if err != nil || again.Text != res.Text {
			t.Errorf("greedy translation not repeatable: %q then %q (%v)", res.Text, again.Text, err)
		}
		t.Logf("chat=%v: %q (%d prompt tokens, %d generated, stopped by %s)", tc.chat, res.Text, res.PromptTokens, res.Tokens, res.StoppedBy)
		tr.Close()
	}
}

func TestTranslateStopsWhenAsked(t *testing.T) {
	tr, err := Open(Config{Model: tiny(t).plain, MaxTokens: 40, Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	stop := errors.New("enough")
	n := 0
	res, err := tr.Translate(context.Background(), nil, hyps, func(string) error {
		n++
		return stop
	})
	if n > 0 && (!errors.Is(err, stop) || res.Tokens >= 40) {
		t.Errorf("emit's error did not stop the translation: %v after %d tokens", err, res.Tokens)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Translate(ctx, nil, hyps, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	// The translator still works afterwards.
	if _, err := tr.Translate(context.Background(), nil, hyps, nil); err != nil {
		t.Error(err)
	}
}

func TestContextDropsOldestTurns(t *testing.T) {
	tr, err := Open(Config{Model: tiny(t).plain, MaxTokens: 16, Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var turns []string
	for i := 0; i < 40; i++ {
		turns = append(turns, fmt.Sprintf("turn %d der regen im norden und wind", i))
	}
	toks, dropped, err := tr.Prompt(turns, hyps)
	if err != nil {
		t.Fatal(err)
	}
	if dropped == 0 || len(toks)+16 > 256 {
		t.Fatalf("%d prompt tokens, %d turns dropped: the context was not bounded", len(toks), dropped)
	}
	text := tr.Model().Detokenize(toks)
	if !strings.Contains(text, "turn 39 ") || strings.Contains(text, "turn 0 ") || strings.Contains(text, fmt.Sprintf("turn %d ", dropped-1)) {
		t.Errorf("dropped %d turns but the prompt is %q", dropped, text)
	}
	if !strings.Contains(text, fmt.Sprintf("turn %d ", dropped)) {
		t.Errorf("turn %d should be the oldest kept: %q", dropped, text)
	}
	res, err := tr.Translate(context.Background(), turns, hyps, nil)
	if err != nil || res.DroppedTurns != dropped {
		t.Errorf("translate with a long context: %+v, %v", res, err)
	}
}

func TestDomainAdapters(t *testing.T) {
	f := tiny(t)
	tr, err := Open(Config{Model: f.plain, MaxTokens: 8, Context: 256, Adapters: map[string]string{"pharmacy": f.adapterA, "reception": f.adapterB}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	run := func() string {
		r, err := tr.Translate(context.Background(), nil, hyps, nil)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%q/%d", r.Text, r.Tokens)
	}
	embedNorm := func() float64 {
		e, err := tr.Embed(context.Background(), "der regen")
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for _, v := range e {
			s += float64(v) * float64(v)
		}
		return s
	}
	base, baseE := run(), embedNorm()
	if err := tr.SetDomain("pharmacy", 1); err != nil {
		t.Fatal(err)
	}
	a, aE := run(), embedNorm()
	if err := tr.SetDomain("reception", 1); err != nil {
		t.Fatal(err)
	}
	b, bE := run(), embedNorm()
	if err := tr.SetDomain("pharmacy", 0); err != nil { // scale 0: the base model
		t.Fatal(err)
	}
	if e := embedNorm(); math.Abs(e-baseE) > 1e-6*baseE {
		t.Errorf("adapter at scale 0 changes the embedding: %g vs %g", e, baseE)
	}
	if err := tr.SetDomain("", 0); err != nil {
		t.Fatal(err)
	}
	if got := run(); got != base {
		t.Errorf("after clearing the adapter: %s, base %s", got, base)
	}
	if aE == baseE || bE == baseE || aE == bE {
		t.Errorf("adapters do not change the model: norms %g %g %g", baseE, aE, bE)
	}
	t.Logf("base %s, pharmacy %s, reception %s", base, a, b)
	if err := tr.SetDomain("cardiology", 1); err == nil {
		t.Error("an unknown domain was accepted")
	}
}

func TestEmbed(t *testing.T) {
	tr, err := Open(Config{Model: tiny(t).plain, Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	a1, err := tr.Embed(context.Background(), "der regen im norden")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Translate(context.Background(), nil, hyps, nil); err != nil {
		t.Fatal(err)
	}
	a2, _ := tr.Embed(context.Background(), "der  regen im norden")
	b, _ := tr.Embed(context.Background(), "sonne im süden")
	if len(a1) != tr.Model().EmbeddingSize() {
		t.Fatalf("embedding has %d values, want %d", len(a1), tr.Model().EmbeddingSize())
	}
	if c := cosine(a1, a2); c < 0.99999 {
		t.Errorf("same text embeds differently after a translation: cosine %g", c)
	}
	if c := cosine(a1, b); c > 0.9999 {
		t.Errorf("different texts embed the same: cosine %g", c)
	}
	if _, err := tr.Embed(context.Background(), "   "); err == nil {
		t.Error("embedding an empty text succeeded")
	}
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// rss is the resident memory of this process (Go heap and C allocations alike).
func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func TestMemoryFlatOver10000Translations(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	f := tiny(t)
	tr, err := Open(Config{Model: f.plain, MaxTokens: 2, Context: 256, Adapters: map[string]string{"a": f.adapterA, "b": f.adapterB}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ctx := context.Background()
	step := func(i int) {
		domain := []string{"", "a", "b"}[i%3]
		if err := tr.SetDomain(domain, 0.5+float32(i%2)/2); err != nil {
			t.Fatal(err)
		}
		turns := []string{fmt.Sprint(i)} // short prompts keep 10,000 translations quick
		// Two tokens of a random model are often no text at all (ErrEmpty): not what this
		// test measures.
		if _, err := tr.Translate(ctx, turns, []Hypothesis{{"REGEN", 1}}, func(string) error { return nil }); err != nil && !errors.Is(err, ErrEmpty) {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := tr.Embed(ctx, turns[0]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < 200; i++ { // warm up: buffers reach their working size
		step(i)
	}
	runtime.GC()
	debug.FreeOSMemory()
	before := rss(t)
	for i := 0; i < n; i++ {
		step(i)
	}
	runtime.GC()
	debug.FreeOSMemory()
	after := rss(t)
	t.Logf("RSS %.1f MB before, %.1f MB after %d translations", float64(before)/1e6, float64(after)/1e6, n)
	if after-before > 8<<20 {
		t.Errorf("memory grew by %.1f MB over %d translations", float64(after-before)/1e6, n)
	}
}

func TestOpenErrors(t *testing.T) {
	f := tiny(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"chat format without a template", Config{Model: f.plain, Format: FormatChat}, "no chat template"},
		{"unknown format", Config{Model: f.plain, Format: "yaml"}, "unknown prompt format"},
		{"answer longer than the context", Config{Model: f.plain, Context: 128, MaxTokens: 100}, "too little"},
		{"missing adapter", Config{Model: f.plain, Adapters: map[string]string{"x": f.dir + "/none.gguf"}}, "none.gguf"},
		{"model as adapter", Config{Model: f.plain, Adapters: map[string]string{"x": f.chat}}, "not a LoRA adapter"},
		{"missing model", Config{Model: f.dir + "/nothing.gguf"}, "nothing.gguf"},
	} {
		tr, err := Open(tc.cfg)
		if err == nil {
			tr.Close()
			t.Errorf("%s: opened", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.want)
		}
	}
}
