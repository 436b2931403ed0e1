package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"scope/models/slt/convert"
	"scope/models/slt/gguf"
	"scope/models/slt/llamacpp"
)

func llmSubcommands() []subcommand {
	return []subcommand{
		{"convert", "Hugging Face folder (config.json, model.safetensors, tokenizer) -> GGUF (F16)", llmConvert},
		{"quantize", "GGUF -> GGUF with Q4_0, Q4_K or Q8_0 weights", llmQuantize},
		{"convert-adapter", "PEFT LoRA adapter folder -> GGUF LoRA adapter for a base GGUF", llmConvertAdapter},
		{"info", "check a GGUF and print its metadata and tensor table", llmInfo},
	}
}

func cmdLLM(ctx context.Context, a *app, args []string) error {
	return dispatch(ctx, a, "llm", "Translator model tools: take a model and its LoRA adapters from PyTorch's formats to llama.cpp's GGUF, quantise it, inspect it.", llmSubcommands(), args)
}

// positional returns exactly n positional arguments or a usage error.
func positional(fs interface{ Args() []string }, n int, what string) ([]string, error) {
	if got := fs.Args(); len(got) != n {
		return nil, fmt.Errorf("want %s, got %d arguments: %w", what, len(got), errUsage)
	}
	return fs.Args(), nil
}

func llmConvert(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "llm convert", "HF_DIR OUT.gguf", `Convert a Hugging Face llama-architecture folder (config.json, model.safetensors,
tokenizer.model or tokenizer.json, special_tokens_map.json) into a GGUF with F16 matrices, through
ollama's converter. Quantise the result with `+"`scope llm quantize`"+`.`)
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	p, err := positional(fs, 2, "HF_DIR OUT.gguf")
	if err != nil {
		return err
	}
	start := time.Now()
	if err := convert.Model(p[0], p[1]); err != nil {
		return err
	}
	return printSummary(a, p[1], time.Since(start))
}

func llmQuantize(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "llm quantize", "[--type Q4_0] IN.gguf OUT.gguf", `Write a copy of a GGUF with its weight matrices quantised. Q4_0 and Q8_0 need rows that are
a multiple of 32 values, Q4_K of 256; matrices whose rows do not fit fall back to Q4_0, then F16.
With Q4_K the output and token-embedding matrices are written as Q6_K (as llama.cpp's Q4_K_M).`)
	typ := fs.String("type", "Q4_0", "target type: Q4_0, Q4_K, Q8_0 or F16")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	p, err := positional(fs, 2, "IN.gguf OUT.gguf")
	if err != nil {
		return err
	}
	t, err := gguf.ParseTensorType(*typ)
	if err != nil {
		return fmt.Errorf("--type: %w", err)
	}
	start := time.Now()
	rep, err := convert.Quantize(p[0], p[1], t)
	if err != nil {
		return err
	}
	var types []string
	for tt, n := range rep.Types {
		types = append(types, fmt.Sprintf("%s:%d", tt, n))
	}
	sort.Strings(types)
	fmt.Fprintf(a.stdout, "%s -> %s: %.2f MB -> %.2f MB, tensors %s, %.1fs\n", p[0], p[1],
		float64(rep.InSize)/1e6, float64(rep.OutSize)/1e6, strings.Join(types, " "), time.Since(start).Seconds())
	return nil
}

func llmConvertAdapter(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "llm convert-adapter", "--base BASE.gguf PEFT_DIR OUT.gguf", `Convert a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors) into a GGUF LoRA
adapter for the llama-architecture base model it was trained on. q_proj/k_proj adapters get the
rotary row permutation llama.cpp's weights carry, on lora_B (ollama v0.17.4's converter puts it
on lora_A and gets them wrong).`)
	base := fs.String("base", "", "the base model's GGUF (any quantisation)")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	p, err := positional(fs, 2, "PEFT_DIR OUT.gguf")
	if err != nil {
		return err
	}
	if *base == "" {
		return fmt.Errorf("--base is required: %w", errUsage)
	}
	start := time.Now()
	if err := convert.Adapter(p[0], *base, p[1]); err != nil {
		return err
	}
	return printSummary(a, p[1], time.Since(start))
}

func printSummary(a *app, path string, took time.Duration) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "wrote %s: %.2f MB, %d tensors, %s, %.1fs\n", path, float64(f.FileSize)/1e6, len(f.Tensors), typeCounts(f), took.Seconds())
	return nil
}

func typeCounts(f *gguf.File) string {
	n := map[string]int{}
	for _, t := range f.Tensors {
		n[t.Type.String()]++
	}
	var out []string
	for k, v := range n {
		out = append(out, fmt.Sprintf("%s:%d", k, v))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func llmInfo(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "llm info", "[--tensors] [--load] FILE.gguf", `Check a GGUF file's header, metadata and tensor table (without llama.cpp, which aborts on
some malformed files) and print them. --load also loads it with llama.cpp and prints what
llama.cpp reports (description, parameters, chat template).`)
	tensors := fs.Bool("tensors", false, "list every tensor")
	load := fs.Bool("load", false, "load the model with llama.cpp too")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	p, err := positional(fs, 1, "FILE.gguf")
	if err != nil {
		return err
	}
	f, err := gguf.Open(p[0])
	if err != nil {
		return err
	}
	w := a.stdout
	fmt.Fprintf(w, "%s: GGUF v%d, %.2f MB, %d metadata entries, %d tensors (%s)\n", p[0], f.Version, float64(f.FileSize)/1e6, len(f.KV), len(f.Tensors), typeCounts(f))
	for _, k := range f.SortedKeys() {
		v, _ := f.Get(k)
		fmt.Fprintf(w, "  %-45s %s\n", k, showValue(v))
	}
	if *tensors {
		for _, t := range f.Tensors {
			fmt.Fprintf(w, "  %-40s %-6s %v\n", t.Name, t.Type, t.Shape)
		}
	}
	if *load {
		if f.String("general.type") == "adapter" {
			return fmt.Errorf("%s is a LoRA adapter: --load needs a model", p[0])
		}
		llamacpp.SetLogger(a.log)
		m, err := llamacpp.LoadModel(p[0], llamacpp.ModelParams{VocabOnly: false})
		if err != nil {
			return err
		}
		defer m.Close()
		tmpl := "none"
		if t := m.ChatTemplate(); t != "" {
			tmpl = fmt.Sprintf("%d characters", len(t))
			if _, err := llamacpp.ApplyChatTemplate(t, []llamacpp.ChatMessage{{Role: "user", Content: "x"}}, true); err != nil {
				tmpl += " (not one llama.cpp knows: the plain prompt format will be used)"
			}
		}
		fmt.Fprintf(w, "llama.cpp: %s, %d parameters, %d tokens, embedding %d, trained context %d, chat template %s\n",
			m.Desc(), m.Params(), m.VocabSize(), m.EmbeddingSize(), m.TrainContext(), tmpl)
	}
	return nil
}

func showValue(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 80 {
			return fmt.Sprintf("%q... (%d bytes)", x[:77], len(x))
		}
		return fmt.Sprintf("%q", x)
	case []string:
		return fmt.Sprintf("[%d strings] %q ...", len(x), x[:min(len(x), 5)])
	case []float32:
		return fmt.Sprintf("[%d float32]", len(x))
	case []int32:
		return fmt.Sprintf("[%d int32]", len(x))
	case []uint32:
		return fmt.Sprintf("[%d uint32]", len(x))
	case []any:
		return fmt.Sprintf("[%d values]", len(x))
	}
	return fmt.Sprint(v)
}
