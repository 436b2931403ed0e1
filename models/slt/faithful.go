package slt

import (
	"bytes"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"scope/models/lexicon"
	"scope/models/slt/llamacpp"
)

// Faithful decoding: with a gloss-to-word lexicon (Config.Lexicon), the translator stays the
// language model, choosing every token greedily, but only among tokens that keep the
// sentence supported by the hypotheses:
//
//   - every content word must be a word of the glosses of one hypothesis, at most as often as
//     they give it, and all content words of the sentence must come from the same hypothesis
//     (no sentence that merges two hypotheses): a token is allowed while at least one
//     hypothesis supports the whole text so far;
//   - a word being written must be the beginning of such a word (no malformed words), and
//     the piece of a contraction ("s", "ll", "re") only follows an apostrophe;
//   - no function word twice in a row, no word three times, no run of two to four words
//     right after itself, no punctuation mark doubled, no
//     character outside letters, digits, spaces and sentence punctuation (no loops);
//   - the sentence may end only when some supporting hypothesis has all its glosses rendered
//     (not only the safety-critical ones: numbers, dates, medicines, allergens, body parts,
//     names, doses), so that no clause is silently left out ("Good morning." for GOOD
//     MORNING WAIT MOMENT); a model that cannot say them stops "unsupported" and is unsure.
//
// When none of the model's maxCandidates best tokens is allowed, the translation stops and
// Result.StoppedBy says "unsupported": the gate then marks it unsure. The chosen hypothesis
// is the supporting one that renders the most of its glosses (the better ranked on a tie).

// maxCandidates is how many of the most likely tokens are tried at each step.
var maxCandidates = 64

// faithful tracks one translation against the hypotheses' support.
type faithful struct {
	lex     *lexicon.Lexicon
	glosses [][]string
	support []map[string]int  // content words per hypothesis, with counts
	allowed []map[string]bool // every word per hypothesis (content and function words)
}

func newFaithful(lex *lexicon.Lexicon, hyps []Hypothesis) *faithful {
	f := &faithful{lex: lex}
	for _, h := range hyps[:min(len(hyps), MaxHypotheses)] {
		g := strings.Fields(h.Glosses)
		f.glosses = append(f.glosses, g)
		f.support = append(f.support, lex.Support(g))
		a := map[string]bool{}
		for _, w := range lex.Allowed(g) {
			a[w] = true
		}
		f.allowed = append(f.allowed, a)
	}
	return f
}

// sentencePunct are the characters besides letters, digits and spaces a sentence may hold.
const sentencePunct = ".,?!'’-—:;\""

// scan splits text into its words and reports whether the last one is still being
// written (text ends in a letter or digit); ok is false for characters a sentence never
// holds or doubled punctuation.
func scan(text string) (ws []string, open bool, ok bool) {
	var cur strings.Builder
	var lastPunct rune
	upper, lower, n := 0, 0, 0 // letters of the current word: a word is "word", "Word" or "WORD"
	var prev rune
	end := func() bool {
		if cur.Len() == 0 {
			return true
		}
		if lower > 0 && upper > 1 || (upper == 1 && lower > 0 && !firstUpper(cur.String())) {
			return false
		}
		ws = append(ws, strings.ToLower(cur.String()))
		cur.Reset()
		upper, lower, n = 0, 0, 0
		return true
	}
	for _, r := range text {
		if r == ' ' && prev == ' ' {
			return nil, false, false
		}
		prev = r
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if lastPunct == '.' || lastPunct == '?' || lastPunct == '!' || lastPunct == ',' {
				return nil, false, false // "die!Es": a sentence mark is followed by a space
			}
			if unicode.IsUpper(r) {
				upper++
			} else if unicode.IsLower(r) {
				lower++
			}
			n++
			cur.WriteRune(r)
			lastPunct = 0
			continue
		case r == ' ':
			lastPunct = 0
		case strings.ContainsRune(sentencePunct, r):
			if r == lastPunct || (lastPunct != 0 && cur.Len() == 0 && r != '"') {
				return nil, false, false // doubled or piled-up punctuation
			}
			lastPunct = r
		default:
			return nil, false, false
		}
		if !end() {
			return nil, false, false
		}
	}
	if cur.Len() > 0 {
		if lower > 0 && upper > 1 || (upper == 1 && lower > 0 && !firstUpper(cur.String())) {
			return nil, false, false
		}
		ws = append(ws, strings.ToLower(cur.String()))
		open = true
	}
	return ws, open, true
}

func firstUpper(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsUpper(r)
}

