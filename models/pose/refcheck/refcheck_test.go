package refcheck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"scope/internal/shareddata"
	"scope/tools/mpref/mpref"
)

const opencvData = "/usr/share/doc/opencv-doc/examples/data"

func samples(t *testing.T) ([]string, string) {
	t.Helper()
	var imgs []string
	for _, n := range []string{"messi5.jpg", "basketball1.png", "basketball2.png"} {
		imgs = append(imgs, filepath.Join(opencvData, n))
	}
	video := filepath.Join(opencvData, "vtest.avi")
	for _, p := range append(imgs, video) {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing: apt-get install opencv-doc", p)
			}
			t.Skipf("%s missing (apt-get install opencv-doc)", p)
		}
	}
	return imgs, video
}

// run is Run for a test: without the reference harness it fails under CI=true and skips
// elsewhere.
func run(t *testing.T, ctx context.Context, opt Options) Result {
	t.Helper()
	res, err := Run(ctx, opt)
	if errors.Is(err, mpref.ErrNotSetUp) {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestAgainstMediaPipe runs MediaPipe's Holistic (lite) and ours on opencv-doc's three
// images of people and frames 151-200 of vtest.avi (the first frames in which MediaPipe
// finds a walker big enough; `scope bench pose --compare` runs all 200) and 20 frames of a
// made-up camera pan over messi5.jpg (a person close up: hands and face tracked), and
// holds ours to
// the issue's
// targets: the same parts found on at least 95% of frames, and pose and hand landmarks
// within 1% of the image's larger side on average.
func TestAgainstMediaPipe(t *testing.T) {
	imgs, video := samples(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res := run(t, ctx, Options{Complexity: "lite", Images: imgs, Video: video, Skip: 150, Frames: 50,
		Pan: imgs[0], PanFrames: 20}) // Threads 0: pose.DefaultThreads(), 2 or the CPUs
	if res.Video[0].Both < 30 {
		t.Errorf("vtest.avi frames 151-200: pose found by both on %d frames, want at least 30 (MediaPipe finds a walker from frame 161)", res.Video[0].Both)
	}
	for name, parts := range map[string][4]Part{"images": res.Static, "vtest.avi": res.Video, "pan": res.Pan} {
		for _, p := range parts {
			t.Logf("%-9s %s", name, p)
			if p.Agreement() < 0.95 {
				t.Errorf("%s, %s: detection agrees on %.0f%% of frames, want >= 95%%", name, p.Name, 100*p.Agreement())
			}
			if p.Name != "face" && p.Both > 0 && p.Mean >= 1 {
				t.Errorf("%s, %s: mean landmark error %.2f%% of the image, want < 1%%", name, p.Name, p.Mean)
			}
		}
	}
}

// TestRealSigningAgainstMediaPipe runs MediaPipe's Holistic (full) and ours over the two
// real signing videos of the shared data whole (one signer, isolated ASL signs, both
// hands moving with motion blur) and holds ours to the targets for real signing: hands
// within 0.8% of the image's larger side on average and 3% at the 95th percentile, each
// hand found on the same frames as MediaPipe on at least 95% of them, and the pose within
// 0.6% on average. The hand stage alone (HandSteps: given MediaPipe's pose and previous
// hands) must agree with MediaPipe's on presence on 98% of hand-frames and within 0.1% on
// average: that catches a wrong crop geometry (before the tracked crop was cut around the
// palm, as MediaPipe's is, it was 0.3-1%) even where free-running drift would hide it.
func TestRealSigningAgainstMediaPipe(t *testing.T) {
	clips, err := RealSigning(shareddata.Dir(t, "real-video"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res := run(t, ctx, Options{Complexity: "full", Clips: clips}) // Threads 0: pose.DefaultThreads(), 2 or the CPUs
	for _, c := range res.Clips {
		for _, p := range c.Parts {
			t.Logf("%-12s %s", c.Name, p)
		}
	}
	parts, err := Pooled(res.Clips)
	if err != nil {
		t.Fatal(err)
	}
	hands := 0
	for _, p := range parts {
		t.Logf("%-12s %s", "both videos", p)
		switch p.Name {
		case "pose":
			if p.Both < p.Frames || p.Mean > 0.6 {
				t.Errorf("pose: found by both on %d of %d frames, mean error %.3f%%; want every frame and <= 0.6%%", p.Both, p.Frames, p.Mean)
			}
		case "left hand", "right hand":
			hands += p.Both
			if p.Agreement() < 0.95 {
				t.Errorf("%s: found on the same frames as MediaPipe on %.1f%% of them, want >= 95%%", p.Name, 100*p.Agreement())
			}
			if p.Mean > 0.8 || p.P95 > 3 {
				t.Errorf("%s: error mean %.3f%%, p95 %.3f%% of the image side; want <= 0.8%% and <= 3%%", p.Name, p.Mean, p.P95)
			}
		}
	}
	if hands < 150 {
		t.Errorf("hands found by both on %d hand-frames, want at least 150 (both hands sign in both videos)", hands)
	}
	steps, err := PooledSteps(res.Clips)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range steps[2:] {
		t.Logf("%-12s hand stage alone: %s", "both videos", p)
		if p.Agreement() < 0.98 {
			t.Errorf("hand stage alone, %s: found on the same frames as MediaPipe on %.1f%% of them, want >= 98%%", p.Name, 100*p.Agreement())
		}
		if p.Mean > 0.1 {
			t.Errorf("hand stage alone, %s: mean error %.3f%% of the image side, want <= 0.1%%", p.Name, p.Mean)
		}
	}
}
