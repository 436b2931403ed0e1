package keypoints

import (
	"context"
	"errors"
	"os"
	"testing"

	"scope/capture"
	"scope/models/pose"
)

// vtest.avi: people walking, from Debian's opencv-doc (`make setup` installs it).
const video = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

func open(t *testing.T, frames int) (<-chan capture.Frame, context.CancelFunc, *capture.Source) {
	t.Helper()
	if _, err := os.Stat(video); err != nil {
		t.Fatalf("%v (make setup installs opencv-doc)", err)
	}
	src, err := capture.Open(video, capture.Options{MaxFrames: frames})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := src.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); Discard(ch); src.Close() })
	return ch, cancel, src
}

func pipeline(t *testing.T) *pose.Pipeline {
	t.Helper()
	p, err := pose.New(pose.Options{Threads: pose.DefaultThreads()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Every frame comes back once, in capture order, and with KeepImage its image too.
func TestEveryFrameInOrder(t *testing.T) {
	p := pipeline(t)
	defer p.Close()
	frames, _, _ := open(t, 6)
	var seqs []int64
	err := Run(context.Background(), frames, p, Options{KeepImage: true}, func(r Result) error {
		defer r.Image.Close()
		if r.Err != nil {
			return r.Err
		}
		if r.Image.Empty() || r.Frame.Width != r.Image.Cols() || r.Wall.IsZero() {
			t.Errorf("frame %d: image %dx%d, keypoints for %dx%d", r.Seq, r.Image.Cols(), r.Image.Rows(), r.Frame.Width, r.Frame.Height)
		}
		seqs = append(seqs, r.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 6 {
		t.Fatalf("got frames %v, want 6", seqs)
	}
	for i, s := range seqs {
		if s != int64(i) {
			t.Fatalf("frames out of order: %v", seqs)
		}
	}
}

// An error from the callback stops the loop and comes back; Run has drained the pose
// stream by then, so closing the models at once is safe (a model closed while it runs
// crashes the process, which this test would show).
func TestStopDrainsBeforeReturning(t *testing.T) {
	p := pipeline(t)
	frames, cancel, _ := open(t, 0)
	stop := errors.New("enough")
	n := 0
	err := Run(context.Background(), frames, p, Options{KeepImage: true}, func(r Result) error {
		r.Image.Close()
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("Run returned %v after %d frames, want the callback's error after 3", err, n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	cancel()
	// Cancelling the context stops a running loop the same way.
	p2 := pipeline(t)
	defer p2.Close()
	frames2, _, _ := open(t, 0)
	ctx, cancel2 := context.WithCancel(context.Background())
	err = Run(ctx, frames2, p2, Options{}, func(r Result) error {
		cancel2()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
}
