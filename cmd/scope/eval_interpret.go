package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"scope/config"
	"scope/daemon/engine"
	"scope/daemon/events"
	"scope/dataset"
	"scope/edge"
	"scope/gate"
	"scope/interpret"
	"scope/models/bundle"
	"scope/models/lexicon"
	"scope/models/runtime"
	"scope/models/slr"
	"scope/models/slt"
)

const evalInterpretHelp = `Interpret every signer turn of a dataset (manifest.jsonl + .pose files, e.g. from
scope synth) end to end: recognise with the dialogue so far as context, translate with it,
and ask the confidence gate whether to show the sentence or say it is unsure. Hearing turns
go into the dialogue as they would at the kiosk. Per sentence it prints the glosses signed,
the hypotheses, what was shown (or "unsure" with the alternatives) and what was meant; then

  interpret (synthetic): N sentences, shown S (coverage C%), correct among shown P%, hallucinated H%, degenerate D

(no "(synthetic)" on real data), the gloss WER of the best hypotheses and the risk-coverage
table (the share correct among the most confident sentences, by coverage).

Definitions (package scope/interpret):
  correct       the shown sentence has the same set of clauses as the meant one, each
                lower-cased without punctuation (the order of clauses does not matter);
  hallucinated  a shown sentence with a content word that no gloss of any hypothesis
                supports through the bundle's gloss-to-word lexicon;
  degenerate    a shown sentence that is empty, loops (a word three times in a row, or two
                to four words repeated right after themselves) or has a broken word (in no
                lexicon entry, or the piece of a contraction alone: "I lost my re.").
                H and D count among the shown sentences.

The gate's thresholds come from the recogniser bundle ("gate" section, calibrated with
scope gate calibrate on the training corpus's dev split); never score the dev split of the
corpus the gate was calibrated on. Results on synthetic data are SYNTHETIC.`

func evalInterpret(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "eval interpret", "--data DIR [--split test] [--out FILE.jsonl] [--oracle-glosses] [flags]", evalInterpretHelp)
	cfgPath := configFlag(fs)
	data := fs.String("data", "", "dataset directory (manifest.jsonl and .pose files)")
	split := fs.String("split", "test", "split(s) to score: train, dev, test, a comma list, or all")
	out := fs.String("out", "", "write one JSON object per signer turn to this .jsonl file")
	oracle := fs.Bool("oracle-glosses", false, "give the translator the reference glosses as the only hypothesis (measures the translator alone)")
	limit := fs.Int("limit", 0, "score only the first N signer turns (0: all)")
	noGate := fs.Bool("no-gate", false, "show every sentence (ignore the bundle's calibrated gate)")
	quiet := fs.Bool("quiet", false, "print only the summary, not every sentence")
	var inputs multiFlag
	fs.Var(&inputs, "input", "instead of --data: a recording with no reference (video file or .pose, repeatable), e.g. real signing outside the vocabulary; every sentence the engine cuts from it is counted as shown or unsure")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if len(inputs) > 0 {
		if *data != "" || *oracle {
			return fmt.Errorf("eval interpret: --input goes without --data and --oracle-glosses: %w", errUsage)
		}
		c, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		return interpretInputs(ctx, a, c, inputs, *noGate, *quiet)
	}
	if *data == "" {
		return fmt.Errorf("eval interpret: --data DIR (or --input FILE) is required: %w", errUsage)
	}
	splits, err := dataset.ParseSplits(*split)
	if err != nil {
		return fmt.Errorf("eval interpret: %w: %w", err, errUsage)
	}
	c, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	ds, err := dataset.Open(*data)
	if err != nil {
		return err
	}
	// The translator alone (oracle glosses) runs the same models directly, without the
	// recogniser; everything else goes through the daemon's engine.
	ch, lex, closeAll, err := openChain(a, c, !*noGate)
	if err != nil {
		return err
	}
	defer closeAll()
	if g, ok := ch.Gate.(*gate.Gate); ok {
		if err := calibrationOverlap(g.Params().CalibratedOn, ds, splits); err != nil {
			return fmt.Errorf("eval interpret: %w", err)
		}
	}
	var ip interpret.Interpreter = ch
	gateName := ch.Gate.Name()
	if !*oracle {
		closeAll()
		en, err := engine.New(engine.Config{Settings: c, NoStore: true, NoGate: *noGate, Log: a.log})
		if err != nil {
			return err
		}
		defer en.Close()
		x := interpret.NewEngine(en)
		defer x.Close()
		ip, gateName = x, x.Gate()
	}
	measureLex := lex
	if measureLex == nil {
		if l, err := lexicon.Load(filepath.Join(*data, lexicon.FileName)); err == nil {
			measureLex = l
			fmt.Fprintf(a.stdout, "note: the bundle has no lexicon; hallucinations are measured with %s\n", filepath.Join(*data, lexicon.FileName))
		}
	}
	label := ""
	if ds.Info != nil && ds.Info.Synthetic {
		label = " (SYNTHETIC signing: not accuracy on real signers)"
	}
	fmt.Fprintf(a.stdout, "scope eval interpret%s: %s split %s; recogniser %s; gate: %s\n", label, *data, *split,
		ch.Recognizer.Manifest().Name+" "+ch.Recognizer.Manifest().Version, gateName)
	var jw *bufio.Writer
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		jw = bufio.NewWriter(f)
		defer jw.Flush()
	}
	start := time.Now()
	rep, err := interpret.Run(ctx, ds, ip, interpret.Options{Splits: splits, Limit: *limit, Oracle: *oracle, Lexicon: measureLex,
		Progress: func(done, total int) {
			if done%100 == 0 {
				a.log.Info("eval interpret", "sentences", done, "of", total)
			}
		},
		Each: func(r interpret.Result) error {
			if !*quiet {
				printResult(a.stdout, r)
			}
			if jw != nil {
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				jw.Write(append(b, '\n'))
			}
			return nil
		}})
	if err != nil {
		return err
	}
	w := a.stdout
	fmt.Fprintln(w)
	fmt.Fprintln(w, rep.Line())
	s := rep.Summarise()
	if *oracle {
		fmt.Fprintf(w, "translator alone (reference glosses): %d of %d translations correct (%.1f%%), shown or not\n",
			s.CorrectAll, s.N, 100*float64(s.CorrectAll)/float64(max(1, s.N)))
	} else {
		fmt.Fprintf(w, "gloss WER of the best hypotheses: %s\n", rep.WER)
		fmt.Fprintf(w, "correct translations among all sentences (shown or not): %d of %d (%.1f%%)\n", s.CorrectAll, s.N,
			100*float64(s.CorrectAll)/float64(max(1, s.N)))
	}
	fmt.Fprintln(w, "risk-coverage (sentences ordered by the gate's confidence; those a rule makes unsure are never shown):")
	fmt.Fprintln(w, "  coverage  shown  correct among shown  confidence at least")
	for _, r := range rep.Curve() {
		fmt.Fprintf(w, "  %6.1f%%  %5d  %18.1f%%  %19.3f\n", 100*r.Coverage, r.Shown, 100*r.Precision, r.Threshold)
	}
	fmt.Fprintf(w, "%.1f s, %.0f ms per sentence\n", time.Since(start).Seconds(), float64(time.Since(start).Milliseconds())/float64(max(1, s.N)))
	return nil
}

