package slr

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// python runs `/usr/bin/python3 -m train.slr.reference args...` from the repository root.
// Without Debian's PyTorch the test is skipped (fails under CI=true, which has it).
func python(t *testing.T, args ...string) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, numpy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s with torch and numpy is needed (apt-get install python3-torch python3-numpy): %v", py, err)
		}
		t.Skipf("%s with torch and numpy not available: %v", py, err)
	}
	cmd := exec.Command(py, append([]string{"-m", "train.slr.reference"}, args...)...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python %v: %v\n%s", args, err, out)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("repository root (go.mod) not found")
		}
	}
}

// writeFrames writes the frames exchange file of train/slr/reference.py.
func writeFrames(t *testing.T, path string, frames []Frame, fps float32) {
	t.Helper()
	b := []byte("SLRF")
	b = binary.LittleEndian.AppendUint32(b, uint32(len(frames)))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(fps))
	for i := range frames {
		for _, p := range frames[i].Points {
			for _, v := range p {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
		}
	}
	for i := range frames {
		for _, c := range frames[i].Conf {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(c))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFrames reads the frames exchange file.
func readFrames(t *testing.T, path string) ([]Frame, float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[:4]) != "SLRF" {
		t.Fatalf("%s is not a frames file", path)
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	fps := math.Float32frombits(binary.LittleEndian.Uint32(b[8:]))
	if len(b) != 12+n*NumPoints*16 {
		t.Fatalf("%s: %d bytes for %d frames", path, len(b), n)
	}
	f32 := func(i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[12+4*i:])) }
	frames := make([]Frame, n)
	for i := range frames {
		for p := 0; p < NumPoints; p++ {
			for d := 0; d < 3; d++ {
				frames[i].Points[p][d] = f32((i*NumPoints+p)*3 + d)
			}
			frames[i].Conf[p] = f32(n*NumPoints*3 + i*NumPoints + p)
		}
	}
	return frames, float64(fps)
}
