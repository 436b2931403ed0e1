package llamacpp

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
)

// TestCorruptHeadersDoNotKillTheProcess loads copies of a model with random bytes of the
// header (metadata, vocabulary, tensor table) overwritten, each in a child process, and
// fails when one of them dies: ggml aborts on some inconsistencies instead of reporting them,
// and the checks in LoadModel must catch those first.
func TestCorruptHeadersDoNotKillTheProcess(t *testing.T) {
	if path := os.Getenv("SCOPE_LLAMACPP_LOAD"); path != "" {
		loadAndRun(path)
		return
	}
	n := 150
	if testing.Short() {
		n = 30
	}
	dir := t.TempDir()
	m, err := tinyllama.New(tinyllama.Default())
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src.gguf")
	if err := m.WriteGGUF(src, gguf.F16); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	hdr := int(f.DataOffset)
	table := bytes.Index(b, []byte("token_embd.weight")) - 8
	rng := rand.New(rand.NewPCG(3, 4))
	loaded := 0
	for i := 0; i < n; i++ {
		c := append([]byte(nil), b...)
		for j := 0; j <= rng.IntN(4); j++ {
			at := [3]int{rng.IntN(hdr), rng.IntN(900), table + rng.IntN(hdr-table)}[i%3]
			c[at] = byte(rng.IntN(256))
		}
		p := filepath.Join(dir, fmt.Sprint(i, ".gguf"))
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCorruptHeadersDoNotKillTheProcess$")
		cmd.Env = append(os.Environ(), "SCOPE_LLAMACPP_LOAD="+p)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("case %d (%s kept): the process died: %v\n%s", i, p, err, lastLines(string(out), 5))
			continue
		}
		if strings.Contains(string(out), "LOADED") {
			loaded++
		}
		os.Remove(p)
	}
	t.Logf("%d corrupt copies: %d loaded and ran, the others were refused", n, loaded)
}

func loadAndRun(path string) {
	m, err := LoadModel(path, ModelParams{})
	if err != nil {
		return
	}
	defer m.Close()
	c, err := NewContext(m, ContextParams{Context: 64})
	if err != nil {
		return
	}
	defer c.Close()
	toks, err := m.Tokenize("der regen im norden", true, false)
	if err == nil && c.Decode(context.Background(), toks, 0, false) == nil {
		m.Piece(NewSampler(SamplerParams{}).Sample(c, -1), false)
		fmt.Println("LOADED")
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// TestModelsLlamaCppAbortsOnAreRefused: the GGUF edits that made llama.cpp kill the
// process (block_count 0, a "bert" tokenizer on a llama, an RMS epsilon of NaN that
// passed loading and aborted at the first sentence) and flipped weight bytes, each loaded
// and run in a child process: LoadModel must refuse them, naming the file and the key,
// and the child must live.
func TestModelsLlamaCppAbortsOnAreRefused(t *testing.T) {
	if path := os.Getenv("SCOPE_LLAMACPP_REFUSE"); path != "" {
		m, err := LoadModel(path, ModelParams{})
		if err != nil {
			fmt.Println("REFUSED:", err)
			return
		}
		defer m.Close()
		loadAndRun(path)
		return
	}
	src := tinyModel(t)
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := f.Tensor("token_embd.weight")
	set := func(key string, v any) func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
		return func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			for i := range kv {
				if kv[i].Key == key {
					kv[i].Value = v
				}
			}
			return kv, ts
		}
	}
	for _, tc := range []struct {
		name, want string
		edit       func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor)
	}{
		{"block_count 0", "llama.block_count = 0", set("llama.block_count", uint32(0))},
		{"bert tokenizer", `tokenizer.ggml.model = "bert"`, set("tokenizer.ggml.model", "bert")},
		{"RMS epsilon NaN", "layer_norm_rms_epsilon = NaN", set("llama.attention.layer_norm_rms_epsilon", float32(math.NaN()))},
		{"flipped weight bytes", "tensor token_embd.weight (F32) holds NaN or Inf", func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
			for i := range ts {
				if ts[i].Name == emb.Name {
					for j := 3; j < len(ts[i].Data); j += 64 {
						ts[i].Data[j] = 0xff // sign and exponent all ones: NaN
						ts[i].Data[j-1] |= 0x80
					}
				}
			}
			return kv, ts
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.gguf")
			if err := gguf.Rewrite(src, p, tc.edit); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestModelsLlamaCppAbortsOnAreRefused$")
			cmd.Env = append(os.Environ(), "SCOPE_LLAMACPP_REFUSE="+p)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the process died: %v\n%s", err, lastLines(string(out), 5))
			}
			if !strings.Contains(string(out), "REFUSED") || !strings.Contains(string(out), p) || !strings.Contains(string(out), tc.want) {
				t.Fatalf("want a refusal naming %s and %q, got:\n%s", p, tc.want, lastLines(string(out), 5))
			}
		})
	}
}
