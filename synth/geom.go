package synth

import "math"

// vec is a point or direction in metres. Body space: origin at the middle of the
// shoulders, x towards the image's right (the signer's left), y down, z away from the
// camera (MediaPipe's convention: smaller z is nearer the camera).
type vec [3]float64

func (a vec) add(b vec) vec         { return vec{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func (a vec) sub(b vec) vec         { return vec{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func (a vec) scale(s float64) vec   { return vec{a[0] * s, a[1] * s, a[2] * s} }
func (a vec) dot(b vec) float64     { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func (a vec) norm() float64         { return math.Sqrt(a.dot(a)) }
func (a vec) mirror() vec           { return vec{-a[0], a[1], a[2]} }
func lerp(a, b vec, t float64) vec  { return a.add(b.sub(a).scale(t)) }
func lerpf(a, b, t float64) float64 { return a + (b-a)*t }
func (a vec) cross(b vec) vec {
	return vec{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func (a vec) unit() vec {
	n := a.norm()
	if n < 1e-12 {
		return vec{0, 0, 1}
	}
	return a.scale(1 / n)
}

// frame3 is an orthonormal hand frame: x towards the thumb side, y along the fingers,
// z out of the palm (x = y × z).
type frame3 struct{ x, y, z vec }

// handFrame builds a frame from the finger direction and the palm normal
// (re-orthogonalised, fingers kept).
func handFrame(fingers, palm vec) frame3 {
	y := fingers.unit()
	z := palm.sub(y.scale(palm.dot(y))).unit()
	return frame3{x: y.cross(z), y: y, z: z}
}

func (f frame3) apply(p vec) vec {
	return f.x.scale(p[0]).add(f.y.scale(p[1])).add(f.z.scale(p[2]))
}

// twist turns the frame by angle (radians) about its own finger axis (forearm twist).
func (f frame3) twist(angle float64) frame3 {
	c, s := math.Cos(angle), math.Sin(angle)
	return frame3{x: f.x.scale(c).add(f.z.scale(s)), y: f.y, z: f.z.scale(c).sub(f.x.scale(s))}
}

// blend interpolates two frames (normalised lerp of the axes, then re-orthogonalised);
// good enough for the moderate turns between neighbouring signs.
func blendFrames(a, b frame3, t float64) frame3 {
	y := lerp(a.y, b.y, t)
	z := lerp(a.z, b.z, t)
	if y.norm() < 1e-6 {
		y = a.y
	}
	if z.norm() < 1e-6 {
		z = a.z
	}
	return handFrame(y, z)
}

func deg(d float64) float64 { return d * math.Pi / 180 }

// smooth is the minimum-jerk profile 10t³-15t⁴+6t⁵ on [0,1].
func smooth(t float64) float64 {
	if t <= 0 {
		return 0
	}
	if t >= 1 {
		return 1
	}
	return t * t * t * (10 + t*(-15+6*t))
}
