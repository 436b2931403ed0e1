package gate

import (
	"math"
	"strconv"
	"strings"

	"scope/models/lexicon"
)

// Signals are the numbers the gate judges a sentence by.
type Signals struct {
	// Recogniser.
	PTop       float64 // posterior of the best hypothesis among the top-k (softmax of their scores)
	Margin     float64 // log-probability lead of the best over the second (20 when alone), capped at 20
	PerStep    float64 // best hypothesis's log-probability per output step
	PerGloss   float64 // and per gloss
	PeakMin    float64 // weakest gloss peak: the least, over steps whose most likely label is a gloss, of that probability
	PeakMean   float64 // their mean
	BlankShare float64 // share of steps whose most likely label is the blank
	Glosses    float64 // glosses in the best hypothesis
	// Translator.
	TokMean  float64 // mean token log-probability
	TokMin   float64 // least token log-probability
	Rejected float64 // steps at which the lexicon refused the model's first choice
	// Agreement of the sentence with the hypotheses (through the lexicon).
	Chosen          float64 // rank of the hypothesis the sentence renders (0 best; 3 none)
	Missing         float64 // glosses of that hypothesis the sentence leaves out
	MissingCritical int     // safety-critical ones among them
	Supported       int     // hypotheses that support the whole sentence
	// Out of distribution.
	OOD float64 // distance of the encoder embedding to the training data (0 without statistics)
}

// SignalNames are the signals the logistic model reads, in Vector's order.
var SignalNames = []string{"p_top", "margin", "per_step", "per_gloss", "peak_min", "peak_mean", "blank_share",
	"glosses", "tok_mean", "tok_min", "rejected", "chosen", "missing", "ood"}

// Vector returns the signals in SignalNames order.
func (s Signals) Vector() []float64 {
	return []float64{s.PTop, s.Margin, s.PerStep, s.PerGloss, s.PeakMin, s.PeakMean, s.BlankShare,
		s.Glosses, s.TokMean, s.TokMin, s.Rejected, s.Chosen, s.Missing, s.OOD}
}

// Compute derives the signals of one sentence; lex may be nil (then every hypothesis counts
// as supporting the sentence and nothing as missing). OOD is left 0: Params.Probability and
// Decide fill it from the calibrated statistics.
func Compute(in Input, lex *lexicon.Lexicon) Signals {
	var s Signals
	if len(in.Hypotheses) > 0 {
		best := in.Hypotheses[0].Score
		var z float64
		for _, h := range in.Hypotheses {
			z += math.Exp(h.Score - best)
		}
		s.PTop = 1 / z
		s.Margin = 20
		if len(in.Hypotheses) > 1 {
			s.Margin = math.Min(20, best-in.Hypotheses[1].Score)
		}
		s.Glosses = float64(len(in.Hypotheses[0].Glosses))
		s.PerGloss = best / math.Max(1, s.Glosses)
		if n := len(in.Posteriors); n > 0 {
			s.PerStep = best / float64(n)
		}
	}
	peaks, blanks := 0, 0
	s.PeakMin = 1
	for _, row := range in.Posteriors {
		bi := 0
		for c := range row {
			if row[c] > row[bi] {
				bi = c
			}
		}
		if bi == 0 {
			blanks++
			continue
		}
		peaks++
		p := float64(row[bi])
		s.PeakMean += p
		s.PeakMin = math.Min(s.PeakMin, p)
	}
	if peaks > 0 {
		s.PeakMean /= float64(peaks)
	} else {
		s.PeakMin = 0
	}
	if n := len(in.Posteriors); n > 0 {
		s.BlankShare = float64(blanks) / float64(n)
	}
	s.TokMin = 0
	for i, lp := range in.TokenLogProbs {
		s.TokMean += float64(lp)
		if i == 0 || float64(lp) < s.TokMin {
			s.TokMin = float64(lp)
		}
	}
	if n := len(in.TokenLogProbs); n > 0 {
		s.TokMean /= float64(n)
	}
	s.Rejected = float64(in.Rejected)
	s.Chosen = 3
	if lex == nil {
		s.Supported = len(in.Hypotheses)
		if s.Supported > 0 {
			s.Chosen = 0
		}
		return s
	}
	bestMiss, bestCrit := 0, 0
	for k, h := range in.Hypotheses {
		if k >= 3 {
			break
		}
		if len(lex.Unsupported(in.Translation, h.Glosses)) > 0 {
			continue
		}
		s.Supported++
		m := lex.Missing(in.Translation, h.Glosses)
		c := 0
		for _, g := range m {
			if lex.Critical(g) != "" {
				c++
			}
		}
		if s.Chosen == 3 || c < bestCrit || (c == bestCrit && len(m) < bestMiss) {
			s.Chosen, bestMiss, bestCrit = float64(k), len(m), c
		}
	}
	if s.Chosen < 3 {
		s.Missing = float64(bestMiss)
		s.MissingCritical = bestCrit
	}
	return s
}

// Describe writes the signals for people (one line).
func (s Signals) Describe() string {
	var b strings.Builder
	for i, v := range s.Vector() {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(SignalNames[i] + "=" + strconv.FormatFloat(v, 'g', 4, 64))
	}
	return b.String()
}
