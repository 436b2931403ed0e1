package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scope/config"
)

// TestTruncatedVideoSaysSo: a video cut off after a few of its frames used to end with
// no error; the frames before the cut still come, and Err says the rest is missing.
func TestTruncatedVideoSaysSo(t *testing.T) {
	full := sample(t, "vtest.avi")
	b, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.avi")
	os.WriteFile(cut, b[:len(b)/3], 0o644)
	for _, tc := range []struct {
		path      string
		truncated bool
	}{{full, false}, {cut, true}} {
		s, err := Open(tc.path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := drain(t, s, context.Background())
		err = s.Err()
		s.Close()
		t.Logf("%s: %d frames of %d announced: %v", filepath.Base(tc.path), n, s.FrameCount(), err)
		if tc.truncated != errors.Is(err, ErrTruncated) {
			t.Errorf("%s: err = %v (truncated: %v)", tc.path, err, tc.truncated)
		}
		if tc.truncated && (n == 0 || !strings.Contains(err.Error(), "cut.avi") || !strings.Contains(err.Error(), "of the 795 frames")) {
			t.Errorf("%s: %d frames, err %v: want the frames before the cut and an error naming the file and the count", tc.path, n, err)
		}
	}
}

// hugePNG writes a valid PNG header claiming w x h (its pixels are not there: the
// size is refused before anything is decoded).
func hugePNG(t *testing.T, path string, w, h int) {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// IHDR: 8-byte signature, length, "IHDR", width, height, ..., CRC over type+data.
	binary.BigEndian.PutUint32(b[16:], uint32(w))
	binary.BigEndian.PutUint32(b[20:], uint32(h))
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImagesAndFramesHaveASizeBound(t *testing.T) {
	if MaxSide != config.MaxImageSide || MinReconnect != config.MinReconnect {
		t.Fatalf("capture's bounds (%d, %v) differ from the configuration's (%d, %v)", MaxSide, MinReconnect, config.MaxImageSide, config.MinReconnect)
	}
	dir := t.TempDir()
	big := filepath.Join(dir, "big.png")
	hugePNG(t, big, 16000, 12000)
	_, err := Open(big, Options{})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "16000x12000") || !strings.Contains(err.Error(), "big.png") {
		t.Fatalf("err = %v, want ErrTooLarge naming the file and size", err)
	}
	// In a folder of images too.
	seq := filepath.Join(dir, "seq")
	os.Mkdir(seq, 0o755)
	hugePNG(t, filepath.Join(seq, "0001.png"), 9000, 10)
	s, err := Open(seq, Options{})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, s, context.Background())
	if err := s.Err(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("image sequence: %v", err)
	}
	s.Close()
}

func TestReconnectHasAFloor(t *testing.T) {
	s, err := Open(sample(t, "messi5.jpg"), Options{Reconnect: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.opt.Reconnect != MinReconnect {
		t.Fatalf("reconnect %v, want the floor %v", s.opt.Reconnect, MinReconnect)
	}
}

// A camera missing at start is named, with what to check.
func TestMissingCameraIsNamed(t *testing.T) {
	for _, spec := range []string{"/dev/video97", "97"} {
		_, err := Open(spec, Options{Reconnect: time.Second})
		if err == nil || !strings.Contains(err.Error(), "video97") && !strings.Contains(err.Error(), "camera 97") {
			t.Errorf("%s: %v", spec, err)
		}
	}
}
