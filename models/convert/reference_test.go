package convert

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scope/internal/assets"
	"scope/models/runtime"
	"scope/tools/mpref/mpref"
)

// Real photographs from Debian's opencv-doc, cropped and resized to each model's input.
var referenceImages = []string{
	"/usr/share/doc/opencv-doc/examples/data/messi5.jpg",
	"/usr/share/doc/opencv-doc/examples/data/basketball1.png",
}

// mediapipeModels are the models of MediaPipe Holistic (and hand_landmark_lite from
// MediaPipe Hands) that must convert and match LiteRT.
var mediapipeModels = []string{
	"face_detection_short_range", "face_landmark", "hand_landmark_full", "hand_landmark_lite",
	"hand_recrop", "palm_detection_full", "palm_detection_lite", "pose_detection",
	"pose_landmark_full", "pose_landmark_heavy", "pose_landmark_lite",
}

// Raw outputs are held to LiteRT's with a bar taken from LiteRT alone: each input is
// also run through LiteRT moved by a few units in the last place (perturbULPs, as
// rounding in another kernel order moves it), and an output may differ from LiteRT's by
// spreadFactor times what LiteRT's own output moved then, or by rawFloor relative
// error, whichever is larger. LiteRT runs as WebAssembly, whose float arithmetic is the
// same on every host, so the bar is the same on every machine. What users see is held to
// fixed bars (userview_test.go).
const (
	perturbULPs   = 4
	perturbations = 1
	spreadFactor  = 16
	rawFloor      = 1e-4
)

// liteRTCase is one model with its inputs and what LiteRT gave for them.
type liteRTCase struct {
	name, onnx string
	model      []byte
	inputs     []tensor
	want       [][][]float32 // [input][output]
	spread     [][]float64   // [input][output]: LiteRT's own relative spread
	outNames   []string
}

