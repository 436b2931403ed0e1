package main

import (
	"context"
	"fmt"

	"scope/config"
	"scope/internal/assets"
	"scope/version"
)

func cmdVersion(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "version", "[--config FILE]", "Print scope's version and the version each native library reports once loaded: OpenCV (through gocv), ONNX Runtime, llama.cpp (commit, build number, CPU features) and bbolt.")
	cfgPath := configFlag(fs)
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	c, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	lib, err := ortLibrary(c)
	if err != nil {
		return err
	}
	fmt.Fprint(a.stdout, version.Format(version.Libraries(lib)))
	return nil
}

// ortLibrary is runtime.onnxruntime_library, or the library `make setup` extracted.
func ortLibrary(c config.Config) (string, error) {
	if c.Runtime.ONNXRuntimeLibrary != "" {
		return c.Runtime.ONNXRuntimeLibrary, nil
	}
	return assets.ONNXRuntimeLibrary()
}
