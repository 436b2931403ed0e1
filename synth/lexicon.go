package synth

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// lexiconSeed fixes the signs' forms. It is not the corpus seed: every corpus, whatever
// its --seed, signs a gloss the same way, as a sign language would.
const lexiconSeed = 0x5c0be

// Hand arrangements of a sign.
const (
	oneHand   = "one"  // dominant hand only; the other rests
	symHands  = "sym"  // both hands, mirror images, moving together
	altHands  = "alt"  // both hands, mirror images, moving in alternation
	baseHands = "base" // the other hand is a still base the dominant hand acts on
)

// location is where a sign is made, in body space for a right-dominant signer.
type location struct {
	pos  vec
	head bool // moves with the head
}

var locations = map[string]location{
	"neutral":        {vec{-0.05, 0.13, -0.32}, false},
	"neutral-high":   {vec{-0.05, 0.03, -0.33}, false},
	"neutral-low":    {vec{-0.05, 0.21, -0.30}, false},
	"side":           {vec{-0.22, 0.13, -0.24}, false},
	"chest":          {vec{-0.02, 0.09, -0.15}, false},
	"chest-dominant": {vec{-0.11, 0.08, -0.14}, false},
	"stomach":        {vec{-0.02, 0.22, -0.17}, false},
	"shoulder":       {vec{0.14, 0.01, -0.10}, false},
	"neck":           {vec{0.00, -0.07, -0.11}, false},
	"forehead":       {vec{0.00, -0.11, -0.10}, true},
	"temple":         {vec{-0.065, -0.085, -0.06}, true},
	"eye":            {vec{-0.035, -0.03, -0.11}, true},
	"nose":           {vec{0.00, 0.00, -0.13}, true},
	"cheek":          {vec{-0.06, 0.02, -0.08}, true},
	"mouth":          {vec{0.00, 0.045, -0.11}, true},
	"chin":           {vec{0.00, 0.085, -0.10}, true},
	"ear":            {vec{-0.085, -0.01, -0.01}, true},
	// Relative to the base hand (baseHands signs): palm, back and fingertips.
	"base-palm":    {vec{0, 0, 0}, false},
	"base-back":    {vec{0, 0, 0}, false},
	"base-fingers": {vec{0, 0, 0}, false},
}

var (
	faceLocations    = []string{"forehead", "temple", "eye", "nose", "cheek", "mouth", "chin", "ear"}
	bodyLocations    = []string{"neutral", "neutral-high", "neutral-low", "side", "chest", "chest-dominant", "stomach", "shoulder", "neck"}
	twoHandLocations = []string{"neutral", "neutral-high", "neutral-low", "chest", "stomach"}
	baseLocations    = []string{"base-palm", "base-back", "base-fingers"}
)

// orientation gives the dominant hand's finger direction and palm normal (body space,
// right hand).
type orientation struct{ fingers, palm vec }

var orientations = map[string]orientation{
	"up-out":    {vec{0, -1, 0}, vec{0, 0, -1}},
	"up-in":     {vec{0, -1, 0}, vec{0, 0, 1}},
	"up-side":   {vec{0.2, -1, 0}, vec{1, 0, 0}},
	"fwd-down":  {vec{0.15, 0, -1}, vec{0, 1, 0}},
	"fwd-up":    {vec{0.15, 0, -1}, vec{0, -1, 0}},
	"fwd-side":  {vec{0.15, 0, -1}, vec{1, 0, 0}},
	"side-down": {vec{1, 0.1, -0.2}, vec{0, 1, 0}},
	"side-in":   {vec{1, 0, -0.2}, vec{0, 0, 1}},
	"diag-out":  {vec{0.3, -0.7, -0.6}, vec{0.2, 0.5, -0.8}},
}

var orientationNames = sortedKeys(orientations)

// Movement paths. Each maps time in the sign to an offset from its location (see path.go).
var paths = []string{"hold", "forward", "down", "side", "up", "toward", "arc", "circle", "circle-h", "zigzag", "twist", "wiggle", "tap", "open", "close"}

// Subtle contrasts that groups of near-identical signs use: each set's values differ
// in one feature by a small amount.
var (
	bendContrasts  = []float64{0, 20, 40} // degrees more flexion at the fingers' MCP and PIP joints
	openShapes     = []string{"B", "5", "V", "H", "W", "3", "1", "L", "Y", "flat-B", "open-8"}
	shiftContrasts = []float64{0, 0.045, 0.09} // metres between the members' places
	shiftAxes      = []vec{{0, -1, 0}, {-1, 0, 0}, {-0.7, -0.7, 0}}
	repContrasts   = []int{2, 3, 4}
	sizeContrasts  = []float64{0.05, 0.085, 0.12}
	sizeSubtle     = []float64{0.05, 0.08, 0.11}
	twistContrasts = []float64{0, 26, 52}
)