// TestMatchesLiteRT converts every MediaPipe model, runs it on ONNX Runtime and on
// LiteRT (the TFLite runtime, in headless Chromium) with the same inputs, real image
// crops and a random tensor, and checks both what users see (landmarks, probabilities,
// boxes; userView) and every raw output against a bar from LiteRT's own sensitivity.
// Then it breaks each converted model on purpose (a transposed kernel, padding on the
// wrong side) and requires the same check to fail, so the check can still catch a real
// conversion error.
func TestMatchesLiteRT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs LiteRT in Chromium")
	}
	env, err := mpref.Locate()
	if err != nil {
		if errors.Is(err, mpref.ErrNotSetUp) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	needORT(t)
	var images []image.Image
	for _, p := range referenceImages {
		img, err := loadImage(p)
		if err != nil {
			if os.Getenv("CI") != "true" {
				t.Skipf("%v (apt-get install opencv-doc)", err)
			}
			t.Fatal(err)
		}
		images = append(images, img)
	}
	dir := t.TempDir()
	var cases []*liteRTCase
	var runs []mpref.ModelRun
	for _, name := range mediapipeModels {
		src, err := assets.MediaPipeModel(name + ".tflite")
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name+".onnx")
		r, err := File(src, out, Options{})
		if err != nil {
			t.Fatal(err)
		}
		shape, err := inputShape(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lo := float32(0)
		if strings.Contains(name, "detection") {
			lo = -1 // detectors take [-1, 1], landmark models [0, 1]
		}
		c := &liteRTCase{name: name, onnx: out}
		if c.model, err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
		for _, img := range images {
			c.inputs = append(c.inputs, imageTensor(img, shape, lo))
		}
		rng := rand.New(rand.NewPCG(7, uint64(len(cases))))
		rnd := tensor{shape: shape, f32: make([]float32, numel(shape))}
		for i := range rnd.f32 {
			rnd.f32[i] = lo + (1-lo)*rng.Float32()
		}
		c.inputs = append(c.inputs, rnd)
		mr := mpref.ModelRun{Model: src}
		add := func(x []float32) {
			mr.Runs = append(mr.Runs, []mpref.Tensor{{DType: mpref.Float32, Shape: ints(shape), Float32: x}})
		}
		for _, in := range c.inputs {
			add(in.f32)
		}
		for p := range perturbations {
			for i, in := range c.inputs {
				add(perturb(in.f32, perturbULPs, uint64(100*p+i)))
			}
		}
		cases = append(cases, c)
		runs = append(runs, mr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	refs, err := env.RunLiteRT(ctx, runs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("LiteRT: %d models, %d runs each, %.1f s", len(runs), len(runs[0].Runs), time.Since(start).Seconds())
	for k, c := range cases {
		n := len(c.inputs)
		for _, o := range refs[k].Outputs {
			c.outNames = append(c.outNames, o.Name)
		}
		for ri := range n {
			var want [][]float32
			spread := make([]float64, len(refs[k].RunOutputs[ri]))
			for oi, o := range refs[k].RunOutputs[ri] {
				want = append(want, o.Float32)
				for p := range perturbations {
					_, rel := compare(refs[k].RunOutputs[n*(p+1)+ri][oi].Float32, o.Float32)
					spread[oi] = max(spread[oi], rel)
				}
			}
			c.want = append(c.want, want)
			c.spread = append(c.spread, spread)
		}
	}
	inputNames := []string{"messi5", "basketball1", "random"}
	for _, c := range cases {
		got := runCase(t, c.name, c.model, c.inputs)
		for ri := range c.inputs {
			for oi, name := range c.outNames {
				if oi < len(got[ri]) && got[ri][oi].name != name {
					t.Errorf("%s output %d is %q, LiteRT's is %q", c.name, oi, got[ri][oi].name, name)
				}
			}
			problems, log := checkAgainstLiteRT(c, ri, got[ri])
			t.Logf("%-26s %-11s %s", c.name, inputNames[ri], log)
			for _, p := range problems {
				t.Errorf("%s on %s: %s", c.name, inputNames[ri], p)
			}
		}
	}
	// The same check on deliberately broken conversions must fail.
	for _, c := range cases {
		for _, b := range breakages {
			bad, what, err := broken(c.model, b)
			if err != nil {
				t.Fatal(err)
			}
			if bad == nil {
				t.Logf("%-26s has no place for %q", c.name, b.name)
				continue
			}
			got := runCase(t, c.name+" ("+b.name+")", bad, c.inputs)
			var caught []string
			for ri := range c.inputs {
				problems, _ := checkAgainstLiteRT(c, ri, got[ri])
				for _, p := range problems {
					caught = append(caught, inputNames[ri]+": "+p)
				}
			}
			if len(caught) == 0 {
				t.Errorf("%s with %s (%s): the check passes a broken conversion", c.name, b.name, what)
				continue
			}
			t.Logf("%-26s broken (%s): caught, %d findings, first: %s", c.name, what, len(caught), caught[0])
		}
	}
}

type namedOutput struct {
	name string
	f32  []float32
}

// runCase runs a model on ONNX Runtime once per input.
func runCase(t *testing.T, name string, model []byte, inputs []tensor) [][]namedOutput {
	t.Helper()
	s, err := runtime.NewSessionFromBytes(name, model, runtime.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var all [][]namedOutput
	for _, in := range inputs {
		outs, err := runSession(s, []tensor{in})
		if err != nil {
			t.Fatal(err)
		}
		var named []namedOutput
		for oi, o := range outs {
			named = append(named, namedOutput{s.Outputs()[oi].Name, o.f32})
		}
		all = append(all, named)
	}
	return all
}

// checkAgainstLiteRT holds ONNX Runtime's outputs for input ri to LiteRT's: what users
// see to the fixed bars of userView, every raw output to its bar from LiteRT's own
// spread. It returns the problems and a one-line summary.
func checkAgainstLiteRT(c *liteRTCase, ri int, got []namedOutput) (problems []string, summary string) {
	var gotF [][]float32
	for _, o := range got {
		gotF = append(gotF, o.f32)
	}
	if len(gotF) != len(c.want[ri]) {
		return []string{fmt.Sprintf("%d outputs, LiteRT gave %d", len(gotF), len(c.want[ri]))}, ""
	}
	for oi := range gotF {
		if len(gotF[oi]) != len(c.want[ri][oi]) {
			return []string{fmt.Sprintf("output %s has %d values, LiteRT's %d", got[oi].name, len(gotF[oi]), len(c.want[ri][oi]))}, ""
		}
	}
	d := userView(c.name, gotF, c.want[ri])
	problems = d.problems()
	var raw []string
	for oi, o := range got {
		_, rel := compare(o.f32, c.want[ri][oi])
		bar := max(rawFloor, spreadFactor*c.spread[ri][oi])
		raw = append(raw, fmt.Sprintf("%s %.2g/%.2g", o.name, rel, bar))
		if !(rel <= bar) {
			problems = append(problems, fmt.Sprintf("output %s: relative error %.3g, bar %.3g (%d x LiteRT's own spread %.3g under a %d-ulp input change, at least %g)",
				o.name, rel, bar, spreadFactor, c.spread[ri][oi], perturbULPs, rawFloor))
		}
	}
	return problems, d.String() + "; raw rel/bar " + strings.Join(raw, " ")
}

// TestAttentionModelReportsCustomOperators checks that face_landmark_with_attention,
// whose three custom operators have no ONNX equivalent, is refused with their names.
func TestAttentionModelReportsCustomOperators(t *testing.T) {
	src, err := assets.MediaPipeModel("face_landmark_with_attention.tflite")
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	_, err = File(src, filepath.Join(t.TempDir(), "x.onnx"), Options{})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
	for _, op := range []string{"unsupported: Landmarks2TransformMatrix at operator", "TransformLandmarks", "TransformTensorBilinear"} {
		if !strings.Contains(err.Error(), op) {
			t.Errorf("error %q does not mention %s", err, op)
		}
	}
}

// compare returns max |a-b| and the relative error: that divided by max |b|, or by 1
// when max |b| is below 1 (probabilities, where an absolute error is what matters).
func compare(a, b []float32) (abs, rel float64) {
	if len(a) != len(b) {
		return math.Inf(1), math.Inf(1)
	}
	ref := 0.0
	for i := range a {
		abs = math.Max(abs, math.Abs(float64(a[i])-float64(b[i])))
		ref = math.Max(ref, math.Abs(float64(b[i])))
		if math.IsNaN(float64(a[i])) != math.IsNaN(float64(b[i])) {
			return math.NaN(), math.NaN()
		}
	}
	return abs, abs / max(ref, 1)
}

func inputShape(r Report) ([]int64, error) {
	if len(r.Inputs) != 1 {
		return nil, fmt.Errorf("%d inputs, want 1", len(r.Inputs))
	}
	var n, h, w, c int64
	if _, err := fmt.Sscanf(r.Inputs[0][strings.Index(r.Inputs[0], "["):], "[%d %d %d %d]", &n, &h, &w, &c); err != nil {
		return nil, fmt.Errorf("input %q: %v", r.Inputs[0], err)
	}
	return []int64{n, h, w, c}, nil
}

func ints(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

func loadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	return img, err
}

// imageTensor crops the image's centre square and resizes it bilinearly to the NHWC
// shape, with values mapped from [0, 255] to [lo, 1].
func imageTensor(img image.Image, shape []int64, lo float32) tensor {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	h, w := int(shape[1]), int(shape[2])
	out := tensor{shape: shape, f32: make([]float32, h*w*3)}
	px := func(x, y int) [3]float32 {
		r, g, bb, _ := img.At(x0+x, y0+y).RGBA()
		return [3]float32{float32(r >> 8), float32(g >> 8), float32(bb >> 8)}
	}
	for y := range h {
		fy := (float64(y)+0.5)*float64(side)/float64(h) - 0.5
		yy := max(0, min(int(math.Floor(fy)), side-2))
		dy := float32(min(max(fy-float64(yy), 0), 1))
		for x := range w {
			fx := (float64(x)+0.5)*float64(side)/float64(w) - 0.5
			xx := max(0, min(int(math.Floor(fx)), side-2))
			dx := float32(min(max(fx-float64(xx), 0), 1))
			a, bq, cq, d := px(xx, yy), px(xx+1, yy), px(xx, yy+1), px(xx+1, yy+1)
			for ch := range 3 {
				v := (a[ch]*(1-dx)+bq[ch]*dx)*(1-dy) + (cq[ch]*(1-dx)+d[ch]*dx)*dy
				out.f32[(y*w+x)*3+ch] = lo + (1-lo)*v/255
			}
		}
	}
	return out
}
