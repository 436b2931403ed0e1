package slt

import (
	"context"
	"strings"
	"testing"

	"scope/models/lexicon"
)

func weatherLexicon(t *testing.T) *lexicon.Lexicon {
	t.Helper()
	l := &lexicon.Lexicon{Format: lexicon.Format, Language: "de",
		FunctionWords: []string{"der", "die", "das", "und", "im", "am", "es"},
		Glosses: map[string]lexicon.Entry{
			"MORGEN": {Forms: [][]string{{"morgen"}}, Critical: "date"},
			"REGEN":  {Forms: [][]string{{"regen"}}},
			"SONNE":  {Forms: [][]string{{"sonne"}}},
			"NORD":   {Forms: [][]string{{"im", "norden"}}},
		}}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	return l
}

// A random model writes nonsense; with a lexicon every word it may write is one the chosen
// hypothesis supports, it never mixes two hypotheses, and it does not loop.
func TestFaithfulTranslation(t *testing.T) {
	lex := weatherLexicon(t)
	defer func(n int) { maxCandidates = n }(maxCandidates)
	maxCandidates = 1 << 20 // a random model rarely ranks an allowed token among its best 64
	tr, err := Open(Config{Model: tiny(t).plain, MaxTokens: 24, Context: 256, Lexicon: lex})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, hs := range [][]Hypothesis{
		hyps,
		{{"SONNE", 0.5}, {"REGEN", 0.5}},
		{{"MORGEN SONNE", 0.9}},
		{{"UNBEKANNT", 1}},
	} {
		var streamed strings.Builder
		res, err := tr.Translate(context.Background(), []string{"guten tag"}, hs, func(s string) error {
			streamed.WriteString(s)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v -> %q (stopped by %s, hypothesis %d, rejected %d, missing %v)", hs, res.Text, res.StoppedBy, res.Hypothesis, res.Rejected, res.Missing)
		if streamed.String() != res.Text {
			t.Errorf("streamed %q, result %q", streamed.String(), res.Text)
		}
		if len(res.TokenLogProbs) == 0 || len(res.TokenLogProbs) < res.Tokens {
			t.Errorf("%d log-probabilities for %d tokens", len(res.TokenLogProbs), res.Tokens)
		}
		for _, lp := range res.TokenLogProbs {
			if !(lp <= 0) {
				t.Errorf("log-probability %g", lp)
			}
		}
		if res.StoppedBy != "eos" {
			continue // "unsupported" or "max_tokens": the gate shows it as unsure
		}
		supported := 0
		for _, h := range hs {
			if len(lex.Unsupported(res.Text, strings.Fields(h.Glosses))) == 0 {
				supported++
			}
		}
		if supported == 0 {
			t.Errorf("%q is supported by no single hypothesis of %v", res.Text, hs)
		}
		if res.StoppedBy == "eos" {
			if res.Hypothesis < 0 || len(lex.Unsupported(res.Text, strings.Fields(hs[res.Hypothesis].Glosses))) > 0 {
				t.Errorf("chosen hypothesis %d does not support %q", res.Hypothesis, res.Text)
			}
			if len(res.MissingCritical) > 0 || len(res.Missing) > 0 {
				t.Errorf("%q ended with glosses missing: %v (critical %v)", res.Text, res.Missing, res.MissingCritical)
			}
		}
		ws := lexicon.Words(res.Text)
		for i := 1; i < len(ws); i++ {
			if ws[i] == ws[i-1] && lex.IsFunction(ws[i]) {
				t.Errorf("%q repeats %q", res.Text, ws[i])
			}
		}
	}
}

func TestFaithfulScan(t *testing.T) {
	f := newFaithful(weatherLexicon(t), []Hypothesis{{"MORGEN REGEN NORD", 0.6}, {"SONNE", 0.4}})
	for text, want := range map[string]string{
		"Morgen":                  "10", // both: "morgen" only in the first, but the second has... nothing starting "morgen"
		"Son":                     "01",
		"Morgen Regen im nor":     "10",
		"Morgen Regen im Norden.": "10",
		"Morgen Sonne":            "",
		"Regen Regen":             "",
		"Morgen, Regen,, im":      "",
		"Morgen <b>":              "",
		"Regen und regen":         "",
		"Morgen Regen. Morgen ":   "",
		"das das ":                "",
		"Regen im Regen im ":      "",
		"Morgen die!Es":           "",
		"morGEN":                  "",
		"Morgen  Regen":           "",
		"MORGEN Regen":            "10",
	} {
		got := ""
		if a := f.alive(text); a != nil {
			for _, x := range a {
				if x {
					got += "1"
				} else {
					got += "0"
				}
			}
		}
		if got != want {
			t.Errorf("alive(%q) = %q, want %q", text, got, want)
		}
	}
	enLex := &lexicon.Lexicon{Format: lexicon.Format, Language: "en", FunctionWords: []string{"a", "s", "it"},
		Glosses: map[string]lexicon.Entry{"RAIN": {Forms: [][]string{{"rain"}}}, "COLD": {Forms: [][]string{{"cold"}}}}}
	if err := enLex.Check(); err != nil {
		t.Fatal(err)
	}
	en := newFaithful(enLex, []Hypothesis{{"RAIN COLD", 0}})
	if en.alive("It's a") == nil || en.alive("It's a s") == nil {
		t.Error("a clitic after its apostrophe, or a word still being written, is refused")
	}
	if en.alive("It's a s ") != nil || en.alive("It's a s cold") != nil || en.canEnd("Rain s") {
		t.Error("the piece of a contraction written alone is allowed")
	}
	if f.canEnd("Regen im Norden") {
		t.Error("may end without the critical MORGEN")
	}
	if f.canEnd("Morgen Regen") {
		t.Error("may end without NORD: a clause left out")
	}
	if !f.canEnd("Morgen Regen im Norden") || !f.canEnd("Sonne.") {
		t.Error("cannot end a supported sentence")
	}
	if h, miss, _ := f.choose("Morgen Regen"); h != 0 || len(miss) != 1 || miss[0] != "NORD" {
		t.Errorf("choose = %d %v", h, miss)
	}
}
