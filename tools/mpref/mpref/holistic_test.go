package mpref

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

const messi = "/usr/share/doc/opencv-doc/examples/data/messi5.jpg"

func TestHolisticLiteFindsEverythingOnMessi(t *testing.T) {
	env := locate(t)
	if _, err := os.Stat(messi); err != nil {
		t.Fatalf("%v (apt-get install opencv-doc, part of make setup)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := env.RunHolistic(ctx, HolisticRequest{Mode: Static, ModelComplexity: 0, Images: []string{messi}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Frames) != 1 {
		t.Fatalf("%d frames, want 1", len(res.Frames))
	}
	f := res.Frames[0]
	if f.Width != 548 || f.Height != 342 {
		t.Errorf("image size %dx%d, want 548x342", f.Width, f.Height)
	}
	if len(f.Pose) != 33 || len(f.Face) != 468 || len(f.LeftHand) != 21 || len(f.RightHand) != 21 {
		t.Fatalf("landmark counts pose %d face %d left %d right %d, want 33 468 21 21",
			len(f.Pose), len(f.Face), len(f.LeftHand), len(f.RightHand))
	}
	// The face mesh must sit around the pose's nose (landmark 0), in normalised coordinates.
	nose := f.Pose[0]
	var cx, cy float64
	for _, p := range f.Face {
		cx += p[0] / float64(len(f.Face))
		cy += p[1] / float64(len(f.Face))
	}
	if dx, dy := cx-nose[0], cy-nose[1]; dx*dx+dy*dy > 0.05*0.05 {
		t.Errorf("face centre (%.3f, %.3f) is far from the pose's nose (%.3f, %.3f)", cx, cy, nose[0], nose[1])
	}
	// left_hand is the hand at the pose's LEFT_WRIST (15), right_hand at RIGHT_WRIST (16).
	for _, c := range []struct {
		name  string
		hand  [][3]float64
		wrist int
	}{{"left", f.LeftHand, 15}, {"right", f.RightHand, 16}} {
		w := f.Pose[c.wrist]
		if dx, dy := c.hand[0][0]-w[0], c.hand[0][1]-w[1]; dx*dx+dy*dy > 0.05*0.05 {
			t.Errorf("%s hand's wrist (%.3f, %.3f) is far from pose landmark %d (%.3f, %.3f)", c.name, c.hand[0][0], c.hand[0][1], c.wrist, w[0], w[1])
		}
	}
	if res.Timing.Frames != 1 || res.Timing.FPS <= 0 {
		t.Errorf("timing %+v", res.Timing)
	}
	t.Logf("lite, static: %v for the image, init %v", f.Time, res.Timing.Init)
}

func TestHolisticVideoIsReproducible(t *testing.T) {
	env := locate(t)
	dir := t.TempDir()
	// Three "frames": the same image under names that sort numerically, not lexically.
	for _, name := range []string{"f2.jpg", "f10.jpg", "f1.jpg"} {
		b, err := os.ReadFile(messi)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req := HolisticRequest{Mode: Video, ModelComplexity: 0, FramesDir: dir}
	res, err := env.RunHolistic(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// Timestamps come from the frame number, not the clock: a second run, at whatever
	// speed the machine has then, gives the same smoothed landmarks.
	again, err := env.RunHolistic(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Frames {
		if !reflect.DeepEqual(res.Frames[i].Pose, again.Frames[i].Pose) || !reflect.DeepEqual(res.Frames[i].Face, again.Frames[i].Face) {
			t.Errorf("frame %d: landmarks differ between two runs of the same frames", i)
		}
	}
	if !res.Smoothing {
		t.Error("video mode should smooth by default")
	}
	wantNames := []string{"f1.jpg", "f2.jpg", "f10.jpg"}
	for i, f := range res.Frames {
		if filepath.Base(f.Image) != wantNames[i] || f.TimestampUS != int64(i+1)*33333 {
			t.Errorf("frame %d: %s at %d us, want %s at %d us", i, filepath.Base(f.Image), f.TimestampUS, wantNames[i], (i+1)*33333)
		}
		if len(f.Pose) != 33 {
			t.Errorf("frame %d: no pose", i)
		}
	}
}

func TestHolisticBadRequest(t *testing.T) {
	env := locate(t)
	ctx := context.Background()
	if _, err := env.RunHolistic(ctx, HolisticRequest{ModelComplexity: 3, Images: []string{messi}}); err == nil {
		t.Error("model complexity 3 accepted")
	}
	_, err := env.RunHolistic(ctx, HolisticRequest{Images: []string{filepath.Join(t.TempDir(), "missing.jpg")}})
	if err == nil {
		t.Fatal("a missing image was accepted")
	}
	t.Log(err)
}
