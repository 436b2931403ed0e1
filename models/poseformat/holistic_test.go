package poseformat

import (
	"bytes"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"scope/internal/shareddata"
)

// syntheticFrames makes frames where every part is found except the left hand in odd
// frames; values encode frame and point so misplaced points show.
func syntheticFrames(n int) ([][NumPoints][3]float32, [][NumPoints]float32) {
	pts := make([][NumPoints][3]float32, n)
	conf := make([][NumPoints]float32, n)
	for t := range n {
		for i := range NumPoints {
			if t%2 == 1 && i >= LeftHandOffset && i < RightHandOffset {
				continue
			}
			pts[t][i] = [3]float32{float32(i) + 0.25, float32(t) + 0.5, -float32(i) / 1000}
			conf[t][i] = 0.5 + float32(i%50)/100
		}
	}
	return pts, conf
}

func TestNewHolisticRoundTrip(t *testing.T) {
	for _, world := range []bool{false, true} {
		t.Run("world="+strconv.FormatBool(world), func(t *testing.T) {
			pts, conf := syntheticFrames(4)
			var w [][NumPosePoints][3]float32
			if world {
				w = make([][NumPosePoints][3]float32, 4)
				w[3][32] = [3]float32{1, 2, 3}
			}
			f, err := NewHolistic(1280, 720, 29.97, pts, conf, w)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := f.Write(&b); err != nil {
				t.Fatal(err)
			}
			g, err := Read(&b)
			if err != nil {
				t.Fatal(err)
			}
			if g.Dimensions.Width != 1280 || g.Dimensions.Height != 720 || g.FPS != 29.97 || g.Frames != 4 {
				t.Errorf("header %+v fps %g frames %d", g.Dimensions, g.FPS, g.Frames)
			}
			if got := componentNames(g); !slices.Equal(got, holisticNames(world)) {
				t.Errorf("components %v", got)
			}
			p2, c2, present, unmapped, err := g.Holistic(0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p2, pts) || !slices.Equal(c2, conf) {
				t.Error("points or confidences changed in the round trip")
			}
			for ti, p := range present {
				want := [NumParts]bool{true, true, ti%2 == 0, true}
				if p != want {
					t.Errorf("frame %d present %v, want %v", ti, p, want)
				}
			}
			var wantUnmapped []string
			if world {
				wantUnmapped = []string{PoseWorldLandmarks}
				if xyz, c := g.Point(3, 0, NumPoints+32); !slices.Equal(xyz, []float32{1, 2, 3}) || c != conf[3][32] {
					t.Errorf("world point: %v %g", xyz, c)
				}
			}
			if !slices.Equal(unmapped, wantUnmapped) {
				t.Errorf("unmapped %v, want %v", unmapped, wantUnmapped)
			}
		})
	}
}

func TestNewHolisticRejectsMismatch(t *testing.T) {
	pts, conf := syntheticFrames(3)
	if _, err := NewHolistic(640, 480, 25, pts, conf[:2], nil); err == nil {
		t.Error("frames of points and confidence differ: want an error")
	}
	if _, err := NewHolistic(70000, 480, 25, pts, conf, nil); err == nil {
		t.Error("width 70000: want an error")
	}
	if _, err := NewHolistic(640, 480, 25, pts, conf, make([][NumPosePoints][3]float32, 1)); err == nil {
		t.Error("world frames differ: want an error")
	}
}

func TestHolisticComponentsAreConsistent(t *testing.T) {
	for _, c := range HolisticComponents(true) {
		for _, l := range c.Limbs {
			if int(l[0]) >= len(c.Points) || int(l[1]) >= len(c.Points) {
				t.Errorf("%s: limb %v outside its %d points", c.Name, l, len(c.Points))
			}
		}
		if len(c.Colors) == 0 {
			t.Errorf("%s has no color", c.Name)
		}
	}
}

// Our header for MediaPipe output matches what pose-format's utility wrote into the real
// samples: same names, points, colors, pose and hand limbs; face limbs a subset (see
// HolisticComponents).
func TestHolisticHeaderMatchesPoseFormat(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	f, err := ReadFile(filepath.Join(dir, "0ff215ef4f1f111e217e2cefee0adc77.pose"))
	if err != nil {
		t.Fatal(err)
	}
	ours := HolisticComponents(true)
	if len(ours) != len(f.Components) {
		t.Fatalf("%d components, pose-format wrote %d", len(ours), len(f.Components))
	}
	for i, want := range f.Components {
		got := ours[i]
		if got.Name != want.Name || got.Format != want.Format || !slices.Equal(got.Points, want.Points) || !slices.Equal(got.Colors, want.Colors) {
			t.Errorf("component %d: %s %s %d points %v colors; pose-format: %s %s %d points %v colors",
				i, got.Name, got.Format, len(got.Points), got.Colors, want.Name, want.Format, len(want.Points), want.Colors)
		}
		theirs := map[[2]uint16]bool{}
		for _, l := range want.Limbs {
			theirs[l] = true
		}
		for _, l := range got.Limbs {
			if !theirs[l] {
				t.Errorf("%s: limb %v is not in pose-format's header", got.Name, l)
			}
		}
		if got.Name != FaceLandmarks && len(got.Limbs) != len(want.Limbs) {
			t.Errorf("%s: %d limbs, pose-format %d", got.Name, len(got.Limbs), len(want.Limbs))
		}
	}
}

