package edge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, body := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDiscoverReadsTheSystem(t *testing.T) {
	jetson := Discover(fakeRoot(t, map[string]string{
		"etc/nv_tegra_release":   "# R35 (release), REVISION: 4.1, GCID: 33958178\nmore\n",
		"proc/device-tree/model": "NVIDIA Jetson Orin Nano Developer Kit\x00",
	}))
	if jetson.Jetson != "# R35 (release), REVISION: 4.1, GCID: 33958178" || !jetson.CUDA || !strings.Contains(jetson.Model, "Orin") {
		t.Fatalf("jetson: %+v", jetson)
	}
	desktop := Discover(fakeRoot(t, map[string]string{"proc/cpuinfo": "processor : 0\nmodel name : Example CPU 3000\n", "dev/nvidia0": ""}))
	if desktop.Jetson != "" || !desktop.CUDA || desktop.Model != "Example CPU 3000" {
		t.Fatalf("desktop: %+v", desktop)
	}
	kiosk := Discover(fakeRoot(t, nil))
	if kiosk.CUDA || kiosk.CPUs < 1 {
		t.Fatalf("kiosk: %+v", kiosk)
	}
}

func TestChooseProvider(t *testing.T) {
	cpuOnly := Device{CPUs: 4}
	gpu := Device{CPUs: 8, CUDA: true}
	jetson := Device{CPUs: 6, CUDA: true, Jetson: "R35"}
	cases := []struct {
		conf    string
		d       Device
		ortGPU  bool
		want    string
		wantErr string
	}{
		{"auto", cpuOnly, false, "cpu", ""},
		{"auto", gpu, false, "cpu", ""}, // CPU build of ONNX Runtime: stay on CPU
		{"auto", gpu, true, "cuda", ""},
		{"auto", jetson, true, "tensorrt", ""},
		{"cpu", jetson, true, "cpu", ""},
		{"cuda", cpuOnly, true, "", "no NVIDIA GPU"},
		{"tensorrt", jetson, false, "", "CPU build"},
		{"npu", gpu, true, "", "auto, cpu, cuda, tensorrt"},
	}
	for _, c := range cases {
		got, err := ChooseProvider(c.conf, c.d, c.ortGPU)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s on %+v: err = %v, want %q", c.conf, c.d, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s on %+v: %q, %v; want %q", c.conf, c.d, got, err, c.want)
		}
	}
}

func TestSplitNeverOversubscribes(t *testing.T) {
	for _, tc := range []struct{ total, cpus, pose, llm int }{
		{0, 1, 1, 1}, {0, 2, 1, 1}, {4, 16, 2, 2}, {0, 8, 4, 4}, {0, 16, 8, 4},
	} {
		b := Split(tc.total, Device{CPUs: tc.cpus})
		if b.Pose != tc.pose || b.LLM != tc.llm {
			t.Errorf("Split(%d) on %d CPUs = %+v, want pose %d, llm %d", tc.total, tc.cpus, b, tc.pose, tc.llm)
		}
		if b.Pose+b.LLM > b.Total+1 && b.Total > 1 {
			t.Errorf("Split(%d) on %d CPUs = %+v oversubscribes", tc.total, tc.cpus, b)
		}
	}
}
