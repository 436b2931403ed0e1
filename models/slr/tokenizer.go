package slr

import (
	"fmt"
	"strings"
	"unicode"

	"scope/models/bundle"
)

// Token ids every context tokenizer reserves (train/slr/tokenizer.py).
const (
	tokPad = iota
	tokUnknown
	tokBegin
	tokEndOfTurn
)

// Tokenizer turns the dialogue's previous turns into the recogniser's context ids. It is
// the bundle's own word tokenizer, so the recogniser does not depend on any translator.
type Tokenizer struct {
	index  map[string]int64
	maxLen int
}

// NewTokenizer builds the tokenizer described in a manifest.
func NewTokenizer(t *bundle.Tokenizer) (*Tokenizer, error) {
	if t == nil {
		return nil, fmt.Errorf("context tokenizer: missing from the manifest")
	}
	if t.Type != "words-v1" {
		return nil, fmt.Errorf("context tokenizer: type %q is unknown (want words-v1)", t.Type)
	}
	tk := &Tokenizer{index: make(map[string]int64, len(t.Vocab)), maxLen: t.MaxLen}
	for i, w := range t.Vocab {
		tk.index[w] = int64(len(t.Specials) + i)
	}
	return tk, nil
}

// Words splits text the way the tokenizer does: lower-cased runs of letters and decimal digits.
func Words(text string) []string {
	var out []string
	var cur strings.Builder
	for _, r := range text {
		r = unicode.ToLower(r)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			cur.WriteRune(r)
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

// Encode returns the context ids of the previous turns (oldest first): [begin], then each
// turn's words and an end-of-turn id, keeping the most recent ids when it is too long.
func (tk *Tokenizer) Encode(turns []string) []int64 {
	var ids []int64
	for _, t := range turns {
		for _, w := range Words(t) {
			id, ok := tk.index[w]
			if !ok {
				id = tokUnknown
			}
			ids = append(ids, id)
		}
		ids = append(ids, tokEndOfTurn)
	}
	keep := tk.maxLen - 1
	if keep < 0 {
		keep = 0
	}
	if len(ids) > keep {
		ids = ids[len(ids)-keep:]
	}
	return append([]int64{tokBegin}, ids...)
}
