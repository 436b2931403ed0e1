package version

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"scope/internal/assets"
)

// The versions must come from the loaded libraries: each is checked against what the
// installed package itself says, and none may be spelled out in this package's code.
func TestVersionsComeFromTheLibraries(t *testing.T) {
	lib, err := assets.ONNXRuntimeLibrary()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range Libraries(lib) {
		if c.Err != nil {
			t.Fatalf("%s: %v", c.Name, c.Err)
		}
		got[c.Name] = c.Version
	}

	out, err := exec.Command("pkg-config", "--modversion", "opencv4").Output()
	if err != nil {
		t.Fatalf("pkg-config opencv4: %v (install libopencv-dev: `make setup`)", err)
	}
	if want := strings.TrimSpace(string(out)); got["OpenCV"] != want {
		t.Errorf("OpenCV reports %q, pkg-config says %q", got["OpenCV"], want)
	}

	if want := npmVersion(t, filepath.Join(assets.CacheDir(), "npm", "onnxruntime-node-1.30.0.tgz")); got["ONNX Runtime"] != want {
		t.Errorf("ONNX Runtime reports %q, its npm package is %q", got["ONNX Runtime"], want)
	}

	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/ollama/ollama").Output()
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "llama", "build-info.cpp"))
	if err != nil {
		t.Fatal(err)
	}
	commit := regexp.MustCompile(`LLAMA_COMMIT = "([0-9a-f]+)"`).FindSubmatch(info)
	if commit == nil || !strings.Contains(got["llama.cpp"], string(commit[1])) {
		t.Errorf("llama.cpp reports %q, the vendored sources are commit %q", got["llama.cpp"], commit)
	}
	if runtime.GOARCH == "amd64" && !strings.Contains(got["llama.cpp"], "AVX2 = 1") {
		t.Errorf("llama.cpp was built without AVX2 (%q): build through the Makefile's cgo flags", got["llama.cpp"])
	}

	// Test binaries carry no module list, so bbolt's recorded version is checked on the
	// real binary by cmd/scope's TestVersionCommand.

	src, _ := filepath.Glob("*.go")
	for _, f := range src {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		for name, v := range got {
			if name == "bbolt" || name == "gocv" {
				continue // these two are module versions recorded by the Go toolchain
			}
			if name == "llama.cpp" {
				v = string(commit[1])
			}
			if strings.Contains(string(b), v) {
				t.Errorf("%s spells out %s's version %q", f, name, v)
			}
		}
	}
}

func npmVersion(t *testing.T, tgz string) string {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatalf("%v (run `make setup`)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no package/package.json: %v", tgz, err)
		}
		if h.Name == "package/package.json" {
			b, _ := io.ReadAll(tr)
			var p struct{ Version string }
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			return p.Version
		}
	}
}

func TestScopeVersion(t *testing.T) {
	if v := Scope(); !strings.HasPrefix(v, Release) {
		t.Fatalf("Scope() = %q, want it to start with %s", v, Release)
	}
}
