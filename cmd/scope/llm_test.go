package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/models/slt/tinyllama"
)

func TestLLMToolchain(t *testing.T) {
	dir := t.TempDir()
	m, err := tinyllama.New(tinyllama.Default())
	if err != nil {
		t.Fatal(err)
	}
	hf, peft := filepath.Join(dir, "hf"), filepath.Join(dir, "peft")
	if err := m.WriteHF(hf); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteAdapter(peft, 4, []string{"q_proj", "k_proj"}, 0.1, 1); err != nil {
		t.Fatal(err)
	}
	p := func(s string) string { return filepath.Join(dir, s) }
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"llm", "convert", hf, p("f16.gguf")}, "F16:"},
		{[]string{"llm", "quantize", "--type", "q4_0", p("f16.gguf"), p("q4.gguf")}, "Q4_0:"},
		{[]string{"llm", "quantize", "--type", "Q4_K", p("f16.gguf"), p("q4k.gguf")}, "Q4_0:"}, // 64-wide rows fall back
		{[]string{"llm", "convert-adapter", "--base", p("q4.gguf"), peft, p("lora.gguf")}, "8 tensors"},
		{[]string{"llm", "info", "--load", p("q4.gguf")}, "llama.cpp: llama"},
		{[]string{"llm", "info", p("lora.gguf")}, `"adapter"`},
	}
	for _, s := range steps {
		out, _, err := run(t, s.args...)
		if err != nil {
			t.Fatalf("scope %s: %v", strings.Join(s.args, " "), err)
		}
		if !strings.Contains(out, s.want) {
			t.Errorf("scope %s: output lacks %q:\n%s", strings.Join(s.args, " "), s.want, out)
		}
	}
	b, err := os.ReadFile(p("q4.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("cut.gguf"), b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"llm", "info", "--load", p("cut.gguf")},
		{"llm", "quantize", p("cut.gguf"), p("x.gguf")},
		{"llm", "convert-adapter", "--base", p("cut.gguf"), peft, p("y.gguf")},
		{"llm", "convert", peft, p("z.gguf")},
		{"llm", "quantize", "--type", "Q5_9", p("q4.gguf"), p("x.gguf")},
	} {
		if _, _, err := run(t, args...); err == nil {
			t.Errorf("scope %s succeeded", strings.Join(args, " "))
		}
	}
}
