package synth

import "math"

// The kinematic hand: 21 MediaPipe hand points from joint angles on human bone
// proportions. Points are built for a right hand in its own frame (metres, see frame3)
// and placed by the caller; a left hand is the mirror image.
//
// MediaPipe's hand indices: 0 wrist; thumb 1 CMC, 2 MCP, 3 IP, 4 tip; index 5-8,
// middle 9-12, ring 13-16, pinky 17-20 (MCP, PIP, DIP, tip).

// Bone proportions of an adult hand, 17 cm from MediaPipe's wrist point to the middle
// fingertip, as ratios to the wrist-middle MCP distance that match real MediaPipe hands
// (see hand_test.go, which checks them against the shared pose samples).
var (
	fingerBase = [4]vec{ // MCP joints from the wrist point (which sits towards the pinky side)
		{0.034, 0.083, 0.000},
		{0.011, 0.086, 0.002},
		{-0.011, 0.081, 0.000},
		{-0.032, 0.070, -0.004},
	}
	fingerBones = [4][3]float64{ // proximal, middle, distal phalanx
		{0.0346, 0.0216, 0.0173},
		{0.0380, 0.0250, 0.0190},
		{0.0355, 0.0240, 0.0180},
		{0.0290, 0.0190, 0.0170},
	}
	thumbBase  = vec{0.030, 0.024, 0.006}
	thumbBones = [3]float64{0.037, 0.0277, 0.0216} // metacarpal, proximal, distal
)

// handAngles holds the joint angles of a hand in degrees:
// [0..15] per finger (index..pinky): MCP flexion, PIP flexion, DIP flexion, abduction
// (towards the thumb is positive); [16..19] thumb: spread in the palm plane, lift out of
// the palm plane, MCP flexion, IP flexion.
type handAngles [20]float64

func (a handAngles) lerp(b handAngles, t float64) handAngles {
	var out handAngles
	for i := range a {
		out[i] = a[i] + (b[i]-a[i])*t
	}
	return out
}

// handPoints returns the 21 points of a right hand of the given size (1 = reference)
// in the hand's own frame.
func handPoints(a *handAngles, size float64) [21]vec {
	var p [21]vec
	z := vec{0, 0, 1}
	for f := 0; f < 4; f++ {
		mcp, pip, dip, abd := deg(a[4*f]), deg(a[4*f+1]), deg(a[4*f+2]), deg(a[4*f+3])
		d0 := vec{math.Sin(abd), math.Cos(abd), 0}
		base := fingerBase[f].scale(size)
		p[5+4*f] = base
		ang := 0.0
		cur := base
		for j, flex := range [3]float64{mcp, pip, dip} {
			ang += flex
			dir := d0.scale(math.Cos(ang)).add(z.scale(math.Sin(ang)))
			cur = cur.add(dir.scale(fingerBones[f][j] * size))
			p[6+4*f+j] = cur
		}
	}
	spread, lift := deg(a[16]), deg(a[17])
	d := vec{math.Sin(spread) * math.Cos(lift), math.Cos(spread) * math.Cos(lift), math.Sin(lift)}
	cur := thumbBase.scale(size)
	p[1] = cur
	cur = cur.add(d.scale(thumbBones[0] * size))
	p[2] = cur
	// The thumb's MCP and IP joints bend towards the palm's centre.
	toward := vec{-0.6, -0.2, 0.8}
	f := toward.sub(d.scale(toward.dot(d))).unit()
	ang := 0.0
	for j, flex := range [2]float64{deg(a[18]), deg(a[19])} {
		ang += flex
		dir := d.scale(math.Cos(ang)).add(f.scale(math.Sin(ang)))
		cur = cur.add(dir.scale(thumbBones[j+1] * size))
		p[3+j] = cur
	}
	return p
}

// handshape is a named hand configuration of sign language phonology.
type handshape struct {
	name   string
	angles handAngles
}

// finger returns the four angles of one finger.
func fg(mcp, pip, dip, abd float64) [4]float64 { return [4]float64{mcp, pip, dip, abd} }

