package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"scope/eval"
	"scope/models/slt"
	"scope/models/slt/llamacpp"
)

const evalSLTDescription = `Translate a split given by path with a llama.cpp model (and optionally a LoRA adapter) and
print BLEU-1..4, ROUGE-L and chrF against the references.

--glosses has one line per sentence: the glosses (one hypothesis, score 1.00), or up to three
hypotheses "SCORE GLOSSES ||| SCORE GLOSSES ...", best first. --refs has the reference
sentences, line-aligned.

Dialogue context (--context-turns N > 0): the reference text of the N previous sentences of
the same broadcast. Sentence ids (--ids, line-aligned) are <date>_<show>-<n>; the earlier
sentences are looked up in every --context-ids/--context-de pair given (a broadcast's
sentences are spread over the splits), never the sentence itself.

BLEU is computed as the sign language translation code base does (no tokenisation: the
references are already tokenised; BLEU-n cumulative over orders 1..n), and sacreBLEU's 13a
BLEU-4 is printed beside it. Results of a synthetic model are labelled "synthetic".`

func evalSLT(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "eval slt", "--model M.gguf [--lora A.gguf] --glosses F --refs F [--ids F --context-ids F,F --context-de F,F --context-turns N]", evalSLTDescription)
	model := fs.String("model", "", "translator GGUF")
	lora := fs.String("lora", "", "GGUF LoRA adapter to apply (from `scope llm convert-adapter`)")
	loraScale := fs.Float64("lora-scale", 1, "adapter scale")
	glosses := fs.String("glosses", "", "gloss file, one sentence per line")
	refs := fs.String("refs", "", "reference sentences, line-aligned with --glosses")
	ids := fs.String("ids", "", "sentence ids, line-aligned with --glosses (needed for context)")
	ctxIDs := fs.String("context-ids", "", "comma-separated id files to look context up in")
	ctxDE := fs.String("context-de", "", "comma-separated text files, line-aligned with --context-ids")
	turns := fs.Int("context-turns", 0, "previous sentences of the broadcast given as context")
	maxTokens := fs.Int("max-tokens", 64, "longest translation in tokens")
	beam := fs.Int("beam", 1, fmt.Sprintf("beam search width (1: greedy; up to %d; the sentence then comes whole, not streamed)", slt.MaxBeam))
	threads := fs.Int("threads", 1, "llama.cpp threads per token")
	batchThreads := fs.Int("batch-threads", 2, "llama.cpp threads for the prompt")
	format := fs.String("format", "", "prompt format: plain, chat, or empty to use the model's chat template when it has one")
	limit := fs.Int("limit", 0, "translate only the first N sentences (0: all)")
	out := fs.String("out", "", "write the translations here, one per line")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *model == "" || *glosses == "" || *refs == "" {
		return fmt.Errorf("eval slt: --model, --glosses and --refs are required: %w", errUsage)
	}
	for _, c := range []struct {
		flag   string
		v, lo  int
		hi     int
		reason string
	}{
		{"--max-tokens", *maxTokens, 1, 4096, ""},
		{"--beam", *beam, 1, slt.MaxBeam, ""},
		{"--threads", *threads, 1, runtime.NumCPU(), fmt.Sprintf(" (this machine has %d CPUs)", runtime.NumCPU())},
		{"--batch-threads", *batchThreads, 1, runtime.NumCPU(), fmt.Sprintf(" (this machine has %d CPUs)", runtime.NumCPU())},
		{"--context-turns", *turns, 0, 1000, ""},
		{"--limit", *limit, 0, math.MaxInt32, ""},
	} {
		if c.v < c.lo || c.v > c.hi {
			return fmt.Errorf("eval slt: %s %d: want %d to %d%s: %w", c.flag, c.v, c.lo, c.hi, c.reason, errUsage)
		}
	}
	if !(*loraScale >= 0 && *loraScale <= 4) {
		return fmt.Errorf("eval slt: --lora-scale %g: want 0 to 4: %w", *loraScale, errUsage)
	}
	hypLines, err := readLines(*glosses)
	if err != nil {
		return err
	}
	refLines, err := readLines(*refs)
	if err != nil {
		return err
	}
	if len(hypLines) != len(refLines) {
		return fmt.Errorf("eval slt: %s has %d lines, %s has %d: they must be line-aligned", *glosses, len(hypLines), *refs, len(refLines))
	}
	var idLines []string
	var lookup broadcasts
	if *turns > 0 {
		if *ids == "" || *ctxIDs == "" || *ctxDE == "" {
			return fmt.Errorf("eval slt: --context-turns needs --ids, --context-ids and --context-de: %w", errUsage)
		}
		if idLines, err = readLines(*ids); err != nil {
			return err
		}
		if len(idLines) != len(hypLines) {
			return fmt.Errorf("eval slt: %s has %d lines, %s has %d: they must be line-aligned", *ids, len(idLines), *glosses, len(hypLines))
		}
		if lookup, err = loadBroadcasts(strings.Split(*ctxIDs, ","), strings.Split(*ctxDE, ",")); err != nil {
			return err
		}
	}
	n := len(hypLines)
	if *limit > 0 && *limit < n {
		n = *limit
	}
	cfg := slt.Config{Model: *model, MaxTokens: *maxTokens, Threads: *threads, BatchThreads: *batchThreads, Format: slt.Format(*format), Beam: *beam, Log: a.log}
	if *lora != "" {
		cfg.Adapters = map[string]string{"eval": *lora}
	}
	llamacpp.SetLogger(a.log)
	tr, err := slt.Open(cfg)
	if err != nil {
		return err
	}
	defer tr.Close()
	if *lora != "" {
		if err := tr.SetDomain("eval", float32(*loraScale)); err != nil {
			return err
		}
	}
	label := ""
	if name, _ := tr.Model().Meta("general.name"); strings.Contains(strings.ToLower(name), "synthetic") {
		label = " (synthetic model)"
	}
	var w *bufio.Writer
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = bufio.NewWriter(f)
		defer w.Flush()
	}
	hyps := make([]string, 0, n)
	start, lastLog := time.Now(), time.Now()
	var firstTok time.Duration
	var genTokens, empty int
	var dropped int
	for i := 0; i < n; i++ {
		h, err := parseHypotheses(hypLines[i])
		if err != nil {
			return fmt.Errorf("%s line %d: %w", *glosses, i+1, err)
		}
		var context []string
		if *turns > 0 {
			if context, err = lookup.before(idLines[i], *turns); err != nil {
				return fmt.Errorf("%s line %d: %w", *ids, i+1, err)
			}
		}
		res, err := tr.Translate(ctx, context, h, nil)
		if errors.Is(err, slt.ErrEmpty) {
			// Scored as the empty sentence it is, and counted in the summary.
			empty++
			a.log.Warn("eval slt: the translator wrote nothing", "sentence", i+1, "glosses", hypLines[i])
		} else if err != nil {
			return fmt.Errorf("sentence %d: %w", i+1, err)
		}
		hyps = append(hyps, res.Text)
		firstTok += res.FirstToken
		genTokens += res.Tokens
		dropped += res.DroppedTurns
		if w != nil {
			fmt.Fprintln(w, res.Text)
		}
		if time.Since(lastLog) > 10*time.Second || i == n-1 {
			lastLog = time.Now()
			el := time.Since(start)
			a.log.Info("eval slt", "done", i+1, "of", n, "elapsed", el.Round(time.Second),
				"left", (time.Duration(float64(el) / float64(i+1) * float64(n-i-1))).Round(time.Second))
		}
	}
	refStream := [][]string{refLines[:n]}
	st, err := eval.CollectBLEU(hyps, refStream, eval.SignJoeyBLEU)
	if err != nil {
		return err
	}
	bleu := st.Cumulative(eval.SignJoeyBLEU)
	sacre, err := eval.CorpusBLEU(hyps, refStream, eval.BLEUOptions{Tokenize: eval.Tok13a})
	if err != nil {
		return err
	}
	rouge, err := eval.RougeL(hyps, refStream)
	if err != nil {
		return err
	}
	chrf, err := eval.CorpusChrF(hyps, refStream, eval.ChrFOptions{})
	if err != nil {
		return err
	}
	el := time.Since(start)
	wr := a.stdout
	adapter := "none"
	if *lora != "" {
		adapter = fmt.Sprintf("%s x%.2f", *lora, *loraScale)
	}
	decoding := "greedy"
	if *beam > 1 {
		decoding = fmt.Sprintf("beam %d", *beam)
	}
	fmt.Fprintf(wr, "eval slt%s: %s, adapter %s, %d sentences of %s, context %d turns (%d turns dropped to fit), %s\n",
		label, *model, adapter, n, *glosses, *turns, dropped, decoding)
	fmt.Fprintf(wr, "BLEU-1 %.2f  BLEU-2 %.2f  BLEU-3 %.2f  BLEU-4 %.2f  (no tokenisation)%s\n", bleu[0], bleu[1], bleu[2], bleu[3], label)
	fmt.Fprintf(wr, "ROUGE-L %.2f  chrF %.2f  sacreBLEU-13a %.2f%s\n", rouge, chrf, sacre.Score, label)
	fmt.Fprintf(wr, "time %.1fs, %.2f sentences/s, first token %.1f ms on average, %d tokens generated\n",
		el.Seconds(), float64(n)/el.Seconds(), float64(firstTok.Microseconds())/1000/float64(max(n, 1)), genTokens)
	if empty > 0 {
		fmt.Fprintf(wr, "warning: the translator wrote nothing for %d of %d sentences (scored as empty)\n", empty, n)
	}
	return nil
}

