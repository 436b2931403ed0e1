package synth

import (
	"testing"
)

// Every signer turn the generator writes is supported by its own glosses through the
// lexicon, renders each of them, and is not supported by a sequence missing a critical gloss.
func TestTranslationLexiconCoversTheCorpus(t *testing.T) {
	g, err := NewGenerator(Config{Dialogues: 400, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	lx := g.Lexicon().TranslationLexicon()
	for _, gl := range g.Lexicon().Glosses() {
		if _, ok := lx.Glosses[gl]; !ok {
			t.Errorf("gloss %s is not in the lexicon", gl)
		}
	}
	turns, critical := 0, 0
	for i := 0; i < 400; i++ {
		d := g.dialogue(g.rng(i), i)
		for _, tn := range d.Turns {
			if !tn.Signer {
				continue
			}
			turns++
			if u := lx.Unsupported(tn.Text, tn.Glosses); len(u) > 0 {
				t.Fatalf("%q for %v: unsupported words %v", tn.Text, tn.Glosses, u)
			}
			if m := lx.Missing(tn.Text, tn.Glosses); len(m) > 0 {
				t.Fatalf("%q for %v: glosses not rendered %v", tn.Text, tn.Glosses, m)
			}
			for k, gl := range tn.Glosses {
				if lx.Critical(gl) == "" {
					continue
				}
				critical++
				rest := append(append([]string(nil), tn.Glosses[:k]...), tn.Glosses[k+1:]...)
				if len(lx.Unsupported(tn.Text, rest)) == 0 {
					t.Fatalf("%q is still supported without its critical gloss %s", tn.Text, gl)
				}
			}
		}
	}
	if turns < 500 || critical < 200 {
		t.Fatalf("only %d turns with %d critical glosses checked", turns, critical)
	}
	for gl, want := range map[string]string{"PENICILLIN": "allergen", "TWELVE": "number", "fs-ANNA": "name",
		"KNEE": "body part", "TABLET": "medicine", "TWICE-DAY": "dose", "MONDAY": "date", "HELLO": ""} {
		if got := lx.Critical(gl); got != want {
			t.Errorf("Critical(%s) = %q, want %q", gl, got, want)
		}
	}
}
