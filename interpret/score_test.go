package interpret

import (
	"reflect"
	"testing"

	"scope/models/lexicon"
)

func TestClausesAndCorrect(t *testing.T) {
	got := Clauses("I need a new passport. Where is the toilet?  Thank you!")
	want := []string{"i need a new passport", "thank you", "where is the toilet"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Clauses = %q", got)
	}
	for _, c := range []struct {
		meant, shown string
		ok           bool
	}{
		{"I have had a cough since yesterday. Goodbye.", "Goodbye. I have had a cough since yesterday.", true},
		{"Yes, I understand.", "yes i understand", true},
		{"I don't know.", "I don't know", true},
		{"When will my contract be ready?", "When will my certificate be ready?", false},
		{"I feel tired.", "I feel tired. I feel tired.", false},
		{"I need the nurse now.", "", false},
		{"My X-ray is today.", "My X ray is today.", true},
	} {
		if got := Correct(c.meant, c.shown); got != c.ok {
			t.Errorf("Correct(%q, %q) = %v", c.meant, c.shown, got)
		}
	}
}

func testLexicon(t *testing.T) *lexicon.Lexicon {
	l := &lexicon.Lexicon{Format: lexicon.Format, Language: "en", FunctionWords: []string{"a", "the", "to", "am", "is", "m", "s"},
		Glosses: map[string]lexicon.Entry{
			"IX-1": {Forms: [][]string{{"i"}, {"my"}}}, "BUY": {Forms: [][]string{{"buy"}}},
			"GOODBYE": {Forms: [][]string{{"goodbye"}}}, "ALLERGIC": {Forms: [][]string{{"allergic"}}},
			"PENICILLIN": {Forms: [][]string{{"penicillin"}}, Critical: "allergen"},
			"EXTEND":     {Forms: [][]string{{"extend"}}},
		}}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestHallucinatedAndDegenerate(t *testing.T) {
	l := testLexicon(t)
	hyps := [][]string{{"IX-1", "BUY", "GOODBYE"}, {"IX-1", "ALLERGIC"}}
	// ALLERGIC is in hypothesis 2: supported by the hypotheses (merging is the gate's and
	// the translator's business); "penic" and the second "goodbye" are not
	if h := Hallucinated(l, "Goodbye. I am allergic to penic. Goodbye.", hyps); !reflect.DeepEqual(h, []string{"penic", "goodbye"}) {
		t.Errorf("Hallucinated = %v", h)
	}
	if h := Hallucinated(nil, "anything", hyps); h != nil {
		t.Errorf("without a lexicon: %v", h)
	}
	for shown, want := range map[string]string{
		"":                                    "empty",
		" . ":                                 "empty",
		"I want to extend my tend my tend my": "loop: my tend my tend",
		"goodbye goodbye goodbye":             "loop: goodbye goodbye goodbye",
		"I buy penic":                         "broken word: penic",
		"I am allergic to penicillin.":        "",
		"I buy a s":                           "broken word: s",
		"I'm allergic to penicillin.":         "",
		"I’m allergic to penicillin.":         "",
	} {
		if got := Degenerate(l, shown); got != want {
			t.Errorf("Degenerate(%q) = %q, want %q", shown, got, want)
		}
	}
}
