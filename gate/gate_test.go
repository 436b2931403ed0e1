package gate

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"scope/models/lexicon"
	"scope/models/slr"
)

func testLexicon(t *testing.T) *lexicon.Lexicon {
	t.Helper()
	l := &lexicon.Lexicon{Format: lexicon.Format, FunctionWords: []string{"a", "the", "to", "am", "is"},
		Glosses: map[string]lexicon.Entry{
			"IX-1": {Forms: [][]string{{"i"}, {"my"}}}, "ALLERGIC": {Forms: [][]string{{"allergic"}}},
			"PENICILLIN": {Forms: [][]string{{"penicillin"}}, Critical: "allergen"},
			"LATEX":      {Forms: [][]string{{"latex"}}, Critical: "allergen"},
		}}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	return l
}

// samples whose correctness follows the margin and the token log-probability, with noise.
func synthSamples(n int, seed uint64) []Sample {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []Sample
	for i := 0; i < n; i++ {
		m := r.Float64() * 8
		lp := -r.Float64() * 2
		p := 1 / (1 + math.Exp(-(m-3)-2*(lp+1)))
		s := Signals{Margin: m, TokMean: lp, PTop: r.Float64(), OOD: 1}
		out = append(out, Sample{Signals: s, Correct: r.Float64() < p, Forced: i%17 == 0})
	}
	return out
}

