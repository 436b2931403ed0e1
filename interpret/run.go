package interpret

import (
	"context"
	"fmt"

	"scope/dataset"
	"scope/dialogue"
	"scope/eval"
	"scope/gate"
	"scope/models/lexicon"
	"scope/models/slr"
)

// Sentence is what an interpreter made of one signer turn.
type Sentence struct {
	Hypotheses  []slr.Hypothesis
	Translation string         // what the translator wrote, shown or not
	Verdict     gate.Verdict   // the gate's decision
	Signals     *gate.Signals  // the gate's signals, when the interpreter knows them
	Input       *gate.Input    // what the gate was given, when the interpreter has it
	Forced      bool           // a rule of the gate made it unsure whatever its confidence
	Extra       map[string]any // anything else worth keeping per turn (timings, stop reason)
}

// Interpreter turns one signed sentence into a Sentence, the way the engine does: recognise
// with the dialogue so far, translate with it, ask the gate.
type Interpreter interface {
	// Begin starts a dialogue in a domain (the translator's adapter).
	Begin(ctx context.Context, domain string) error
	// Hearing adds what the hearing person said to the dialogue.
	Hearing(ctx context.Context, text string) error
	// Sign interprets a signer turn's keypoints (oracle: the reference glosses instead of
	// the recogniser's hypotheses, nil otherwise).
	Sign(ctx context.Context, frames []slr.Frame, fps float64, oracle []string) (Sentence, error)
}

// Result is one signer turn's line of `scope eval interpret --out`.
type Result struct {
	ID           string         `json:"id"`
	Meant        string         `json:"meant"`
	Glosses      []string       `json:"glosses"`
	Hypotheses   []HypothesisJ  `json:"hypotheses"`
	Shown        *string        `json:"shown"`
	Alternatives []string       `json:"alternatives"`
	Translation  string         `json:"translation"`
	Confidence   float64        `json:"confidence"`
	Reason       string         `json:"reason,omitempty"`
	Correct      bool           `json:"correct"` // the translation (shown or not) says what was meant
	Hallucinated []string       `json:"hallucinated,omitempty"`
	Degenerate   string         `json:"degenerate,omitempty"`
	Signals      string         `json:"signals,omitempty"`
	Extra        map[string]any `json:"extra,omitempty"`
	forced       bool
}

// HypothesisJ is a hypothesis as written to JSON.
type HypothesisJ struct {
	Glosses []string `json:"glosses"`
	Score   float64  `json:"score"`
}

// Options choose what Run scores.
type Options struct {
	Splits   map[string]bool // signer turns of these splits (all when empty)
	Limit    int             // first N signer turns (0: all)
	Oracle   bool            // reference glosses as the only hypothesis
	Lexicon  *lexicon.Lexicon
	Progress func(done, total int)
	// Each is called with every result as it is made.
	Each func(Result) error
	// Sentences, when set, is called with each signer turn and what the interpreter made of it.
	Sentences func(e *dataset.Entry, s Sentence)
}

// Report is Run's outcome.
type Report struct {
	Synthetic bool
	Results   []Result
	WER       eval.Counts
}

// Run interprets every signer turn of the selected splits, dialogue by dialogue in turn
// order; hearing turns go into the dialogue as context. No signer turn is skipped: one
// the interpreter fails on is an error.
func Run(ctx context.Context, ds *dataset.Dataset, ip Interpreter, o Options) (*Report, error) {
	rep := &Report{Synthetic: ds.Info != nil && ds.Info.Synthetic}
	total := 0
	for _, e := range ds.Entries {
		if e.IsSigner() && (len(o.Splits) == 0 || o.Splits[e.Split]) {
			total++
		}
	}
	if o.Limit > 0 && total > o.Limit {
		total = o.Limit
	}
	if total == 0 {
		return nil, fmt.Errorf("no signer turns in the chosen split")
	}
	done := 0
	for _, d := range dataset.Dialogues(ds.Entries) {
		if done >= total {
			break
		}
		use := false
		for _, e := range d {
			if e.IsSigner() && (len(o.Splits) == 0 || o.Splits[e.Split]) {
				use = true
			}
		}
		if !use {
			continue
		}
		if err := ip.Begin(ctx, d[0].Domain); err != nil {
			return nil, err
		}
		for i := range d {
			e := &d[i]
			if done >= total {
				break
			}
			if !e.IsSigner() {
				if err := ip.Hearing(ctx, e.Text); err != nil {
					return nil, fmt.Errorf("turn %s: %w", e.ID, err)
				}
				continue
			}
			frames, fps, err := slr.ReadPose(ds.PosePath(e), e.Start, e.End)
			if err != nil {
				return nil, fmt.Errorf("turn %s: %w", e.ID, err)
			}
			var oracle []string
			if o.Oracle {
				oracle = e.Glosses
			}
			s, err := ip.Sign(ctx, frames, fps, oracle)
			if err != nil {
				return nil, fmt.Errorf("turn %s: %w", e.ID, err)
			}
			if o.Sentences != nil {
				o.Sentences(e, s)
			}
			r := score(e, s, o.Lexicon)
			var top []string
			if len(s.Hypotheses) > 0 {
				top = s.Hypotheses[0].Glosses
			}
			rep.WER.Add(eval.Align(e.Glosses, top), nil)
			rep.Results = append(rep.Results, r)
			if o.Each != nil {
				if err := o.Each(r); err != nil {
					return nil, err
				}
			}
			done++
			if o.Progress != nil {
				o.Progress(done, total)
			}
		}
	}
	return rep, nil
}

