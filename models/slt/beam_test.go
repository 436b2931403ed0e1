package slt

import (
	"context"
	"math"
	"strings"
	"testing"

	"scope/models/slt/llamacpp"
)

// teacherForced returns the sum of log-probabilities the model gives gen after prompt, by
// decoding prompt+gen in one batch of sequence 0 (no beam machinery involved).
func teacherForced(t *testing.T, tr *Translator, prompt, gen []llamacpp.Token) float64 {
	t.Helper()
	tr.ctx.ClearMemory()
	all := append(append([]llamacpp.Token(nil), prompt...), gen...)
	if err := tr.ctx.Decode(context.Background(), all, 0, true); err != nil {
		t.Fatal(err)
	}
	var sum float64
	for i, tok := range gen {
		lp, err := logSoftmax(tr.ctx.Logits(len(prompt) - 1 + i))
		if err != nil {
			t.Fatal(err)
		}
		sum += lp[tok]
	}
	tr.ctx.ClearMemory()
	return sum
}

func TestBeamSearch(t *testing.T) {
	f := tiny(t)
	greedy, err := Open(Config{Model: f.plain, MaxTokens: 12, Context: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer greedy.Close()
	beam, err := Open(Config{Model: f.plain, MaxTokens: 12, Context: 1024, Beam: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer beam.Close()
	ctx := context.Background()
	for _, context := range [][]string{nil, {"guten tag"}, {"guten tag", "morgen regen"}} {
		want, err := greedy.Translate(ctx, context, hyps, nil)
		if err != nil {
			t.Fatal(err)
		}
		prompt, _, err := beam.Prompt(context, hyps)
		if err != nil {
			t.Fatal(err)
		}

		// A beam of one is greedy decoding through the multi-sequence cache: the same text.
		beam.ctx.ClearMemory()
		one, _, err := beam.beamSearch(ctx, prompt, 1)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := appendValid(nil, one.raw)
		if got := strings.TrimSpace(string(text)); got != want.Text {
			t.Errorf("context %q: beam of one gave %q, greedy %q", context, got, want.Text)
		}

		// A beam of four: its score is the model's own probability of the sentence it chose
		// (each beam's cache, shared with its parent by CopySeq, gives the logits a plain
		// decode of the same tokens gives).
		beam.ctx.ClearMemory()
		best, _, err := beam.beamSearch(ctx, prompt, 4)
		if err != nil {
			t.Fatal(err)
		}
		if best == nil || len(best.toks) == 0 {
			t.Fatalf("context %q: beam search found nothing", context)
		}
		forced := teacherForced(t, beam, prompt, best.toks)
		if math.Abs(forced-best.logp) > 0.01*math.Max(1, math.Abs(forced)) {
			t.Errorf("context %q: beam score %.4f, the model gives the chosen tokens %.4f", context, best.logp, forced)
		}
		res, err := beam.Translate(ctx, context, hyps, nil)
		if err != nil {
			t.Fatal(err)
		}
		text, _ = appendValid(nil, best.raw)
		if res.Text != strings.TrimSpace(string(text)) || res.Tokens > 12 {
			t.Errorf("context %q: Translate gave %q (%d tokens), beamSearch %q", context, res.Text, res.Tokens, text)
		}
		t.Logf("context %q: greedy %q, beam 4 %q (stopped by %s, log p %.2f over %d tokens)",
			context, want.Text, res.Text, res.StoppedBy, best.logp, len(best.toks))
	}
	if _, err := Open(Config{Model: f.plain, Beam: MaxBeam + 1}); err == nil {
		t.Errorf("a beam of %d was accepted", MaxBeam+1)
	}
}