// readLines reads one sentence per line (eval.ReadLines: no byte-order mark, no CR, UTF-8
// only); trailing empty lines are dropped and an empty file is an error.
func readLines(path string) ([]string, error) {
	lines, err := eval.ReadLines(path)
	if err != nil {
		return nil, err
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return lines, nil
}

// parseHypotheses reads "GLOSSES" or "SCORE GLOSSES ||| SCORE GLOSSES ...".
func parseHypotheses(line string) ([]slt.Hypothesis, error) {
	if !strings.Contains(line, "|||") {
		return []slt.Hypothesis{{Glosses: line, Score: 1}}, nil
	}
	var out []slt.Hypothesis
	for _, part := range strings.Split(line, "|||") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		s, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("hypothesis %q does not start with a score", strings.TrimSpace(part))
		}
		out = append(out, slt.Hypothesis{Glosses: strings.Join(f[1:], " "), Score: s})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no hypothesis in %q", line)
	}
	return out, nil
}

// broadcasts maps a broadcast (the id before "-<n>") to its sentences by number.
type broadcasts map[string]map[int]string

func splitID(id string) (string, int, error) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", 0, fmt.Errorf("sentence id %q is not <date>_<show>-<n>", id)
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		return "", 0, fmt.Errorf("sentence id %q is not <date>_<show>-<n>", id)
	}
	return id[:i], n, nil
}

