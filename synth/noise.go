package synth

import (
	"math"
	"math/rand/v2"
)

// noise adds what a keypoint estimator does to clean keypoints, the way MediaPipe
// Holistic's output shows it: per-point jitter, a slower wobble of whole hands and of
// the face, pose visibilities, legs guessed outside the image, and hands that are lost
// for a few frames when they move fast, cross the face or drop to the bottom edge.
type noise struct {
	r         *rand.Rand
	sg        *Signer
	w, h      float64
	handDrift [2][3]float64 // AR(1) wobble per hand (left, right)
	faceDrift [3]float64
	poseDrift [33][3]float64 // AR(1) noise per pose point: MediaPipe smooths the pose over time
	lostFor   [2]int         // frames a hand stays lost
	prevWrist [2][2]float64
	havePrev  [2]bool
}

func newNoise(rd *renderer) *noise {
	return &noise{r: rd.r, sg: rd.sg, w: float64(rd.width), h: float64(rd.height)}
}

func (n *noise) gauss(sigma float64) float32 { return float32(sigma * n.r.NormFloat64()) }

func (n *noise) apply(p *[numPoints][3]float32, c *[numPoints]float32) {
	k := n.sg.Noise
	r := n.r
	// Face: a shared wobble and a little per-point jitter; confidence 1 as MediaPipe's.
	for d := range n.faceDrift {
		n.faceDrift[d] = 0.8*n.faceDrift[d] + 0.25*k*r.NormFloat64()
	}
	for i := faceOff; i < leftOff; i++ {
		p[i][0] += float32(n.faceDrift[0]) + n.gauss(0.3*k)
		p[i][1] += float32(n.faceDrift[1]) + n.gauss(0.3*k)
		p[i][2] += n.gauss(0.0015 * k)
		c[i] = 1
	}
	// Hands.
	faceMinX, faceMaxX, faceMinY, faceMaxY := bounds(p[faceOff:leftOff])
	for hi, off := range []int{leftOff, rightOff} {
		wx, wy := float64(p[off][0]), float64(p[off][1])
		speed := 0.0
		if n.havePrev[hi] {
			speed = math.Hypot(wx-n.prevWrist[hi][0], wy-n.prevWrist[hi][1])
		}
		n.prevWrist[hi], n.havePrev[hi] = [2]float64{wx, wy}, true
		inside := 0
		for j := 0; j < 21; j++ {
			x, y := p[off+j][0], p[off+j][1]
			if x >= 0 && y >= 0 && float64(x) < n.w && float64(y) < n.h {
				inside++
			}
		}
		overFace := wx > float64(faceMinX) && wx < float64(faceMaxX) && wy > float64(faceMinY)-20 && wy < float64(faceMaxY)+20
		if n.lostFor[hi] > 0 {
			n.lostFor[hi]--
		} else {
			pl := 0.002 * n.sg.DropRate
			if speed > 0.045*n.w {
				pl += 0.06 * n.sg.DropRate
			}
			if overFace {
				pl += 0.015 * n.sg.DropRate
			}
			if wy > 0.96*n.h {
				pl += 0.25
			}
			if r.Float64() < pl {
				n.lostFor[hi] = 2 + int(r.ExpFloat64()*4)
			}
		}
		if n.lostFor[hi] > 0 || inside < 14 {
			for j := 0; j < 21; j++ {
				p[off+j] = [3]float32{}
				c[off+j] = 0
			}
			continue
		}
		for d := range n.handDrift[hi] {
			n.handDrift[hi][d] = 0.7*n.handDrift[hi][d] + 0.6*k*r.NormFloat64()
		}
		for j := 0; j < 21; j++ {
			p[off+j][0] += float32(n.handDrift[hi][0]) + n.gauss(0.7*k)
			p[off+j][1] += float32(n.handDrift[hi][1]) + n.gauss(0.7*k)
			if j > 0 {
				p[off+j][2] += n.gauss(0.004 * k)
			}
			c[off+j] = 1
		}
	}
	// Pose: visibilities near 1 for what is in view, low for what is guessed outside.
	for i := 0; i < faceOff; i++ {
		x, y := float64(p[i][0]), float64(p[i][1])
		in := x >= 0 && y >= 0 && x < n.w && y < n.h
		sigma := 1.0 * k
		switch {
		case i >= 25:
			sigma = 12 * k
		case i >= 13 && i <= 22:
			sigma = 1.8 * k
		}
		// Stationary spread sigma, but consecutive frames differ by only 0.55 sigma, as
		// after MediaPipe's One-Euro filter.
		d := &n.poseDrift[i]
		d[0] = 0.85*d[0] + 0.53*sigma*r.NormFloat64()
		d[1] = 0.85*d[1] + 0.53*sigma*r.NormFloat64()
		d[2] = 0.85*d[2] + 0.53*0.03*k*r.NormFloat64()
		p[i][0] += float32(d[0])
		p[i][1] += float32(d[1])
		p[i][2] += float32(d[2])
		u := r.Float64()
		switch {
		case i >= 25:
			c[i] = float32(0.001 + 0.2*u*u)
		case !in:
			c[i] = float32(0.05 + 0.4*u)
		case i >= 13 && i <= 22:
			c[i] = float32(0.85 + 0.149*u)
		default:
			c[i] = float32(0.98 + 0.0199*u)
		}
	}
}

func bounds(ps [][3]float32) (minX, maxX, minY, maxY float32) {
	minX, minY = float32(math.Inf(1)), float32(math.Inf(1))
	maxX, maxY = float32(math.Inf(-1)), float32(math.Inf(-1))
	for _, q := range ps {
		minX, maxX = min(minX, q[0]), max(maxX, q[0])
		minY, maxY = min(minY, q[1]), max(maxY, q[1])
	}
	return
}
