// Command embedtexts writes the translator's sentence embeddings (slt.Translator.Embed: the
// mean of the final hidden states, as llama.cpp computes them at run time) of every distinct
// turn text of a dataset, for the recogniser experiment that takes them as its dialogue
// context instead of its own context encoder (train/slr, --context-embeddings).
//
//	go run ./tools/embedtexts --model models/demo/slt/slt-q4_0.gguf --data DIR --out emb.jsonl
//
// Output: one JSON object per line, {"text": "...", "embedding": [...]}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"scope/dataset"
	"scope/models/slt"
)

func main() {
	model := flag.String("model", "models/demo/slt/slt-q4_0.gguf", "translator GGUF")
	data := flag.String("data", "", "dataset directory")
	out := flag.String("out", "", "output .jsonl")
	flag.Parse()
	if err := run(*model, *data, *out); err != nil {
		fmt.Fprintln(os.Stderr, "embedtexts:", err)
		os.Exit(1)
	}
}

func run(model, data, out string) error {
	if data == "" || out == "" {
		return fmt.Errorf("--data and --out are required")
	}
	ds, err := dataset.Open(data)
	if err != nil {
		return err
	}
	tr, err := slt.Open(slt.Config{Model: model, Context: 512})
	if err != nil {
		return err
	}
	defer tr.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	defer w.Flush()
	seen := map[string]bool{}
	for _, e := range ds.Entries {
		if e.Text == "" || seen[e.Text] {
			continue
		}
		seen[e.Text] = true
		v, err := tr.Embed(context.Background(), e.Text)
		if err != nil {
			return fmt.Errorf("turn %s: %w", e.ID, err)
		}
		b, _ := json.Marshal(map[string]any{"text": e.Text, "embedding": v})
		w.Write(append(b, '\n'))
	}
	fmt.Printf("%d texts embedded (%d dimensions)\n", len(seen), tr.Model().EmbeddingSize())
	return nil
}
