package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"scope/config"
	"scope/dataset"
	"scope/gate"
	"scope/interpret"
	"scope/models/bundle"
	"scope/models/lexicon"
	"scope/models/slr"
)

func cmdGate(ctx context.Context, a *app, args []string) error {
	subs := []subcommand{
		{"calibrate", "fit the confidence gate on a corpus's dev split and store it in the recogniser bundle (`--data DIR`)", cmdGateCalibrate},
		{"show", "print a bundle's calibrated gate (`scope gate show [--config FILE]`)", cmdGateShow},
	}
	return dispatch(ctx, a, "gate", "The confidence gate: whether a translated sentence is shown or the kiosk says it is unsure "+
		"and offers alternatives. Its thresholds are calibrated when the models are built and travel in the bundle.", subs, args)
}

const gateCalibrateHelp = `Calibrate the confidence gate for the configured models (the demo models by default) on
the dev split of the corpus they were trained on (signers the models never saw), and store
the result in the recogniser bundle's manifest ("gate" section), where it travels with the
bundle.

Every dev signer turn goes through the whole chain (recognise with the dialogue so far,
translate, faithful to the bundle's lexicon), and its signals are recorded with whether the
translation was correct (same set of clauses as meant). A logistic model on the signals
estimates P(correct); the threshold is the lowest one whose shown sentences are correct at
--target precision on dev. The distance of the recogniser's embedding to the training data
is measured against statistics of --ood-split; its threshold is the --quantile of the dev
distances times --margin: signing farther out (real signing outside the vocabulary) is
unsure whatever else the signals say.

Never evaluate the gate on the split it was calibrated on: score a fresh corpus
(scope synth --seed S with another seed) with scope eval interpret.`

