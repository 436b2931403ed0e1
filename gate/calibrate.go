package gate

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Sample is one calibration sentence: its signals, whether it was correct, and whether a
// rule of Decide makes it unsure whatever its confidence.
type Sample struct {
	Signals Signals
	Correct bool
	Forced  bool
}

// FitOptions control Fit.
type FitOptions struct {
	// TargetPrecision is the share of correct sentences the shown ones must reach on the
	// calibration data (default 0.95).
	TargetPrecision float64
	// L2 is the ridge penalty on the standardised weights (default 0.01 per sample).
	L2 float64
	// Signals to use (default SignalNames).
	Signals []string
}

// Fit fits the logistic model on the samples that no rule forces unsure and picks the
// threshold that shows as many sentences as possible while the shown ones stay at or above
// the target precision. CalibratedOn and OOD are left for the caller.
func Fit(samples []Sample, o FitOptions) (*Params, error) {
	if o.TargetPrecision == 0 {
		o.TargetPrecision = 0.95
	}
	if o.L2 == 0 {
		o.L2 = 0.01
	}
	if len(o.Signals) == 0 {
		o.Signals = SignalNames
	}
	var xs [][]float64
	var ys []float64
	for _, s := range samples {
		if s.Forced {
			continue
		}
		v := s.Signals.Vector()
		row := make([]float64, len(o.Signals))
		for i, name := range o.Signals {
			k := signalIndex(name)
			if k < 0 {
				return nil, fmt.Errorf("gate: unknown signal %q", name)
			}
			row[i] = v[k]
		}
		xs = append(xs, row)
		y := 0.0
		if s.Correct {
			y = 1
		}
		ys = append(ys, y)
	}
	pos := 0
	for _, y := range ys {
		pos += int(y)
	}
	if pos == 0 || pos == len(ys) {
		return nil, fmt.Errorf("gate: calibration needs correct and wrong sentences; have %d correct of %d eligible", pos, len(ys))
	}
	n, d := len(xs), len(o.Signals)
	p := &Params{Version: 1, Signals: append([]string(nil), o.Signals...), Mean: make([]float64, d), Std: make([]float64, d),
		Weights: make([]float64, d), TargetPrecision: o.TargetPrecision}
	for j := 0; j < d; j++ {
		var m, v float64
		for i := range xs {
			m += xs[i][j]
		}
		m /= float64(n)
		for i := range xs {
			v += (xs[i][j] - m) * (xs[i][j] - m)
		}
		p.Mean[j], p.Std[j] = m, math.Sqrt(v/float64(n))
		if p.Std[j] < 1e-9 {
			p.Std[j] = 1 // a constant signal: it gets weight 0 from the ridge
		}
	}
	z := make([][]float64, n)
	for i := range xs {
		z[i] = make([]float64, d+1)
		z[i][0] = 1
		for j := 0; j < d; j++ {
			z[i][j+1] = (xs[i][j] - p.Mean[j]) / p.Std[j]
		}
	}
	w, err := newtonLogistic(z, ys, o.L2*float64(n))
	if err != nil {
		return nil, err
	}
	p.Bias = w[0]
	copy(p.Weights, w[1:])
	// Threshold on all samples: forced ones are never shown but count in the coverage.
	var conf []float64
	var ok []bool
	for _, s := range samples {
		c := -1.0
		if !s.Forced {
			c = p.Probability(s.Signals)
		}
		conf = append(conf, c)
		ok = append(ok, s.Correct)
	}
	p.Threshold = ThresholdFor(conf, ok, o.TargetPrecision)
	out := Evaluate(conf, ok, p.Threshold)
	p.Calibration = &out
	return p, nil
}

// ThresholdFor returns the least confidence threshold whose shown sentences (confidence >=
// threshold; negative confidence means never shown) are correct at least at target
// precision, choosing the one that shows the most; 1 when none does.
func ThresholdFor(conf []float64, correct []bool, target float64) float64 {
	idx := make([]int, 0, len(conf))
	for i, c := range conf {
		if c >= 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return conf[idx[a]] > conf[idx[b]] })
	best := 1.0
	good := 0
	for k, i := range idx {
		if correct[i] {
			good++
		}
		// only where the next sentence has a lower confidence can the cut fall here
		if k+1 < len(idx) && conf[idx[k+1]] == conf[i] {
			continue
		}
		if float64(good) >= target*float64(k+1) {
			best = conf[i]
		}
	}
	return best
}

// Evaluate counts what a threshold shows.
func Evaluate(conf []float64, correct []bool, threshold float64) Outcome {
	o := Outcome{Sentences: len(conf)}
	for i, c := range conf {
		if c >= 0 && c >= threshold {
			o.Shown++
			if correct[i] {
				o.Correct++
			}
		}
	}
	if o.Sentences > 0 {
		o.Coverage = float64(o.Shown) / float64(o.Sentences)
	}
	if o.Shown > 0 {
		o.Precision = float64(o.Correct) / float64(o.Shown)
	}
	return o
}

