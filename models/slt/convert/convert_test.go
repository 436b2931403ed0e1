package convert

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	hfconvert "github.com/ollama/ollama/convert"
	fsggml "github.com/ollama/ollama/fs/ggml"

	"scope/models/slt/gguf"
	"scope/models/slt/llamacpp"
	"scope/models/slt/tinyllama"
)

// reference runs testdata/slt/llama_reference.py with Debian's PyTorch.
type reference struct {
	Logits [][]float32 `json:"logits"`
	Greedy []int       `json:"greedy"`
}

func runReference(t *testing.T, model, adapter string, toks []llamacpp.Token, generate int) reference {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, numpy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s with torch and numpy is needed (apt-get install python3-torch python3-numpy): %v", py, err)
		}
		t.Skipf("no PyTorch at %s: %v", py, err)
	}
	ids := make([]string, len(toks))
	for i, x := range toks {
		ids[i] = fmt.Sprint(x)
	}
	out := filepath.Join(t.TempDir(), "ref.json")
	args := []string{"../../../testdata/slt/llama_reference.py", "--model", model, "--tokens", strings.Join(ids, ","),
		"--generate", fmt.Sprint(generate), "--out", out}
	if adapter != "" {
		args = append(args, "--adapter", adapter)
	}
	cmd := exec.Command(py, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// runLlama decodes toks with model (and adapter) in llama.cpp and returns every position's
// logits and a greedy continuation.
func runLlama(t *testing.T, model, adapter string, toks []llamacpp.Token, generate int) ([][]float32, []int) {
	t.Helper()
	m, err := llamacpp.LoadModel(model, llamacpp.ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := llamacpp.NewContext(m, llamacpp.ContextParams{Context: 128, KV: llamacpp.KVF32})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if adapter != "" {
		a, err := m.LoadAdapter(adapter)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if err := c.SetAdapter(a, 1); err != nil {
			t.Fatal(err)
		}
		defer c.ClearAdapters()
	}
	ctx := context.Background()
	if err := c.Decode(ctx, toks, 0, true); err != nil {
		t.Fatal(err)
	}
	var logits [][]float32
	for i := range toks {
		logits = append(logits, c.Logits(i))
	}
	s := llamacpp.NewSampler(llamacpp.SamplerParams{})
	defer s.Close()
	var gen []int
	pos := len(toks)
	for i := 0; i < generate; i++ {
		tok := s.Sample(c, -1)
		gen = append(gen, int(tok))
		if err := c.Decode(ctx, []llamacpp.Token{tok}, pos, false); err != nil {
			t.Fatal(err)
		}
		pos++
	}
	return logits, gen
}

func maxDiff(a, b [][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			d = math.Max(d, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	return d
}

var probe = []llamacpp.Token{tinyllama.BOS, 300, 45, 310, 290, 7, 280, 301, 64, 99, 315, 288}

// writeAdapter writes a PEFT adapter with non-zero lora_B on q_proj, k_proj and v_proj.
func writeAdapter(t *testing.T, m *tinyllama.Model, dir string) {
	t.Helper()
	if err := m.WriteAdapter(dir, 4, []string{"q_proj", "k_proj", "v_proj"}, 0.3, 7); err != nil {
		t.Fatal(err)
	}
}

func TestConvertedModelMatchesPyTorch(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyllama.Default()
	cfg.ChatTemplate = false
	m, err := tinyllama.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hf := filepath.Join(dir, "hf")
	if err := m.WriteHF(hf); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "model.gguf")
	if err := Model(hf, out); err != nil {
		t.Fatal(err)
	}
	if f, err := gguf.Open(out); err != nil || !strings.Contains(f.String("general.name"), "synthetic") {
		t.Errorf("general.name not taken from config.json's _name_or_path: %v", err)
	}
	ref := runReference(t, hf, "", probe, 8)
	got, greedy := runLlama(t, out, "", probe, 8)
	d := maxDiff(got, ref.Logits)
	t.Logf("HF -> GGUF (F16): max |logit diff| %.2g against PyTorch", d)
	if d > 1e-2 {
		t.Errorf("converted model's logits differ from PyTorch's by %.3g (want <= 1e-2)", d)
	}
	if fmt.Sprint(greedy) != fmt.Sprint(ref.Greedy) {
		t.Errorf("greedy tokens %v, PyTorch %v", greedy, ref.Greedy)
	}
}

func TestAdapterMatchesPyTorchMerged(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyllama.Default()
	cfg.ChatTemplate = false
	m, err := tinyllama.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hf, peft := filepath.Join(dir, "hf"), filepath.Join(dir, "peft")
	if err := m.WriteHF(hf); err != nil {
		t.Fatal(err)
	}
	writeAdapter(t, m, peft)
	base := filepath.Join(dir, "base.gguf")
	if err := m.WriteGGUF(base, gguf.F32); err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(dir, "ours.gguf")
	if err := Adapter(peft, base, ours); err != nil {
		t.Fatal(err)
	}
	ref := runReference(t, hf, peft, probe, 8)
	plain := runReference(t, hf, "", probe, 0)
	if d := maxDiff(plain.Logits, ref.Logits); d < 0.5 {
		t.Fatalf("the test adapter barely changes the model (%.3g); it would not tell right from wrong", d)
	}

	got, greedy := runLlama(t, base, ours, probe, 8)
	d := maxDiff(got, ref.Logits)
	t.Logf("our adapter: max |logit diff| %.2g against PyTorch's merged model", d)
	if d > 1e-2 {
		t.Errorf("adapter logits differ from PyTorch's merged model by %.3g (want <= 1e-2)", d)
	}
	if fmt.Sprint(greedy) != fmt.Sprint(ref.Greedy) {
		t.Errorf("greedy tokens with adapter %v, PyTorch %v", greedy, ref.Greedy)
	}

	// ollama's converter on the same adapter: it permutes lora_A and fails this comparison.
	theirs := filepath.Join(dir, "theirs.gguf")
	r, err := os.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	g, err := fsggml.Decode(r, -1)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(theirs)
	if err != nil {
		t.Fatal(err)
	}
	err = hfconvert.ConvertAdapter(os.DirFS(peft), f, g.KV())
	f.Close()
	if err != nil {
		t.Fatalf("ollama ConvertAdapter: %v", err)
	}
	got2, greedy2 := runLlama(t, base, theirs, probe, 8)
	d2 := maxDiff(got2, ref.Logits)
	t.Logf("ollama v0.17.4 ConvertAdapter: max |logit diff| %.2g, greedy %v vs %v", d2, greedy2, ref.Greedy)
	if d2 <= 1e-2 {
		t.Errorf("ollama's ConvertAdapter now agrees with PyTorch (%.3g): drop our converter", d2)
	}
}