// alive returns which hypotheses support text; nil when the text is malformed or repeats
// itself.
func (f *faithful) alive(text string) []bool {
	ws, open, ok := scan(text)
	if !ok {
		return nil
	}
	done := ws
	if open {
		done = ws[:len(ws)-1]
	}
	// the piece of a contraction written as a word of its own ("I have had a s for"): the
	// lexicon lets "s" through as a function word for "it's", so check where it stands
	complete := text
	if open {
		complete = strings.TrimRightFunc(text, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
	}
	if len(f.lex.StrayClitics(complete)) > 0 {
		return nil
	}
	for i := 1; i < len(done); i++ {
		// a function word twice in a row, or any word three times; content words are
		// bounded by the glosses ("two two five" is a phone number)
		if done[i] == done[i-1] && (f.lex.IsFunction(done[i]) || (i > 1 && done[i] == done[i-2])) {
			return nil
		}
	}
	// no run of two to four words right after itself ("take a take a")
	for n := 2; n <= 4; n++ {
		for i := 0; i+2*n <= len(done); i++ {
			same := true
			for k := 0; k < n && same; k++ {
				same = done[i+k] == done[i+n+k]
			}
			if same {
				return nil
			}
		}
	}
	out := make([]bool, len(f.glosses))
	any := false
	for h := range f.glosses {
		used := map[string]int{}
		good := true
		for _, w := range done {
			if !f.allowed[h][w] {
				good = false
				break
			}
			if !f.lex.IsFunction(w) {
				used[w]++
				if used[w] > f.support[h][w] {
					good = false
					break
				}
			}
		}
		if good && open {
			p := ws[len(ws)-1]
			good = false
			for w := range f.allowed[h] {
				if strings.HasPrefix(w, p) && (f.lex.IsFunction(w) || used[w] < f.support[h][w]) {
					good = true
					break
				}
			}
		}
		out[h] = good
		any = any || good
	}
	if !any {
		return nil
	}
	return out
}

// canEnd reports whether the text may end here: some hypothesis supports it with its last
// word complete, the text says something, and that hypothesis's glosses are all rendered.
func (f *faithful) canEnd(text string) bool {
	if len(f.lex.ContentWords(text)) == 0 {
		return false
	}
	alive := f.alive(text + " ")
	if alive == nil {
		return false
	}
	for h, a := range alive {
		if a && len(f.lex.Missing(text, f.glosses[h])) == 0 {
			return true
		}
	}
	return false
}

// choose returns the supporting hypothesis that renders the most glosses (critical ones
// first), the better ranked on a tie, with its missing glosses; -1 when none supports text.
func (f *faithful) choose(text string) (int, []string, []string) {
	alive := f.alive(text + " ")
	best, bestCrit, bestAll := -1, 0, 0
	var miss, crit []string
	for h, a := range alive {
		if !a {
			continue
		}
		m := f.lex.Missing(text, f.glosses[h])
		c := f.lex.MissingCritical(text, f.glosses[h])
		if best < 0 || len(c) < bestCrit || (len(c) == bestCrit && len(m) < bestAll) {
			best, bestCrit, bestAll, miss, crit = h, len(c), len(m), m, c
		}
	}
	return best, miss, crit
}

// logSoftmax returns log p(tok) under logits.
func logSoftmaxAt(logits []float32, tok int) float32 {
	mx := float32(math.Inf(-1))
	for _, v := range logits {
		if v > mx {
			mx = v
		}
	}
	var z float64
	for _, v := range logits {
		z += math.Exp(float64(v - mx))
	}
	return float32(float64(logits[tok]-mx) - math.Log(z))
}

// topTokens returns the indices of the k largest logits, largest first.
func topTokens(logits []float32, k int) []int {
	idx := make([]int, 0, k+1)
	for i, v := range logits {
		if math.IsNaN(float64(v)) {
			continue
		}
		if len(idx) < k || v > logits[idx[len(idx)-1]] {
			pos := sort.Search(len(idx), func(j int) bool { return logits[idx[j]] < v })
			idx = append(idx, 0)
			copy(idx[pos+1:], idx[pos:])
			idx[pos] = i
			if len(idx) > k {
				idx = idx[:k]
			}
		}
	}
	return idx
}

// pieceText is the text a token adds when it is whole UTF-8 on its own, else "" and false.
func pieceText(p []byte) (string, bool) {
	if len(p) == 0 || !utf8.Valid(p) {
		return "", false
	}
	return string(p), true
}

// nextFaithful picks the most likely token that keeps answer (the text so far, leading
// space trimmed) supported: ok is false when none of the best maxCandidates is, first
// reports whether the model's own first choice was taken.
func (t *Translator) nextFaithful(fa *faithful, logits []float32, answer string) (tok llamacpp.Token, ok, first bool) {
	for i, c := range topTokens(logits, maxCandidates) {
		tok = llamacpp.Token(c)
		if t.model.IsEOG(tok) {
			if fa.canEnd(answer) {
				return tok, true, i == 0
			}
			continue
		}
		s, whole := pieceText(t.model.Piece(tok, false))
		if !whole {
			continue
		}
		if strings.ContainsAny(s, "\r\n") {
			continue // a translation is one line; it ends with the end-of-sentence token
		}
		next := answer + s
		if answer == "" {
			next = string(bytes.TrimLeft([]byte(s), " \t"))
			if next == "" {
				continue
			}
		}
		if fa.alive(next) != nil {
			return tok, true, i == 0
		}
	}
	return 0, false, false
}