func TestHolisticSamples(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	iris := func() []string {
		var s []string
		for i := 468; i < 478; i++ {
			s = append(s, FaceLandmarks+"/"+strconv.Itoa(i))
		}
		return s
	}
	cases := []struct {
		name     string
		unmapped []string
		// frames in which each part is present, and how many of the 543 points are ever
		// filled
		present [NumParts]int
		mapped  int
	}{
		{"0ff215ef4f1f111e217e2cefee0adc77.pose", []string{PoseWorldLandmarks}, [NumParts]int{121, 121, 0, 103}, NumPoints - 21},
		{"6fb01565da31c5500d1ef2cd2906b06b.pose", append(iris(), PoseWorldLandmarks), [NumParts]int{5, 5, 5, 5}, NumPoints},
		{"7731febd6afbbe90f806a4434c282016.pose", append(iris(), PoseWorldLandmarks), [NumParts]int{18, 18, 18, 16}, NumPoints},
		{"7bd6dd48722def3cf84258b96371cb1e.pose", []string{PoseWorldLandmarks}, [NumParts]int{91, 91, 90, 0}, NumPoints - 21},
		{"84322c38ff23406f222641da30d0a49b.pose", append(iris(), PoseWorldLandmarks), [NumParts]int{47, 47, 38, 45}, NumPoints},
		{"mediapipe.pose", nil, [NumParts]int{170, 170, 0, 145}, 157},
		{"mediapipe_long.pose", nil, [NumParts]int{278, 278, 0, 253}, 157},
		{"mediapipe_hand_normalized.pose", nil, [NumParts]int{0, 0, 0, 145}, 21},
		{"mediapipe_long_hand_normalized.pose", nil, [NumParts]int{0, 0, 0, 253}, 21},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ReadFile(filepath.Join(dir, c.name))
			if err != nil {
				t.Fatal(err)
			}
			pts, conf, present, unmapped, err := f.Holistic(0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(unmapped, c.unmapped) {
				t.Errorf("unmapped %v, want %v", unmapped, c.unmapped)
			}
			if len(pts) != f.Frames || len(conf) != f.Frames || len(present) != f.Frames {
				t.Fatalf("%d/%d/%d frames, file has %d", len(pts), len(conf), len(present), f.Frames)
			}
			var counts [NumParts]int
			touched := map[int]bool{}
			for ti := range pts {
				for p := range NumParts {
					if present[ti][p] {
						counts[p]++
					}
				}
				for i := range NumPoints {
					if conf[ti][i] != 0 || pts[ti][i] != [3]float32{} {
						touched[i] = true
					}
				}
			}
			if counts != c.present {
				t.Errorf("frames with each part present %v, want %v", counts, c.present)
			}
			if len(touched) != c.mapped {
				t.Errorf("%d of the 543 points ever filled, want %d", len(touched), c.mapped)
			}
			checkPlaced(t, f, pts, conf)
		})
	}
}

// checkPlaced compares named points of the file with their place in the 543 layout.
func checkPlaced(t *testing.T, f *File, pts [][NumPoints][3]float32, conf [][NumPoints]float32) {
	t.Helper()
	probes := []struct {
		comp, point string
		at          int
	}{
		{PoseLandmarks, "LEFT_SHOULDER", PoseOffset + 11},
		{PoseLandmarks, "RIGHT_HIP", PoseOffset + 24},
		{FaceLandmarks, "10", FaceOffset + 10},
		{FaceLandmarks, "454", FaceOffset + 454},
		{LeftHandLandmarks, "INDEX_FINGER_TIP", LeftHandOffset + 8},
		{RightHandLandmarks, "PINKY_TIP", RightHandOffset + 20},
	}
	for _, p := range probes {
		off, c, ok := f.ComponentOffset(p.comp)
		if !ok {
			continue
		}
		k := slices.Index(c.Points, p.point)
		if k < 0 {
			t.Errorf("%s has no point %s", p.comp, p.point)
			continue
		}
		for ti := range pts {
			xyz, cf := f.Point(ti, 0, off+k)
			if cf == 0 {
				xyz = []float32{0, 0, 0} // masked
			}
			if !sameBits(xyz, pts[ti][p.at][:]) || cf != conf[ti][p.at] {
				t.Fatalf("frame %d %s/%s: file %v %g, layout[%d] %v %g", ti, p.comp, p.point, xyz, cf, p.at, pts[ti][p.at], conf[ti][p.at])
			}
		}
	}
}

func TestHolisticPersonOutOfRange(t *testing.T) {
	pts, conf := syntheticFrames(1)
	f, _ := NewHolistic(10, 10, 25, pts, conf, nil)
	if _, _, _, _, err := f.Holistic(1); err == nil {
		t.Error("person 1 of 1: want an error")
	}
}

func BenchmarkReadSample(b *testing.B) {
	dir := shareddata.Dir(b, "pose-samples")
	p := filepath.Join(dir, "0ff215ef4f1f111e217e2cefee0adc77.pose")
	for b.Loop() {
		if _, err := ReadFile(p); err != nil {
			b.Fatal(err)
		}
	}
}

// sameBits compares floats bit for bit: the hand-normalised samples hold NaN for missing
// points.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func TestHolisticNeedsAMediaPipeComponent(t *testing.T) {
	f := &File{Header: Header{Version: Version, Components: []Component{{Name: "pose_keypoints_2d", Format: "XYC", Points: []string{"Nose"}}}},
		Body: Body{FPS: 25, Frames: 2, People: 1, Data: make([]float32, 4), Confidence: make([]float32, 2)}}
	_, _, _, unmapped, err := f.Holistic(0)
	if err == nil || !slices.Equal(unmapped, []string{"pose_keypoints_2d"}) {
		t.Fatalf("OpenPose-only file: err %v, unmapped %v; want an error naming pose_keypoints_2d", err, unmapped)
	}
}
