package synth

import (
	"fmt"
	"strings"
)

// word is one slot filler: a gloss and its English text.
type word struct{ gloss, text string }

// template is a parsed sentence template: glosses with {category} slots, and the text
// with the same slots.
type template struct {
	glosses []string
	text    string
	slots   int
}

// domain is a parsed domainSpec.
type domain struct {
	spec      *domainSpec
	templates []template              // the domain's own
	generic   []template              // shared by every domain
	groups    map[string][]*groupSpec // category -> groups of this domain
}

func parseTemplate(s string) (template, error) {
	g, text, ok := strings.Cut(s, "|")
	if !ok {
		return template{}, fmt.Errorf("template %q has no '|' between glosses and text", s)
	}
	t := template{glosses: strings.Fields(g), text: strings.TrimSpace(text)}
	for _, tok := range t.glosses {
		if strings.HasPrefix(tok, "{") {
			c := strings.Trim(tok, "{}")
			if _, ok := categories[c]; !ok {
				return template{}, fmt.Errorf("template %q: unknown category %q", s, c)
			}
			if !strings.Contains(t.text, tok) {
				return template{}, fmt.Errorf("template %q: slot %s missing from the text", s, tok)
			}
			t.slots++
		}
	}
	return t, nil
}

// category returns the plain fillers of a category.
func (lx *Lexicon) category(name string) []word {
	var out []word
	for _, e := range strings.Split(categories[name], "|") {
		g, t, _ := strings.Cut(e, "=")
		out = append(out, word{gloss: g, text: t})
	}
	return out
}

func (lx *Lexicon) parseWorld() error {
	var generic []template
	for _, s := range genericTemplates {
		t, err := parseTemplate(s)
		if err != nil {
			return err
		}
		generic = append(generic, t)
	}
	topicsOf := map[string]map[string]bool{}
	for i := range domains {
		d := domain{spec: &domains[i], groups: map[string][]*groupSpec{}}
		for _, s := range domains[i].templates {
			t, err := parseTemplate(s)
			if err != nil {
				return err
			}
			d.templates = append(d.templates, t)
		}
		d.generic = generic
		topicsOf[d.spec.name] = map[string]bool{}
		for _, tp := range d.spec.topics {
			topicsOf[d.spec.name][tp.name] = true
		}
		lx.domains = append(lx.domains, d)
	}
	for gi := range groups {
		g := &groups[gi]
		var d *domain
		for i := range lx.domains {
			if lx.domains[i].spec.name == g.domain {
				d = &lx.domains[i]
			}
		}
		if d == nil {
			return fmt.Errorf("group %q: unknown domain %q", g.name, g.domain)
		}
		if _, ok := categories[g.category]; !ok {
			return fmt.Errorf("group %q: unknown category %q", g.name, g.category)
		}
		// Every topic of the domain favours exactly one member.
		seen := map[string]string{}
		for _, mb := range g.members {
			for _, tp := range mb.topics {
				full := g.domain + "/" + tp
				if !topicsOf[g.domain][full] {
					return fmt.Errorf("group %q: member %s names unknown topic %q", g.name, mb.gloss, full)
				}
				if o, dup := seen[full]; dup {
					return fmt.Errorf("group %q: topic %q favours both %s and %s", g.name, full, o, mb.gloss)
				}
				seen[full] = mb.gloss
			}
		}
		if len(seen) != len(topicsOf[g.domain]) {
			return fmt.Errorf("group %q: its members favour %d of the %d topics of %s; every topic must favour one", g.name, len(seen), len(topicsOf[g.domain]), g.domain)
		}
		d.groups[g.category] = append(d.groups[g.category], g)
	}
	return nil
}
