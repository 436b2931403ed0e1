package pipeline

import (
	"math"

	"scope/models/slr"
)

// GateInput is what a confidence gate sees of one sentence.
type GateInput struct {
	// Hypotheses are the recogniser's top-k gloss sequences, best first.
	Hypotheses []slr.Hypothesis
	// Posteriors are the recogniser's per-step probabilities over its vocabulary
	// ([step][gloss], each row summing to 1), as the CTC head gave them.
	Posteriors [][]float32
	// Translation is the translator's sentence ("" when there is no translator).
	Translation string
	// TokenLogProbs are the log-probabilities of the translation's tokens, when the
	// translator reports them (nil otherwise).
	TokenLogProbs []float32
	// Embedding is the recogniser's embedding of the segment, when it reports one.
	Embedding []float32
	// StoppedBy is how the translation ended ("eos", "newline", "max_tokens",
	// "unsupported"; "" without a translator) and Rejected how often a faithful
	// translator's lexicon refused the model's first choice.
	StoppedBy string
	Rejected  int
}

// Verdict is a gate's decision on one sentence.
type Verdict struct {
	// Show: the sentence may be shown as it is. Otherwise it goes to the signer's
	// confirm step with Alternatives, and the hearing side sees it only as unsure.
	Show bool
	// Confidence in [0, 1].
	Confidence float64
	// Reason says why, in words a technician can read ("top-2 margin 0.1 < 0.4").
	Reason string
	// Alternatives offered in the confirm step: at most three.
	Alternatives []string
}

// Gate decides whether a sentence is shown or asked about. Decide is called from one
// goroutine at a time.
type Gate interface {
	Decide(GateInput) Verdict
	Name() string
}

// ShowAll is the gate used when no calibrated gate is configured: it shows every
// sentence, and its Name says so, so that a turn records that nothing was checked. Its
// confidence is the best hypothesis' share of the top-k probability mass, for display.
type ShowAll struct{}

// Name says that nothing is checked.
func (ShowAll) Name() string { return "show-all (no confidence gate: every sentence is shown)" }

// Decide shows the sentence.
func (ShowAll) Decide(in GateInput) Verdict {
	v := Verdict{Show: true, Reason: "no confidence gate configured"}
	if len(in.Hypotheses) > 0 {
		best := in.Hypotheses[0].Score
		var z float64
		for _, h := range in.Hypotheses {
			z += math.Exp(h.Score - best)
		}
		v.Confidence = 1 / z
	}
	return v
}
