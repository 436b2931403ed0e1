package pose

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"scope/internal/assets"
	"scope/models/convert"
)

// TestWrongModelInASlotIsRefusedByName puts valid ONNX models of the wrong kind in each
// slot: each must be refused at load, naming the file and the slot (a landmark model in
// the pose_landmark slot panicked with index out of range, a detector in the
// pose_detection slot with a nil pointer, and the hand and face slots said only "crop has
// 150528 values, tensor 196608").
func TestWrongModelInASlotIsRefusedByName(t *testing.T) {
	src := t.TempDir()
	convertTo := func(name, out string) {
		in, err := assets.MediaPipeModel(name + ".tflite")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
		if _, err := convert.File(in, out, convert.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		slot, impostor, want string
	}{
		{"pose_landmark_lite", "hand_landmark_full", "input input_1 is [1 224 224 3]"},
		{"pose_detection", "pose_landmark_lite", "input input_1 is [1 256 256 3]"},
		{"pose_detection", "palm_detection_lite", "input input_1 is [1 192 192 3]"},
		{"hand_landmark_full", "face_landmark", "input input_1 is [1 192 192 3]"},
		{"hand_recrop", "pose_landmark_lite", "it has 5 outputs"},
		{"face_landmark", "hand_landmark_lite", "input input_1 is [1 224 224 3]"},
		{"face_detection_short_range", "face_landmark", "input input_1 is [1 192 192 3]"},
	} {
		t.Run(tc.slot+" holds "+tc.impostor, func(t *testing.T) {
			dir := t.TempDir()
			cached := filepath.Join(src, tc.impostor+".onnx")
			if _, err := os.Stat(cached); err != nil {
				convertTo(tc.impostor, cached)
			}
			b, err := os.ReadFile(cached)
			if err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(dir, tc.slot+".onnx")
			os.WriteFile(bad, b, 0o644)
			p, err := New(Options{ModelDir: dir})
			if err == nil {
				p.Close()
				t.Fatal("loaded")
			}
			for _, w := range []string{bad, tc.slot + " slot", tc.want, "want MediaPipe's"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestThreadsAreBounded: Threads is how many models run at once; any number was taken
// silently (scope pose --threads 100000). More than the CPUs (or 3, the most the stages
// run at once) is refused, naming the CPUs, before any model is loaded; the default fits
// a one-CPU machine.
func TestThreadsAreBounded(t *testing.T) {
	n := goruntime.NumCPU()
	for _, threads := range []int{max(n, 3) + 1, 100000} {
		_, err := New(Options{Threads: threads})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("this machine has %d CPUs", n)) {
			t.Errorf("Threads %d: err = %v, want the CPU count named", threads, err)
		}
	}
	if d := DefaultThreads(); d < 1 || d > n || d > 2 {
		t.Errorf("DefaultThreads() = %d on %d CPUs", d, n)
	}
}
