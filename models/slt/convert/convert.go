// Package convert takes a translation model from PyTorch's formats to llama.cpp's: a Hugging
// Face folder to a GGUF (through ollama's converter), a GGUF to a quantised GGUF (Q8_0, Q4_0,
// Q4_K), and a PEFT LoRA adapter to a GGUF adapter (our own conversion: ollama's v0.17.4
// permutes the wrong factor of q_proj/k_proj adapters).
//
// Every GGUF read here is checked by package gguf first, and every GGUF written is checked
// again before it is reported as done.
package convert

import (
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
	return finish(f.Name(), out)
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
