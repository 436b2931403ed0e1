package synth

import (
	"sort"
	"strings"

	"scope/models/lexicon"
)

// functionWords are the English words any translation may use: articles, auxiliaries,
// prepositions, conjunctions and clitic pieces ("don't" splits into "don" "t"). Words
// that carry meaning here (negation, question words, pronouns, modals with a sign of their
// own: NOT, WHERE, IX-1, CAN) are not among them.
var functionWords = []string{
	"a", "an", "the", "is", "am", "are", "was", "were", "be", "been", "do", "does", "did",
	"have", "has", "had", "to", "of", "for", "on", "in", "at", "with", "by", "from", "and",
	"or", "it", "this", "that", "there", "s", "t", "ll", "ve", "re", "d", "m",
}

// criticalCategories are the word categories whose glosses are safety-critical details.
var criticalCategories = map[string]string{
	"number": "number", "count": "number",
	"day": "date", "month": "date", "when": "date", "since": "date",
	"med": "medicine", "frequency": "dose", "allergen": "allergen",
	"bodypart": "body part", "name": "name",
}

// firstPerson are the words the signer's pointing to themselves (IX-1) stands for.
var firstPerson = map[string]bool{"i": true, "me": true, "my": true, "myself": true}

// TranslationLexicon returns the gloss-to-word lexicon of the vocabulary: each filler's
// words from its category entry, each group member's from its text, and each fixed gloss
// of a sentence template the words of the template's text that no filler gives. Those are
// matched to the gloss whose name they share a stem with; a first-person word goes to IX-1,
// any other to the template's fixed glosses that have no word yet (so "brought" in
// "IX-1 BRING {paper}" goes to BRING, "badly" in "IX-1 {bodypart} HURT STRONG" to STRONG),
// or, when every one has a word, to each as an optional extra; in a template of slots only,
// to the first slot's fillers as an optional extra. The lexicon is a list of words per gloss, not a sentence template: the
// translator still writes the sentence.
func (lx *Lexicon) TranslationLexicon() *lexicon.Lexicon {
	l := &lexicon.Lexicon{Format: lexicon.Format, Language: "en", FunctionWords: append([]string(nil), functionWords...),
		Glosses: map[string]lexicon.Entry{}}
	fn := map[string]bool{}
	for _, w := range functionWords {
		fn[w] = true
	}
	forms := map[string][][]string{} // gloss -> its forms, each once
	critical := map[string]string{}
	add := func(gloss string, ws []string) {
		if ws == nil {
			ws = []string{}
		}
		key := strings.Join(ws, " ")
		for _, f := range forms[gloss] {
			if strings.Join(f, " ") == key {
				return
			}
		}
		forms[gloss] = append(forms[gloss], ws)
	}
	for cat := range categories {
		for _, w := range lx.category(cat) {
			add(w.gloss, lexicon.Words(w.text))
			if c := criticalCategories[cat]; c != "" {
				critical[w.gloss] = c
			}
		}
	}
	for _, g := range groups {
		for _, mb := range g.members {
			add(mb.gloss, lexicon.Words(mb.text))
			if c := criticalCategories[g.category]; c != "" {
				critical[mb.gloss] = c
			}
		}
	}
	for _, p := range courtesyPads {
		add(p.gloss, lexicon.Words(p.text))
	}
	var templates []template
	for _, d := range lx.domains {
		templates = append(templates, d.templates...)
	}
	if len(lx.domains) > 0 {
		templates = append(templates, lx.domains[0].generic...)
	}
	for _, t := range templates {
		var fixed []string
		text := t.text
		for _, g := range t.glosses {
			if strings.HasPrefix(g, "{") {
				text = strings.Replace(text, g, " ", 1)
				continue
			}
			fixed = append(fixed, g)
		}
		per := map[string][]string{}
		var rest []string
		for _, w := range lexicon.Words(text) {
			if fn[w] {
				continue
			}
			to := stemMatch(w, fixed)
			if to == nil && firstPerson[w] && contains(fixed, "IX-1") {
				to = []string{"IX-1"}
			}
			if to == nil {
				rest = append(rest, w)
			}
			for _, g := range to {
				per[g] = append(per[g], w)
			}
		}
		// Words no gloss name matches go to the fixed glosses that have no word yet (IX-1
		// only when nothing else is left). When each has one, every gloss may take them or
		// not ("I" in "YES UNDERSTAND | Yes, I understand.").
		var to []string
		for _, g := range fixed {
			if g != "IX-1" && len(per[g]) == 0 {
				to = append(to, g)
			}
		}
		optional := false
		if to == nil && len(rest) > 0 {
			to, optional = fixed, true
		}
		if len(fixed) == 0 && len(rest) > 0 {
			// Only slots ("{child} {symptom} | My {child} has {symptom}."): the first
			// slot's fillers may take the words.
			cat := strings.Trim(t.glosses[0], "{}")
			for _, w := range lx.category(cat) {
				add(w.gloss, append(lexicon.Words(w.text), rest...))
			}
			for _, g := range groups {
				if g.category == cat {
					for _, mb := range g.members {
						add(mb.gloss, append(lexicon.Words(mb.text), rest...))
					}
				}
			}
		}
		for _, g := range fixed {
			if optional {
				add(g, per[g])
			}
			if contains(to, g) {
				per[g] = append(per[g], rest...)
			}
			add(g, per[g])
		}
	}
	for g, fs := range forms {
		sort.Slice(fs, func(i, j int) bool { return strings.Join(fs[i], " ") < strings.Join(fs[j], " ") })
		l.Glosses[g] = lexicon.Entry{Forms: fs, Critical: critical[g]}
	}
	if err := l.Check(); err != nil {
		panic("synth: the translation lexicon does not check: " + err.Error())
	}
	return l
}

// stemMatch returns the glosses one of whose name parts is w or shares its first four
// letters with it ("hurts" and HURT, "expired" and EXPIRE), or nil.
func stemMatch(w string, glosses []string) []string {
	var out []string
	for _, g := range glosses {
		for _, part := range lexicon.Words(g) {
			if part == w || (len(part) >= 4 && len(w) >= 4 && part[:4] == w[:4]) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
