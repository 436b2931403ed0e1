package version

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"scope/internal/assets"
)

// `scope version` names the files it loaded and the architecture each is built for, so
// that a cross-built binary shows it runs on its own architecture's libraries.
func TestLoadedNamesLibrariesAndArchitecture(t *testing.T) {
	lib, err := assets.ONNXRuntimeLibrary()
	if err != nil {
		t.Fatal(err)
	}
	Libraries(lib) // loads ONNX Runtime
	want := map[string]bool{"libonnxruntime.so.1": false, "libopencv_core": false}
	for _, l := range Loaded() {
		for prefix := range want {
			if strings.HasPrefix(filepath.Base(l.Path), prefix) {
				want[prefix] = true
				if l.Arch != runtime.GOARCH {
					t.Errorf("%s: architecture %q, want %q", l.Path, l.Arch, runtime.GOARCH)
				}
			}
		}
	}
	for prefix, found := range want {
		if !found {
			t.Errorf("no %s* among the loaded libraries %v", prefix, Loaded())
		}
	}
	if exe := Executable(); exe.Arch != runtime.GOARCH {
		t.Errorf("executable %s: architecture %q, want %q", exe.Path, exe.Arch, runtime.GOARCH)
	}
	out := Format(Libraries(lib))
	for _, s := range []string{runtime.GOOS + "/" + runtime.GOARCH, "loaded:", "libonnxruntime.so.1", "libopencv_core"} {
		if !strings.Contains(out, s) {
			t.Errorf("Format lacks %q:\n%s", s, out)
		}
	}
}

func TestElfArchOfSomethingThatIsNotELF(t *testing.T) {
	if a := elfArch("loaded.go"); a != "" {
		t.Errorf("elfArch(loaded.go) = %q, want empty", a)
	}
}
