// Package convert takes a translation model from PyTorch's formats to llama.cpp's: a Hugging
// Face folder to a GGUF (through ollama's converter), a GGUF to a quantised GGUF (Q8_0, Q4_0,
// Q4_K), and a PEFT LoRA adapter to a GGUF adapter (our own conversion: ollama's v0.17.4
// permutes the wrong factor of q_proj/k_proj adapters).
//
// Every GGUF read here is checked by package gguf first, and every GGUF written is checked
// again before it is reported as done.
package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	hfconvert "github.com/ollama/ollama/convert"

	"scope/models/slt/gguf"
)

// Model converts the Hugging Face folder dir (config.json, model.safetensors, tokenizer
// files) into a GGUF at out. Matrices are written as F16.
func Model(dir, out string) error {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return fmt.Errorf("%s is not a Hugging Face model folder (no config.json): %w", dir, err)
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".convert-*.gguf")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := hfconvert.ConvertModel(os.DirFS(dir), f); err != nil {
		f.Close()
		return fmt.Errorf("converting %s: %w", dir, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	// ollama's converter leaves general.name out; train/slt puts the model's name (with
	// "synthetic" for models trained on synthetic data) in config.json's _name_or_path.
	var cfg struct {
		Name string `json:"_name_or_path"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil && json.Unmarshal(b, &cfg) == nil && cfg.Name != "" {
		if err := setMetadata(f.Name(), gguf.KV{Key: "general.name", Value: cfg.Name}); err != nil {
			return err
		}
	}
	return finish(f.Name(), out)
}

// setMetadata rewrites the GGUF at path with kv added (or replaced).
func setMetadata(path string, kv gguf.KV) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	var ts []gguf.Tensor
	for _, ti := range f.Tensors {
		data, err := f.ReadTensor(r, ti)
		if err != nil {
			return err
		}
		ts = append(ts, gguf.Tensor{Name: ti.Name, Shape: ti.Shape, Type: ti.Type, Data: data})
	}
	kvs := []gguf.KV{}
	for _, x := range f.KV {
		if x.Key != kv.Key {
			kvs = append(kvs, x)
		}
	}
	kvs = append(kvs, kv)
	tmp, err := writeTemp(path, "meta", kvs, ts)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Rename(tmp, path)
}

// writeTemp writes a GGUF to a new temporary file beside out (so a rename to out stays on
// one filesystem) and returns its name; nothing is left behind on error.
func writeTemp(out, kind string, kv []gguf.KV, ts []gguf.Tensor) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(out), "."+kind+"-*.gguf")
	if err != nil {
		return "", err
	}
	err = gguf.Write(f, kv, ts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing %s: %w", out, err)
	}
	return f.Name(), nil
}

// finish checks the GGUF written at tmp and moves it to out.
func finish(tmp, out string) error {
	if _, err := gguf.Open(tmp); err != nil {
		return fmt.Errorf("the converted file is not a valid GGUF: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}
