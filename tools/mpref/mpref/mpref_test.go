package mpref

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"scope/internal/assets"
)

// locate returns the harness or ends the test: Fatal under CI=true, Skip elsewhere,
// like shareddata, so a clone without `make setup` still passes `go test`.
func locate(t *testing.T) Env {
	t.Helper()
	env, err := Locate()
	if err != nil {
		if errors.Is(err, ErrNotSetUp) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	return env
}

func TestLiteRTPoseLandmarkLite(t *testing.T) {
	env := locate(t)
	model, err := assets.MediaPipeModel("pose_landmark_lite.tflite")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	in := Tensor{DType: Float32, Shape: []int{1, 256, 256, 3}, Float32: make([]float32, 256*256*3)}
	for i := range in.Float32 {
		in.Float32[i] = rng.Float32()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The same input twice: LiteRT's CPU path must give the same numbers both times.
	res, err := env.RunLiteRT(ctx, []ModelRun{{Model: model, Runs: [][]Tensor{{in}, {in}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0].RunOutputs) != 2 {
		t.Fatalf("want 1 model with 2 runs, got %+v", res)
	}
	want := []int{195, 1, 65536, 159744, 117}
	for r, outs := range res[0].RunOutputs {
		if len(outs) != len(want) {
			t.Fatalf("run %d: %d outputs, want %d", r, len(outs), len(want))
		}
		for i, o := range outs {
			if o.DType != Float32 || len(o.Float32) != want[i] {
				t.Errorf("run %d output %d (%s): %s with %d values, want float32 with %d", r, i, o.Name, o.DType, o.Len(), want[i])
			}
			if o.Name != res[0].Outputs[i].Name {
				t.Errorf("run %d output %d named %q, model declares %q", r, i, o.Name, res[0].Outputs[i].Name)
			}
		}
	}
	a, b := res[0].RunOutputs[0][0].Float32, res[0].RunOutputs[1][0].Float32
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("landmark value %d differs between identical runs: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestLiteRTBadInputNamesTheProblem(t *testing.T) {
	env := locate(t)
	model, err := assets.MediaPipeModel("pose_landmark_lite.tflite")
	if err != nil {
		t.Fatal(err)
	}
	in := Tensor{DType: Float32, Shape: []int{1, 128, 128, 3}, Float32: make([]float32, 128*128*3)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = env.RunLiteRT(ctx, []ModelRun{{Model: model, Runs: [][]Tensor{{in}}}})
	if err == nil {
		t.Fatal("a 128x128 input to a 256x256 model ran without error")
	}
	t.Log(err)
	// Wrong element count is caught before any browser starts.
	in.Shape = []int{1, 256, 256, 3}
	if _, err := env.RunLiteRT(ctx, []ModelRun{{Model: model, Runs: [][]Tensor{{in}}}}); err == nil {
		t.Fatal("a tensor with too few values was accepted")
	}
}
