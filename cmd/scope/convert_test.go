package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/models/convert/tflite"
)

func TestConvertCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "relu.onnx")
	stdout, _, err := run(t, "convert", "--verbose", "../../testdata/convert/relu.tflite", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"relu.tflite", "1 TFLite ops", "TFLite: RELU:1", "ONNX:   Relu:1", "inputs:  x [1 4] FLOAT32"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("no ONNX file: %v", err)
	}

	stdout, _, err = run(t, "convert", "--all", "../../testdata/convert", filepath.Join(dir, "all"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "all", "*.onnx"))
	if len(files) != 5 || !strings.Contains(stdout, "converted 5 models") {
		t.Errorf("--all wrote %d files:\n%s", len(files), stdout)
	}
}

func TestConvertCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tflite")
	if err := os.WriteFile(bad, []byte("not a model at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, "convert", bad, filepath.Join(dir, "bad.onnx"))
	if !errors.Is(err, tflite.ErrMalformed) || !strings.Contains(err.Error(), bad) {
		t.Errorf("got %v, want a malformed-file error naming %s", err, bad)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.onnx")); !os.IsNotExist(err) {
		t.Errorf("a failed conversion left an output file")
	}
	if _, _, err := run(t, "convert"); !errors.Is(err, errUsage) {
		t.Errorf("no arguments: got %v, want a usage error", err)
	}
}
