package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// CheckFiles checks every file and folder the configuration names, without loading any
// of them: the recogniser bundle has a manifest.json, the translator model and adapters
// are GGUF files, the ONNX Runtime library is an ELF shared library, the TLS certificate
// and key are readable, pose.model_dir is a folder. Empty settings (the built-in
// defaults) are left to the code that resolves them. All problems come back at once,
// each a *FieldError that names the setting and the path.
func (c Config) CheckFiles() error {
	var errs []error
	bad := func(field, path, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: path + ": " + fmt.Sprintf(format, args...)})
	}
	if p := c.SLR.Bundle; p != "" {
		if err := isDir(p); err != nil {
			bad("slr.bundle", p, "%v; want the recogniser's bundle folder (with manifest.json), or empty for the demo bundle", err)
		} else if err := isFile(filepath.Join(p, "manifest.json"), nil); err != nil {
			bad("slr.bundle", p, "no readable manifest.json (%v): not a recogniser bundle", err)
		}
	}
	gguf := []byte("GGUF")
	if p := c.SLT.Model; p != "" {
		if err := isFile(p, gguf); err != nil {
			bad("slt.model", p, "%v; want a llama.cpp GGUF model, or empty for the demo model", err)
		}
	}
	names := make([]string, 0, len(c.SLT.Adapters))
	for n := range c.SLT.Adapters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p := c.SLT.Adapters[n]; p != "" {
			if err := isFile(p, gguf); err != nil {
				bad("slt.adapters."+n, p, "%v; want a LoRA adapter in GGUF (scope llm convert-adapter writes one)", err)
			}
		}
	}
	if p := c.Runtime.ONNXRuntimeLibrary; p != "" {
		if err := isFile(p, []byte("\x7fELF")); err != nil {
			bad("runtime.onnxruntime_library", p, "%v; want libonnxruntime.so.1 (a GPU build works too), or empty for the one `make setup` extracts", err)
		}
	}
	if p := c.Daemon.TLSCert; p != "" {
		if err := isFile(p, nil); err != nil {
			bad("daemon.tls_cert", p, "%v; want a PEM certificate", err)
		}
	}
	if p := c.Daemon.TLSKey; p != "" {
		if err := isFile(p, nil); err != nil {
			bad("daemon.tls_key", p, "%v; want a PEM private key", err)
		}
	}
	if p := c.Pose.ModelDir; p != "" {
		if _, err := os.Stat(p); err == nil {
			if err := isDir(p); err != nil {
				bad("pose.model_dir", p, "%v; want a folder for the converted pose models", err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			bad("pose.model_dir", p, "%v", err)
		}
	}
	return errors.Join(errs...)
}

func isDir(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return pathErr(err)
	}
	if !st.IsDir() {
		return errors.New("not a folder")
	}
	return nil
}

// isFile checks that p is a readable regular file that starts with magic (when given).
// It looks before it opens: opening a named pipe waits for a writer (config check hung
// on one).
func isFile(p string, magic []byte) error {
	st, err := os.Stat(p)
	if err != nil {
		return pathErr(err)
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	f, err := os.Open(p)
	if err != nil {
		return pathErr(err)
	}
	defer f.Close()
	if len(magic) > 0 {
		head := make([]byte, len(magic))
		if _, err := io.ReadFull(f, head); err != nil || string(head) != string(magic) {
			return fmt.Errorf("not the right kind of file (it does not start with %q)", magic)
		}
	}
	return nil
}

// pathErr drops the path from an *os.PathError: the caller names it once.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