func TestFitReachesTargetPrecision(t *testing.T) {
	p, err := Fit(synthSamples(2000, 1), FitOptions{TargetPrecision: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	if c := p.Calibration; c.Precision < 0.9 || c.Coverage < 0.2 {
		t.Fatalf("calibration outcome %+v", *c)
	}
	// the weights point the right way: margin and token log-probability raise confidence
	w := map[string]float64{}
	for i, s := range p.Signals {
		w[s] = p.Weights[i]
	}
	if w["margin"] <= 0 || w["tok_mean"] <= 0 || math.Abs(w["p_top"]) > w["margin"] {
		t.Errorf("weights %v", w)
	}
	// on fresh samples from the same source the precision holds roughly
	test := synthSamples(2000, 2)
	var conf []float64
	var ok []bool
	for _, s := range test {
		c := -1.0
		if !s.Forced {
			c = p.Probability(s.Signals)
		}
		conf, ok = append(conf, c), append(ok, s.Correct)
	}
	if o := Evaluate(conf, ok, p.Threshold); o.Precision < 0.85 {
		t.Errorf("held-out outcome %+v", o)
	}
	curve := Curve(conf, ok)
	if len(curve) < 5 || curve[0].Precision < curve[len(curve)-1].Precision {
		t.Errorf("risk-coverage curve %+v", curve)
	}
	if _, err := Fit([]Sample{{Correct: true}, {Correct: true}}, FitOptions{}); err == nil {
		t.Error("fit without a wrong sentence accepted")
	}
}

func TestThresholdFor(t *testing.T) {
	conf := []float64{0.9, 0.8, 0.7, 0.6, -1}
	ok := []bool{true, true, false, true, true}
	if th := ThresholdFor(conf, ok, 0.75); th != 0.6 {
		t.Errorf("threshold %g, want 0.6 (3 of 4 correct)", th)
	}
	if th := ThresholdFor(conf, ok, 0.9); th != 0.8 {
		t.Errorf("threshold %g, want 0.8", th)
	}
	if th := ThresholdFor([]float64{0.5}, []bool{false}, 0.9); th != 1 {
		t.Errorf("nothing reaches the target: threshold %g, want 1", th)
	}
}

func testGate(t *testing.T) *Gate {
	p := &Params{Version: 1, CalibratedOn: "test", Signals: []string{"margin"}, Mean: []float64{2}, Std: []float64{1},
		Weights: []float64{2}, Threshold: 0.5, OOD: &OOD{Mean: []float64{0, 0}, Std: []float64{1, 1}, Threshold: 3}}
	g, err := New(p, testLexicon(t))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDecide(t *testing.T) {
	g := testGate(t)
	hyps := []slr.Hypothesis{{Glosses: []string{"IX-1", "ALLERGIC", "PENICILLIN"}, Score: -1},
		{Glosses: []string{"IX-1", "ALLERGIC", "LATEX"}, Score: -6}}
	in := Input{Hypotheses: hyps, Translation: "I am allergic to penicillin.", TokenLogProbs: []float32{-0.1, -0.2},
		Embedding: []float32{0.5, -0.5}, StoppedBy: "eos"}
	if v := g.Decide(in); !v.Show || v.Confidence < 0.5 || v.Alternatives != nil {
		t.Fatalf("a confident, supported sentence: %+v", v)
	}
	for name, c := range map[string]struct {
		change func(*Input)
		reason string
	}{
		"critical gloss left out": {func(in *Input) { in.Translation = "I am allergic." }, "allergen"},
		"merged hypotheses":       {func(in *Input) { in.Translation = "I am allergic to penicillin and latex." }, "no single hypothesis"},
		"no allowed word":         {func(in *Input) { in.StoppedBy = "unsupported" }, "no words"},
		"outside the data":        {func(in *Input) { in.Embedding = []float32{9, 9} }, "unlike the training data"},
		"embedding of a stranger": {func(in *Input) { in.Embedding = []float32{1, 2, 3} }, "unlike the training data"},
		"close call":              {func(in *Input) { in.Hypotheses[1].Score = -1.5 }, "low confidence"},
		"nothing recognised":      {func(in *Input) { in.Hypotheses = nil }, "no signs"},
		"empty translation":       {func(in *Input) { in.Translation = " " }, "no translation"},
	} {
		x := in
		x.Hypotheses = append([]slr.Hypothesis(nil), hyps...)
		c.change(&x)
		v := g.Decide(x)
		if v.Show || !strings.Contains(v.Reason, c.reason) {
			t.Errorf("%s: %+v, want unsure because %q", name, v, c.reason)
		}
		if len(x.Hypotheses) > 0 && (len(v.Alternatives) == 0 || len(v.Alternatives) > 3) {
			t.Errorf("%s: alternatives %v", name, v.Alternatives)
		}
	}
	if !strings.Contains(g.Name(), "calibrated") {
		t.Errorf("Name %q", g.Name())
	}
}

func TestSignals(t *testing.T) {
	o := &slr.Output{Steps: 3, Vocab: 3, LogProbs: []float32{
		logf(0.9), logf(0.05), logf(0.05),
		logf(0.1), logf(0.7), logf(0.2),
		logf(0.2), logf(0.2), logf(0.6)}}
	in := Input{Hypotheses: []slr.Hypothesis{{Glosses: []string{"A", "B"}, Score: -1}, {Glosses: []string{"A"}, Score: -3}},
		Posteriors: PosteriorsOf(o), TokenLogProbs: []float32{-1, -3}}
	s := Compute(in, nil)
	if math.Abs(s.PTop-1/(1+math.Exp(-2))) > 1e-9 || s.Margin != 2 || s.PerGloss != -0.5 || math.Abs(s.PerStep+1.0/3) > 1e-9 {
		t.Errorf("recogniser signals %+v", s)
	}
	if math.Abs(s.PeakMin-0.6) > 1e-6 || math.Abs(s.PeakMean-0.65) > 1e-6 || math.Abs(s.BlankShare-1.0/3) > 1e-9 {
		t.Errorf("posterior signals %+v", s)
	}
	if s.TokMean != -2 || s.TokMin != -3 || s.Chosen != 0 || s.Supported != 2 {
		t.Errorf("translator signals %+v", s)
	}
	if len(s.Vector()) != len(SignalNames) || !strings.Contains(s.Describe(), "margin=2") {
		t.Errorf("vector %v, describe %q", s.Vector(), s.Describe())
	}
}

func logf(p float64) float32 { return float32(math.Log(p)) }

func TestParamsCheck(t *testing.T) {
	good := testGate(t).Params()
	for name, change := range map[string]func(p *Params){
		"version":        func(p *Params) { p.Version = 2 },
		"unknown signal": func(p *Params) { p.Signals = []string{"luck"} },
		"lengths":        func(p *Params) { p.Mean = nil },
		"zero std":       func(p *Params) { p.Std = []float64{0} },
		"threshold":      func(p *Params) { p.Threshold = 2 },
		"ood":            func(p *Params) { p.OOD.Std = []float64{1} },
	} {
		p := *good
		o := *good.OOD
		p.OOD = &o
		p.Mean, p.Std, p.Signals = append([]float64(nil), good.Mean...), append([]float64(nil), good.Std...), append([]string(nil), good.Signals...)
		change(&p)
		if err := p.Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var none *Params
	if _, err := New(none, nil); err == nil {
		t.Error("New without parameters")
	}
}

func TestFitOOD(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	gen := func(n int, shift float32) [][]float32 {
		var out [][]float32
		for i := 0; i < n; i++ {
			e := make([]float32, 8)
			for j := range e {
				e[j] = float32(r.NormFloat64()) + shift
			}
			out = append(out, e)
		}
		return out
	}
	o, err := FitOOD(gen(500, 0), gen(100, 0), 0.99, 1.25)
	if err != nil {
		t.Fatal(err)
	}
	p := &Params{OOD: o}
	far := 0
	for _, e := range gen(100, 4) {
		if p.Distance(e) > o.Threshold {
			far++
		}
	}
	near := 0
	for _, e := range gen(100, 0) {
		if p.Distance(e) > o.Threshold {
			near++
		}
	}
	if far < 95 || near > 5 {
		t.Errorf("threshold %g: %d of 100 shifted and %d of 100 in-distribution embeddings beyond it", o.Threshold, far, near)
	}
}
