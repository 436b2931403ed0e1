package convert

import (
	"path/filepath"
	"testing"

	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
)

func TestQuantize(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyllama.Default()
	cfg.Embd, cfg.FF = 256, 512 // K-quants need rows of 256
	m, err := tinyllama.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f32 := filepath.Join(dir, "f32.gguf")
	if err := m.WriteGGUF(f32, gguf.F32); err != nil {
		t.Fatal(err)
	}
	ref, _ := runLlama(t, f32, "", probe, 0)
	for _, tc := range []struct {
		typ     gguf.TensorType
		maxDiff float64
	}{
		{gguf.F16, 0.01}, {gguf.Q8_0, 0.3}, {gguf.Q4_0, 3}, {gguf.Q4_K, 3}, // random weights: larger errors than a trained model
	} {
		out := filepath.Join(dir, tc.typ.String()+".gguf")
		rep, err := Quantize(f32, out, tc.typ)
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if rep.Types[tc.typ] == 0 {
			t.Errorf("%s: no tensor written as %s: %v", tc.typ, tc.typ, rep.Types)
		}
		if rep.OutSize >= rep.InSize {
			t.Errorf("%s: output %d bytes not smaller than input %d", tc.typ, rep.OutSize, rep.InSize)
		}
		got, _ := runLlama(t, out, "", probe, 0)
		d := maxDiff(got, ref)
		t.Logf("%s: %d -> %d bytes, max |logit diff| %.3g, types %v", tc.typ, rep.InSize, rep.OutSize, d, rep.Types)
		if d > tc.maxDiff {
			t.Errorf("%s: logits differ from F32 by %.3g (want <= %g)", tc.typ, d, tc.maxDiff)
		}
	}
}

func TestQuantizeFallsBackOnOddRows(t *testing.T) {
	dir := t.TempDir()
	m, err := tinyllama.New(tinyllama.Default()) // 64-wide rows: not a multiple of 256
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.gguf")
	if err := m.WriteGGUF(in, gguf.F32); err != nil {
		t.Fatal(err)
	}
	rep, err := Quantize(in, filepath.Join(dir, "q4k.gguf"), gguf.Q4_K)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Types[gguf.Q4_K] != 0 || rep.Types[gguf.Q4_0] == 0 {
		t.Errorf("64-wide rows: types %v, want Q4_0 in place of Q4_K", rep.Types)
	}
	if _, err := Quantize(in, filepath.Join(dir, "x.gguf"), gguf.TensorType(3)); err == nil {
		t.Error("quantizing to Q4_1 (unsupported) succeeded")
	}
}
