package pose

import (
	"math"
	"time"
)

// The filters MediaPipe smooths landmarks with (mediapipe/util/filtering). Each keeps one
// value's history; a landmark list needs three per point (x, y, z).

// lowPass is exponential smoothing; the first value passes through.
type lowPass struct {
	last float64
	has  bool
	raw  float64
}

func (f *lowPass) apply(v, alpha float64) float64 {
	if f.has {
		f.last = alpha*v + (1-alpha)*f.last
	} else {
		f.last, f.has = v, true
	}
	f.raw = v
	return f.last
}

// oneEuro is the One-Euro filter (Casiez et al. 2012): a low-pass whose cutoff rises with
// the value's speed, so slow jitter is smoothed and fast motion is followed. valueScale
// (1 / object size) makes speed relative to the object, as MediaPipe does.
type oneEuro struct {
	freq, minCutoff, beta, dCutoff float64
	x, dx                          lowPass
	last                           time.Duration
	started                        bool
}

func newOneEuro(freq, minCutoff, beta, dCutoff float64) oneEuro {
	return oneEuro{freq: freq, minCutoff: minCutoff, beta: beta, dCutoff: dCutoff}
}

func (f *oneEuro) alpha(cutoff float64) float64 {
	te := 1 / f.freq
	tau := 1 / (2 * math.Pi * cutoff)
	return 1 / (1 + tau/te)
}

func (f *oneEuro) apply(t time.Duration, valueScale, v float64) float64 {
	if f.started && t <= f.last {
		return v // time must move forward; MediaPipe passes such values through too
	}
	if f.started && f.last != 0 && t != 0 {
		f.freq = 1 / (t - f.last).Seconds()
	}
	f.last, f.started = t, true
	dv := 0.0
	if f.x.has {
		dv = (v - f.x.raw) * valueScale * f.freq
	}
	edv := f.dx.apply(dv, f.alpha(f.dCutoff))
	return f.x.apply(v, f.alpha(f.minCutoff+f.beta*math.Abs(edv)))
}

// relativeVelocity is MediaPipe's RelativeVelocityFilter (its hand and face tracking
// solutions smooth with it): a low-pass whose weight for the new value grows with the
// value's speed over a short window, relative to the object's size.
type relativeVelocity struct {
	windowSize    int
	velocityScale float64
	window        []velocitySample
	lp            lowPass
	lastValue     float64
	lastScale     float64
	last          time.Duration
	started       bool
}

type velocitySample struct {
	distance float64
	duration time.Duration
}

func (f *relativeVelocity) apply(t time.Duration, valueScale, v float64) float64 {
	if f.started && t <= f.last {
		return v
	}
	alpha := 1.0
	if f.started {
		distance := v*valueScale - f.lastValue*f.lastScale
		duration := t - f.last
		cumDist, cumDur := distance, duration
		maxDur := time.Duration(1+len(f.window)) * (time.Second / 30)
		for _, s := range f.window {
			if cumDur+s.duration > maxDur {
				break
			}
			cumDist += s.distance
			cumDur += s.duration
		}
		velocity := cumDist / cumDur.Seconds()
		alpha = 1 - 1/(1+f.velocityScale*math.Abs(velocity))
		f.window = append([]velocitySample{{distance, duration}}, f.window...)
		if len(f.window) > f.windowSize {
			f.window = f.window[:f.windowSize]
		}
	}
	f.lastValue, f.lastScale, f.last, f.started = v, valueScale, t, true
	return f.lp.apply(v, alpha)
}

// Smoother names a landmark smoothing filter.
type Smoother string

const (
	SmoothNone     Smoother = "none"
	SmoothOneEuro  Smoother = "one-euro"
	SmoothVelocity Smoother = "velocity"
)

// landmarkFilter smooths a list of landmarks in pixels, one filter per coordinate.
type landmarkFilter struct {
	kind                     Smoother
	minCutoff, beta, dCutoff float64 // one-euro
	windowSize               int     // velocity
	velocityScale            float64 // velocity
	noValueScale             bool
	euro                     [][3]oneEuro
	vel                      [][3]relativeVelocity
}

func (f *landmarkFilter) reset() { f.euro, f.vel = nil, nil }

// apply filters pts (pixels, z in pixels too) in place; objectScale is the object's size
// in pixels (ignored with noValueScale).
func (f *landmarkFilter) apply(t time.Duration, objectScale float64, pts [][3]float64) {
	if f.kind == SmoothNone || f.kind == "" {
		return
	}
	scale := 1.0
	if !f.noValueScale {
		if objectScale < 1e-6 {
			return
		}
		scale = 1 / objectScale
	}
	switch f.kind {
	case SmoothOneEuro:
		if len(f.euro) != len(pts) {
			f.euro = make([][3]oneEuro, len(pts))
			for i := range f.euro {
				for k := range f.euro[i] {
					f.euro[i][k] = newOneEuro(30, f.minCutoff, f.beta, f.dCutoff)
				}
			}
		}
		for i := range pts {
			for k := 0; k < 3; k++ {
				pts[i][k] = f.euro[i][k].apply(t, scale, pts[i][k])
			}
		}
	case SmoothVelocity:
		if len(f.vel) != len(pts) {
			f.vel = make([][3]relativeVelocity, len(pts))
			for i := range f.vel {
				for k := range f.vel[i] {
					f.vel[i][k] = relativeVelocity{windowSize: f.windowSize, velocityScale: f.velocityScale}
				}
			}
		}
		for i := range pts {
			for k := 0; k < 3; k++ {
				pts[i][k] = f.vel[i][k].apply(t, scale, pts[i][k])
			}
		}
	}
}
