// Package gate is SCOPE's confidence gate: after a sentence is recognised and translated it
// decides whether the kiosk shows the translation, or says it is unsure and offers up to
// three alternatives for the signer to confirm. A wrong sentence shown with confidence is
// the worst outcome at a hospital desk; "please sign again" is a good one.
//
// The gate reads only the models' own quantities (Signals): the recogniser's posteriors per
// output step, its top-1/top-2 margin and length-normalised scores, the translator's token
// log-probabilities and how the sentence agrees with the hypotheses through the bundle's
// gloss-to-word lexicon, and how far the recogniser's encoder embedding lies from the
// training data (signing outside the vocabulary, or not signing like the training signers
// at all). It is not a classifier of synthetic against real keypoints.
//
// A logistic model turns the signals into the probability that the sentence is correct. It
// is fitted when the models are built, on the dev split of the training corpus (signers the
// models never saw), with the threshold that keeps the share of correct sentences among the
// shown ones at a target; both travel in the bundle manifest's "gate" section (Params).
// Some findings make a sentence unsure whatever the model says (Decide lists them).
package gate

import (
	"fmt"
	"math"
	"strings"

	"scope/models/lexicon"
	"scope/models/slr"
)

// Section is the bundle manifest's key for Params.
const Section = "gate"

// LowConfidence begins the Reason of a sentence that is unsure only because its estimated
// confidence is below the threshold (every other reason is a rule of Decide).
const LowConfidence = "low confidence"

// Input is what the gate sees of one sentence: the engine's GateInput plus what the faithful
// translator reports.
type Input struct {
	Hypotheses []slr.Hypothesis // best first, scores are CTC log-probabilities
	// Posteriors are the recogniser's per-step probabilities [steps][glosses+1] (blank at 0);
	// PosteriorsOf makes them from a model output.
	Posteriors    [][]float32
	Translation   string
	TokenLogProbs []float32 // the translator's log-probability of each generated token
	Embedding     []float32 // the recogniser's encoder embedding (nil when the model has none)
	// StoppedBy is how the translation ended ("eos", "unsupported", "max_tokens", ...; "" when
	// unknown) and Rejected how often the lexicon refused the model's first choice.
	StoppedBy string
	Rejected  int
}

// Verdict is the gate's decision.
type Verdict struct {
	Show         bool
	Confidence   float64  // estimated probability that the sentence is correct
	Reason       string   // why it is unsure ("" when shown)
	Alternatives []string // up to three, best first, for the confirm step
}

// Gate decides per sentence. The zero value is not usable; see New.
type Gate struct {
	p   *Params
	lex *lexicon.Lexicon
}

// New returns the gate for calibrated parameters and the bundle's lexicon (nil: no lexicon;
// the agreement signals are then left at their neutral values).
func New(p *Params, lex *lexicon.Lexicon) (*Gate, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	return &Gate{p: p, lex: lex}, nil
}

// Name says what decides: the calibrated gate and what it was calibrated on.
func (g *Gate) Name() string {
	return fmt.Sprintf("calibrated confidence gate (threshold %.2f, %s)", g.p.Threshold, g.p.CalibratedOn)
}

// Params returns the gate's parameters.
func (g *Gate) Params() *Params { return g.p }

// Decide returns the verdict for one sentence. A sentence is unsure, whatever its
// estimated confidence, when there is no hypothesis or no translation, when the translator
// stopped for want of an allowed word or for length, when the sentence leaves out a
// safety-critical gloss (a number, date, medicine, allergen, body part, name or dose) of the
// hypothesis it renders, when no single hypothesis supports it, or when the embedding is
// farther from the training data than anything calibrated. Otherwise it is shown when the
// estimated probability of being correct reaches the calibrated threshold.
func (g *Gate) Decide(in Input) Verdict {
	s := g.Signals(in)
	v := Verdict{Confidence: g.p.Probability(s)}
	v.Alternatives = Alternatives(in.Hypotheses, 3)
	switch rule := g.Rule(in, s); {
	case rule != "":
		v.Reason = rule
	case v.Confidence < g.p.Threshold:
		v.Reason = fmt.Sprintf("%s (%.2f < %.2f)", LowConfidence, v.Confidence, g.p.Threshold)
	default:
		v.Show = true
		v.Alternatives = nil
	}
	if !v.Show {
		v.Confidence = math.Min(v.Confidence, g.p.Threshold)
	}
	return v
}

// Rule returns why a rule of Decide makes the sentence unsure whatever its confidence, or "".
func (g *Gate) Rule(in Input, s Signals) string {
	switch {
	case len(in.Hypotheses) == 0 || len(in.Hypotheses[0].Glosses) == 0:
		return "no signs recognised"
	case strings.TrimSpace(in.Translation) == "":
		return "no translation"
	case in.StoppedBy == "unsupported":
		return "the translator found no words the signs support"
	case in.StoppedBy == "max_tokens":
		return "the translation did not end"
	case s.MissingCritical > 0:
		return "a number, date, medicine, allergen, body part or name was not translated"
	case s.Supported == 0:
		return "no single hypothesis supports the translation"
	case g.p.OOD != nil && s.OOD > g.p.OOD.Threshold:
		return fmt.Sprintf("signing unlike the training data (distance %.1f > %.1f)", s.OOD, g.p.OOD.Threshold)
	}
	return ""
}

// Signals computes the signals of one sentence, the embedding's distance included.
func (g *Gate) Signals(in Input) Signals {
	s := Compute(in, g.lex)
	s.OOD = g.p.Distance(in.Embedding)
	return s
}

// Alternatives are the gloss sequences of up to n hypotheses, best first, without repeats:
// what the confirm step offers when nothing better (their translations) is at hand.
func Alternatives(hyps []slr.Hypothesis, n int) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range hyps {
		s := strings.Join(h.Glosses, " ")
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
		if len(out) == n {
			break
		}
	}
	return out
}

// PosteriorsOf turns a recogniser output's log-probabilities into per-step probabilities.
func PosteriorsOf(o *slr.Output) [][]float32 {
	if o == nil {
		return nil
	}
	out := make([][]float32, o.Steps)
	for t := range out {
		row := make([]float32, o.Vocab)
		for c := range row {
			row[c] = float32(math.Exp(float64(o.LogProbs[t*o.Vocab+c])))
		}
		out[t] = row
	}
	return out
}