// sign is the phonological form of one gloss.
type sign struct {
	gloss    string
	hands    string
	shape    string // dominant handshape
	endShape string // handshape at the end for open/close paths, else shape
	baseSh   string // base hand's shape for baseHands signs
	loc      string
	ori      string
	twist    float64 // extra forearm twist in degrees (a subtle orientation contrast)
	bend     float64 // extra finger flexion in degrees (a subtle handshape contrast)
	shift    vec     // moves the location, metres (a subtle location contrast)
	path     string
	reps     int
	size     float64 // path size in metres
	dur      float64 // citation duration in seconds
	group    string  // group name, "" when the sign is not in a group
}

// features are what makes two signs different to the eye, for the distinctness check.
func (s *sign) features() [7]string {
	return [7]string{s.hands, fmt.Sprintf("%s/%.0f", s.shape, s.bend), fmt.Sprintf("%s%+.2f%+.2f", s.loc, s.shift[0], s.shift[1]), s.ori, s.path, fmt.Sprint(s.reps), fmt.Sprintf("%.0f/%.3f", s.twist, s.size)}
}

func distance(a, b *sign) int {
	fa, fb := a.features(), b.features()
	n := 0
	for i := range fa {
		if fa[i] != fb[i] {
			n++
		}
	}
	return n
}

// Lexicon is the vocabulary with every gloss's sign and the sign groups. It is built
// the same way every time (see lexiconSeed) and read-only after NewLexicon.
type Lexicon struct {
	signs   map[string]*sign
	glosses []string // sorted
	groups  map[string]*groupSpec
	// templates per domain, parsed
	domains []domain
}

// NewLexicon builds the vocabulary, the signs and the parsed sentence templates.
func NewLexicon() (*Lexicon, error) {
	lx := &Lexicon{signs: map[string]*sign{}, groups: map[string]*groupSpec{}}
	if err := lx.parseWorld(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(lexiconSeed, 1))
	var all []*sign
	// Group members first, so that plain signs keep away from them.
	for gi := range groups {
		g := &groups[gi]
		lx.groups[g.name] = g
		members, err := lx.groupSigns(r, g, all)
		if err != nil {
			return nil, err
		}
		all = append(all, members...)
	}
	for _, gl := range lx.plainGlosses() {
		var s *sign
		for try := 0; ; try++ {
			s = randomSign(r, gl)
			if minDistance(s, all) >= 2 || try > 500 {
				break
			}
		}
		all = append(all, s)
	}
	for _, s := range all {
		lx.signs[s.gloss] = s
		lx.glosses = append(lx.glosses, s.gloss)
	}
	sort.Strings(lx.glosses)
	return lx, nil
}

func minDistance(s *sign, others []*sign) int {
	best := 1 << 30
	for _, o := range others {
		if d := distance(s, o); d < best {
			best = d
		}
	}
	return best
}

