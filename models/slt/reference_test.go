package slt

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"scope/models/slt/convert"
	"scope/models/slt/gguf"
	"scope/models/slt/llamacpp"
)

// pyReference is train/slt/export_tiny's reference.json (see train/slt/README.md).
type pyReference struct {
	Prompt         string `json:"prompt"`
	PromptIDs      []int  `json:"prompt_ids"`
	MaxNewTokens   int    `json:"max_new_tokens"`
	TokenizerCases []struct {
		Text string `json:"text"`
		IDs  []int  `json:"ids"`
	} `json:"tokenizer_cases"`
	Base, Merged struct {
		Logits [][]float32 `json:"logits"`
		Greedy []int       `json:"greedy"`
		// GreedyLogits[i] are the logits after the prompt and Greedy[:i] (teacher forcing).
		GreedyLogits [][]float32 `json:"greedy_logits"`
		MinMargin    float64     `json:"greedy_min_top2_margin"`
	}
}

// Fixed bars for llama.cpp's logits against PyTorch's float32: an F32 model differs only
// in summation order; ggml multiplies F16 weights with activations rounded to F16 (11
// significant bits), a few hundredths on logits of this size. Neither is measured on the
// host. Where PyTorch's top two logits are closer than twice the bar, either token is a
// right answer, so the argmax is held only where the margin is wider.
const (
	logitTolF32 = 1e-2
	logitTolF16 = 1e-1
)

