// Package lexicon is the gloss-to-word lexicon that keeps the translator faithful: for
// every gloss, the words of the spoken language it can stand for, which of them are
// safety-critical (numbers, dates, medicines, allergens, body parts, names, doses), and the
// function words any sentence may use. A bundle ships it as lexicon.json beside the
// translator; a bundle without one (a Phoenix model, a user's model) translates without
// these checks.
//
// Words are what Words returns: lower-cased runs of letters and digits, so "X-ray" is
// "x" "ray" and "don't" is "don" "t". A content word is a word that is not a function
// word. A sentence is supported by a gloss sequence when each of its content words is
// among the words of the sequence's glosses, at most as often as they give it.
package lexicon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
)

// Format is the schema of lexicon.json that this package reads and writes.
const Format = "scope-lexicon/1"

// FileName is the lexicon's file name inside a bundle folder.
const FileName = "lexicon.json"

// ErrInvalid is wrapped by every error about a malformed lexicon.
var ErrInvalid = errors.New("invalid lexicon")

// Lexicon maps glosses to words.
type Lexicon struct {
	Format   string `json:"format"`
	Language string `json:"language"` // BCP 47 tag of the words, e.g. "en"
	// FunctionWords may appear in any sentence (articles, auxiliaries, prepositions).
	FunctionWords []string `json:"function_words"`
	// Glosses holds every gloss the lexicon knows.
	Glosses map[string]Entry `json:"glosses"`

	function map[string]bool
}

// Entry is one gloss.
type Entry struct {
	// Forms are the ways the gloss can be said, each as its words ("hurts" or "hurt";
	// "three times a day"). One occurrence of the gloss supports the words of any one form;
	// function words among them are allowed anyway.
	Forms [][]string `json:"forms"`
	// Critical names the kind of safety-critical detail the gloss carries ("number",
	// "date", "medicine", "dose", "allergen", "body part", "name"); "" for none. A
	// translation must render a critical gloss of its hypothesis, or be marked unsure.
	Critical string `json:"critical,omitempty"`
}

// Load reads and checks a lexicon file.
func Load(path string) (*Lexicon, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the lexicon: %w", err)
	}
	l, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Parse decodes and checks a lexicon.
func Parse(b []byte) (*Lexicon, error) {
	var l Lexicon
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := l.Check(); err != nil {
		return nil, err
	}
	return &l, nil
}

// Check validates the lexicon and prepares its lookups. Parse and Load call it; call it
// after building a Lexicon by hand.
func (l *Lexicon) Check() error {
	if l.Format != Format {
		return fmt.Errorf("%w: format %q, want %q", ErrInvalid, l.Format, Format)
	}
	if len(l.Glosses) == 0 {
		return fmt.Errorf("%w: no glosses", ErrInvalid)
	}
	l.function = make(map[string]bool, len(l.FunctionWords))
	for _, w := range l.FunctionWords {
		if ws := Words(w); len(ws) != 1 || ws[0] != w {
			return fmt.Errorf("%w: function word %q is not one lower-case word", ErrInvalid, w)
		}
		l.function[w] = true
	}
	for g, e := range l.Glosses {
		if strings.TrimSpace(g) == "" || strings.ContainsAny(g, " \t\n") {
			return fmt.Errorf("%w: gloss %q must be one non-empty token", ErrInvalid, g)
		}
		for _, f := range e.Forms {
			for _, w := range f {
				if ws := Words(w); len(ws) != 1 || ws[0] != w {
					return fmt.Errorf("%w: gloss %s: word %q is not one lower-case word", ErrInvalid, g, w)
				}
			}
		}
	}
	return nil
}

// Write saves the lexicon as indented JSON with sorted keys.
func (l *Lexicon) Write(path string) error {
	b, err := json.MarshalIndent(l, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Words splits text into lower-cased runs of letters and digits.
func Words(text string) []string {
	var out []string
	var cur strings.Builder
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			cur.WriteRune(unicode.ToLower(r))
			continue
		}
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// clitics are, per language, the pieces a contraction leaves after its apostrophe
// ("I'm" gives "i" "m", "don't" gives "don" "t"): function words that are never a word of
// their own. Written alone ("I have had a s for three days") they are a broken word.
var clitics = map[string]map[string]bool{
	"en": {"s": true, "t": true, "ll": true, "ve": true, "re": true, "d": true, "m": true},
}

// IsClitic reports whether w (one lower-case word) is, in the lexicon's language, only ever
// the piece of a contraction after its apostrophe. A lexicon with no language has none.
func (l *Lexicon) IsClitic(w string) bool {
	lang, _, _ := strings.Cut(strings.ToLower(l.Language), "-")
	return clitics[lang][w]
}

// StrayClitics returns the words of text (as Words splits it) that are a clitic written on its
// own, not right after an apostrophe: "I lost my re." gives ["re"], "I'm here" none.
func (l *Lexicon) StrayClitics(text string) []string {
	var out []string
	var cur strings.Builder
	attached, prev := false, rune(0)
	flush := func() {
		if cur.Len() > 0 && !attached && l.IsClitic(cur.String()) {
			out = append(out, cur.String())
		}
		cur.Reset()
	}
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if cur.Len() == 0 {
				attached = prev == '\'' || prev == '’'
			}
			cur.WriteRune(unicode.ToLower(r))
		} else {
			flush()
		}
		prev = r
	}
	flush()
	return out
}

