package gate

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalid is wrapped by every error about malformed gate parameters.
var ErrInvalid = errors.New("invalid gate parameters")

// Params are the calibrated gate: the bundle manifest's "gate" section.
type Params struct {
	Version      int    `json:"version"`       // 1
	CalibratedOn string `json:"calibrated_on"` // what the thresholds were fitted on, for people
	// The logistic model: P(correct) = 1 / (1 + exp(-(Bias + sum Weights[i] * (x[i] - Mean[i]) / Std[i])))
	// over the signals named in Signals (a subset of SignalNames, in any order).
	Signals []string  `json:"signals"`
	Mean    []float64 `json:"mean"`
	Std     []float64 `json:"std"`
	Weights []float64 `json:"weights"`
	Bias    float64   `json:"bias"`
	// Threshold is the least P(correct) at which a sentence is shown.
	Threshold float64 `json:"threshold"`
	// TargetPrecision is the share of correct sentences among the shown ones that Threshold
	// gave on the calibration data.
	TargetPrecision float64 `json:"target_precision"`
	OOD             *OOD    `json:"ood,omitempty"`
	// Calibration records how the gate did on its own calibration data (for people).
	Calibration *Outcome `json:"calibration,omitempty"`
}

// OOD is the training data's embedding statistics: the distance of an embedding is the
// root mean square over dimensions of (e - Mean) / Std; above Threshold the signing is
// unlike anything calibrated.
type OOD struct {
	Mean      []float64 `json:"mean"`
	Std       []float64 `json:"std"`
	Threshold float64   `json:"threshold"`
}

// Outcome is how a gate did on a set of sentences.
type Outcome struct {
	Sentences int     `json:"sentences"`
	Shown     int     `json:"shown"`
	Correct   int     `json:"correct_shown"`
	Coverage  float64 `json:"coverage"`  // Shown / Sentences
	Precision float64 `json:"precision"` // Correct / Shown
}

// Check validates the parameters.
func (p *Params) Check() error {
	if p == nil {
		return fmt.Errorf("%w: none", ErrInvalid)
	}
	if p.Version != 1 {
		return fmt.Errorf("%w: version %d (this scope reads 1)", ErrInvalid, p.Version)
	}
	n := len(p.Signals)
	if len(p.Mean) != n || len(p.Std) != n || len(p.Weights) != n {
		return fmt.Errorf("%w: %d signals but %d means, %d stds, %d weights", ErrInvalid, n, len(p.Mean), len(p.Std), len(p.Weights))
	}
	known := map[string]bool{}
	for _, s := range SignalNames {
		known[s] = true
	}
	for i, s := range p.Signals {
		if !known[s] {
			return fmt.Errorf("%w: signal %q is unknown (known: %v)", ErrInvalid, s, SignalNames)
		}
		if !(p.Std[i] > 0) || !finite(p.Mean[i]) || !finite(p.Weights[i]) {
			return fmt.Errorf("%w: signal %q has std %g, mean %g, weight %g", ErrInvalid, s, p.Std[i], p.Mean[i], p.Weights[i])
		}
	}
	if !finite(p.Bias) || !(p.Threshold >= 0 && p.Threshold <= 1) {
		return fmt.Errorf("%w: bias %g, threshold %g (want a probability)", ErrInvalid, p.Bias, p.Threshold)
	}
	if o := p.OOD; o != nil {
		if len(o.Mean) == 0 || len(o.Mean) != len(o.Std) || !(o.Threshold > 0) {
			return fmt.Errorf("%w: ood has %d means, %d stds, threshold %g", ErrInvalid, len(o.Mean), len(o.Std), o.Threshold)
		}
		for i, v := range o.Std {
			if !(v > 0) || !finite(o.Mean[i]) {
				return fmt.Errorf("%w: ood dimension %d has std %g, mean %g", ErrInvalid, i, v, o.Mean[i])
			}
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Probability is the model's estimate that a sentence with these signals is correct.
func (p *Params) Probability(s Signals) float64 {
	v := s.Vector()
	z := p.Bias
	for i, name := range p.Signals {
		z += p.Weights[i] * (v[signalIndex(name)] - p.Mean[i]) / p.Std[i]
	}
	return 1 / (1 + math.Exp(-z))
}

// Distance is the embedding's distance to the training data, 0 without statistics or
// embedding, +Inf for an embedding of the wrong size (a model that does not match them).
func (p *Params) Distance(e []float32) float64 {
	if p.OOD == nil || len(e) == 0 {
		return 0
	}
	if len(e) != len(p.OOD.Mean) {
		return math.Inf(1)
	}
	var sum float64
	for i, v := range e {
		z := (float64(v) - p.OOD.Mean[i]) / p.OOD.Std[i]
		sum += z * z
	}
	return math.Sqrt(sum / float64(len(e)))
}

func signalIndex(name string) int {
	for i, s := range SignalNames {
		if s == name {
			return i
		}
	}
	return -1
}
