package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"scope/dataset"
	"scope/eval"
	"scope/models/slr"
)

const evalSLRDescription = `Recognise the signer turns of a dataset (manifest.jsonl + .pose files, e.g. from
scope synth) with a recogniser bundle and print the word error rate (WER) over glosses with
its substitutions, deletions and insertions, overall and separately for the context-dependent
(ambiguous) tokens and the others. The context of each turn is the text of the previous
turns of its dialogue. Insertions have no reference token and are counted with the others.
With --baseline it then scores the separately trained no-context recogniser that ships
beside the bundle (models/demo/slr-baseline for the demo) on the same turns, and prints the
relative WER reduction that context gives. Results on a synthetic dataset are labelled
"synthetic".`

func evalSLR(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "eval slr", "--data DIR [--split test] [--model DIR] [--precision fp32|int8] [--baseline]", evalSLRDescription)
	data := fs.String("data", "", "dataset directory (manifest.jsonl and .pose files)")
	split := fs.String("split", "test", "split(s) to score: train, dev, test, a comma list, or all")
	model := fs.String("model", "", "recogniser bundle folder (default: the demo bundle models/demo/slr)")
	precision := fs.String("precision", "fp32", "model file of the bundle: fp32 or int8")
	beam := fs.Int("beam", 8, "CTC prefix beam width")
	threads := fs.Int("threads", 2, "ONNX Runtime threads")
	limit := fs.Int("limit", 0, "score only the first N signer turns (0: all)")
	noContext := fs.Bool("no-context", false, "give the model an empty context (an ablation; the baseline is a separate model)")
	baseline := fs.Bool("baseline", false, "also score the separately trained no-context recogniser shipped beside the bundle (<bundle>-baseline) and compare")
	baselineDir := fs.String("baseline-model", "", "the no-context recogniser bundle for --baseline (default: the bundle's folder name + \"-baseline\")")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *data == "" {
		return fmt.Errorf("eval slr: --data DIR is required: %w", errUsage)
	}
	splits, err := dataset.ParseSplits(*split)
	if err != nil {
		return fmt.Errorf("eval slr: %w: %w", err, errUsage)
	}
	dir := *model
	if dir == "" {
		if dir, err = slr.DefaultBundleDir(); err != nil {
			return err
		}
	}
	ds, err := dataset.Open(*data)
	if err != nil {
		return err
	}
	o := slrEvalOptions{splits: splits, split: *split, data: *data, precision: *precision, beam: *beam, threads: *threads,
		limit: *limit, noContext: *noContext}
	ctxWER, err := scoreSLR(ctx, a, ds, dir, o)
	if err != nil {
		return err
	}
	if !*baseline {
		return nil
	}
	bdir := *baselineDir
	if bdir == "" {
		bdir = filepath.Clean(dir) + "-baseline"
	}
	fmt.Fprintln(a.stdout)
	baseWER, err := scoreSLR(ctx, a, ds, bdir, o)
	if err != nil {
		return fmt.Errorf("the no-context baseline: %w", err)
	}
	if baseWER > 0 {
		fmt.Fprintf(a.stdout, "\ncontext model WER %.2f vs separate no-context model %.2f: %.1f%% relative reduction from context\n",
			ctxWER, baseWER, 100*(baseWER-ctxWER)/baseWER)
	}
	return nil
}

type slrEvalOptions struct {
	splits                 map[string]bool
	split, data, precision string
	beam, threads, limit   int
	noContext              bool
}

// scoreSLR recognises the chosen signer turns with the bundle in dir, prints the WER lines
// and returns the overall WER.
func scoreSLR(ctx context.Context, a *app, ds *dataset.Dataset, dir string, o slrEvalOptions) (float64, error) {
	rec, err := slr.Open(dir, slr.Options{Precision: o.precision, Threads: o.threads, BeamWidth: o.beam, TopK: 1})
	if err != nil {
		return 0, err
	}
	defer rec.Close()

	// The context of a turn: the text of the earlier turns of its dialogue.
	previous := map[string][]string{}
	for _, d := range dataset.Dialogues(ds.Entries) {
		var texts []string
		for _, e := range d {
			previous[e.ID] = append([]string(nil), texts...)
			texts = append(texts, e.Text)
		}
	}
	var todo []dataset.Entry
	for _, e := range ds.Select(o.splits) {
		if e.IsSigner() {
			todo = append(todo, e)
		}
	}
	if o.limit > 0 && len(todo) > o.limit {
		todo = todo[:o.limit]
	}
	if len(todo) == 0 {
		return 0, fmt.Errorf("eval slr: no signer turns in split %q of %s", o.split, o.data)
	}
	var all, amb, other eval.Counts
	var sentErr int
	start := time.Now()
	for i := range todo {
		e := &todo[i]
		frames, fps, err := slr.ReadPose(ds.PosePath(e), e.Start, e.End)
		if err != nil {
			return 0, fmt.Errorf("turn %s: %w", e.ID, err)
		}
		turns := previous[e.ID]
		if o.noContext {
			turns = nil
		}
		hyps, err := rec.Recognize(ctx, frames, fps, turns)
		if err != nil {
			return 0, fmt.Errorf("turn %s: %w", e.ID, err)
		}
		var hyp []string
		if len(hyps) > 0 {
			hyp = hyps[0].Glosses
		}
		ambiguous := map[int]bool{}
		for _, k := range e.Ambiguous {
			ambiguous[k] = true
		}
		ops := eval.Align(e.Glosses, hyp)
		all.Add(ops, nil)
		amb.Add(ops, func(op eval.Op) bool { return op.Ref >= 0 && ambiguous[op.Ref] })
		other.Add(ops, func(op eval.Op) bool { return op.Ref < 0 || !ambiguous[op.Ref] })
		if strings.Join(hyp, " ") != strings.Join(e.Glosses, " ") {
			sentErr++
		}
		if (i+1)%200 == 0 {
			a.log.Info("eval slr", "turns", i+1, "of", len(todo), "wer", fmt.Sprintf("%.2f", all.Rate()))
		}
	}
	label := ""
	if ds.Info != nil && ds.Info.Synthetic {
		label = " (synthetic)"
	}
	f := rec.File()
	fmt.Fprintf(a.stdout, "scope eval slr%s: %s split %s, %d signer turns, model %s %s (%s, %d bytes), context %v, beam %d\n",
		label, o.data, o.split, len(todo), rec.Manifest().Name, rec.Manifest().Version, f.Precision, f.Bytes,
		rec.UsesContext() && !o.noContext, o.beam)
	fmt.Fprintf(a.stdout, "all       %s\n", all)
	fmt.Fprintf(a.stdout, "ambiguous %s\n", amb)
	fmt.Fprintf(a.stdout, "other     %s\n", other)
	fmt.Fprintf(a.stdout, "sentences wrong %d/%d; %.1f ms per turn\n", sentErr, len(todo),
		float64(time.Since(start).Microseconds())/1000/float64(len(todo)))
	return all.Rate(), nil
}