// IsFunction reports whether w (one lower-case word) is a function word.
func (l *Lexicon) IsFunction(w string) bool { return l.function[w] }

// Forms returns the ways one gloss can be said: its entry's, or for a gloss the lexicon
// does not know, the words of the gloss's own name without a fingerspelling prefix
// ("fs-ANNA" gives "anna"), so that an unknown name or number is copied, not invented.
func (l *Lexicon) Forms(gloss string) [][]string {
	if e, ok := l.Glosses[gloss]; ok {
		return e.Forms
	}
	return [][]string{Words(strings.TrimPrefix(gloss, "fs-"))}
}

// contentForms returns each form's content words as counts.
func (l *Lexicon) contentForms(gloss string) []map[string]int {
	var out []map[string]int
	for _, f := range l.Forms(gloss) {
		m := map[string]int{}
		for _, w := range f {
			if !l.function[w] {
				m[w]++
			}
		}
		out = append(out, m)
	}
	return out
}

// Critical returns the gloss's kind of safety-critical detail, or "".
func (l *Lexicon) Critical(gloss string) string {
	if e, ok := l.Glosses[gloss]; ok {
		return e.Critical
	}
	if strings.HasPrefix(gloss, "fs-") {
		return "name"
	}
	return ""
}

// Support returns the content words that the glosses support, with how often: a gloss
// gives each word as often as its form with the most of that word does.
func (l *Lexicon) Support(glosses []string) map[string]int {
	out := map[string]int{}
	for _, g := range glosses {
		most := map[string]int{}
		for _, f := range l.contentForms(g) {
			for w, n := range f {
				most[w] = max(most[w], n)
			}
		}
		for w, n := range most {
			out[w] += n
		}
	}
	return out
}

// ContentWords returns text's content words in order.
func (l *Lexicon) ContentWords(text string) []string {
	var out []string
	for _, w := range Words(text) {
		if !l.function[w] {
			out = append(out, w)
		}
	}
	return out
}

// Unsupported returns the content words of text that glosses do not support (a word
// used more often than the glosses give it counts once per extra use), in text order.
func (l *Lexicon) Unsupported(text string, glosses []string) []string {
	have := l.Support(glosses)
	var out []string
	for _, w := range l.ContentWords(text) {
		if have[w] > 0 {
			have[w]--
			continue
		}
		out = append(out, w)
	}
	return out
}

// Missing returns the glosses of the sequence that text does not render. A gloss is
// rendered when all content words of one of its forms occur in text, each word of text
// serving one gloss only; Missing finds the assignment of words to glosses that renders the
// most. A gloss with a form of function words only counts as rendered.
func (l *Lexicon) Missing(text string, glosses []string) []string {
	have := map[string]int{}
	for _, w := range l.ContentWords(text) {
		have[w]++
	}
	forms := make([][]map[string]int, len(glosses))
	for i, g := range glosses {
		forms[i] = minimalForms(l.contentForms(g))
	}
	// Glosses with fewer ways to be said choose first.
	order := make([]int, len(glosses))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(forms[order[a]]) < len(forms[order[b]]) })
	best := make([]bool, len(glosses))
	bestN := len(glosses) + 1
	cur := make([]bool, len(glosses))
	budget := 20000 // search nodes; the greedy first branch is complete on its own
	var walk func(k, n int)
	walk = func(k, n int) {
		if n >= bestN || budget <= 0 {
			return
		}
		budget--
		if k == len(order) {
			bestN = n
			copy(best, cur)
			return
		}
		i := order[k]
		for _, f := range forms[i] {
			if !fits(f, have) {
				continue
			}
			for w, c := range f {
				have[w] -= c
			}
			walk(k+1, n)
			for w, c := range f {
				have[w] += c
			}
			if bestN == 0 {
				return
			}
		}
		cur[i] = true
		walk(k+1, n+1)
		cur[i] = false
	}
	walk(0, 0)
	var out []string
	for i, g := range glosses {
		if best[i] {
			out = append(out, g)
		}
	}
	return out
}

func fits(f, have map[string]int) bool {
	for w, c := range f {
		if have[w] < c {
			return false
		}
	}
	return true
}

// minimalForms drops every form that holds another form of the same gloss: saying more
// than the smaller one never renders the gloss better.
func minimalForms(fs []map[string]int) []map[string]int {
	var out []map[string]int
	for i, f := range fs {
		redundant := false
		for j, g := range fs {
			if i != j && fits(g, f) && (len(g) < len(f) || (sameCounts(f, g) && j < i)) {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, f)
		}
	}
	return out
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for w, c := range a {
		if b[w] != c {
			return false
		}
	}
	return true
}

// MissingCritical returns the safety-critical glosses among Missing(text, glosses).
func (l *Lexicon) MissingCritical(text string, glosses []string) []string {
	var out []string
	for _, g := range l.Missing(text, glosses) {
		if l.Critical(g) != "" {
			out = append(out, g)
		}
	}
	return out
}

// Allowed returns every word a sentence for the glosses may use: the function words and
// the glosses' words, sorted.
func (l *Lexicon) Allowed(glosses []string) []string {
	set := map[string]bool{}
	for w := range l.function {
		set[w] = true
	}
	for _, g := range glosses {
		for _, f := range l.Forms(g) {
			for _, w := range f {
				set[w] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for w := range set {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}
