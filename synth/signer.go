package synth

import (
	"fmt"
	"math/rand/v2"
)

// Signer is one synthetic person: body, speed, style and how well the keypoint
// estimator sees them. All signers of a corpus are drawn from the corpus seed.
type Signer struct {
	ID    string
	Split string

	Scale      float64 // body size, 1 = 38 cm between the shoulders
	HandSize   float64 // hand size, 1 = 19 cm wrist to middle fingertip
	Speed      float64 // signing speed, 1 = citation form (0.7..1.3)
	Amplitude  float64 // size of movements (0.8..1.2)
	LeftHanded bool

	PxPerM   float64    // camera distance, as pixels per metre at the body
	Center   [2]float64 // pixel position of the middle of the shoulders
	RestY    float64    // how low the hands rest (metres below the shoulders)
	Noise    float64    // keypoint jitter multiplier
	DropRate float64    // how readily the hand detector loses a hand

	// Personal style: every signer forms signs a little differently, which is what
	// makes unseen signers hard.
	Laxness   float64    // degrees of extra (or, negative, less) finger flexion
	PlaceBias [3]float64 // metres every sign's location is shifted by
	TwistBias float64    // degrees of forearm twist on every sign
}

// newSigner draws a signer for an image of width x height pixels.
func newSigner(r *rand.Rand, id, split string, width, height int) *Signer {
	s := &Signer{
		ID:         id,
		Split:      split,
		Scale:      0.88 + 0.24*r.Float64(),
		Speed:      0.7 + 0.6*r.Float64(),
		Amplitude:  0.8 + 0.4*r.Float64(),
		LeftHanded: r.Float64() < 0.15,
		RestY:      0.33 + 0.14*r.Float64(),
		Noise:      0.7 + 0.7*r.Float64(),
		DropRate:   0.5 + r.Float64(),
	}
	s.HandSize = s.Scale * (0.92 + 0.16*r.Float64())
	s.Laxness = 7 * r.NormFloat64()
	s.PlaceBias = [3]float64{0.012 * r.NormFloat64(), 0.012 * r.NormFloat64(), 0.012 * r.NormFloat64()}
	s.TwistBias = 8 * r.NormFloat64()
	// Framed like a kiosk camera or a sign language corpus: head near the top, the body
	// down to about the hips, so hands at rest sit at or below the bottom edge.
	s.PxPerM = float64(height) * (1.0 + 0.25*r.Float64()) / s.Scale
	s.Center = [2]float64{float64(width) * (0.5 + 0.08*(r.Float64()-0.5)), float64(height) * (0.42 + 0.06*r.Float64())}
	return s
}

func (s *Signer) String() string {
	hand := "right"
	if s.LeftHanded {
		hand = "left"
	}
	return fmt.Sprintf("%s (%s; size %.2f, speed %.2f, amplitude %.2f, %s-handed)", s.ID, s.Split, s.Scale, s.Speed, s.Amplitude, hand)
}