func printResult(w io.Writer, r interpret.Result) {
	fmt.Fprintf(w, "%s  signed: %s\n", r.ID, strings.Join(r.Glosses, " "))
	for k, h := range r.Hypotheses {
		fmt.Fprintf(w, "           %d) %-48s log p %.2f\n", k+1, strings.Join(h.Glosses, " "), h.Score)
	}
	mark := "wrong"
	if r.Correct {
		mark = "correct"
	}
	if r.Shown != nil {
		extra := ""
		if len(r.Hallucinated) > 0 {
			extra += "; hallucinated: " + strings.Join(r.Hallucinated, " ")
		}
		if r.Degenerate != "" {
			extra += "; degenerate: " + r.Degenerate
		}
		fmt.Fprintf(w, "  shown:   %s  [%s, confidence %.2f%s]\n", *r.Shown, mark, r.Confidence, extra)
	} else {
		fmt.Fprintf(w, "  unsure:  %s  [%s; %s]\n", r.Translation, mark, r.Reason)
		for _, alt := range r.Alternatives {
			fmt.Fprintf(w, "           or: %s\n", alt)
		}
	}
	fmt.Fprintf(w, "  meant:   %s\n", r.Meant)
}

// openChain opens the recogniser, translator, lexicon and gate the configuration names (the
// demo models by default) as one interpretation chain.
func openChain(a *app, c config.Config, useGate bool) (*interpret.Chain, *lexicon.Lexicon, func(), error) {
	dev := edge.Discover("/")
	budget := edge.Split(c.Edge.Threads, dev)
	lib, err := ortLibrary(c)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := runtime.Init(lib); err != nil {
		return nil, nil, nil, err
	}
	dir := c.SLR.Bundle
	if dir == "" {
		if dir, err = slr.DefaultBundleDir(); err != nil {
			return nil, nil, nil, err
		}
	}
	prec := "fp32"
	if c.SLR.Int8 {
		prec = "int8"
	}
	rec, err := slr.Open(dir, slr.Options{Precision: prec, Threads: budget.SLR, BeamWidth: c.SLR.BeamWidth, TopK: c.SLR.TopK})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening the recogniser: %w", err)
	}
	ch := &interpret.Chain{Recognizer: rec, Gate: interpret.ShowAll{}, ContextTurns: c.Dialogue.ContextTurns,
		ContextTokens: c.Dialogue.ContextTokens, LoRAScale: float32(c.SLT.LoRAScale)}
	closeAll := func() {
		if ch.Translator != nil {
			ch.Translator.Close()
		}
		rec.Close()
	}
	fail := func(err error) (*interpret.Chain, *lexicon.Lexicon, func(), error) {
		closeAll()
		return nil, nil, nil, err
	}
	man := rec.Manifest()
	lex, err := gate.Lexicon(man)
	if err != nil {
		return fail(err)
	}
	if useGate {
		g, err := gate.FromBundle(man)
		if err != nil {
			return fail(err)
		}
		if g != nil {
			ch.Gate = g
		}
	}
	model, adapters := c.SLT.Model, c.SLT.Adapters
	if model == "" {
		if model, adapters, err = demoTranslator(); err != nil {
			return fail(err)
		}
	}
	threads := c.SLT.Threads
	if threads == 0 {
		threads = budget.LLM
	}
	tr, err := slt.Open(slt.Config{Model: model, Adapters: adapters, MaxTokens: c.SLT.MaxTokens, Threads: threads, Log: a.log, Lexicon: lex})
	if err != nil {
		return fail(fmt.Errorf("opening the translator: %w", err))
	}
	ch.Translator = tr
	return ch, lex, closeAll, nil
}

