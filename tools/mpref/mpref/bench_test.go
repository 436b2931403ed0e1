package mpref

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkHolisticVideo measures MediaPipe's own Holistic (CPU inference) on 20 frames of
// 640x480 (opencv-doc's basketball1/2 alternating), excluding start-up: the number to
// put beside our pipeline's. ms/frame and frames/s are over frames 2-20.
//
//	go test -run - -bench HolisticVideo ./tools/mpref/mpref
func BenchmarkHolisticVideo(b *testing.B) {
	env, err := Locate()
	if err != nil {
		if errors.Is(err, ErrNotSetUp) {
			b.Skip(err)
		}
		b.Fatal(err)
	}
	dir := b.TempDir()
	for i := 1; i <= 20; i++ {
		src := fmt.Sprintf("/usr/share/doc/opencv-doc/examples/data/basketball%d.png", 1+i%2)
		data, err := os.ReadFile(src)
		if err != nil {
			b.Fatalf("%v (apt-get install opencv-doc)", err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.png", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []int{0, 1} {
		b.Run(fmt.Sprintf("complexity%d", c), func(b *testing.B) {
			var fps float64
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				res, err := env.RunHolistic(ctx, HolisticRequest{Mode: Video, ModelComplexity: c, FramesDir: dir})
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				fps += res.Timing.FPSAfterFirst
			}
			fps /= float64(b.N)
			b.ReportMetric(1000/fps, "ms/frame")
			b.ReportMetric(fps, "frames/s")
		})
	}
}
