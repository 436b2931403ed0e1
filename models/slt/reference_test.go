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
	}
}

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
		s := llamacpp.NewSampler(llamacpp.SamplerParams{})
		defer s.Close()
		for _, run := range []struct {
			name   string
			scale  float32
			logits [][]float32
			greedy []int
		}{{"base", 0, ref.Base.Logits, ref.Base.Greedy}, {"merged", 1, ref.Merged.Logits, ref.Merged.Greedy}} {
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
			var greedy []int
			pos := len(toks)
			for len(greedy) < ref.MaxNewTokens {
				tok := s.Sample(c, -1)
				greedy = append(greedy, int(tok))
				if m.IsEOG(tok) {
					break
				}
				if err := c.Decode(context.Background(), []llamacpp.Token{tok}, pos, false); err != nil {
					t.Fatal(err)
				}
				pos++
			}
			if !sameIDs(toSlice(greedy), run.greedy) {
				t.Errorf("%s %s: greedy %v, PyTorch %v", filepath.Base(path), run.name, greedy, run.greedy)
			}
		}
	}
	check(model32)
	check(model)

	m, err := llamacpp.LoadModel(model, llamacpp.ModelParams{VocabOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// The Translator builds the same prompt and writes the same text.
	tr, err := Open(Config{Model: model, Adapters: map[string]string{"demo": adapter}, MaxTokens: ref.MaxNewTokens, Context: 256, Format: FormatPlain})
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
