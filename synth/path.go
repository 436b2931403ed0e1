package synth

import "math"

// motion is what a movement path does at one moment of a sign.
type motion struct {
	offset vec     // from the sign's location, body space, right hand
	twist  float64 // forearm twist, radians
	shape  float64 // 0: start handshape, 1: end handshape
	wiggle float64 // finger wiggle phase, radians (0 when the path has none)
}

// cycle goes 0 -> 1 -> 0 once per repetition for repeated movements and 0 -> 1 for a
// single one.
func cycle(u float64, reps int) float64 {
	if reps <= 1 {
		return smooth(u)
	}
	s := math.Sin(math.Pi * u * float64(reps))
	return s * s
}

// pathAt evaluates a movement path at u in [0,1] for a path of the given size (metres).
func pathAt(name string, u float64, reps int, size float64) motion {
	var m motion
	c := cycle(u, reps)
	switch name {
	case "hold":
		m.offset = vec{0, 0.012 * math.Sin(math.Pi*u), 0}
	case "forward":
		m.offset = vec{0, 0, -size * c}
	case "down":
		m.offset = vec{0, size * c, 0}
	case "up":
		m.offset = vec{0, -size * c, 0}
	case "side":
		m.offset = vec{-size * c, 0, 0}
	case "toward":
		m.offset = vec{0, 0, size * c}
	case "arc":
		a := math.Pi * c
		m.offset = vec{-size * 0.5 * (1 - math.Cos(a)), -size * 0.5 * math.Sin(a), -size * 0.3 * c}
	case "circle":
		a := 2 * math.Pi * u * float64(reps)
		m.offset = vec{size * 0.5 * (math.Cos(a) - 1), size * 0.5 * math.Sin(a), 0}
	case "circle-h":
		a := 2 * math.Pi * u * float64(reps)
		m.offset = vec{size * 0.5 * (math.Cos(a) - 1), 0, size * 0.5 * math.Sin(a)}
	case "zigzag":
		m.offset = vec{size * 0.35 * math.Sin(2*math.Pi*u*float64(reps+1)), size * smooth(u), 0}
	case "twist":
		m.twist = deg(80) * c
	case "wiggle":
		m.wiggle = 2 * math.Pi * u * float64(2+reps)
		m.offset = vec{0, 0.006 * math.Sin(math.Pi*u), 0}
	case "tap":
		t := cycle(u, max(reps, 2))
		if reps == 1 {
			t = math.Sin(math.Pi * u)
		}
		m.offset = vec{0, size * 0.25 * t, size * 0.4 * t}
	case "open", "close":
		m.shape = smooth(u)
		m.offset = vec{0, 0, -size * 0.3 * smooth(u)}
	}
	return m
}
