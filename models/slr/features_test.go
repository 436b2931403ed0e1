package slr

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/models/bundle"
)

// testSpec is the feature spec of train/slr/features.py, version 1.
func testSpec() *bundle.Features { return testSpecVersion(1) }

// testSpecVersion is the feature spec of train/slr/features.py in version v.
func testSpecVersion(v int) *bundle.Features {
	pts := []int{0, 11, 12, 13, 14, 15, 16}
	for _, i := range []int{61, 291, 0, 17, 13, 14, 70, 105, 107, 336, 334, 300, 33, 133, 362, 263, 1, 152} {
		pts = append(pts, 33+i)
	}
	for i := 501; i < 543; i++ {
		pts = append(pts, i)
	}
	d := FeatureDim(len(pts), v)
	s := &bundle.Features{Name: "scope-slr-keypoints", Version: v, Points: pts, LeftHand: [2]int{501, 522},
		RightHand: [2]int{522, 543}, RefFPS: 25, Dim: d, Mean: make([]float32, d), Std: make([]float32, d)}
	for i := range s.Std {
		s.Std[i] = 1
	}
	return s
}

// randomFrames makes frames that exercise every rule: shoulders missing at the start and in
// the middle, a hand lost for a while, NaN coordinates, a face never found.
func randomFrames(n int, seed int64) []Frame {
	r := rand.New(rand.NewSource(seed))
	frames := make([]Frame, n)
	for t := range frames {
		f := &frames[t]
		for p := 0; p < NumPoints; p++ {
			f.Points[p] = [3]float32{300 + 200*r.Float32(), 200 + 250*r.Float32(), r.Float32() - 0.5}
			f.Conf[p] = 0.2 + 0.8*r.Float32()
		}
		if t < 3 || t == 10 {
			f.Conf[11] = 0
		}
		if t >= 6 && t < 12 {
			for p := 501; p < 522; p++ {
				f.Conf[p], f.Points[p] = 0, [3]float32{}
			}
		}
		if t == 8 {
			f.Points[530][0] = float32(math.NaN())
		}
		for p := 33; p < 501; p++ {
			if t%5 == 4 {
				f.Conf[p] = 0
			}
		}
	}
	return frames
}

func TestFeaturesMatchPython(t *testing.T) {
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("version%d", v), func(t *testing.T) { featuresMatchPython(t, v) })
	}
}

func featuresMatchPython(t *testing.T, version int) {
	dir := t.TempDir()
	frames := randomFrames(24, 1)
	writeFrames(t, filepath.Join(dir, "frames.f32"), frames, 29.97)
	python(t, "features", "--in", filepath.Join(dir, "frames.f32"), "--out", filepath.Join(dir, "feats.f32"),
		"--version", fmt.Sprint(version))
	b, err := os.ReadFile(filepath.Join(dir, "feats.f32"))
	if err != nil {
		t.Fatal(err)
	}
	n, d := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
	spec := testSpecVersion(version)
	if n != len(frames) || d != spec.Dim {
		t.Fatalf("python gave %dx%d features, want %dx%d", n, d, len(frames), spec.Dim)
	}
	got, err := RawFeatures(frames, float64(float32(29.97)), spec)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range got {
		want := math.Float32frombits(binary.LittleEndian.Uint32(b[8+4*i:]))
		if diff := math.Abs(float64(got[i] - want)); diff > worst {
			worst = diff
			if diff > 1e-5 {
				t.Fatalf("feature [%d][%d]: Go %g, Python %g", i/d, i%d, got[i], want)
			}
		}
	}
	t.Logf("largest difference Go vs Python: %g", worst)
}

func TestFeaturesInvariantToCameraDistance(t *testing.T) {
	frames := randomFrames(10, 2)
	moved := make([]Frame, len(frames))
	for i := range frames {
		moved[i] = frames[i]
		for p := range moved[i].Points {
			moved[i].Points[p][0] = frames[i].Points[p][0]*0.5 + 40
			moved[i].Points[p][1] = frames[i].Points[p][1]*0.5 - 12
		}
	}
	spec := testSpecVersion(2)
	a, err := RawFeatures(frames, 30, spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RawFeatures(moved, 30, spec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-3 {
			t.Fatalf("feature %d changes when the signer stands farther away: %g vs %g", i, a[i], b[i])
		}
	}
}

func TestFeaturesErrors(t *testing.T) {
	spec := testSpec()
	if _, err := RawFeatures(randomFrames(2, 3), 0, spec); err == nil {
		t.Error("fps 0 accepted")
	}
	bad := *spec
	bad.Dim = 7
	if _, err := RawFeatures(randomFrames(2, 3), 30, &bad); err == nil {
		t.Error("wrong dim accepted")
	}
	if got, err := RawFeatures(nil, 30, spec); err != nil || len(got) != 0 {
		t.Errorf("no frames: %v, %d values", err, len(got))
	}
	future := *testSpecVersion(2)
	future.Version = 3
	if _, err := RawFeatures(randomFrames(2, 3), 30, &future); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("unknown feature version: %v", err)
	}
}

// The hand-shape block of version 2 does not change when the hand moves or is bigger, and
// changes when the fingers bend.
func TestHandShapeFeatures(t *testing.T) {
	spec := testSpecVersion(2)
	frames := randomFrames(3, 4)
	at := func(fs []Frame) []float32 {
		x, err := RawFeatures(fs, 30, spec)
		if err != nil {
			t.Fatal(err)
		}
		d := spec.Dim
		return x[2*d-handShapeDim : 2*d] // frame 1's hand shapes
	}
	base := at(frames)
	moved := append([]Frame(nil), frames...)
	for p := 522; p < 543; p++ { // the right hand: twice as big, somewhere else
		w := frames[1].Points[522]
		moved[1].Points[p][0] = 2*(frames[1].Points[p][0]-w[0]) + w[0] + 55
		moved[1].Points[p][1] = 2*(frames[1].Points[p][1]-w[1]) + w[1] - 30
	}
	for i, v := range at(moved) {
		if math.Abs(float64(v-base[i])) > 1e-4 {
			t.Fatalf("hand shape %d changed when the hand only moved and grew: %g vs %g", i, base[i], v)
		}
	}
	bent := append([]Frame(nil), frames...)
	bent[1].Points[530][1] += 40 // a fingertip moves relative to the wrist
	if got := at(bent); got[40+2*7+1] == base[40+2*7+1] {
		t.Error("a moved fingertip did not change the hand shape")
	}
}
