package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"scope/models/poseformat"
)

func TestPoseImageToPoseFile(t *testing.T) {
	img := "/usr/share/doc/opencv-doc/examples/data/messi5.jpg"
	if _, err := os.Stat(img); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: apt-get install opencv-doc", img)
		}
		t.Skip("opencv-doc not installed")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "messi.pose")
	overlay := filepath.Join(dir, "messi.avi")
	stdout, _, err := run(t, "pose", "--input", img, "--out", out, "--overlay", overlay)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "1 frames 548x342, pose 1, face 1, left hand 1, right hand 1") {
		t.Errorf("summary: %q", stdout)
	}
	frames, present := readPose(t, out)
	if len(frames) != 1 || present[0] != [poseformat.NumParts]bool{true, true, true, true} {
		t.Errorf("read back %d frames, parts %v", len(frames), present)
	}
	if st, err := os.Stat(overlay); err != nil || st.Size() == 0 {
		t.Errorf("overlay video: %v", err)
	}
}

// readPose reads a .pose file written by `scope pose` back as Holistic frames.
func readPose(t *testing.T, path string) ([][poseformat.NumPoints][3]float32, [][poseformat.NumParts]bool) {
	t.Helper()
	f, err := poseformat.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	frames, _, present, _, err := f.Holistic(0)
	if err != nil {
		t.Fatal(err)
	}
	return frames, present
}

func TestPoseNoPersonWritesEmptyFrame(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "grey.png")
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(90, 90, 90, 0), 240, 320, gocv.MatTypeCV8UC3)
	gocv.IMWrite(img, m)
	m.Close()
	out := filepath.Join(dir, "grey.pose")
	if _, _, err := run(t, "pose", "--input", img, "--out", out); err != nil {
		t.Fatal(err)
	}
	frames, present := readPose(t, out)
	if len(frames) != 1 || present[0] != [poseformat.NumParts]bool{} {
		t.Errorf("grey image: %d frames, parts %v; want one frame with nothing", len(frames), present)
	}
}

func TestPoseBadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.avi")
	os.WriteFile(corrupt, []byte("RIFF\x00\x00\x00\x00AVI LIST this is not a video"), 0o644)
	empty := filepath.Join(dir, "empty.mp4")
	os.WriteFile(empty, nil, 0o644)
	emptyImg := filepath.Join(dir, "empty.png")
	os.WriteFile(emptyImg, nil, 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"corrupt video", []string{"--input", corrupt, "--out", filepath.Join(dir, "a.pose")}, "corrupt.avi"},
		{"empty video", []string{"--input", empty, "--out", filepath.Join(dir, "b.pose")}, "empty.mp4"},
		{"empty image", []string{"--input", emptyImg, "--out", filepath.Join(dir, "c.pose")}, "empty.png"},
		{"missing file", []string{"--input", filepath.Join(dir, "nope.mp4"), "--out", filepath.Join(dir, "d.pose")}, "nope.mp4"},
		{"wrong out name", []string{"--input", corrupt, "--out", filepath.Join(dir, "x.json")}, ".pose"},
		{"no input", []string{"--out", filepath.Join(dir, "e.pose")}, "--input"},
		{"bad complexity", []string{"--input", corrupt, "--out", filepath.Join(dir, "f.pose"), "--complexity", "max"}, "complexity"},
	} {
		_, _, err := run(t, append([]string{"pose"}, c.args...)...)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.want)
		}
	}
}
