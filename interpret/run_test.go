package interpret

import (
	"context"
	"strings"
	"testing"

	"scope/dataset"
	"scope/gate"
	"scope/models/slr"
	"scope/synth"
)

// scripted answers each signer turn from a script, in the order Run meets them: it checks
// that Run keeps the dialogue (hearing turns, domains) and scores what an interpreter says.
type scripted struct {
	meant   []string // the signer turns' texts, in dialogue order
	n       int
	hearing int
}

func (s *scripted) Begin(context.Context, string) error { return nil }
func (s *scripted) Hearing(_ context.Context, text string) error {
	s.hearing++
	return nil
}

func (s *scripted) Sign(_ context.Context, frames []slr.Frame, _ float64, oracle []string) (Sentence, error) {
	i := s.n
	s.n++
	if len(frames) == 0 {
		panic("no keypoints")
	}
	hyp := []slr.Hypothesis{{Glosses: oracle, Score: -1}}
	switch i % 4 {
	case 0: // right, shown
		return Sentence{Hypotheses: hyp, Translation: s.meant[i], Verdict: gate.Verdict{Show: true, Confidence: 0.9}}, nil
	case 1: // right, but unsure
		return Sentence{Hypotheses: hyp, Translation: s.meant[i], Verdict: gate.Verdict{Confidence: 0.2, Alternatives: []string{"A", "B"}}}, nil
	case 2: // a loop, shown
		return Sentence{Hypotheses: hyp, Translation: "the the the", Verdict: gate.Verdict{Show: true, Confidence: 0.8}}, nil
	default: // forced unsure by a rule
		return Sentence{Translation: "", Verdict: gate.Verdict{Reason: "no signs recognised"}, Forced: true}, nil
	}
}

func TestRunCountsEveryTurn(t *testing.T) {
	dir := t.TempDir()
	g, err := synth.NewGenerator(synth.Config{Dialogues: 6, Seed: 5, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Write(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ip := &scripted{}
	// every hearing turn up to the last signer turn goes into the dialogue (after it there
	// is nothing left to score)
	hearing, pending := 0, 0
	for _, d := range dataset.Dialogues(ds.Entries) {
		for _, e := range d {
			if e.IsSigner() {
				ip.meant = append(ip.meant, e.Text)
				hearing += pending
				pending = 0
			} else {
				pending++
			}
		}
	}
	rep, err := Run(context.Background(), ds, ip, Options{Oracle: true})
	if err != nil {
		t.Fatal(err)
	}
	n := len(ip.meant)
	if n < 8 || len(rep.Results) != n || ip.hearing != hearing {
		t.Fatalf("%d results, %d hearing turns given, for %d signer and %d hearing turns", len(rep.Results), ip.hearing, n, hearing)
	}
	var want Summary
	want.N = n
	for i := 0; i < n; i++ {
		switch i % 4 {
		case 0:
			want.Shown++
			want.Correct++
			want.CorrectAll++
		case 1:
			want.CorrectAll++
		case 2:
			want.Shown++
			want.Degenerate++
		}
	}
	if got := rep.Summarise(); got != want {
		t.Errorf("Summarise = %+v, want %+v", got, want)
	}
	line := rep.Line()
	if !strings.HasPrefix(line, "interpret (synthetic): ") || !strings.Contains(line, "hallucinated 0.0%, degenerate ") {
		t.Errorf("Line = %q", line)
	}
	for i, r := range rep.Results {
		if (r.Shown == nil) != (i%4 == 1 || i%4 == 3) || r.Alternatives == nil || r.ID == "" || len(r.Glosses) == 0 {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if rep.WER.RefLen == 0 {
		t.Error("no reference glosses counted for the WER")
	}
	// the most confident first; a sentence a rule made unsure is never shown
	curve := rep.Curve()
	if len(curve) == 0 || curve[0].Precision != 1 {
		t.Errorf("curve %+v", curve)
	}
	forced := n / 4 // turns 3, 7, 11, ...
	for _, c := range curve {
		if c.Shown > n-forced {
			t.Errorf("the curve shows %d sentences, more than the %d no rule made unsure", c.Shown, n-forced)
		}
	}
	if rep2, err := Run(context.Background(), ds, &scripted{meant: ip.meant}, Options{Oracle: true, Limit: 3}); err != nil || len(rep2.Results) != 3 {
		t.Errorf("--limit 3: %v", err)
	}
}