func shape(name string, index, middle, ring, pinky [4]float64, thumb [4]float64) handshape {
	var a handAngles
	for f, x := range [4][4]float64{index, middle, ring, pinky} {
		copy(a[4*f:4*f+4], x[:])
	}
	copy(a[16:], thumb[:])
	return handshape{name: name, angles: a}
}

// Finger postures used by the handshapes below.
var (
	straight = func(abd float64) [4]float64 { return fg(0, 0, 0, abd) }
	curled   = func(abd float64) [4]float64 { return fg(85, 100, 60, abd) }
)

// handshapes is the inventory. Shapes that differ in one finger's bend are the subtle
// contrasts the minimal pairs use (B / bent-B, 1 / X, V / bent-V, 5 / claw, C / O ...).
var handshapes = []handshape{
	shape("5", straight(12), straight(0), straight(-9), straight(-20), [4]float64{58, 10, 0, 0}),
	shape("B", straight(3), straight(0), straight(-2), straight(-4), [4]float64{14, 28, 30, 15}),
	shape("bent-B", fg(60, 5, 0, 3), fg(60, 5, 0, 0), fg(60, 5, 0, -2), fg(60, 5, 0, -4), [4]float64{14, 28, 30, 15}),
	shape("flat-B", fg(20, 0, 0, 2), fg(20, 0, 0, 0), fg(20, 0, 0, -2), fg(20, 0, 0, -4), [4]float64{40, 5, 0, 0}),
	shape("A", curled(0), curled(0), curled(0), curled(0), [4]float64{10, 4, 0, 0}),
	shape("S", curled(0), curled(0), curled(0), curled(0), [4]float64{10, 45, 40, 25}),
	shape("1", straight(0), curled(0), curled(0), curled(0), [4]float64{10, 45, 40, 25}),
	shape("X", fg(20, 90, 60, 0), curled(0), curled(0), curled(0), [4]float64{10, 45, 40, 25}),
	shape("V", straight(10), straight(-8), curled(0), curled(0), [4]float64{10, 45, 40, 25}),
	shape("bent-V", fg(15, 80, 50, 10), fg(15, 80, 50, -8), curled(0), curled(0), [4]float64{10, 45, 40, 25}),
	shape("H", straight(0), straight(0), curled(0), curled(0), [4]float64{10, 45, 40, 25}),
	shape("W", straight(12), straight(0), straight(-10), curled(0), [4]float64{10, 45, 50, 35}),
	shape("Y", curled(0), curled(0), curled(0), straight(-20), [4]float64{60, 10, 0, 0}),
	shape("I", curled(0), curled(0), curled(0), straight(-5), [4]float64{10, 45, 40, 25}),
	shape("L", straight(0), curled(0), curled(0), curled(0), [4]float64{75, 5, 0, 0}),
	shape("3", straight(10), straight(-8), curled(0), curled(0), [4]float64{60, 10, 0, 0}),
	shape("C", fg(30, 45, 25, 4), fg(30, 45, 25, 0), fg(30, 45, 25, -3), fg(30, 45, 25, -6), [4]float64{40, 50, 15, 10}),
	shape("O", fg(45, 70, 45, 3), fg(45, 70, 45, 0), fg(45, 70, 45, -3), fg(45, 70, 45, -5), [4]float64{25, 60, 25, 20}),
	shape("flat-O", fg(60, 15, 5, 2), fg(60, 15, 5, 0), fg(60, 15, 5, -2), fg(60, 15, 5, -4), [4]float64{20, 55, 15, 5}),
	shape("F", fg(45, 60, 40, 5), straight(0), straight(-8), straight(-18), [4]float64{25, 60, 25, 20}),
	shape("claw", fg(15, 55, 45, 12), fg(15, 55, 45, 0), fg(15, 55, 45, -9), fg(15, 55, 45, -20), [4]float64{55, 20, 20, 20}),
	shape("open-8", straight(12), fg(55, 20, 5, 0), straight(-9), straight(-20), [4]float64{50, 30, 10, 5}),
}

func handshapeByName(name string) *handshape {
	for i := range handshapes {
		if handshapes[i].name == name {
			return &handshapes[i]
		}
	}
	return nil
}
