package pose

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

const opencvData = "/usr/share/doc/opencv-doc/examples/data"

func sample(t testing.TB, name string) gocv.Mat {
	t.Helper()
	p := filepath.Join(opencvData, name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: apt-get install opencv-doc", p)
		}
		t.Skipf("%s missing (apt-get install opencv-doc)", p)
	}
	m := gocv.IMRead(p, gocv.IMReadColor)
	if m.Empty() {
		t.Fatalf("%s: unreadable", p)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// One pipeline for the package's tests: loading the models takes a moment.
var (
	shared     = map[Options]*Pipeline{}
	sharedMu   sync.Mutex
	sharedErrs = map[Options]error{}
)

func pipeline(t *testing.T, opt Options) *Pipeline {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if p, ok := shared[opt]; ok {
		p.Reset()
		return p
	}
	if err, ok := sharedErrs[opt]; ok {
		t.Fatal(err)
	}
	p, err := New(opt)
	if err != nil {
		sharedErrs[opt] = err
		t.Fatal(err)
	}
	shared[opt] = p
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range shared {
		p.Close()
	}
	os.Exit(code)
}

func TestMessiAllParts(t *testing.T) {
	img := sample(t, "messi5.jpg")
	p := pipeline(t, Options{Static: true})
	f, err := p.Process(context.Background(), img, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.Present != [4]bool{true, true, true, true} {
		t.Fatalf("parts found %v, want pose, face and both hands", f.Present)
	}
	if f.Width != img.Cols() || f.Height != img.Rows() {
		t.Errorf("frame size %dx%d, image %dx%d", f.Width, f.Height, img.Cols(), img.Rows())
	}
	for i, q := range f.Points {
		if q[0] < -50 || q[1] < -50 || q[0] > float32(f.Width+50) || q[1] > float32(f.Height+50) {
			t.Errorf("point %d at (%.0f, %.0f): off the %dx%d image", i, q[0], q[1], f.Width, f.Height)
			break
		}
	}
	// The face mesh's nose tip (1) lies near the pose's nose (0).
	nose, tip := f.Points[PoseOffset], f.Points[FaceOffset+1]
	if d := math.Hypot(float64(nose[0]-tip[0]), float64(nose[1]-tip[1])); d > 15 {
		t.Errorf("face nose tip %.0f px from the pose's nose", d)
	}
	// Each hand's wrist lies near the pose wrist on the same side.
	for side, wrist := range []int{15, 16} {
		hw := f.Points[LeftHandOffset+side*NumHandPoints]
		pw := f.Points[PoseOffset+wrist]
		if d := math.Hypot(float64(hw[0]-pw[0]), float64(hw[1]-pw[1])); d > 30 {
			t.Errorf("hand %d's wrist is %.0f px from pose point %d", side, d, wrist)
		}
	}
	// The eyes give the person's scale.
	if f.ScaleFrom != ScaleEyes || f.Scale < 5 || f.Scale > 100 {
		t.Errorf("scale %.1f px from %q, want the eye distance (a few tens of pixels)", f.Scale, f.ScaleFrom)
	}
	if f.Timing.Detect == 0 || f.Timing.Pose == 0 || f.Timing.Total < f.Timing.Pose {
		t.Errorf("timing not recorded: %+v", f.Timing)
	}
}

func TestTrackingSkipsDetection(t *testing.T) {
	img := sample(t, "messi5.jpg")
	p := pipeline(t, Options{})
	var detected int
	var first, last Frame
	for i := 0; i < 4; i++ {
		f, err := p.Process(context.Background(), img, time.Duration(i+1)*33*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Present[PartPose] {
			t.Fatalf("frame %d: pose lost on a still image", i)
		}
		if f.Timing.Detect > 0 {
			detected++
		}
		if i == 1 {
			first = f // the second frame: the first crop came from the detector, later ones from the pose
		}
		last = f
	}
	if detected != 1 {
		t.Errorf("the detector ran on %d of 4 frames of a still person, want only the first", detected)
	}
	// On a still image the tracked, smoothed pose stays where it was found.
	for i := 0; i < NumPosePoints; i++ {
		a, b := first.Points[i], last.Points[i]
		if first.Visibility[i] > 0.5 && math.Hypot(float64(a[0]-b[0]), float64(a[1]-b[1])) > 10 {
			t.Errorf("pose point %d moved %.1f px on a still image", i, math.Hypot(float64(a[0]-b[0]), float64(a[1]-b[1])))
		}
	}
}

func TestNoPersonGivesEmptyFrame(t *testing.T) {
	p := pipeline(t, Options{})
	gray := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), 480, 640, gocv.MatTypeCV8UC3)
	defer gray.Close()
	for i := 0; i < 2; i++ {
		f, err := p.Process(context.Background(), gray, time.Duration(i)*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.Present != [4]bool{} || f.Scale != 0 || f.ScaleFrom != "" || f.Points[0] != [3]float32{} {
			t.Errorf("grey frame: parts %v, scale %v %q, want nothing", f.Present, f.Scale, f.ScaleFrom)
		}
	}
}

func TestBadFrames(t *testing.T) {
	p := pipeline(t, Options{})
	empty := gocv.NewMat()
	defer empty.Close()
	if _, err := p.Process(context.Background(), empty, 0); !errors.Is(err, ErrEmptyImage) {
		t.Errorf("empty Mat: error %v, want ErrEmptyImage", err)
	}
	float := gocv.NewMatWithSize(10, 10, gocv.MatTypeCV32FC3)
	defer float.Close()
	if _, err := p.Process(context.Background(), float, 0); err == nil {
		t.Error("float image: no error")
	}
	// Tiny and extreme shapes: nothing found, no panic.
	for _, sz := range [][2]int{{1, 1}, {1, 500}, {500, 2}} {
		m := gocv.NewMatWithSize(sz[0], sz[1], gocv.MatTypeCV8UC3)
		if _, err := p.Process(context.Background(), m, 0); err != nil {
			t.Errorf("%dx%d image: %v", sz[1], sz[0], err)
		}
		m.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img := gocv.NewMatWithSize(48, 64, gocv.MatTypeCV8UC3)
	defer img.Close()
	if _, err := p.Process(ctx, img, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v", err)
	}
}

func TestGrayAndBGRAInput(t *testing.T) {
	img := sample(t, "messi5.jpg")
	p := pipeline(t, Options{Static: true})
	for _, code := range []gocv.ColorConversionCode{gocv.ColorBGRToGray, gocv.ColorBGRToBGRA} {
		m := gocv.NewMat()
		gocv.CvtColor(img, &m, code)
		ch := m.Channels()
		f, err := p.Process(context.Background(), m, 0)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Width != img.Cols() || f.Height != img.Rows() {
			t.Errorf("%d-channel image: frame size %dx%d", ch, f.Width, f.Height)
		}
		// Colour matters to the models (messi5 in grey loses the pose); BGRA must not.
		if ch == 4 && !f.Present[PartPose] {
			t.Errorf("%d-channel image: no pose", ch)
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, o := range []Options{
		{Complexity: "medium"},
		{HandModel: "heavy"},
		{Smoothing: "kalman"},
		{MinDetection: 1.5},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// The crop and the projection must agree: a dot drawn in the image at a point's
// projection must appear at that point of the rotated crop.
func TestCropMatchesProjection(t *testing.T) {
	img := gocv.NewMatWithSize(480, 640, gocv.MatTypeCV8UC3)
	defer img.Close()
	r := Rect{XC: 0.45, YC: 0.55, W: 200.0 / 640, H: 200.0 / 480, Rot: 0.6}
	want := point{X: 0.3, Y: 0.2} // in the crop's frame
	at := r.project(want)
	gocv.Circle(&img, image.Pt(int(at.X*640), int(at.Y*480)), 4, color.RGBA{255, 255, 255, 0}, -1)
	c := newCropper(100, 100, 0, 1, true, false)
	defer c.Close()
	out := make([]float32, 100*100*3)
	if _, err := c.crop(img, r, out); err != nil {
		t.Fatal(err)
	}
	var sx, sy, n float64
	for y := 0; y < 100; y++ {
		for x := 0; x < 100; x++ {
			if v := float64(out[(y*100+x)*3]); v > 0.5 {
				sx += float64(x) + 0.5
				sy += float64(y) + 0.5
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("the dot is not in the crop")
	}
	gx, gy := sx/n/100, sy/n/100
	if !near(gx, want.X, 0.02) || !near(gy, want.Y, 0.02) {
		t.Errorf("dot found at (%.3f, %.3f) of the crop, want (%.3f, %.3f)", gx, gy, want.X, want.Y)
	}
}

// A fresh machine has only MediaPipe's .tflite files: New converts what it needs.
func TestConvertsMissingModels(t *testing.T) {
	dir := t.TempDir()
	p, err := New(Options{ModelDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	for _, name := range []string{"pose_detection", "pose_landmark_lite", "hand_recrop", "hand_landmark_full", "face_detection_short_range", "face_landmark"} {
		if _, err := os.Stat(filepath.Join(dir, name+".onnx")); err != nil {
			t.Errorf("%s was not converted: %v", name, err)
		}
	}
	if _, err := New(Options{ModelDir: "/proc/no-such-dir"}); err == nil {
		t.Error("unwritable model folder: no error")
	}
}

func TestHandStepChecksInputs(t *testing.T) {
	img := sample(t, "messi5.jpg")
	p := pipeline(t, Options{})
	pose := make([][4]float64, NumPosePoints)
	for _, c := range []struct {
		name string
		side int
		pose [][4]float64
		prev [][3]float64
	}{
		{"side 2", 2, pose, nil},
		{"32 pose points", 0, pose[:32], nil},
		{"20 previous hand points", 1, pose, make([][3]float64, 20)},
	} {
		if _, err := p.HandStep(img, c.side, c.pose, c.prev); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	// A pose whose wrists are not visible gives no hands, as in MediaPipe.
	if lm, err := p.HandStep(img, 0, pose, nil); err != nil || lm != nil {
		t.Errorf("invisible wrist: %d landmarks, %v; want none", len(lm), err)
	}
}
