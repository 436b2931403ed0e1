// Package version reports SCOPE's own version and the versions of the native libraries
// it runs on, each asked of the loaded library at run time (nothing here is a copy of
// a library's version number).
package version

import (
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	// bbolt has no version call; importing it here makes the version the Go toolchain
	// recorded for it in the binary the one that stores the dialogue.
	_ "go.etcd.io/bbolt"
	"gocv.io/x/gocv"

	"scope/internal/release"
	"scope/models/runtime"
	"scope/models/slt/llamacpp"
)

// Release is SCOPE's release number. Bundles name the minimum release they need.
// It lives in internal/release so that the bundle reader can check it without this
// package's native dependencies.
const Release = release.Version

// revision is set at link time by the Makefile (-X scope/version.revision=...), for
// builds where Go does not stamp version control information itself.
var revision string

// Scope is the release plus the VCS revision the binary was built from, when known
// ("0.1.0+3f2a9c1", "-dirty" for uncommitted changes).
func Scope() string {
	v := Release
	if revision != "" {
		return v + "+" + revision
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev != "" {
		v += "+" + rev
		if modified == "true" {
			v += "-dirty"
		}
	}
	return v
}

// Component is one library and the version it reported.
type Component struct {
	Name    string
	Version string
	Err     error // why the version could not be asked (library not loadable)
}

// Libraries asks each native library for its version. ortLibrary is the path of
// libonnxruntime.so.1; ONNX Runtime is loaded from it if it is not loaded yet.
func Libraries(ortLibrary string) []Component {
	cs := []Component{{Name: "OpenCV", Version: gocv.OpenCVVersion()}}
	ort := Component{Name: "ONNX Runtime"}
	if err := runtime.Init(ortLibrary); err != nil {
		ort.Err = err
	} else {
		ort.Version = runtime.Version()
	}
	cs = append(cs, ort)
	cs = append(cs, Component{Name: "llama.cpp", Version: llamacpp.BuildInfo()})
	cs = append(cs, Component{Name: "bbolt", Version: moduleVersion("go.etcd.io/bbolt")})
	cs = append(cs, Component{Name: "gocv", Version: gocv.Version()})
	return cs
}

// moduleVersion is the version of a Go module linked into this binary, as the Go
// toolchain recorded it.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil {
				return m.Replace.Version + " (replaces " + m.Version + ")"
			}
			return m.Version
		}
	}
	return "not linked"
}

// Format renders the versions as aligned lines, then the native libraries this process
// loaded, each with the architecture its file is built for.
func Format(cs []Component) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-13s %s (%s/%s)\n", "scope", Scope(), goruntime.GOOS, goruntime.GOARCH)
	for _, c := range cs {
		v := c.Version
		if c.Err != nil {
			v = "unavailable: " + c.Err.Error()
		}
		fmt.Fprintf(&b, "%-13s %s\n", c.Name, v)
	}
	fmt.Fprintf(&b, "loaded:\n")
	exe := Executable()
	fmt.Fprintf(&b, "  %-7s %s (llama.cpp and ggml are linked in)\n", orUnknown(exe.Arch), exe.Path)
	for _, l := range Loaded() {
		fmt.Fprintf(&b, "  %-7s %s\n", orUnknown(l.Arch), l.Path)
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
