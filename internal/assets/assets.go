// Package assets locates scope's models and native libraries, both in an installed
// system and in a source checkout, so that a binary works from any directory.
//
// The install layout (the Debian package's, packaging/README.md), each root laid out
// like a checkout's .cache/ and models/:
//
//	$SCOPE_HOME           a whole install in one folder (tests, portable installs):
//	                      models/demo/..., onnxruntime/, onnx/, mediapipe/, scope.yaml, data/
//	/var/lib/scope        state and what OTA installs (bundles)
//	/usr/lib/scope        what the package ships: onnxruntime/libonnxruntime.so.1, onnx/,
//	                      models/demo/{slr,slt}
//	/etc/scope            the configuration, scope.yaml
//
// Find looks for a path in those roots in that order, and last in the source tree that
// holds the running binary or the current directory (a binary built anywhere and run in
// a checkout finds models/demo). The libraries `make setup` extracts (ONNX Runtime,
// MediaPipe's TFLite models) are looked up in $SCOPE_CACHE when it is set (only there),
// else in the roots, then in the checkout's .cache, then in $XDG_CACHE_HOME/scope.
// CacheDir, where converted models are written, is $SCOPE_CACHE, else the checkout's
// .cache, else $XDG_CACHE_HOME/scope.
package assets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrMissing is returned (wrapped) when a cached file is absent.
var ErrMissing = errors.New("not in the cache; run `make setup`")

// ErrNotInTree is returned (wrapped) by Find when no source tree above the binary or the
// working directory holds the path.
var ErrNotInTree = errors.New("not found in a source tree")

// CacheDir returns the cache folder described in the package comment.
func CacheDir() string {
	if d := os.Getenv("SCOPE_CACHE"); d != "" {
		return d
	}
	if d, err := findInTree(".cache"); err == nil {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "scope")
	}
	return ".cache"
}

// Find looks for rel (a path relative to a source tree, such as "models/demo/slr") in
// the nearest folder holding a go.mod above the running binary, then above the current
// directory: a binary built by `make build` lives in the tree's bin/ and finds the
// tree's demo models and cache wherever it is run from.
func Find(rel string) (string, error) {
	for _, r := range Roots() {
		p := filepath.Join(r, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return findInTree(rel)
}

// systemRoots are the installed system's folders (a variable for tests).
var systemRoots = []string{"/var/lib/scope", "/usr/lib/scope", "/etc/scope"}

// Roots are the install roots in lookup order: $SCOPE_HOME (when set), /var/lib/scope,
// /usr/lib/scope, /etc/scope.
func Roots() []string {
	var out []string
	if h := os.Getenv("SCOPE_HOME"); h != "" {
		out = append(out, h)
	}
	return append(out, systemRoots...)
}

// ConfigFile is the configuration file used when none is named (no --config and no
// $SCOPE_CONFIG): $SCOPE_HOME/scope.yaml or /etc/scope/scope.yaml, whichever exists
// first, else "" (the built-in defaults).
func ConfigFile() string {
	for _, r := range Roots() {
		p := filepath.Join(r, "scope.yaml")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// Lib returns the first existing rel (for example "onnx" or
// "onnxruntime/libonnxruntime.so.1") among the library folders: $SCOPE_CACHE alone when
// it is set, else the roots, the checkout's .cache and the user's cache folder.
func Lib(rel string) (string, error) {
	dirs := libDirs()
	for _, d := range dirs {
		p := filepath.Join(d, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s (looked in %s): %w", rel, strings.Join(dirs, ", "), ErrMissing)
}

func libDirs() []string {
	if d := os.Getenv("SCOPE_CACHE"); d != "" {
		return []string{d}
	}
	dirs := Roots()
	if d, err := findInTree(".cache"); err == nil {
		dirs = append(dirs, d)
	}
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "scope"))
	}
	return dirs
}

// findInTree looks for rel in the nearest folder holding a go.mod above the running
// binary, then above the current directory.
func findInTree(rel string) (string, error) {
	var starts []string
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				p := filepath.Join(d, rel)
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if len(starts) == 2 && starts[0] == starts[1] {
		starts = starts[:1]
	}
	return "", fmt.Errorf("%s: %w above %s", rel, ErrNotInTree, strings.Join(starts, " or "))
}

// ONNXRuntimeLibrary returns the path of libonnxruntime.so.1 (see Lib).
func ONNXRuntimeLibrary() (string, error) {
	return Lib(filepath.Join("onnxruntime", "libonnxruntime.so.1"))
}

// MediaPipeModel returns the path of one of MediaPipe's models by file name, for
// example "pose_landmark_lite.tflite" (see Lib).
func MediaPipeModel(name string) (string, error) {
	return Lib(filepath.Join("mediapipe", name))
}

// MediaPipeModels lists every cached MediaPipe .tflite model.
func MediaPipeModels() ([]string, error) {
	m, err := filepath.Glob(filepath.Join(CacheDir(), "mediapipe", "*.tflite"))
	if err == nil && len(m) == 0 {
		err = fmt.Errorf("MediaPipe models in %s: %w", filepath.Join(CacheDir(), "mediapipe"), ErrMissing)
	}
	return m, err
}
