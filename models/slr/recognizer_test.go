package slr

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"scope/models/bundle"
)

type reference struct {
	FPS        float64   `json:"fps"`
	Turns      []string  `json:"turns"`
	ContextIDs []int64   `json:"context_ids"`
	Steps      int       `json:"steps"`
	Vocab      int       `json:"vocab"`
	LogProbs   []float32 `json:"log_probs"`
	Embedding  []float32 `json:"embedding"`
	Losses     []float64 `json:"losses"`
}

// tinyBundle trains a tiny context model in PyTorch (seconds), exports it and returns the
// bundle folder and PyTorch's reference output on one toy sentence.
func tinyBundle(t *testing.T) (string, *reference, []Frame) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	python(t, "tiny", "--out", dir, "--steps", "30")
	var ref reference
	b, err := os.ReadFile(filepath.Join(dir, "reference", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	frames, fps := readFrames(t, filepath.Join(dir, "reference", "frames.f32"))
	if fps != ref.FPS {
		t.Fatalf("frames at %g fps, reference says %g", fps, ref.FPS)
	}
	return dir, &ref, frames
}

// TestONNXRuntimeMatchesPyTorch is the export check: features computed in Go, context ids
// from the Go tokenizer, the model on ONNX Runtime, against PyTorch on the same input.
func TestONNXRuntimeMatchesPyTorch(t *testing.T) {
	dir, ref, frames := tinyBundle(t)
	if n := len(ref.Losses); n < 10 || mean(ref.Losses[n-5:]) >= mean(ref.Losses[:5]) {
		t.Fatalf("the tiny training run did not learn: CTC losses %v", ref.Losses)
	}
	man, err := bundle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := man.Verify(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, Options{Precision: "fp32", TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tok, err := NewTokenizer(man.SLR.ContextTokenizer)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode(ref.Turns); !equalIDs(got, ref.ContextIDs) {
		t.Fatalf("context ids: Go %v, Python %v", got, ref.ContextIDs)
	}
	out, err := r.Run(context.Background(), frames, ref.FPS, ref.Turns)
	if err != nil {
		t.Fatal(err)
	}
	if out.Steps != ref.Steps || out.Vocab != ref.Vocab {
		t.Fatalf("output %dx%d, PyTorch %dx%d", out.Steps, out.Vocab, ref.Steps, ref.Vocab)
	}
	worst := 0.0
	for i, v := range out.LogProbs {
		worst = math.Max(worst, math.Abs(float64(v-ref.LogProbs[i])))
	}
	if worst > 1e-4 {
		t.Fatalf("ONNX Runtime and PyTorch log-probabilities differ by up to %g (limit 1e-4)", worst)
	}
	t.Logf("largest log-probability difference ORT vs PyTorch: %g", worst)
	if len(out.Embedding) != len(ref.Embedding) || len(out.Embedding) == 0 {
		t.Fatalf("embedding has %d values, PyTorch %d", len(out.Embedding), len(ref.Embedding))
	}
	for i, v := range out.Embedding {
		if d := math.Abs(float64(v - ref.Embedding[i])); d > 1e-4 {
			t.Fatalf("embedding [%d]: ORT %g, PyTorch %g", i, v, ref.Embedding[i])
		}
	}
	hyps := r.Decode(out)
	if len(hyps) == 0 || len(hyps) > 3 {
		t.Fatalf("got %d hypotheses, want 1..3", len(hyps))
	}
	for i := 1; i < len(hyps); i++ {
		if hyps[i].Score > hyps[i-1].Score {
			t.Errorf("hypotheses not sorted by score: %v", hyps)
		}
	}

	q, err := Open(dir, Options{Precision: "int8"})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	qo, err := q.Run(context.Background(), frames, ref.FPS, ref.Turns)
	if err != nil {
		t.Fatal(err)
	}
	if qo.Steps != out.Steps || qo.Vocab != out.Vocab {
		t.Fatalf("int8 output %dx%d, fp32 %dx%d", qo.Steps, qo.Vocab, out.Steps, out.Vocab)
	}
	fi, _ := man.FileFor("slr", "fp32")
	qi, _ := man.FileFor("slr", "int8")
	if qi.Bytes >= fi.Bytes {
		t.Errorf("int8 model (%d bytes) is not smaller than fp32 (%d bytes)", qi.Bytes, fi.Bytes)
	}

	// A bundle whose model was altered after the manifest was written is refused.
	p := filepath.Join(dir, "slr.onnx")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{Precision: "fp32"}); !errors.Is(err, bundle.ErrTampered) {
		t.Fatalf("tampered model: got %v, want ErrTampered", err)
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func equalIDs(a, b []int64) bool {
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