// TestTrainedFormatsAgainstPyTorch runs the Python side's tiny export (HF model, PEFT adapter,
// PyTorch reference outputs) through `scope llm convert`/`convert-adapter`'s code and compares.
func TestTrainedFormatsAgainstPyTorch(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, sentencepiece").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s with torch and sentencepiece is needed: %v", py, err)
		}
		t.Skipf("no PyTorch/sentencepiece at %s", py)
	}
	dir := t.TempDir()
	cmd := exec.Command(py, "-m", "train.slt.export_tiny", "--out", dir, "--seed", "1")
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("export_tiny: %v\n%s", err, b)
	}
	var ref pyReference
	b, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	model, adapter := filepath.Join(dir, "model.gguf"), filepath.Join(dir, "adapter.gguf")
	if err := convert.Model(filepath.Join(dir, "model"), model); err != nil {
		t.Fatal(err)
	}
	if err := convert.Adapter(filepath.Join(dir, "adapter"), model, adapter); err != nil {
		t.Fatal(err)
	}
	// ggml multiplies F16 weights with activations rounded to F16; compare the logits on an
	// F32 copy (the same numbers: the export's weights are F16-exact) and the greedy tokens on
	// both.
	model32 := filepath.Join(dir, "model-f32.gguf")
	if _, err := convert.Quantize(model, model32, gguf.F32); err != nil {
		t.Fatal(err)
	}

	prompt, err := PlainPrompt([]string{"guten abend liebe zuschauer"}, []Hypothesis{{"MORGEN REGEN NORD", 0.82}, {"MORGEN SONNE", 0.11}})
	if err != nil || prompt != ref.Prompt {
		t.Errorf("PlainPrompt = %q, train/slt/prompt.py wrote %q", prompt, ref.Prompt)
	}

	check := func(path string) {
		m, err := llamacpp.LoadModel(path, llamacpp.ModelParams{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		for _, tc := range ref.TokenizerCases {
			got, err := m.Tokenize(tc.Text, false, false)
			if err != nil || !sameIDs(got, tc.IDs) {
				t.Errorf("tokenize %q: llama.cpp %v, sentencepiece %v", tc.Text, got, tc.IDs)
			}
		}
		toks, err := m.Tokenize(ref.Prompt, true, false)
		if err != nil || !sameIDs(toks, ref.PromptIDs) {
			t.Fatalf("prompt tokens: llama.cpp %v, sentencepiece %v", toks, ref.PromptIDs)
		}
		a, err := m.LoadAdapter(adapter)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		c, err := llamacpp.NewContext(m, llamacpp.ContextParams{Context: 256, KV: llamacpp.KVF32})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, run := range []struct {
			name         string
			scale        float32
			logits       [][]float32
			greedy       []int
			greedyLogits [][]float32
		}{{"base", 0, ref.Base.Logits, ref.Base.Greedy, ref.Base.GreedyLogits}, {"merged", 1, ref.Merged.Logits, ref.Merged.Greedy, ref.Merged.GreedyLogits}} {
			c.ClearAdapters()
			if run.scale > 0 {
				if err := c.SetAdapter(a, run.scale); err != nil {
					t.Fatal(err)
				}
			}
			c.ClearMemory()
			if err := c.Decode(context.Background(), toks, 0, true); err != nil {
				t.Fatal(err)
			}
			d := 0.0
			for i := range toks {
				for j, v := range c.Logits(i) {
					d = math.Max(d, math.Abs(float64(v-run.logits[i][j])))
				}
			}
			t.Logf("%s %s: max |logit diff| %.2g against PyTorch", filepath.Base(path), run.name, d)
			if d > 1e-2 && path == model32 {
				t.Errorf("%s: logits differ from PyTorch by %.3g (want <= 1e-2)", run.name, d)
			}
			// Teacher forcing: feed PyTorch's greedy tokens and compare each step's logits,
			// so that one near-tie cannot send llama.cpp down another path.
			tol := logitTolF32
			if path == model {
				tol = logitTolF16
			}
			if len(run.greedyLogits) != len(run.greedy) {
				t.Fatalf("reference.json: %d rows of greedy_logits for %d greedy tokens", len(run.greedyLogits), len(run.greedy))
			}
			rows := [][]float32{append([]float32(nil), c.Logits(len(toks)-1)...)} // predicts greedy[0]
			if len(run.greedy) > 1 {
				forced := make([]llamacpp.Token, len(run.greedy)-1)
				for i, g := range run.greedy[:len(run.greedy)-1] {
					forced[i] = llamacpp.Token(g)
				}
				if err := c.Decode(context.Background(), forced, len(toks), true); err != nil {
					t.Fatal(err)
				}
				for i := range forced {
					rows = append(rows, append([]float32(nil), c.Logits(i)...))
				}
			}
			held, worst := 0, 0.0
			for i, want := range run.greedyLogits {
				got := rows[i]
				d := 0.0
				for j := range want {
					d = math.Max(d, math.Abs(float64(got[j]-want[j])))
				}
				worst = math.Max(worst, d)
				if !(d <= tol) {
					t.Errorf("%s %s: greedy step %d: logits differ from PyTorch by %.3g (bar %g)", filepath.Base(path), run.name, i, d, tol)
				}
				best, second := top2(want)
				if want[best]-want[second] > 2*float32(tol) {
					held++
					if g, _ := top2(got); g != best {
						t.Errorf("%s %s: greedy step %d: llama.cpp picks %d, PyTorch %d (margin %.3g)", filepath.Base(path), run.name, i, g, best, want[best]-want[second])
					}
				}
			}
			t.Logf("%s %s: teacher-forced over %d greedy steps: max |logit diff| %.2g (bar %g), argmax held at %d (the rest are near-ties)",
				filepath.Base(path), run.name, len(run.greedy), worst, tol, held)
		}
	}
	check(model32)
	check(model)

	m, err := llamacpp.LoadModel(model, llamacpp.ModelParams{VocabOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// The Translator builds the same prompt and writes the same text, on the F32 copy
	// (within 1e-2 of PyTorch), which decides every step as PyTorch does when each step's
	// top two are further apart than twice that.
	if ref.Merged.MinMargin <= 2*logitTolF32 {
		t.Logf("PyTorch's greedy path has a near-tie (margin %.3g): the translator's text is not compared", ref.Merged.MinMargin)
		return
	}
	tr, err := Open(Config{Model: model32, Adapters: map[string]string{"demo": adapter}, MaxTokens: ref.MaxNewTokens, Context: 256, Format: FormatPlain})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.SetDomain("demo", 1); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Translate(context.Background(), []string{"guten abend liebe zuschauer"}, []Hypothesis{{"MORGEN REGEN NORD", 0.82}, {"MORGEN SONNE", 0.11}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []llamacpp.Token
	for _, id := range ref.Merged.Greedy {
		if !m.IsEOG(llamacpp.Token(id)) {
			want = append(want, llamacpp.Token(id))
		}
	}
	// The runtime drops bytes that are not UTF-8 (random weights write byte tokens).
	wantText := strings.TrimSpace(strings.ToValidUTF8(strings.SplitN(m.Detokenize(want), "\n", 2)[0], ""))
	if res.PromptTokens != len(ref.PromptIDs) || res.Text != wantText {
		t.Errorf("translator: %d prompt tokens, text %q; PyTorch %d tokens, %q", res.PromptTokens, res.Text, len(ref.PromptIDs), wantText)
	}
}

func top2(x []float32) (best, second int) {
	best, second = 0, -1
	for i := 1; i < len(x); i++ {
		switch {
		case x[i] > x[best]:
			best, second = i, best
		case second < 0 || x[i] > x[second]:
			second = i
		}
	}
	if second < 0 {
		second = best
	}
	return best, second
}

func toSlice(x []int) []llamacpp.Token {
	out := make([]llamacpp.Token, len(x))
	for i, v := range x {
		out[i] = llamacpp.Token(v)
	}
	return out
}

func sameIDs(a []llamacpp.Token, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if int(a[i]) != b[i] {
			return false
		}
	}
	return true
}
