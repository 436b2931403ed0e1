package pose

import (
	"context"
	"image"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// panFrames are 640x480 windows drifting to and fro over a photo (at least 420x300
// pixels), like a hand-held camera.
func panFrames(src gocv.Mat, n int) []gocv.Mat {
	var out []gocv.Mat
	for i := 0; i < n; i++ {
		k := i % 32
		if k >= 16 {
			k = 31 - k
		}
		x0 := min(src.Cols()-400, 20+6*k)
		roi := src.Region(image.Rect(x0, 10, x0+400, 310))
		m := gocv.NewMat()
		gocv.Resize(roi, &m, image.Pt(640, 480), 0, 0, gocv.InterpolationLinear)
		roi.Close()
		out = append(out, m)
	}
	return out
}

// Stream overlaps frames but must give exactly what Process gives, in order.
func TestStreamEqualsProcess(t *testing.T) {
	src := sample(t, "messi5.jpg")
	frames := panFrames(src, 8)
	defer func() {
		for _, m := range frames {
			m.Close()
		}
	}()
	ctx := context.Background()
	step := 33333 * time.Microsecond
	p := pipeline(t, Options{})
	var want []Frame
	for i, m := range frames {
		f, err := p.Process(ctx, m, time.Duration(i+1)*step)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, f)
	}
	for _, threads := range []int{1, 2, 3} {
		q := pipeline(t, Options{Threads: threads})
		in := make(chan Input)
		go func() {
			defer close(in)
			for i, m := range frames {
				in <- Input{Seq: int64(i), PTS: time.Duration(i+1) * step, Mat: m.Clone()}
			}
		}()
		i := 0
		for r := range q.Stream(ctx, in) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if r.Seq != int64(i) {
				t.Fatalf("threads %d: result %d has seq %d", threads, i, r.Seq)
			}
			if r.Frame.Present != want[i].Present || r.Frame.Points != want[i].Points || r.Frame.Scale != want[i].Scale {
				t.Errorf("threads %d, frame %d: Stream differs from Process (parts %v vs %v)", threads, i, r.Frame.Present, want[i].Present)
			}
			i++
		}
		if i != len(frames) {
			t.Errorf("threads %d: %d results for %d frames", threads, i, len(frames))
		}
	}
	if want[len(want)-1].Present != [4]bool{true, true, true, true} {
		t.Errorf("last pan frame: parts %v, want all four", want[len(want)-1].Present)
	}
}

func TestStreamStopsOnCancel(t *testing.T) {
	p := pipeline(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan Input)
	out := p.Stream(ctx, in)
	cancel()
	select {
	case _, ok := <-out:
		for ok {
			_, ok = <-out
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stream did not close its output after cancellation")
	}
}