// interpretInputs runs each recording through the engine and counts its sentences as
// shown or unsure (there is no reference to score them against).
func interpretInputs(ctx context.Context, a *app, c config.Config, inputs []string, noGate, quiet bool) error {
	w := a.stdout
	var n, shown, halluc, degen int
	for _, in := range inputs {
		en, err := engine.New(engine.Config{Settings: c, Input: in, NoStore: true, NoGate: noGate, Log: a.log})
		if err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		var lex *lexicon.Lexicon
		if man, err := bundle.Load(en.Bundle().Dir); err == nil {
			lex, _ = gate.Lexicon(man)
		}
		evs, cancel := en.Subscribe(1 << 12)
		var got []events.Event
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range evs {
				if ev.Kind == events.Sentence || ev.Kind == events.Unsure {
					got = append(got, ev)
				}
			}
		}()
		err = en.Start(ctx)
		en.Close()
		cancel()
		<-done
		if err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		fmt.Fprintf(w, "%s: %d sentences (gate: %s)\n", in, len(got), en.Bundle().Gate)
		for _, ev := range got {
			n++
			var hyps [][]string
			for _, h := range ev.Hypotheses {
				hyps = append(hyps, h.Glosses)
			}
			if ev.Kind == events.Sentence {
				shown++
				h := interpret.Hallucinated(lex, ev.Text, hyps)
				d := interpret.Degenerate(lex, ev.Text)
				if len(h) > 0 {
					halluc++
				}
				if d != "" {
					degen++
				}
				if !quiet {
					fmt.Fprintf(w, "  [%.1f-%.1f s] shown:  %s  (glosses %s, confidence %.2f)\n", ev.Start, ev.End, ev.Text, strings.Join(ev.Glosses, " "), ev.Confidence)
				}
			} else if !quiet {
				fmt.Fprintf(w, "  [%.1f-%.1f s] unsure: %s  (glosses %s; %s)\n", ev.Start, ev.End, ev.Text, strings.Join(ev.Glosses, " "), ev.Reason)
			}
		}
	}
	fmt.Fprintf(w, "\ninterpret: %d sentences, shown %d (coverage %.1f%%), correct among shown n/a (no reference), hallucinated %.1f%%, degenerate %d\n",
		n, shown, 100*float64(shown)/float64(max(1, n)), 100*float64(halluc)/float64(max(1, shown)), degen)
	fmt.Fprintf(w, "unsure: %d of %d sentences (%.1f%%)\n", n-shown, n, 100*float64(n-shown)/float64(max(1, n)))
	return nil
}

// calibrationOverlap refuses to score the split of the corpus the gate was calibrated on
// (the bundle's gate.calibrated_on, as scope gate calibrate writes it: "[synthetic ]dev
// split of NAME seed N (...)"): the gate's figures there are not a measurement.
func calibrationOverlap(calibratedOn string, ds *dataset.Dataset, splits map[string]bool) error {
	if ds.Info == nil || ds.Info.Name == "" {
		return nil
	}
	on := strings.TrimPrefix(calibratedOn, "synthetic ")
	for _, sp := range []string{"train", "dev", "test"} {
		if len(splits) > 0 && !splits[sp] {
			continue
		}
		if strings.HasPrefix(on, fmt.Sprintf("%s split of %s seed %d (", sp, ds.Info.Name, ds.Info.Seed)) {
			return fmt.Errorf("the confidence gate was calibrated on the %s split of this corpus (%s seed %d): score another split (--split test) or a corpus with a fresh seed (scope synth --seed)",
				sp, ds.Info.Name, ds.Info.Seed)
		}
	}
	return nil
}
