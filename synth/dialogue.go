package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Turn is one turn of a dialogue. Signer turns have glosses (and their signs); hearing
// turns only text.
type Turn struct {
	Signer    bool
	Text      string
	Glosses   []string
	Ambiguous []int    // indexes into Glosses of group members
	Groups    []string // group of each Ambiguous token
	signs     []*sign
}

// Dialogue is one conversation at a kiosk between a signer and a hearing person.
type Dialogue struct {
	Index  int
	ID     string
	Domain string
	Topic  string
	Signer *Signer
	Turns  []Turn
}

// dialogue writes dialogue i's words. Its signer comes from the pool by split.
func (g *Generator) dialogue(r *rand.Rand, i int) *Dialogue {
	split := splitOf(i)
	pool := g.bySplit[split]
	d := &Dialogue{Index: i, ID: fmt.Sprintf("d%06d", i), Signer: pool[r.IntN(len(pool))]}
	dom := &g.lx.domains[r.IntN(len(g.lx.domains))]
	topic := dom.spec.topics[r.IntN(len(dom.spec.topics))]
	d.Domain, d.Topic = dom.spec.name, topic.name
	nTurns := g.cfg.Turns - 1 + r.IntN(3) // about cfg.Turns
	if nTurns < 2 {
		nTurns = 2
	}
	lines := r.Perm(len(topic.lines))
	next := 0
	topicLine := func() string {
		l := topic.lines[lines[next%len(lines)]]
		next++
		return l
	}
	for t := 0; t < nTurns; t++ {
		if t%2 == 0 { // the hearing person (the kiosk's staff) opens and answers
			var text string
			switch {
			case t == 0 && r.Float64() < 0.15: // the topic shows only later
				text = pick(r, dom.spec.greetings)
			case t == 0:
				text = pick(r, dom.spec.greetings) + " " + topicLine()
			case t == nTurns-1 && r.Float64() < 0.5:
				text = pick(r, dom.spec.closings)
			default:
				text = topicLine()
			}
			d.Turns = append(d.Turns, Turn{Text: text})
			continue
		}
		d.Turns = append(d.Turns, g.signerTurn(r, dom, d.Topic))
	}
	return d
}

// splitOf spreads dialogues over the splits 8:1:1 so that even a handful of dialogues
// has all three.
func splitOf(i int) string {
	switch i % 10 {
	case 1:
		return "dev"
	case 2:
		return "test"
	}
	return "train"
}

// signerTurn composes 3-8 glosses from the domain's templates. Slots whose category
// has a sign group in this domain take a group member with probability g.groupProb;
// the member is drawn with weight cfg.Bias if the topic favours it and 1 otherwise.
func (g *Generator) signerTurn(r *rand.Rand, dom *domain, topic string) Turn {
	lo, hi := g.cfg.MinGlosses, g.cfg.MaxGlosses
	want := lo + r.IntN(hi-lo+1)
	var tn Turn
	var texts []string
	used := map[int]bool{}
	for tries := 0; len(tn.Glosses) < want && tries < 40; tries++ {
		// Three in four clauses are about the visit, the rest small talk.
		ti := r.IntN(len(dom.templates))
		t := &dom.templates[ti]
		if r.Float64() < 0.25 {
			ti = len(dom.templates) + r.IntN(len(dom.generic))
			t = &dom.generic[ti-len(dom.templates)]
		}
		if used[ti] || len(tn.Glosses)+len(t.glosses) > want {
			continue
		}
		used[ti] = true
		text := t.text
		for _, tok := range t.glosses {
			if !strings.HasPrefix(tok, "{") {
				tn.Glosses = append(tn.Glosses, tok)
				continue
			}
			cat := strings.Trim(tok, "{}")
			w, grp := g.fill(r, dom, cat, topic)
			if grp != "" {
				tn.Ambiguous = append(tn.Ambiguous, len(tn.Glosses))
				tn.Groups = append(tn.Groups, grp)
			}
			tn.Glosses = append(tn.Glosses, w.gloss)
			text = strings.Replace(text, tok, w.text, 1)
		}
		texts = append(texts, capitalise(text))
	}
	for i := 0; len(tn.Glosses) < lo; i++ { // pad with a courtesy, as signers do
		tn.Glosses = append(tn.Glosses, courtesyPads[i%len(courtesyPads)].gloss)
		texts = append(texts, courtesyPads[i%len(courtesyPads)].text)
	}
	tn.Signer = true
	tn.Text = strings.Join(texts, " ")
	for _, gl := range tn.Glosses {
		tn.signs = append(tn.signs, g.lx.signs[gl])
	}
	return tn
}

// courtesyPads fill a signer turn that is shorter than the minimum.
var courtesyPads = []word{{"PLEASE", "Please."}, {"THANK-YOU", "Thank you."}, {"OK", "Okay."}}

func (g *Generator) fill(r *rand.Rand, dom *domain, cat, topic string) (word, string) {
	if gs := dom.groups[cat]; len(gs) > 0 && r.Float64() < g.groupProb {
		grp := gs[r.IntN(len(gs))]
		weights := make([]float64, len(grp.members))
		sum := 0.0
		for i, mb := range grp.members {
			weights[i] = 1
			for _, tp := range mb.topics {
				if dom.spec.name+"/"+tp == topic {
					weights[i] = g.cfg.Bias
				}
			}
			sum += weights[i]
		}
		x := r.Float64() * sum
		for i, mb := range grp.members {
			if x -= weights[i]; x < 0 || i == len(grp.members)-1 {
				return word{gloss: mb.gloss, text: mb.text}, grp.name
			}
		}
	}
	ws := g.lx.category(cat)
	return ws[r.IntN(len(ws))], ""
}

func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
