package gate

import (
	"fmt"

	"scope/models/bundle"
	"scope/models/lexicon"
)

// RoleLexicon is the bundle file role of the gloss-to-word lexicon (lexicon.json).
const RoleLexicon = "lexicon"

// Lexicon returns the bundle's gloss-to-word lexicon, or nil when it has none.
func Lexicon(man *bundle.Manifest) (*lexicon.Lexicon, error) {
	if !man.HasRole(RoleLexicon) {
		return nil, nil
	}
	f, err := man.FileFor(RoleLexicon, "")
	if err != nil {
		return nil, err
	}
	if err := man.VerifyFile(f); err != nil {
		return nil, err
	}
	return lexicon.Load(man.Path(f))
}

// FromBundle returns the gate the bundle's "gate" section describes with its lexicon, or
// nil (and no error) when the bundle has no calibrated gate.
func FromBundle(man *bundle.Manifest) (*Gate, error) {
	var p Params
	ok, err := man.Section(Section, &p)
	if err != nil || !ok {
		return nil, err
	}
	lex, err := Lexicon(man)
	if err != nil {
		return nil, err
	}
	g, err := New(&p, lex)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", man.Dir(), err)
	}
	return g, nil
}
