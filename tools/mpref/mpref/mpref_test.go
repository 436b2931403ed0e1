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

// A seeded run hands back the inputs it generated; feeding them back as given inputs
// must reproduce the outputs, so the converter can run ONNX on exactly those tensors.
// face_landmark_with_attention carries MediaPipe's custom operators, which LiteRT runs.
func TestLiteRTRandomSeedInputsRoundTrip(t *testing.T) {
	env := locate(t)
	var runs []ModelRun
	for _, name := range []string{"hand_landmark_lite.tflite", "face_landmark_with_attention.tflite"} {
		p, err := assets.MediaPipeModel(name)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, ModelRun{Model: p, RandomSeeds: []uint32{42}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first, err := env.RunLiteRT(ctx, runs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range runs {
		ins := first[i].RunInputs[0]
		if len(ins) != 1 || len(ins[0].Float32) != 224*224*3 && len(ins[0].Float32) != 192*192*3 {
			t.Fatalf("%s: generated inputs %+v", runs[i].Model, first[i].Inputs)
		}
		for _, v := range ins[0].Float32 {
			if v < 0 || v >= 1 {
				t.Fatalf("%s: generated input value %v outside [0, 1)", runs[i].Model, v)
			}
		}
		if got, want := len(first[i].RunOutputs[0]), len(first[i].Outputs); got != want {
			t.Errorf("%s: %d outputs, model declares %d", runs[i].Model, got, want)
		}
		runs[i] = ModelRun{Model: runs[i].Model, Runs: [][]Tensor{ins}}
	}
	again, err := env.RunLiteRT(ctx, runs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range runs {
		for o, a := range first[i].RunOutputs[0] {
			b := again[i].RunOutputs[0][o]
			for k := range a.Float32 {
				if a.Float32[k] != b.Float32[k] {
					t.Fatalf("%s output %s[%d]: %v from the seed, %v from the same inputs given back", runs[i].Model, a.Name, k, a.Float32[k], b.Float32[k])
				}
			}
		}
	}
}
