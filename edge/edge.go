// Package edge describes the device SCOPE runs on and shares its CPU between the stages.
//
// Discover reads what the machine offers (CPU count and SIMD features, an NVIDIA GPU
// with CUDA, a Jetson module, which ONNX Runtime build is loaded); ChooseProvider turns
// the configured provider ("auto", "cpu", "cuda", "tensorrt") into the one to use; and a
// Budget splits one thread count between ONNX Runtime and llama.cpp, whose ggml threads
// busy-wait and collapse when they oversubscribe the cores.
package edge

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"
)

// Device is what Discover found.
type Device struct {
	Arch     string   // GOARCH
	CPUs     int      // logical CPUs this process may use
	Features []string // SIMD features that matter for the runtimes (avx2, fma, f16c, neon, ...)
	CUDA     bool     // an NVIDIA driver and GPU are present
	Jetson   string   // Jetson/L4T release line, empty elsewhere
	Model    string   // board or CPU model name, when the system says
}

// Discover inspects the machine. root is "/" normally; tests point it at a fake tree.
func Discover(root string) Device {
	d := Device{Arch: runtime.GOARCH, CPUs: runtime.GOMAXPROCS(0)}
	switch runtime.GOARCH {
	case "amd64":
		for _, f := range []struct {
			name string
			ok   bool
		}{{"sse4.2", cpu.X86.HasSSE42}, {"avx", cpu.X86.HasAVX}, {"avx2", cpu.X86.HasAVX2}, {"fma", cpu.X86.HasFMA}, {"f16c", hasF16C()}, {"avx512f", cpu.X86.HasAVX512F}, {"avx512vnni", cpu.X86.HasAVX512VNNI}} {
			if f.ok {
				d.Features = append(d.Features, f.name)
			}
		}
	case "arm64":
		for _, f := range []struct {
			name string
			ok   bool
		}{{"neon", cpu.ARM64.HasASIMD}, {"fp16", cpu.ARM64.HasFPHP}, {"dotprod", cpu.ARM64.HasASIMDDP}, {"sve", cpu.ARM64.HasSVE}} {
			if f.ok {
				d.Features = append(d.Features, f.name)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/nv_tegra_release")); err == nil {
		d.Jetson = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		d.CUDA = true
	}
	if _, err := os.Stat(filepath.Join(root, "dev/nvidia0")); err == nil {
		d.CUDA = true
	}
	if b, err := os.ReadFile(filepath.Join(root, "proc/device-tree/model")); err == nil {
		d.Model = strings.TrimRight(string(b), "\x00\n")
	} else if b, err := os.ReadFile(filepath.Join(root, "proc/cpuinfo")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				d.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	return d
}

// hasF16C: x/sys/cpu does not report F16C; AVX2 machines have it (Haswell and later),
// which is what the Makefile's -mf16c assumes too.
func hasF16C() bool { return cpu.X86.HasAVX2 }

// Has reports whether the device has a SIMD feature.
func (d Device) Has(feature string) bool {
	for _, f := range d.Features {
		if f == feature {
			return true
		}
	}
	return false
}

func (d Device) String() string {
	s := fmt.Sprintf("%s, %d CPUs", d.Arch, d.CPUs)
	if d.Model != "" {
		s = d.Model + " (" + s + ")"
	}
	if len(d.Features) > 0 {
		s += ", " + strings.Join(d.Features, " ")
	}
	if d.Jetson != "" {
		s += ", Jetson " + d.Jetson
	} else if d.CUDA {
		s += ", NVIDIA GPU"
	}
	return s
}

// ChooseProvider picks the ONNX Runtime execution provider. "auto" takes TensorRT on a
// Jetson, CUDA where an NVIDIA GPU is present and the loaded ONNX Runtime has GPU
// support (ortGPU), else the CPU. An explicit choice the device cannot honour is an
// error that says why.
func ChooseProvider(configured string, d Device, ortGPU bool) (string, error) {
	switch configured {
	case "", "auto":
		switch {
		case d.Jetson != "" && ortGPU:
			return "tensorrt", nil
		case d.CUDA && ortGPU:
			return "cuda", nil
		}
		return "cpu", nil
	case "cpu":
		return "cpu", nil
	case "cuda", "tensorrt":
		if !d.CUDA {
			return "", fmt.Errorf("edge.provider %q: no NVIDIA GPU found on this device (use cpu or auto)", configured)
		}
		if !ortGPU {
			return "", fmt.Errorf("edge.provider %q: the loaded ONNX Runtime is a CPU build; point runtime.onnxruntime_library at a GPU build", configured)
		}
		return configured, nil
	}
	return "", fmt.Errorf("edge.provider %q is not allowed; use one of auto, cpu, cuda, tensorrt", configured)
}

// Budget is how many CPU threads each runtime gets.
type Budget struct {
	Total int // threads shared by everything
	Pose  int // ONNX Runtime intra-op threads for each pose model
	SLR   int // ONNX Runtime intra-op threads for the recogniser
	LLM   int // llama.cpp threads
}

// Split shares total threads (0 means all CPUs). The stages run one after another for a
// signed sentence but overlap in a stream, so no runtime gets more than half the cores
// once there are four or more, and llama.cpp never more than 4: its threads spin, and
// tiny models run faster on one thread than on two (see docs).
func Split(total int, d Device) Budget {
	if total <= 0 {
		total = d.CPUs
	}
	if total < 1 {
		total = 1
	}
	half := total / 2
	if half < 1 {
		half = 1
	}
	llm := half
	if llm > 4 {
		llm = 4
	}
	if total <= 2 {
		llm = 1
	}
	return Budget{Total: total, Pose: half, SLR: 1, LLM: llm}
}