func cmdGateCalibrate(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "gate calibrate", "--data DIR [--split dev] [--target 0.95] [flags]", gateCalibrateHelp)
	cfgPath := configFlag(fs)
	data := fs.String("data", "", "the models' training corpus (manifest.jsonl and .pose files)")
	split := fs.String("split", "dev", "split to calibrate on")
	oodSplit := fs.String("ood-split", "train", "split whose embeddings describe the training data")
	oodLimit := fs.Int("ood-limit", 1500, "at most this many turns of --ood-split")
	target := fs.Float64("target", 0.95, "share of correct sentences among the shown ones on the calibration split")
	quantile := fs.Float64("quantile", 0.99, "quantile of the dev embedding distances the out-of-distribution threshold starts from")
	margin := fs.Float64("margin", 1.25, "factor on that quantile")
	dry := fs.Bool("dry-run", false, "print the calibration without writing it into the bundle")
	limit := fs.Int("limit", 0, "calibrate on the first N signer turns only (0: all; for trying it out)")
	addLex := fs.String("add-lexicon", "", "first add this lexicon.json (a file inside the recogniser bundle) to the bundle as its gloss-to-word lexicon")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *data == "" {
		return fmt.Errorf("gate calibrate: --data DIR is required: %w", errUsage)
	}
	if !(*target > 0 && *target < 1) || !(*quantile > 0 && *quantile <= 1) || *margin < 1 {
		return fmt.Errorf("gate calibrate: --target %g and --quantile %g must be in (0, 1), --margin %g at least 1: %w", *target, *quantile, *margin, errUsage)
	}
	splits, err := dataset.ParseSplits(*split)
	if err != nil {
		return fmt.Errorf("gate calibrate: %w: %w", err, errUsage)
	}
	oodSplits, err := dataset.ParseSplits(*oodSplit)
	if err != nil {
		return fmt.Errorf("gate calibrate: %w: %w", err, errUsage)
	}
	c, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	ds, err := dataset.Open(*data)
	if err != nil {
		return err
	}
	if *addLex != "" {
		if err := addLexicon(c, *addLex); err != nil {
			return err
		}
	}
	ch, lex, closeAll, err := openChain(a, c, false)
	if err != nil {
		return err
	}
	defer closeAll()
	w := a.stdout
	start := time.Now()
	fmt.Fprintf(w, "calibrating on %s split %s with %s (lexicon: %v)\n", *data, *split, ch.Recognizer.Manifest().Dir(), lex != nil)
	type rec struct {
		in      gate.Input
		correct bool
	}
	var recs []rec
	_, err = interpret.Run(ctx, ds, ch, interpret.Options{Splits: splits, Lexicon: lex, Limit: *limit,
		Progress: func(done, total int) {
			if done%100 == 0 {
				a.log.Info("gate calibrate", "sentences", done, "of", total)
			}
		},
		Sentences: func(e *dataset.Entry, s interpret.Sentence) {
			recs = append(recs, rec{in: *s.Input, correct: interpret.Correct(e.Text, s.Translation)})
		}})
	if err != nil {
		return err
	}
	var devEmb [][]float32
	for _, r := range recs {
		if r.in.Embedding != nil {
			devEmb = append(devEmb, r.in.Embedding)
		}
	}
	p := &gate.Params{Version: 1}
	if len(devEmb) > 0 {
		trainEmb, err := embeddings(ctx, ds, ch.Recognizer, oodSplits, *oodLimit)
		if err != nil {
			return err
		}
		if p.OOD, err = gate.FitOOD(trainEmb, devEmb, *quantile, *margin); err != nil {
			return err
		}
		fmt.Fprintf(w, "embedding statistics from %d %s turns; distance threshold %.3f\n", len(trainEmb), *oodSplit, p.OOD.Threshold)
	} else {
		fmt.Fprintln(w, "the recogniser has no embedding output: no out-of-distribution threshold")
	}
	probe, err := gate.New(p, lex)
	if err != nil {
		return err
	}
	var samples []gate.Sample
	for _, r := range recs {
		s := probe.Signals(r.in)
		samples = append(samples, gate.Sample{Signals: s, Correct: r.correct, Forced: probe.Rule(r.in, s) != ""})
	}
	fit, err := gate.Fit(samples, gate.FitOptions{TargetPrecision: *target})
	if err != nil {
		return err
	}
	fit.OOD = p.OOD
	label := ""
	if ds.Info != nil && ds.Info.Synthetic {
		label = "synthetic "
	}
	fit.CalibratedOn = fmt.Sprintf("%s%s split of %s seed %d (%d signer turns, signers the models never saw)",
		label, *split, datasetName(ds), datasetSeed(ds), len(recs))
	forced := 0
	correct := 0
	for _, s := range samples {
		if s.Forced {
			forced++
		}
		if s.Correct {
			correct++
		}
	}
	o := fit.Calibration
	fmt.Fprintf(w, "%d sentences, %d translated correctly, %d unsure by rule; threshold %.3f shows %d (coverage %.1f%%), %.1f%% of them correct (target %.0f%%)\n",
		len(samples), correct, forced, fit.Threshold, o.Shown, 100*o.Coverage, 100*o.Precision, 100**target)
	fmt.Fprintln(w, "weights of the standardised signals:")
	for i, name := range fit.Signals {
		fmt.Fprintf(w, "  %-12s %+.3f\n", name, fit.Weights[i])
	}
	var conf []float64
	var ok []bool
	for _, s := range samples {
		cf := -1.0
		if !s.Forced {
			cf = fit.Probability(s.Signals)
		}
		conf, ok = append(conf, cf), append(ok, s.Correct)
	}
	fmt.Fprintln(w, "risk-coverage on the calibration split (optimistic: the gate was fitted on it):")
	for _, r := range gate.Curve(conf, ok) {
		fmt.Fprintf(w, "  coverage %5.1f%%  correct among shown %5.1f%%  confidence >= %.3f\n", 100*r.Coverage, 100*r.Precision, r.Threshold)
	}
	if *dry {
		fmt.Fprintf(w, "dry run: nothing written (%.0f s)\n", time.Since(start).Seconds())
		return nil
	}
	man, err := bundle.Load(ch.Recognizer.Manifest().Dir())
	if err != nil {
		return err
	}
	if err := man.SetSection(gate.Section, fit); err != nil {
		return err
	}
	if err := man.Write(); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote the gate into %s (%.0f s)\n", man.Dir(), time.Since(start).Seconds())
	return nil
}

