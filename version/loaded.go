package version

import (
	"bufio"
	"debug/elf"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Library is a shared library mapped into this process, with the architecture its ELF
// header names: on a cross-built or emulated binary it shows which build was loaded.
type Library struct {
	Path string
	Arch string // amd64, arm64, ... (GOARCH names); "" when the file cannot be read
}

// libraryPrefixes are the libraries `scope version` lists: OpenCV's modules, ONNX
// Runtime (loaded with dlopen), and the C and C++ runtimes they sit on. llama.cpp is
// linked into the executable itself.
var libraryPrefixes = []string{"libopencv_", "libonnxruntime", "libstdc++", "libc.so", "libc-"}

// Loaded lists the shared libraries in /proc/self/maps whose file names start with one
// of libraryPrefixes, in the order they were mapped. It returns nil where the kernel has
// no /proc/self/maps.
func Loaded() []Library {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	var libs []Library
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[5], "/") {
			continue
		}
		p := strings.Join(fields[5:], " ")
		if seen[p] || !wanted(filepath.Base(p)) {
			continue
		}
		seen[p] = true
		libs = append(libs, Library{Path: p, Arch: elfArch(p)})
	}
	return libs
}

func wanted(name string) bool {
	for _, p := range libraryPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// elfArch names an ELF file's machine as Go names architectures.
func elfArch(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_386:
		return "386"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		return "riscv64"
	case elf.EM_PPC64:
		return "ppc64"
	case elf.EM_S390:
		return "s390x"
	}
	return strings.TrimPrefix(f.Machine.String(), "EM_")
}

// Executable is this program's own file and architecture: llama.cpp and ggml are
// compiled into it.
func Executable() Library {
	p, err := os.Executable()
	if err != nil {
		return Library{Arch: runtime.GOARCH}
	}
	return Library{Path: p, Arch: elfArch(p)}
}