// plainGlosses lists every gloss of templates and categories that is not a group
// member, in a fixed order.
func (lx *Lexicon) plainGlosses() []string {
	member := map[string]bool{}
	for _, g := range groups {
		for _, mb := range g.members {
			member[mb.gloss] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	add := func(g string) {
		if !seen[g] && !member[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	for _, d := range lx.domains {
		for _, t := range append(d.templates, d.generic...) {
			for _, tok := range t.glosses {
				if !strings.HasPrefix(tok, "{") {
					add(tok)
				}
			}
		}
	}
	for _, c := range sortedKeys(categories) {
		for _, w := range lx.category(c) {
			add(w.gloss)
		}
	}
	sort.Strings(out)
	return out
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func randomSign(r *rand.Rand, gloss string) *sign {
	s := &sign{gloss: gloss, reps: 1, size: pick(r, sizeContrasts), ori: pick(r, orientationNames)}
	switch x := r.Float64(); {
	case x < 0.6:
		s.hands = oneHand
		if r.Float64() < 0.45 {
			s.loc = pick(r, faceLocations)
		} else {
			s.loc = pick(r, bodyLocations)
		}
	case x < 0.8:
		s.hands = symHands
		s.loc = pick(r, twoHandLocations)
	case x < 0.88:
		s.hands = altHands
		s.loc = pick(r, twoHandLocations)
	default:
		s.hands = baseHands
		s.loc = pick(r, baseLocations)
		s.baseSh = pick(r, []string{"B", "flat-B", "S", "1", "5", "C"})
	}
	s.shape = handshapes[r.IntN(len(handshapes))].name
	s.path = pick(r, paths)
	if s.path != "open" && s.path != "close" && r.Float64() < 0.35 {
		s.reps = 2 + r.IntN(2)
	}
	// Signs that barely move the wrist (holds, finger wiggles, twists) are made in the
	// signing space, not down at the height where hands rest.
	if (s.loc == "neutral-low" || s.loc == "stomach") && (s.path == "hold" || s.path == "wiggle" || s.path == "twist") {
		s.loc = "neutral"
	}
	s.finish(r)
	return s
}

// finish sets what follows from the other features: end handshape and duration.
func (s *sign) finish(r *rand.Rand) {
	s.endShape = s.shape
	switch s.path {
	case "open":
		s.endShape = "5"
		if s.shape == "5" {
			s.shape = "S"
		}
	case "close":
		s.endShape = "S"
		if s.shape == "S" {
			s.shape = "5"
		}
	}
	s.dur = 0.45 + 0.25*r.Float64() + 0.1*float64(s.reps-1)
}

// groupSigns makes the members of g: one random sign, then variants that differ only in
// the group's contrast feature.
func (lx *Lexicon) groupSigns(r *rand.Rand, g *groupSpec, others []*sign) ([]*sign, error) {
	n := len(g.members)
	for try := 0; ; try++ {
		base := randomSign(r, g.members[0].gloss)
		base.group = g.name
		out := make([]*sign, n)
		switch g.contrast {
		case "handshape":
			// The same handshape, its fingers more or less bent (flat vs bent B,
			// straight vs hooked index): the subtlest contrast of form.
			shape := pick(r, openShapes)
			for i := range out {
				s := *base
				s.shape, s.bend = shape, bendContrasts[i]
				if s.path == "open" || s.path == "close" {
					s.path = "hold"
				}
				out[i] = &s
			}
		case "location":
			// The same place, a few centimetres higher or further to the side.
			axis := pick(r, shiftAxes)
			for i := range out {
				s := *base
				s.shift = axis.scale(shiftContrasts[i])
				out[i] = &s
			}
		case "repetition":
			if base.path == "open" || base.path == "close" || base.path == "hold" {
				base.path = "tap"
			}
			for i := range out {
				s := *base
				s.reps = repContrasts[i]
				out[i] = &s
			}
		case "size":
			if base.path == "hold" || base.path == "twist" || base.path == "wiggle" {
				base.path = "forward"
			}
			for i := range out {
				s := *base
				s.size = sizeSubtle[i]
				out[i] = &s
			}
		case "orientation":
			for i := range out {
				s := *base
				s.twist = twistContrasts[i]
				out[i] = &s
			}
		default:
			return nil, fmt.Errorf("group %q: unknown contrast %q; use handshape, location, repetition, size or orientation", g.name, g.contrast)
		}
		ok := true
		for i, s := range out {
			s.gloss = g.members[i].gloss
			s.finish(r)
			s.dur = base.dur + 0.12*float64(s.reps-base.reps)
			if minDistance(s, others) < 2 {
				ok = false
			}
		}
		if ok || try > 500 {
			return out, nil
		}
	}
}

func pickSet[T any](r *rand.Rand, sets [][]T, n int) []T {
	var fit [][]T
	for _, s := range sets {
		if len(s) >= n {
			fit = append(fit, s)
		}
	}
	return fit[r.IntN(len(fit))][:n]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Glosses returns the vocabulary, sorted.
func (lx *Lexicon) Glosses() []string { return append([]string(nil), lx.glosses...) }

// Groups returns each group of near-identical signs with its members.
func (lx *Lexicon) Groups() map[string][]string {
	out := map[string][]string{}
	for name, g := range lx.groups {
		for _, mb := range g.members {
			out[name] = append(out[name], mb.gloss)
		}
	}
	return out
}

// Describe returns a gloss's phonological description, e.g.
// "one hand, handshape B, at chin, palm up-in, path tap x2", or "" for unknown glosses.
func (lx *Lexicon) Describe(gloss string) string {
	s, ok := lx.signs[gloss]
	if !ok {
		return ""
	}
	hands := map[string]string{oneHand: "one hand", symHands: "two hands, symmetric", altHands: "two hands, alternating", baseHands: "dominant on base hand " + s.baseSh}[s.hands]
	d := fmt.Sprintf("%s, handshape %s", hands, s.shape)
	if s.bend != 0 {
		d += fmt.Sprintf(" bent %.0f°", s.bend)
	}
	d += fmt.Sprintf(", at %s", s.loc)
	if s.shift != (vec{}) {
		d += fmt.Sprintf(" shifted %.0f cm", s.shift.norm()*100)
	}
	d += fmt.Sprintf(", orientation %s", s.ori)
	if s.twist != 0 {
		d += fmt.Sprintf(" turned %.0f°", s.twist)
	}
	d += fmt.Sprintf(", path %s %.0f cm", s.path, s.size*100)
	if s.reps > 1 {
		d += fmt.Sprintf(" x%d", s.reps)
	}
	if s.endShape != s.shape {
		d += " to " + s.endShape
	}
	return d
}
