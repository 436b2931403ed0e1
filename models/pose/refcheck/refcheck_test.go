package refcheck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	res, err := Run(ctx, Options{Complexity: "lite", Images: imgs, Video: video, Skip: 150, Frames: 50,
		Pan: imgs[0], PanFrames: 20, Threads: 2})
	if errors.Is(err, mpref.ErrNotSetUp) {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
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
