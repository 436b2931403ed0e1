package gguf

import (
	"fmt"
	"regexp"
	"strings"
)

var byteToken = regexp.MustCompile(`^<0x[0-9A-Fa-f]{2}>$`)

// CheckModel checks the parts of a model's metadata that llama.cpp asserts on (and so aborts
// the process) instead of reporting: the vocabulary arrays and the special token ids. Open has
// already checked the file's structure.
func (f *File) CheckModel() error {
	if f.String("general.type") == "adapter" {
		return fmt.Errorf("%s is a LoRA adapter, not a model", f.Path)
	}
	if f.String("general.architecture") == "" {
		return fmt.Errorf("%w: %s has no general.architecture", ErrFormat, f.Path)
	}
	v, ok := f.Get("tokenizer.ggml.tokens")
	if !ok {
		return nil // llama.cpp reports a missing vocabulary itself
	}
	tokens, ok := v.([]string)
	if !ok || len(tokens) == 0 {
		return fmt.Errorf("%w: %s: tokenizer.ggml.tokens is not a non-empty string array", ErrFormat, f.Path)
	}
	seen := make(map[string]int, len(tokens))
	for i, t := range tokens {
		if j, dup := seen[t]; dup {
			return fmt.Errorf("%w: %s: tokens %d and %d are both %q (llama.cpp aborts on duplicate tokens)", ErrFormat, f.Path, j, i, t)
		}
		seen[t] = i
	}
	for _, key := range []string{"tokenizer.ggml.scores", "tokenizer.ggml.token_type"} {
		a, ok := f.Get(key)
		if !ok {
			continue
		}
		n := -1
		switch x := a.(type) {
		case []float32:
			n = len(x)
		case []int32:
			n = len(x)
		}
		if n != len(tokens) {
			return fmt.Errorf("%w: %s: %s has %d entries for %d tokens", ErrFormat, f.Path, key, n, len(tokens))
		}
	}
	if tt, ok := f.Get("tokenizer.ggml.token_type"); ok && f.String("tokenizer.ggml.model") == "llama" {
		for i, typ := range tt.([]int32) {
			if typ == 6 && !byteToken.MatchString(tokens[i]) {
				return fmt.Errorf("%w: %s: byte token %d is %q, not <0xXX>", ErrFormat, f.Path, i, tokens[i])
			}
		}
	}
	for _, kv := range f.KV {
		if !strings.HasPrefix(kv.Key, "tokenizer.ggml.") || !strings.HasSuffix(kv.Key, "_token_id") {
			continue
		}
		id, ok := f.Uint(kv.Key)
		if !ok || id >= uint64(len(tokens)) {
			return fmt.Errorf("%w: %s: %s = %v is not a token id (vocabulary of %d)", ErrFormat, f.Path, kv.Key, kv.Value, len(tokens))
		}
	}
	if add, _ := f.Get("tokenizer.ggml.add_bos_token"); add == true {
		if _, ok := f.Get("tokenizer.ggml.bos_token_id"); !ok && f.String("tokenizer.ggml.model") != "llama" {
			return fmt.Errorf("%w: %s: tokenizer.ggml.add_bos_token is set but there is no bos_token_id", ErrFormat, f.Path)
		}
	}
	return nil
}
