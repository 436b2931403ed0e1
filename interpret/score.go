// Package interpret scores end-to-end interpretation: what a kiosk showed against what the
// signer meant. It holds the definitions that `scope eval interpret` reports and that the
// confidence gate is calibrated against:
//
//   - correct: the shown sentence says what was meant. Checked strictly: both texts split
//     into clauses at sentence marks (. ? !), each clause lower-cased with its punctuation
//     dropped, and the two sets of clauses are equal (the order of clauses does not matter).
//   - hallucinated: the shown sentence has a content word (a word that is not one of the
//     lexicon's function words) that no gloss of any of the recogniser's hypotheses
//     supports through the gloss-to-word lexicon (models/lexicon). It needs a lexicon;
//     without one it is not measured.
//   - degenerate: the shown sentence is empty, loops (a word three times in a row, or a run
//     of two to four words repeated right after itself: "tend my tend my"), or has a broken
//     word (one that is neither a function word nor a word of any lexicon entry: "penic",
//     "twox"; or the piece of a contraction written alone, not after its apostrophe: "I
//     lost my re."; measured only with a lexicon).
package interpret

import (
	"sort"
	"strings"
	"unicode"

	"scope/models/lexicon"
)

// Clauses splits text at sentence marks and returns its clauses, each lower-cased with
// punctuation dropped and spaces collapsed, sorted; empty clauses are left out.
func Clauses(text string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if c := strings.Join(strings.Fields(cur.String()), " "); c != "" {
			out = append(out, c)
		}
		cur.Reset()
	}
	for _, r := range text {
		switch {
		case r == '.' || r == '?' || r == '!':
			flush()
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(unicode.ToLower(r))
		case unicode.IsSpace(r):
			cur.WriteRune(' ')
		case r == '\'' || r == '’':
			// "don't" stays one word
		default:
			cur.WriteRune(' ') // commas, dashes, hyphens
		}
	}
	flush()
	sort.Strings(out)
	return out
}

// Correct reports whether shown has the same set of clauses as meant.
func Correct(meant, shown string) bool {
	a, b := Clauses(meant), Clauses(shown)
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Hallucinated returns the content words of shown that no gloss of any hypothesis supports
// (nil with no lexicon).
func Hallucinated(lex *lexicon.Lexicon, shown string, hypotheses [][]string) []string {
	if lex == nil {
		return nil
	}
	var all []string
	for _, h := range hypotheses {
		all = append(all, h...)
	}
	return lex.Unsupported(shown, all)
}

// Degenerate returns why shown is degenerate ("empty", "loop: ...", "broken word: ..."),
// or "" when it is not. lex may be nil (broken words are then not checked).
func Degenerate(lex *lexicon.Lexicon, shown string) string {
	ws := lexicon.Words(shown)
	if len(ws) == 0 {
		return "empty"
	}
	for i := 2; i < len(ws); i++ {
		if ws[i] == ws[i-1] && ws[i] == ws[i-2] {
			return "loop: " + strings.Join(ws[i-2:i+1], " ")
		}
	}
	for n := 2; n <= 4; n++ {
		for i := 0; i+2*n <= len(ws); i++ {
			if strings.Join(ws[i:i+n], " ") == strings.Join(ws[i+n:i+2*n], " ") {
				return "loop: " + strings.Join(ws[i:i+2*n], " ")
			}
		}
	}
	if lex != nil {
		known := map[string]bool{}
		for _, w := range lex.FunctionWords {
			known[w] = true
		}
		for _, e := range lex.Glosses {
			for _, f := range e.Forms {
				for _, w := range f {
					known[w] = true
				}
			}
		}
		for _, w := range ws {
			if !known[w] {
				return "broken word: " + w
			}
		}
		if c := lex.StrayClitics(shown); len(c) > 0 {
			return "broken word: " + c[0] // the piece of a contraction, alone ("I lost my re.")
		}
	}
	return ""
}
