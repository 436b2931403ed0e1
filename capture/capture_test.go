package capture

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// opencv-doc's sample data (installed by `make setup`).
const samples = "/usr/share/doc/opencv-doc/examples/data"

func sample(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(samples, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v: install opencv-doc (`make setup`)", err)
	}
	return p
}

func drain(t *testing.T, s *Source, ctx context.Context) (n int, last Frame) {
	t.Helper()
	ch, err := s.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for f := range ch {
		if n > 0 && f.Seq <= last.Seq {
			t.Fatalf("frame %d after %d: sequence not increasing", f.Seq, last.Seq)
		}
		last = Frame{Seq: f.Seq, PTS: f.PTS}
		f.Close()
		n++
	}
	return n, last
}

func TestReadsAnImage(t *testing.T) {
	s, err := Open(sample(t, "messi5.jpg"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Kind() != Image {
		t.Fatalf("kind %v, want image", s.Kind())
	}
	ch, _ := s.Start(context.Background())
	f, ok := <-ch
	if !ok {
		t.Fatal("no frame")
	}
	defer f.Close()
	if f.Mat.Cols() != 548 || f.Mat.Rows() != 342 || f.Mat.Channels() != 3 {
		t.Fatalf("messi5.jpg is %dx%dx%d, want 548x342x3", f.Mat.Cols(), f.Mat.Rows(), f.Mat.Channels())
	}
	if _, more := <-ch; more {
		t.Fatal("an image gave more than one frame")
	}
}

func TestCountsEveryFrameOfAVideo(t *testing.T) {
	s, err := Open(sample(t, "vtest.avi"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if w, h := s.Size(); w != 768 || h != 576 {
		t.Fatalf("vtest.avi is %dx%d, want 768x576", w, h)
	}
	n, last := drain(t, s, context.Background())
	if n != 795 {
		t.Fatalf("read %d frames of vtest.avi, want 795", n)
	}
	if st := s.Stats(); st.Read != 795 || st.Dropped != 0 {
		t.Fatalf("stats %+v: an unpaced file must not drop frames", st)
	}
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	// vtest.avi is 10 frames/s: frame 794 is presented near 79.4 s.
	if last.PTS < 78*time.Second || last.PTS > 80*time.Second {
		t.Fatalf("last PTS %v, want about 79.4s", last.PTS)
	}
}

func TestMaxFramesAndCancel(t *testing.T) {
	s, err := Open(sample(t, "vtest.avi"), Options{MaxFrames: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _ := drain(t, s, context.Background()); n != 10 {
		t.Fatalf("MaxFrames 10 gave %d frames", n)
	}

	s2, err := Open(sample(t, "vtest.avi"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := s2.Start(ctx)
	f := <-ch
	f.Close()
	cancel()
	for f := range ch { // must end
		f.Close()
	}
	if s2.Err() != nil {
		t.Fatalf("cancel is not an error: %v", s2.Err())
	}
}

func TestSlowConsumerDropsOldest(t *testing.T) {
	// Paced at 1000 frames/s into a 2-frame buffer while the consumer takes 20 ms a frame.
	s, err := Open(sample(t, "vtest.avi"), Options{FPS: 1000, Buffer: 2, MaxFrames: 60})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ch, _ := s.Start(context.Background())
	var got []int64
	for f := range ch {
		got = append(got, f.Seq)
		f.Close()
		time.Sleep(20 * time.Millisecond)
	}
	st := s.Stats()
	if st.Dropped == 0 || int64(len(got))+st.Dropped != 60 {
		t.Fatalf("received %d, dropped %d of 60: want drops that account for every frame", len(got), st.Dropped)
	}
	if got[len(got)-1] != 59 {
		t.Fatalf("last frame delivered is %d; dropping the oldest must keep the newest (59)", got[len(got)-1])
	}
}

func TestImageFolderAndLoop(t *testing.T) {
	dir := t.TempDir()
	m := gocv.NewMatWithSize(48, 64, gocv.MatTypeCV8UC3)
	defer m.Close()
	for _, n := range []string{"b.png", "a.png", "c.png"} {
		if !gocv.IMWrite(filepath.Join(dir, n), m) {
			t.Fatal("IMWrite failed")
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644)
	s, err := Open(dir, Options{Loop: true, MaxFrames: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _ := drain(t, s, context.Background()); n != 7 {
		t.Fatalf("looping 3 images for 7 frames gave %d", n)
	}
}

func TestBadInputsGiveClearErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.mp4")
	os.WriteFile(corrupt, []byte("\x00\x00\x00\x18ftypmp42 this is not a video"), 0o644)
	empty := filepath.Join(dir, "empty.avi")
	os.WriteFile(empty, nil, 0o644)
	badimg := filepath.Join(dir, "bad.jpg")
	os.WriteFile(badimg, []byte("nope"), 0o644)

	for _, spec := range []string{"", filepath.Join(dir, "missing.mp4"), corrupt, empty, badimg, "/dev/video99", dir} {
		s, err := Open(spec, Options{})
		if err == nil {
			// Some containers open and then yield nothing: that must surface as ErrNoFrames.
			ch, _ := s.Start(context.Background())
			for f := range ch {
				f.Close()
			}
			err = s.Err()
			s.Close()
			if err == nil {
				t.Errorf("%q: opened and ended without an error", spec)
				continue
			}
			if errors.Is(err, ErrNoFrames) {
				continue
			}
		}
		if spec != "" && !strings.Contains(err.Error(), filepath.Base(spec)) {
			t.Errorf("%q: error %q does not name the source", spec, err)
		}
	}
}

func TestClassify(t *testing.T) {
	for spec, want := range map[string]Kind{
		"0": Camera, "2": Camera, "/dev/video0": Device, "clip.mp4": File,
		"rtsp://127.0.0.1:8554/cam": Stream, "videotestsrc ! appsink": Stream,
		"frames/%04d.png": Sequence, "photo.JPG": Image,
	} {
		if got := Classify(spec); got != want {
			t.Errorf("Classify(%q) = %v, want %v", spec, got, want)
		}
	}
}
