package lexicon

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

func testLexicon(t *testing.T) *Lexicon {
	t.Helper()
	l := &Lexicon{Format: Format, Language: "en", FunctionWords: []string{"a", "the", "to", "am", "is"},
		Glosses: map[string]Entry{
			"IX-1":       {Forms: [][]string{{"i"}, {"my"}, {"me"}}},
			"ALLERGIC":   {Forms: [][]string{{"allergic"}}},
			"PENICILLIN": {Forms: [][]string{{"penicillin"}}, Critical: "allergen"},
			"TWO":        {Forms: [][]string{{"two"}}, Critical: "number"},
			"ID-CARD":    {Forms: [][]string{{"my", "id", "card"}}},
			"HAVE":       {Forms: [][]string{{}}},
			"NOT":        {Forms: [][]string{{"not"}}},
		}}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestWords(t *testing.T) {
	got := Words("Don't  take X-ray, Ünïcode 42!")
	want := []string{"don", "t", "take", "x", "ray", "ünïcode", "42"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Words = %q, want %q", got, want)
	}
}

func TestSupportAndMissing(t *testing.T) {
	l := testLexicon(t)
	hyp := []string{"IX-1", "ALLERGIC", "PENICILLIN"}
	if u := l.Unsupported("I am allergic to penicillin.", hyp); len(u) != 0 {
		t.Errorf("supported sentence has unsupported words %v", u)
	}
	if u := l.Unsupported("I am allergic to penicillin. I am deaf.", hyp); !reflect.DeepEqual(u, []string{"i", "deaf"}) {
		t.Errorf("second I and deaf should be unsupported, got %v", u)
	}
	if m := l.Missing("I am allergic.", hyp); !reflect.DeepEqual(m, []string{"PENICILLIN"}) {
		t.Errorf("Missing = %v", m)
	}
	if m := l.MissingCritical("I am allergic.", hyp); !reflect.DeepEqual(m, []string{"PENICILLIN"}) {
		t.Errorf("MissingCritical = %v", m)
	}
	// "my" serves ID-CARD, "I" serves IX-1: the assignment that renders both is found
	idh := []string{"IX-1", "ID-CARD", "HAVE", "NOT"}
	if m := l.Missing("I do not have my ID card.", idh); len(m) != 0 {
		t.Errorf("all glosses are rendered, Missing says %v", m)
	}
	if m := l.Missing("I do not have ID card.", idh); !reflect.DeepEqual(m, []string{"ID-CARD"}) {
		t.Errorf("Missing = %v, want ID-CARD", m)
	}
	// counts: TWO TWO supports "two" twice, not three times
	if u := l.Unsupported("two two two", []string{"TWO", "TWO"}); !reflect.DeepEqual(u, []string{"two"}) {
		t.Errorf("Unsupported = %v", u)
	}
	// an unknown gloss supports its own name; a fingerspelled one is a name
	if u := l.Unsupported("Anna", []string{"fs-ANNA"}); len(u) != 0 || l.Critical("fs-ANNA") != "name" {
		t.Errorf("fingerspelled name: unsupported %v, critical %q", u, l.Critical("fs-ANNA"))
	}
}

func TestLoadErrors(t *testing.T) {
	l := testLexicon(t)
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := l.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil || !reflect.DeepEqual(back.Glosses, l.Glosses) {
		t.Fatalf("round trip: %v", err)
	}
	for name, b := range map[string]string{
		"not json":      `{`,
		"wrong format":  `{"format":"x","glosses":{"A":{"forms":[["a"]]}}}`,
		"no glosses":    `{"format":"scope-lexicon/1","glosses":{}}`,
		"two words":     `{"format":"scope-lexicon/1","glosses":{"A":{"forms":[["a b"]]}}}`,
		"upper case fn": `{"format":"scope-lexicon/1","function_words":["The"],"glosses":{"A":{"forms":[["a"]]}}}`,
	} {
		if _, err := Parse([]byte(b)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestStrayClitics(t *testing.T) {
	en := &Lexicon{Language: "en-GB"}
	for text, want := range map[string][]string{
		"I'm here, it’s fine and I'll go.": nil,
		"I lost my re.":                    {"re"},
		"I have had a s for three days":    {"s"},
		"Don't. T":                         {"t"},
	} {
		if got := en.StrayClitics(text); !reflect.DeepEqual(got, want) {
			t.Errorf("StrayClitics(%q) = %q, want %q", text, got, want)
		}
	}
	if got := (&Lexicon{Language: "de"}).StrayClitics("s t m"); got != nil {
		t.Errorf("a language without a clitic list: %q", got)
	}
}