// RiskCoverage is one row of a risk-coverage table: showing the most confident Coverage of
// the sentences gives Precision correct among them.
type RiskCoverage struct {
	Coverage  float64 // share of all sentences shown
	Shown     int
	Precision float64
	Threshold float64 // the confidence that shows them
}

// Curve returns the precision at coverages 10%, 20%, ... up to the largest reachable one
// (sentences with negative confidence are never shown).
func Curve(conf []float64, correct []bool) []RiskCoverage {
	idx := make([]int, 0, len(conf))
	for i, c := range conf {
		if c >= 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return conf[idx[a]] > conf[idx[b]] })
	var out []RiskCoverage
	n := len(conf)
	for step := 1; step <= 10; step++ {
		k := int(math.Round(float64(step) / 10 * float64(n)))
		if k > len(idx) {
			k = len(idx)
		}
		if k == 0 || (len(out) > 0 && out[len(out)-1].Shown == k) {
			continue
		}
		good := 0
		for _, i := range idx[:k] {
			if correct[i] {
				good++
			}
		}
		out = append(out, RiskCoverage{Coverage: float64(k) / float64(n), Shown: k,
			Precision: float64(good) / float64(k), Threshold: conf[idx[k-1]]})
	}
	return out
}

// FitOOD returns the embedding statistics of the training data and a threshold at quantile
// q of the calibration (dev) embeddings' distances times margin.
func FitOOD(train, dev [][]float32, q, margin float64) (*OOD, error) {
	if len(train) < 2 || len(dev) == 0 {
		return nil, errors.New("gate: embedding statistics need training and dev embeddings")
	}
	d := len(train[0])
	o := &OOD{Mean: make([]float64, d), Std: make([]float64, d)}
	for _, e := range train {
		if len(e) != d {
			return nil, fmt.Errorf("gate: embeddings of sizes %d and %d", d, len(e))
		}
		for j, v := range e {
			o.Mean[j] += float64(v)
		}
	}
	for j := range o.Mean {
		o.Mean[j] /= float64(len(train))
	}
	for _, e := range train {
		for j, v := range e {
			o.Std[j] += (float64(v) - o.Mean[j]) * (float64(v) - o.Mean[j])
		}
	}
	for j := range o.Std {
		o.Std[j] = math.Max(1e-6, math.Sqrt(o.Std[j]/float64(len(train))))
	}
	p := &Params{OOD: o}
	var ds []float64
	for _, e := range dev {
		ds = append(ds, p.Distance(e))
	}
	sort.Float64s(ds)
	k := int(math.Ceil(q*float64(len(ds)))) - 1
	k = max(0, min(len(ds)-1, k))
	o.Threshold = ds[k] * margin
	return o, nil
}

// newtonLogistic fits ridge-penalised logistic regression (the intercept z[i][0] unpenalised)
// by Newton's method.
func newtonLogistic(z [][]float64, y []float64, l2 float64) ([]float64, error) {
	d := len(z[0])
	w := make([]float64, d)
	for iter := 0; iter < 50; iter++ {
		g := make([]float64, d)
		h := make([][]float64, d)
		for j := range h {
			h[j] = make([]float64, d)
		}
		for i, row := range z {
			var s float64
			for j, v := range row {
				s += w[j] * v
			}
			p := 1 / (1 + math.Exp(-s))
			r := p * (1 - p)
			for j, v := range row {
				g[j] += (p - y[i]) * v
				for k := j; k < d; k++ {
					h[j][k] += r * v * row[k]
				}
			}
		}
		for j := 0; j < d; j++ {
			for k := 0; k < j; k++ {
				h[j][k] = h[k][j]
			}
			if j > 0 {
				g[j] += l2 * w[j]
				h[j][j] += l2
			}
			h[j][j] += 1e-9
		}
		step, err := solve(h, g)
		if err != nil {
			return nil, err
		}
		var norm float64
		for j := range w {
			w[j] -= step[j]
			norm += step[j] * step[j]
		}
		if norm < 1e-16 {
			break
		}
	}
	for _, v := range w {
		if !finite(v) {
			return nil, errors.New("gate: the logistic fit diverged")
		}
	}
	return w, nil
}

// solve solves a x = b by Gaussian elimination with partial pivoting (a is changed).
func solve(a [][]float64, b []float64) ([]float64, error) {
	n := len(b)
	x := append([]float64(nil), b...)
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return nil, errors.New("gate: singular system in the logistic fit")
		}
		a[c], a[p] = a[p], a[c]
		x[c], x[p] = x[p], x[c]
		for r := c + 1; r < n; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k < n; k++ {
				a[r][k] -= f * a[c][k]
			}
			x[r] -= f * x[c]
		}
	}
	for c := n - 1; c >= 0; c-- {
		for k := c + 1; k < n; k++ {
			x[c] -= a[c][k] * x[k]
		}
		x[c] /= a[c][c]
	}
	return x, nil
}