// addLexicon lists file (inside the configured recogniser bundle) in the bundle's manifest
// as its lexicon, replacing an earlier entry, after checking that it is a lexicon.
func addLexicon(c config.Config, file string) error {
	dir := c.SLR.Bundle
	var err error
	if dir == "" {
		if dir, err = slr.DefaultBundleDir(); err != nil {
			return err
		}
	}
	if _, err := lexicon.Load(file); err != nil {
		return err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	absFile, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(absDir, absFile)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("--add-lexicon %s: the file must be inside the bundle folder %s", file, dir)
	}
	man, err := bundle.Load(dir)
	if err != nil {
		return err
	}
	keep := man.Files[:0]
	for _, f := range man.Files {
		if f.Role != gate.RoleLexicon {
			keep = append(keep, f)
		}
	}
	man.Files = keep
	if _, err := man.AddFile(gate.RoleLexicon, filepath.ToSlash(rel), ""); err != nil {
		return err
	}
	return man.Write()
}

// embeddings runs the recogniser over up to limit signer turns of splits (context: the
// reference text of the turns before, as in training) and returns its embeddings.
func embeddings(ctx context.Context, ds *dataset.Dataset, r *slr.Recognizer, splits map[string]bool, limit int) ([][]float32, error) {
	previous := map[string][]string{}
	for _, d := range dataset.Dialogues(ds.Entries) {
		var texts []string
		for _, e := range d {
			previous[e.ID] = append([]string(nil), texts...)
			texts = append(texts, e.Text)
		}
	}
	var out [][]float32
	for _, e := range ds.Select(splits) {
		if !e.IsSigner() {
			continue
		}
		if limit > 0 && len(out) >= limit {
			break
		}
		frames, fps, err := slr.ReadPose(ds.PosePath(&e), e.Start, e.End)
		if err != nil {
			return nil, fmt.Errorf("turn %s: %w", e.ID, err)
		}
		o, err := r.Run(ctx, frames, fps, previous[e.ID])
		if err != nil {
			return nil, fmt.Errorf("turn %s: %w", e.ID, err)
		}
		if o.Embedding != nil {
			out = append(out, o.Embedding)
		}
	}
	return out, nil
}

func datasetName(ds *dataset.Dataset) string {
	if ds.Info != nil && ds.Info.Name != "" {
		return ds.Info.Name
	}
	return "the corpus"
}

func datasetSeed(ds *dataset.Dataset) int64 {
	if ds.Info != nil {
		return ds.Info.Seed
	}
	return 0
}

const gateShowHelp = `Print the calibrated confidence gate of the configured recogniser bundle (the demo
bundle by default): what it was calibrated on, its threshold and how it did there.`

func cmdGateShow(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "gate show", "[--config FILE] [--bundle DIR]", gateShowHelp)
	cfgPath := configFlag(fs)
	dir := fs.String("bundle", "", "recogniser bundle folder (default slr.bundle, or the demo bundle)")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	c, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	d := *dir
	if d == "" {
		d = c.SLR.Bundle
	}
	if d == "" {
		if d, err = slr.DefaultBundleDir(); err != nil {
			return err
		}
	}
	man, err := bundle.Load(d)
	if err != nil {
		return err
	}
	g, err := gate.FromBundle(man)
	if err != nil {
		return err
	}
	if g == nil {
		fmt.Fprintf(a.stdout, "%s has no calibrated gate: every sentence is shown (run scope gate calibrate)\n", d)
		return nil
	}
	p := g.Params()
	b, _ := json.MarshalIndent(struct {
		CalibratedOn string         `json:"calibrated_on"`
		Threshold    float64        `json:"threshold"`
		Target       float64        `json:"target_precision"`
		Calibration  *gate.Outcome  `json:"calibration"`
		Weights      map[string]any `json:"weights"`
		OOD          float64        `json:"ood_threshold,omitempty"`
	}{p.CalibratedOn, p.Threshold, p.TargetPrecision, p.Calibration, weights(p), oodThreshold(p)}, "", "  ")
	fmt.Fprintf(a.stdout, "%s\n%s\n", g.Name(), b)
	return nil
}

func weights(p *gate.Params) map[string]any {
	out := map[string]any{"bias": p.Bias}
	for i, s := range p.Signals {
		out[s] = p.Weights[i]
	}
	return out
}

func oodThreshold(p *gate.Params) float64 {
	if p.OOD == nil {
		return 0
	}
	return p.OOD.Threshold
}
