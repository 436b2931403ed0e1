// Package assets locates what `make setup` puts in the cache: the ONNX Runtime shared
// library extracted from onnxruntime-node and MediaPipe's TFLite models extracted from
// @mediapipe/holistic and @mediapipe/hands.
//
// The cache is $SCOPE_CACHE, else the .cache folder of the source tree that holds the
// running binary or the current directory, else $XDG_CACHE_HOME/scope.
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
	if d, err := Find(".cache"); err == nil {
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

// ONNXRuntimeLibrary returns the path of libonnxruntime.so.1.
func ONNXRuntimeLibrary() (string, error) {
	return file(filepath.Join(CacheDir(), "onnxruntime", "libonnxruntime.so.1"))
}

// MediaPipeModel returns the path of one of MediaPipe's models by file name, for
// example "pose_landmark_lite.tflite".
func MediaPipeModel(name string) (string, error) {
	return file(filepath.Join(CacheDir(), "mediapipe", name))
}

// MediaPipeModels lists every cached MediaPipe .tflite model.
func MediaPipeModels() ([]string, error) {
	m, err := filepath.Glob(filepath.Join(CacheDir(), "mediapipe", "*.tflite"))
	if err == nil && len(m) == 0 {
		err = fmt.Errorf("MediaPipe models in %s: %w", filepath.Join(CacheDir(), "mediapipe"), ErrMissing)
	}
	return m, err
}

func file(p string) (string, error) {
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: %w", p, ErrMissing)
	}
	return p, nil
}