func loadBroadcasts(idFiles, textFiles []string) (broadcasts, error) {
	if len(idFiles) != len(textFiles) {
		return nil, fmt.Errorf("--context-ids names %d files, --context-de %d: give them in pairs", len(idFiles), len(textFiles))
	}
	b := broadcasts{}
	for k := range idFiles {
		ids, err := readLines(idFiles[k])
		if err != nil {
			return nil, err
		}
		texts, err := readLines(textFiles[k])
		if err != nil {
			return nil, err
		}
		if len(ids) != len(texts) {
			return nil, fmt.Errorf("%s has %d lines, %s has %d: they must be line-aligned", idFiles[k], len(ids), textFiles[k], len(texts))
		}
		for i, id := range ids {
			show, n, err := splitID(strings.TrimSpace(id))
			if err != nil {
				return nil, fmt.Errorf("%s line %d: %w", idFiles[k], i+1, err)
			}
			if b[show] == nil {
				b[show] = map[int]string{}
			}
			b[show][n] = texts[i]
		}
	}
	return b, nil
}

// before returns the texts of up to turns sentences of id's broadcast that come before it,
// oldest first.
func (b broadcasts) before(id string, turns int) ([]string, error) {
	show, n, err := splitID(strings.TrimSpace(id))
	if err != nil {
		return nil, err
	}
	var nums []int
	for m := range b[show] {
		if m < n {
			nums = append(nums, m)
		}
	}
	sort.Ints(nums)
	if len(nums) > turns {
		nums = nums[len(nums)-turns:]
	}
	out := make([]string, len(nums))
	for i, m := range nums {
		out[i] = b[show][m]
	}
	return out, nil
}
