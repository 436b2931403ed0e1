package interpret

import (
	"context"
	"errors"
	"strings"

	"scope/daemon/pipeline"
	"scope/gate"
	"scope/models/slr"
	"scope/models/slt"
)

// Decider is the confidence gate as the engine calls it.
type Decider interface {
	Decide(gate.Input) gate.Verdict
	Name() string
}

// ShowAll is the gate of a bundle without calibrated thresholds: it shows every sentence.
type ShowAll struct{}

// Decide shows the sentence.
func (ShowAll) Decide(in gate.Input) gate.Verdict {
	return gate.Verdict{Show: strings.TrimSpace(in.Translation) != "", Confidence: 1}
}

// Name says that nothing is gated.
func (ShowAll) Name() string {
	return "no gate: every sentence is shown (the bundle has no calibrated thresholds)"
}

// Chain interprets with a recogniser, a translator and a gate directly, as the engine's
// stages do one after the other.
type Chain struct {
	Recognizer *slr.Recognizer
	Translator *slt.Translator // nil: the best gloss sequence is the text
	Gate       Decider
	// ContextTurns and ContextTokens bound the dialogue given to both models (6, 256).
	ContextTurns, ContextTokens int
	LoRAScale                   float32 // adapter scale (1)
	// Unsure turns go into the context too when KeepUnsure is set; by default only shown
	// sentences and the hearing person's words do.
	KeepUnsure bool

	history []string
}

// Begin starts a dialogue.
func (c *Chain) Begin(ctx context.Context, domain string) error {
	c.history = c.history[:0]
	if c.Translator == nil {
		return nil
	}
	d := ""
	for _, x := range c.Translator.Domains() {
		if x == domain {
			d = x
		}
	}
	scale := c.LoRAScale
	if scale == 0 {
		scale = 1
	}
	return c.Translator.SetDomain(d, scale)
}

// Hearing adds the hearing person's words.
func (c *Chain) Hearing(ctx context.Context, text string) error {
	c.history = append(c.history, text)
	return nil
}

// Sign interprets one signed sentence.
func (c *Chain) Sign(ctx context.Context, frames []slr.Frame, fps float64, oracle []string) (Sentence, error) {
	turns, tokens := c.ContextTurns, c.ContextTokens
	if turns == 0 {
		turns = 6
	}
	if tokens == 0 {
		tokens = 256
	}
	window := contextWindow(c.history, turns, tokens)
	var s Sentence
	var out *slr.Output
	if oracle != nil {
		s.Hypotheses = []slr.Hypothesis{{Glosses: oracle, Score: 0}}
	} else {
		var err error
		if out, err = c.Recognizer.Run(ctx, frames, fps, window); err != nil {
			return s, err
		}
		s.Hypotheses = c.Recognizer.Decode(out)
	}
	in := gate.Input{Hypotheses: s.Hypotheses, Posteriors: gate.PosteriorsOf(out), StoppedBy: "eos"}
	if out != nil {
		in.Embedding = out.Embedding
	}
	if len(s.Hypotheses) > 0 {
		s.Translation = strings.Join(s.Hypotheses[0].Glosses, " ")
	}
	if c.Translator != nil && len(s.Hypotheses) > 0 && len(s.Hypotheses[0].Glosses) > 0 {
		res, err := c.Translator.Translate(ctx, window, pipeline.TranslatorHypotheses(s.Hypotheses), nil)
		if err != nil && !errors.Is(err, slt.ErrEmpty) { // a blank sentence is the gate's to judge here
			return s, err
		}
		s.Translation = res.Text
		in.TokenLogProbs, in.StoppedBy, in.Rejected = res.TokenLogProbs, res.StoppedBy, res.Rejected
		s.Extra = map[string]any{"stopped_by": res.StoppedBy, "rejected": res.Rejected, "chosen": res.Hypothesis}
	}
	in.Translation = s.Translation
	g := c.Gate
	if g == nil {
		g = ShowAll{}
	}
	s.Verdict = g.Decide(in)
	s.Input = &in
	if cg, ok := g.(*gate.Gate); ok {
		sig := cg.Signals(in)
		s.Signals = &sig
		s.Forced = cg.Rule(in, sig) != ""
	}
	if s.Verdict.Show || c.KeepUnsure {
		c.history = append(c.history, s.Translation)
	}
	return s, nil
}
