package llamacpp

import (
	"bytes"
	"context"
	"fmt"
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
