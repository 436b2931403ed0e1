package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Config sets the shape and scale of a corpus. The zero value of a field takes the
// default of DefaultConfig.
type Config struct {
	Dialogues  int     // number of dialogues
	Seed       uint64  // same seed, same corpus, byte for byte
	Signers    int     // size of the signer pool, split 70/15/15 into train/dev/test signers
	Turns      int     // about this many turns per dialogue (±1)
	MinGlosses int     // glosses per signer turn, at least
	MaxGlosses int     // and at most
	FPS        float64 // frames per second
	Width      int     // frame size the pixels refer to
	Height     int
	// AmbiguousShare is the share of signer-turn tokens drawn from groups of
	// near-identical signs (about 0.2).
	AmbiguousShare float64
	// Bias is how much likelier the member a topic favours is than each other member.
	Bias float64
	// Workers render dialogues in parallel; the output does not depend on it.
	Workers int
}

// DefaultConfig is the default shape: about 6 turns, 3-8 glosses per signer
// turn, 30 fps, 640x480, 20% context-dependent tokens, 4:1 context bias.
func DefaultConfig() Config {
	return Config{Dialogues: 100, Seed: 1, Signers: 30, Turns: 6, MinGlosses: 3, MaxGlosses: 8,
		FPS: 30, Width: 640, Height: 480, AmbiguousShare: 0.2, Bias: 4, Workers: 2}
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	if c.Signers == 0 {
		c.Signers = d.Signers
	}
	if c.Turns == 0 {
		c.Turns = d.Turns
	}
	if c.MinGlosses == 0 {
		c.MinGlosses = d.MinGlosses
	}
	if c.MaxGlosses == 0 {
		c.MaxGlosses = d.MaxGlosses
	}
	if c.FPS == 0 {
		c.FPS = d.FPS
	}
	if c.Width == 0 {
		c.Width = d.Width
	}
	if c.Height == 0 {
		c.Height = d.Height
	}
	if c.AmbiguousShare == 0 {
		c.AmbiguousShare = d.AmbiguousShare
	}
	if c.Bias == 0 {
		c.Bias = d.Bias
	}
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid synth configuration")

// Validate checks the configuration and names the field to fix.
func (c *Config) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Dialogues < 1:
		return bad("dialogues", "%d; write at least 1", c.Dialogues)
	case c.Signers < 3:
		return bad("signers", "%d; at least 3 are needed, one per split", c.Signers)
	case c.Turns < 2 || c.Turns > 100:
		return bad("turns", "%d; use 2..100", c.Turns)
	case c.MinGlosses < 1 || c.MaxGlosses < c.MinGlosses || c.MaxGlosses > 30:
		return bad("glosses", "%d..%d; use 1 <= min <= max <= 30", c.MinGlosses, c.MaxGlosses)
	case !(c.FPS >= 5 && c.FPS <= 240): // written so that NaN fails it
		return bad("fps", "%g; use 5..240", c.FPS)
	case c.Width < 64 || c.Height < 64 || c.Width > 8192 || c.Height > 8192:
		return bad("size", "%dx%d; use 64..8192 per side", c.Width, c.Height)
	case !(c.AmbiguousShare >= 0 && c.AmbiguousShare <= 0.6):
		return bad("ambiguous share", "%g; use 0..0.6 (not every slot can take a group member)", c.AmbiguousShare)
	case !(c.Bias >= 1 && c.Bias <= math.MaxFloat64):
		return bad("bias", "%g; use a finite number of at least 1: 1 means no context effect, more favours the topic's member", c.Bias)
	}
	return nil
}

// Generator writes dialogues for one configuration.
type Generator struct {
	cfg       Config
	lx        *Lexicon
	signers   []*Signer
	bySplit   map[string][]*Signer
	groupProb float64
	face      [468]vec
}

// NewGenerator checks cfg and draws the signer pool from its seed.
func NewGenerator(cfg Config) (*Generator, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lx, err := NewLexicon()
	if err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, lx: lx, bySplit: map[string][]*Signer{}, face: faceTemplate()}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5167e75))
	nDev := max(1, cfg.Signers*15/100)
	nTest := max(1, cfg.Signers*15/100)
	for i := 0; i < cfg.Signers; i++ {
		split := "train"
		switch {
		case i >= cfg.Signers-nTest:
			split = "test"
		case i >= cfg.Signers-nTest-nDev:
			split = "dev"
		}
		s := newSigner(r, fmt.Sprintf("s%03d", i), split, cfg.Width, cfg.Height)
		g.signers = append(g.signers, s)
		g.bySplit[split] = append(g.bySplit[split], s)
	}
	g.groupProb = g.calibrate()
	return g, nil
}

// calibrate finds the probability with which a group-capable slot takes a group
// member so that AmbiguousShare of all signer tokens are group members. It samples
// turns with every such slot taken and scales down; a fixed seed keeps it deterministic.
func (g *Generator) calibrate() float64 {
	g.groupProb = 1
	r := rand.New(rand.NewPCG(lexiconSeed, 2))
	tokens, amb := 0, 0
	for i := 0; i < 3000; i++ {
		dom := &g.lx.domains[i%len(g.lx.domains)]
		t := g.signerTurn(r, dom, dom.spec.topics[0].name)
		tokens += len(t.Glosses)
		amb += len(t.Ambiguous)
	}
	if amb == 0 {
		return 0
	}
	return min(1, g.cfg.AmbiguousShare*float64(tokens)/float64(amb))
}

// Config returns the configuration with defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Lexicon returns the vocabulary and signs.
func (g *Generator) Lexicon() *Lexicon { return g.lx }

// Signers returns the signer pool.
func (g *Generator) Signers() []*Signer { return g.signers }

// rng returns dialogue i's random source: independent of every other dialogue, so that
// dialogues can be made in any order and in parallel.
func (g *Generator) rng(i int) *rand.Rand {
	return rand.New(rand.NewPCG(g.cfg.Seed, uint64(i)+1<<40))
}

// Dialogue makes dialogue i: its words and, for each signer turn, its keypoints.
func (g *Generator) Dialogue(i int) (*Dialogue, []*Clip) {
	r := g.rng(i)
	d := g.dialogue(r, i)
	rd := &renderer{sg: d.Signer, lx: g.lx, r: r, fps: g.cfg.FPS, width: g.cfg.Width, height: g.cfg.Height, face: &g.face}
	clips := make([]*Clip, len(d.Turns))
	for t := range d.Turns {
		if d.Turns[t].Signer {
			clips[t] = rd.render(d.Turns[t].signs)
		}
	}
	return d, clips
}
