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
	// Forced are the logits of every position of the tokens followed by Greedy.
	Forced [][]float32 `json:"forced_logits"`
}

// logitTol is how far llama.cpp's logits may be from PyTorch's: a fixed bar (ggml's F16
// and F32 kernels and PyTorch's float32 differ in summation order, by about 1e-3 here),
// never one measured on the host.
const logitTol = 1e-2

// checkTeacherForced feeds llama.cpp the probe followed by PyTorch's greedy tokens and
// compares every position's logits with PyTorch's on the same tokens: all within
// logitTol, and the same argmax wherever PyTorch's top two are more than 2*logitTol
// apart (closer than that, either runtime may rightly pick either token).
func checkTeacherForced(t *testing.T, what, model, adapter string, ref reference) {
	t.Helper()
	toks := append([]llamacpp.Token(nil), probe...)
	for _, g := range ref.Greedy {
		toks = append(toks, llamacpp.Token(g))
	}
	got, _ := runLlama(t, model, adapter, toks, 0)
	if len(ref.Forced) != len(toks) {
		t.Fatalf("%s: PyTorch gave %d rows of logits for %d tokens", what, len(ref.Forced), len(toks))
	}
	problems, summary := compareForced(got, ref.Forced)
	t.Logf("%s, teacher-forced over %d positions: %s", what, len(toks), summary)
	for _, p := range problems {
		t.Errorf("%s: %s", what, p)
	}
}

// compareForced compares two runs' per-position logits as checkTeacherForced says.
func compareForced(got, want [][]float32) (problems []string, summary string) {
	worst, checked := 0.0, 0
	for i := range want {
		d := 0.0
		for j := range want[i] {
			d = math.Max(d, math.Abs(float64(got[i][j]-want[i][j])))
		}
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		worst = math.Max(worst, d)
		if !(d <= logitTol) {
			problems = append(problems, fmt.Sprintf("position %d: logits differ from PyTorch's by %.3g (bar %g)", i, d, logitTol))
		}
		top1, top2 := topTwo(want[i])
		if want[i][top1]-want[i][top2] > 2*logitTol {
			checked++
			if g, _ := topTwo(got[i]); g != top1 {
				problems = append(problems, fmt.Sprintf("position %d: llama.cpp's most likely token is %d, PyTorch's %d (PyTorch's margin %.3g > %g)",
					i, g, top1, want[i][top1]-want[i][top2], 2*logitTol))
			}
		}
	}
	return problems, fmt.Sprintf("max |logit diff| %.2g; argmax held at %d of %d positions (the rest are near-ties)", worst, checked, len(want))
}

func topTwo(x []float32) (best, second int) {
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
	checkTeacherForced(t, "HF -> GGUF (F16)", out, "", ref)
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

	checkTeacherForced(t, "our adapter on the base model", base, ours, ref)

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
	// The same check must fail on it: this is the check's negative case, a real
	// conversion error.
	toks := append([]llamacpp.Token(nil), probe...)
	for _, g := range ref.Greedy {
		toks = append(toks, llamacpp.Token(g))
	}
	got2, _ := runLlama(t, base, theirs, toks, 0)
	problems, summary := compareForced(got2, ref.Forced)
	t.Logf("ollama v0.17.4 ConvertAdapter: %s; %d problems", summary, len(problems))
	if len(problems) == 0 {
		t.Errorf("ollama's ConvertAdapter now agrees with PyTorch: drop our converter")
	}
}

// TestTeacherForcedCheckCatchesBrokenConversions breaks the converted model on purpose,
// in ways a converter can (one weight matrix transposed, the rotary halves in the wrong
// order), and requires the teacher-forced check to fail.
func TestTeacherForcedCheckCatchesBrokenConversions(t *testing.T) {
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
	good := filepath.Join(dir, "model.gguf")
	if err := Model(hf, good); err != nil {
		t.Fatal(err)
	}
	ref := runReference(t, hf, "", probe, 8)
	toks := append([]llamacpp.Token(nil), probe...)
	for _, g := range ref.Greedy {
		toks = append(toks, llamacpp.Token(g))
	}
	f, err := gguf.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		name   string
		tensor string
		mutate func(ti gguf.TensorInfo, data []byte)
	}{
		{"blk.0.attn_output.weight transposed", "blk.0.attn_output.weight", transposeSquare},
		{"blk.1.attn_q.weight rows of each head in the other rotary order", "blk.1.attn_q.weight", func(ti gguf.TensorInfo, data []byte) {
			heads, _ := f.Uint("llama.attention.head_count")
			swapRotaryHalves(ti, data, int(heads))
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.gguf")
			if err := rewriteTensor(good, bad, b.tensor, b.mutate); err != nil {
				t.Fatal(err)
			}
			got, _ := runLlama(t, bad, "", toks, 0)
			problems, summary := compareForced(got, ref.Forced)
			if len(problems) == 0 {
				t.Fatalf("the check passes a broken model (%s)", summary)
			}
			t.Logf("caught: %s; first: %s", summary, problems[0])
		})
	}
}

// rewriteTensor copies the GGUF in to out with the bytes of one tensor changed in place.
func rewriteTensor(in, out, name string, mutate func(ti gguf.TensorInfo, data []byte)) error {
	f, err := gguf.Open(in)
	if err != nil {
		return err
	}
	ti, ok := f.Tensor(name)
	if !ok {
		return fmt.Errorf("%s has no tensor %s", in, name)
	}
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	start := f.DataOffset + int64(ti.Offset)
	mutate(ti, b[start:start+int64(ti.Size)])
	return os.WriteFile(out, b, 0o644)
}

// transposeSquare transposes a square matrix of 2- or 4-byte values in place.
func transposeSquare(ti gguf.TensorInfo, data []byte) {
	n := int(ti.Shape[0])
	size := len(data) / (n * n)
	tmp := make([]byte, size)
	for r := range n {
		for c := r + 1; c < n; c++ {
			a, b := data[(r*n+c)*size:][:size], data[(c*n+r)*size:][:size]
			copy(tmp, a)
			copy(a, b)
			copy(b, tmp)
		}
	}
}

// swapRotaryHalves reorders each head's rows of a query weight from llama.cpp's
// interleaved rotary layout back to Hugging Face's halves: the permutation a converter
// must apply to q and k and can forget.
func swapRotaryHalves(ti gguf.TensorInfo, data []byte, heads int) {
	rows := int(ti.Shape[1])
	row := len(data) / rows
	hd := rows / heads
	orig := append([]byte(nil), data...)
	for h := range heads {
		for i := range hd / 2 {
			copy(data[(h*hd+i)*row:][:row], orig[(h*hd+2*i)*row:][:row])
			copy(data[(h*hd+hd/2+i)*row:][:row], orig[(h*hd+2*i+1)*row:][:row])
		}
	}
}