func score(e *dataset.Entry, s Sentence, lex *lexicon.Lexicon) Result {
	r := Result{ID: e.ID, Meant: e.Text, Glosses: e.Glosses, Translation: s.Translation, Confidence: s.Verdict.Confidence,
		Reason: s.Verdict.Reason, Alternatives: s.Verdict.Alternatives, Correct: Correct(e.Text, s.Translation),
		Extra: s.Extra, forced: s.Forced}
	if r.Alternatives == nil {
		r.Alternatives = []string{}
	}
	var hyps [][]string
	for _, h := range s.Hypotheses {
		r.Hypotheses = append(r.Hypotheses, HypothesisJ{Glosses: h.Glosses, Score: h.Score})
		hyps = append(hyps, h.Glosses)
	}
	if s.Verdict.Show {
		t := s.Translation
		r.Shown = &t
		r.Hallucinated = Hallucinated(lex, t, hyps)
		r.Degenerate = Degenerate(lex, t)
	}
	if s.Signals != nil {
		r.Signals = s.Signals.Describe()
	}
	return r
}

// Summary holds the headline numbers.
type Summary struct {
	N, Shown, Correct, Hallucinated, Degenerate int
	CorrectAll                                  int // correct translations whether shown or not
}

// Summarise counts the results.
func (r *Report) Summarise() Summary {
	var s Summary
	s.N = len(r.Results)
	for _, x := range r.Results {
		if x.Correct {
			s.CorrectAll++
		}
		if x.Shown == nil {
			continue
		}
		s.Shown++
		if x.Correct {
			s.Correct++
		}
		if len(x.Hallucinated) > 0 {
			s.Hallucinated++
		}
		if x.Degenerate != "" {
			s.Degenerate++
		}
	}
	return s
}

// Line is the summary line of `scope eval interpret`.
func (r *Report) Line() string {
	s := r.Summarise()
	label := ""
	if r.Synthetic {
		label = " (synthetic)"
	}
	return fmt.Sprintf("interpret%s: %d sentences, shown %d (coverage %.1f%%), correct among shown %.1f%%, hallucinated %.1f%%, degenerate %d",
		label, s.N, s.Shown, pct(s.Shown, s.N), pct(s.Correct, s.Shown), pct(s.Hallucinated, s.Shown), s.Degenerate)
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// Curve is the risk-coverage table: the results ordered by the gate's confidence (those a
// rule made unsure last, never shown), the share correct among the most confident.
func (r *Report) Curve() []gate.RiskCoverage {
	conf := make([]float64, len(r.Results))
	ok := make([]bool, len(r.Results))
	for i, x := range r.Results {
		conf[i] = x.Confidence
		if x.forced {
			conf[i] = -1
		}
		ok[i] = x.Correct
	}
	return gate.Curve(conf, ok)
}

// contextWindow returns the texts of the last turns that fit turns and tokens, oldest
// first, as the pipeline chooses them.
func contextWindow(all []string, turns, tokens int) []string {
	var out []string
	n := 0
	for i := len(all) - 1; i >= 0 && len(out) < turns; i-- {
		n += dialogue.ApproxTokens(all[i])
		if n > tokens {
			break
		}
		out = append(out, all[i])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
