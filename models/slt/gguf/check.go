package gguf

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var byteToken = regexp.MustCompile(`^<0x[0-9A-Fa-f]{2}>$`)

// CheckModel checks a model's metadata before llama.cpp sees it: the architecture is one
// SCOPE accepts (Architectures), every hyperparameter llama.cpp reads for it is present,
// of the right type and in range, the tokenizer is one the architecture works with, the
// vocabulary arrays and special token ids are consistent, and every tensor has the shape
// the hyperparameters give. Each error names the file, the key or tensor, and what is
// allowed. Open has already checked the file's structure; CheckData checks the weights.
func (f *File) CheckModel() error {
	if f.String("general.type") == "adapter" {
		return fmt.Errorf("%s is a LoRA adapter, not a model", f.Path)
	}
	arch, ok := f.Get("general.architecture")
	if s, _ := arch.(string); !slices.Contains(Architectures, s) {
		if !ok {
			arch = nil
		} else {
			arch = describe(arch)
		}
		return f.hparamError("general.architecture", arch, fmt.Sprintf("one of %s (the model families SCOPE checks and runs)", strings.Join(Architectures, ", ")))
	}
	v, ok := f.Get("tokenizer.ggml.tokens")
	tokens, isStrings := v.([]string)
	if !ok || !isStrings || len(tokens) == 0 {
		if !ok {
			v = nil
		} else {
			v = describe(v)
		}
		return f.hparamError("tokenizer.ggml.tokens", v, "a non-empty array of strings (the vocabulary)")
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
	return f.checkLlama()
}
