package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"scope/models/slt"
	"scope/models/slt/convert"
	"scope/models/slt/gguf"
	"scope/models/slt/llamacpp"
	"scope/models/slt/tinyllama"
)

const benchSLTDescription = `Measure the translator's time to first token and generation speed (tokens/s) on this
machine, for the model quantised to Q4_0 and in F16, and beside each the speed of llama.cpp
itself on the same GGUF, prompt and thread count, through node-llama-cpp's prebuilt binaries
(tools/llmbench; install with: cd tools/llmbench && npm ci --omit=optional).

The model is --model, else the demo translator (models/demo/slt/slt-q4_0.gguf; its F16 form is
slt-f16.gguf beside it, or made by dequantising), else a synthetic random model of the demo's
size (labelled "synthetic"). Generation runs --tokens tokens greedily past end-of-sequence, so
every run does the same work; the first token includes the prompt (a dialogue context and
three gloss hypotheses). Threads: 1 is fastest for small models (ggml's threads busy-wait).`

func benchSLT(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "bench slt", "[--model M.gguf] [--threads 1] [--tokens 128] [--runs 5] [--no-peer]", benchSLTDescription)
	model := fs.String("model", "", "GGUF to measure (any type); Q4_0 and F16 copies are made from it")
	threads := fs.Int("threads", 1, "llama.cpp threads per generated token (the prompt uses --batch-threads)")
	batchThreads := fs.Int("batch-threads", 0, "threads for the prompt (0: --threads)")
	tokens := fs.Int("tokens", 128, "tokens generated per run")
	runs := fs.Int("runs", 7, "timed runs per model (after one warm-up run); medians and the best run are printed")
	noPeer := fs.Bool("no-peer", false, "skip node-llama-cpp")
	types := fs.String("types", "Q4_0,F16", "model types to measure")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	llamacpp.SetLogger(a.log)
	tmp, err := os.MkdirTemp("", "scope-bench-slt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src, label := *model, ""
	if src == "" {
		src = findDemoTranslator()
	}
	if src == "" {
		label = " (synthetic)"
		src = filepath.Join(tmp, "synthetic.gguf")
		a.log.Info("no demo translator found: measuring a synthetic random model of its size", "layers", 3, "hidden", 192)
		m, err := tinyllama.New(tinyllama.Config{Embd: 192, FF: 512, Layers: 3, Heads: 4, KVHeads: 2, Context: 512, Seed: 1})
		if err != nil {
			return err
		}
		if err := m.WriteGGUF(src, gguf.F16); err != nil {
			return err
		}
	}
	if f, err := gguf.Open(src); err != nil {
		return err
	} else if strings.Contains(strings.ToLower(f.String("general.name")), "synthetic") || strings.Contains(src, "demo") {
		label = " (synthetic)"
	}
	fmt.Fprintf(a.stdout, "bench slt%s: %s, %s, %s/%s, %d CPUs (load %s), threads %d, %d tokens x %d runs\n",
		label, src, llamacpp.BuildInfo(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadAverage(), *threads, *tokens, *runs)
	for _, tname := range strings.Split(*types, ",") {
		t, err := gguf.ParseTensorType(strings.TrimSpace(tname))
		if err != nil {
			return fmt.Errorf("--types: %w", err)
		}
		path := variant(src, t)
		if path == "" {
			path = filepath.Join(tmp, t.String()+".gguf")
			if _, err := convert.Quantize(src, path, t); err != nil {
				return err
			}
			if f, err := gguf.Open(src); err == nil {
				if ft, _ := f.Uint("general.file_type"); ft != 0 && ft != 1 && (t == gguf.F16 || t == gguf.F32) {
					fmt.Fprintf(a.stdout, "slt %-5s made by dequantising %s (same speed as a converted F16)\n", t, filepath.Base(src))
				}
			}
		}
		ours, err := benchOurs(ctx, path, *threads, *batchThreads, *tokens, *runs)
		if err != nil {
			return err
		}
		size := fileSize(path)
		fmt.Fprintf(a.stdout, "slt %-5s prompt %d tokens\n", t, len(ours.prompt))
		fmt.Fprintf(a.stdout, "slt %-5s scope (%.1f MB)         first token %7.2f ms (best %6.2f)  %7.1f tokens/s (best %7.1f)  translator first token %.2f ms%s\n",
			t, float64(size)/1e6, ours.ttftMS, ours.bestTTFT, ours.tps, ours.best, ours.translatorTTFT, label)
		if *noPeer {
			continue
		}
		peer, err := benchPeer(ctx, path, ours.prompt, *threads, *tokens, *runs)
		if err != nil {
			fmt.Fprintf(a.stdout, "slt %-5s node-llama-cpp: not run: %v\n", t, err)
			continue
		}
		same := "same greedy tokens"
		if fmt.Sprint(peer.ids) != fmt.Sprint(ours.ids) {
			same = "greedy tokens differ"
		}
		fmt.Fprintf(a.stdout, "slt %-5s node-llama-cpp 3.21.1  first token %7.2f ms (best %6.2f)  %7.1f tokens/s (best %7.1f)  scope/peer tokens/s %.2f (best %.2f), %s%s\n",
			t, peer.ttftMS, peer.bestTTFT, peer.tps, peer.best, ours.tps/peer.tps, ours.best/peer.best, same, label)
	}
	return nil
}

// loadAverage is the 1-minute load average: speed on a busy machine is not speed.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

// findDemoTranslator looks for models/demo/slt/slt-q4_0.gguf above the binary and the
// working directory.
func findDemoTranslator() string {
	var starts []string
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			p := filepath.Join(d, "models", "demo", "slt", "slt-q4_0.gguf")
			if _, err := os.Stat(p); err == nil {
				return p
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return ""
}

// variant returns src itself when it already has type t, or a sibling file of that type.
func variant(src string, t gguf.TensorType) string {
	if f, err := gguf.Open(src); err == nil {
		if ft, ok := f.Uint("general.file_type"); ok && ((t == gguf.F16 && ft == 1) || (t == gguf.Q4_0 && ft == 2) || (t == gguf.Q8_0 && ft == 7)) {
			return src
		}
	}
	sib := filepath.Join(filepath.Dir(src), "slt-"+strings.ToLower(t.String())+".gguf")
	if _, err := os.Stat(sib); err == nil {
		return sib
	}
	return ""
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

type speed struct {
	ttftMS, tps    float64 // medians
	bestTTFT, best float64 // fastest run: on a shared machine, the least disturbed

	translatorTTFT float64
	prompt         []llamacpp.Token
	ids            []int
}

var benchContext = []string{"Guten Tag, hier ist die Apotheke.", "Ich brauche etwas gegen Kopfschmerzen."}
var benchHyps = []slt.Hypothesis{{Glosses: "ICH TABLETTE BRAUCHEN KOPF SCHMERZ", Score: 0.82}, {Glosses: "ICH TABLETTE KOPF", Score: 0.12}, {Glosses: "TABLETTE BRAUCHEN", Score: 0.06}}

func median(x []float64) float64 {
	sort.Float64s(x)
	return x[len(x)/2]
}

func minMax(x []float64) (float64, float64) {
	sort.Float64s(x)
	return x[0], x[len(x)-1]
}

func benchOurs(ctx context.Context, path string, threads, batchThreads, n, runs int) (speed, error) {
	var s speed
	tr, err := slt.Open(slt.Config{Model: path, Threads: threads, BatchThreads: batchThreads, Context: 512, MaxTokens: 32, Format: slt.FormatPlain})
	if err != nil {
		return s, err
	}
	prompt, _, err := tr.Prompt(benchContext, benchHyps)
	if err != nil {
		tr.Close()
		return s, err
	}
	var tt []float64
	for i := 0; i <= runs; i++ {
		res, err := tr.Translate(ctx, benchContext, benchHyps, nil)
		if err != nil {
			tr.Close()
			return s, err
		}
		if i > 0 {
			tt = append(tt, float64(res.FirstToken.Microseconds())/1000)
		}
	}
	s.translatorTTFT = median(tt)
	tr.Close()

	// Raw generation: the same loop as the peer (greedy, past end-of-sequence).
	m, err := llamacpp.LoadModel(path, llamacpp.ModelParams{})
	if err != nil {
		return s, err
	}
	defer m.Close()
	c, err := llamacpp.NewContext(m, slt.ContextParams(slt.Config{Context: 512, Threads: max(threads, 1), BatchThreads: batchThreads}))
	if err != nil {
		return s, err
	}
	defer c.Close()
	sm := llamacpp.NewSampler(llamacpp.SamplerParams{})
	defer sm.Close()
	s.prompt = prompt
	if len(prompt)+n > c.Size() {
		return s, fmt.Errorf("prompt %d + %d tokens exceed the %d-token context", len(prompt), n, c.Size())
	}
	var ttft, tps []float64
	for r := 0; r <= runs; r++ {
		c.ClearMemory()
		sm.Reset()
		start := time.Now()
		if err := c.Decode(ctx, prompt, 0, false); err != nil {
			return s, err
		}
		var ids []int
		var first time.Time
		pos := len(prompt)
		for len(ids) < n {
			tok := sm.Sample(c, -1)
			if len(ids) == 0 {
				first = time.Now()
			}
			ids = append(ids, int(tok))
			if len(ids) == n {
				break
			}
			if err := c.Decode(ctx, []llamacpp.Token{tok}, pos, false); err != nil {
				return s, err
			}
			pos++
		}
		end := time.Now()
		if r > 0 {
			ttft = append(ttft, float64(first.Sub(start).Microseconds())/1000)
			tps = append(tps, float64(n-1)/end.Sub(first).Seconds())
		}
		s.ids = ids
	}
	s.ttftMS, s.tps = median(ttft), median(tps)
	s.bestTTFT, _ = minMax(ttft)
	_, s.best = minMax(tps)
	return s, nil
}

// benchPeer runs tools/llmbench/bench.mjs (node-llama-cpp) on the same GGUF and prompt.
func benchPeer(ctx context.Context, path string, prompt []llamacpp.Token, threads, n, runs int) (speed, error) {
	var s speed
	dir := findUp(filepath.Join("tools", "llmbench", "bench.mjs"))
	if dir == "" {
		return s, fmt.Errorf("tools/llmbench not found (run from the repository)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-llama-cpp")); err != nil {
		return s, fmt.Errorf("node-llama-cpp not installed: cd %s && npm ci --omit=optional", dir)
	}
	ids := make([]string, len(prompt))
	for i, t := range prompt {
		ids[i] = fmt.Sprint(t)
	}
	abs, _ := filepath.Abs(path)
	cmd := exec.CommandContext(ctx, "node", "bench.mjs", "--model", abs, "--prompt-ids", strings.Join(ids, ","),
		"--tokens", fmt.Sprint(n), "--threads", fmt.Sprint(threads), "--runs", fmt.Sprint(runs+1))
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return s, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return s, err
	}
	var ttft, tps []float64
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		var r struct {
			TTFT float64 `json:"ttft_ms"`
			TPS  float64 `json:"tokens_per_s"`
			IDs  []int   `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return s, fmt.Errorf("node-llama-cpp output %q: %w", sc.Text(), err)
		}
		s.ids = r.IDs
		if i > 0 { // the first run warms up
			ttft = append(ttft, r.TTFT)
			tps = append(tps, r.TPS)
		}
	}
	if len(tps) == 0 {
		return s, fmt.Errorf("node-llama-cpp printed no timed run")
	}
	s.ttftMS, s.tps = median(ttft), median(tps)
	s.bestTTFT, _ = minMax(ttft)
	_, s.best = minMax(tps)
	return s, nil
}

// findUp returns the directory of rel found above the binary or the working directory.
func findUp(rel string) string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, rel)); err == nil {
				return filepath.Dir(filepath.Join(d, rel))
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return ""
}
