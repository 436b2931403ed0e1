package synth

import (
	"math"
	"math/rand/v2"
)

// The 543-point layout: pose, face, left hand, right hand (as poseformat.NumPoints).
const (
	numPoints  = 543
	faceOff    = 33
	leftOff    = 33 + 468
	rightOff   = leftOff + 21
	lipOpening = 0.004 // metres the inner lips part while mouthing
)

// handState is one hand in right-hand space: the dominant hand of a right-handed signer
// as it is, the other hand as its mirror image (so symmetric signs share one state).
type handState struct {
	wrist vec
	fr    frame3
	ang   handAngles
}

// bodyState is both hands at one moment.
type bodyState struct{ d, n handState }

// headPose is the head's position and small rotation at one moment.
type headPose struct {
	origin vec
	m      [3]vec // rotation matrix rows
}

// newHeadPose turns the head by roll (about z), then pitch (about x), then yaw (about y).
func newHeadPose(origin vec, yaw, pitch, roll float64) headPose {
	cy, sy := math.Cos(yaw), math.Sin(yaw)
	cp, sp := math.Cos(pitch), math.Sin(pitch)
	cr, sr := math.Cos(roll), math.Sin(roll)
	rz := [3]vec{{cr, -sr, 0}, {sr, cr, 0}, {0, 0, 1}}
	rx := [3]vec{{1, 0, 0}, {0, cp, -sp}, {0, sp, cp}}
	ry := [3]vec{{cy, 0, sy}, {0, 1, 0}, {-sy, 0, cy}}
	mul := func(a, b [3]vec) [3]vec {
		var o [3]vec
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				o[i][j] = a[i][0]*b[0][j] + a[i][1]*b[1][j] + a[i][2]*b[2][j]
			}
		}
		return o
	}
	return headPose{origin: origin, m: mul(ry, mul(rx, rz))}
}

func (h *headPose) rot(p vec) vec {
	return vec{h.m[0].dot(p), h.m[1].dot(p), h.m[2].dot(p)}
}

// tokenVar is how one performance of a sign differs from its citation form.
type tokenVar struct {
	loc   vec
	twist float64
	ang   handAngles
	size  float64
}

// Clip is one rendered signer turn: frames in the 543-point layout (x, y in pixels,
// z as MediaPipe reports it), per-point confidence, and each sign's [first, end) frames.
type Clip struct {
	Points [][numPoints][3]float32
	Conf   [][numPoints]float32
	Spans  [][2]int
}

// renderer turns sign sequences into keypoint frames for one signer.
type renderer struct {
	sg            *Signer
	lx            *Lexicon
	r             *rand.Rand
	fps           float64
	width, height int
	face          *[468]vec
}

// segment kinds of a turn's timeline.
const (
	segRest = iota
	segSign
	segMove
)

type segment struct {
	kind         int
	start, n     int
	sign         int // index into the turn's signs for segSign
	from, to     int // neighbouring sign indexes for segMove (-1: rest)
	tv           tokenVar
	startShift   vec // co-articulation: where the sign's start leans to (segSign)
	endShift     vec
	nextAng      handAngles
	hasNext      bool
	headPhaseOff float64
}

var relaxed = handAngles{20, 25, 10, 4, 20, 25, 10, 0, 22, 25, 10, -3, 25, 25, 10, -8, 30, 20, 10, 5}

func (rd *renderer) restState(semi bool) handState {
	sc := rd.sg.Scale
	if semi {
		return handState{wrist: vec{-0.12 * sc, 0.24 * sc, -0.20 * sc}, fr: handFrame(vec{0.7, -0.2, -0.6}, vec{0.2, 1, 0.1}), ang: relaxed}
	}
	return handState{wrist: vec{-0.17 * sc, rd.sg.RestY * sc, -0.08 * sc}, fr: handFrame(vec{0.5, 0.3, -0.8}, vec{0.1, 1, 0.4}), ang: relaxed}
}

// palmCentre is the point of the hand that goes to a sign's location (hand frame, metres).
var palmCentre = vec{0.004, 0.065, 0.012}

func (rd *renderer) place(target vec, fr frame3, ang handAngles) handState {
	return handState{wrist: target.sub(fr.apply(palmCentre.scale(rd.sg.HandSize))), fr: fr, ang: ang}
}

func shapeAngles(name string) handAngles {
	if h := handshapeByName(name); h != nil {
		return h.angles
	}
	return relaxed
}

// signState evaluates sign s at u in [0,1].
func (rd *renderer) signState(s *sign, u float64, tv *tokenVar, hp *headPose, nSemi bool) bodyState {
	sc := rd.sg.Scale
	loc := locations[s.loc]
	L := loc.pos.add(s.shift).scale(sc)
	if loc.head {
		L = hp.origin.add(hp.rot(L))
	}
	L = L.add(tv.loc).add(vec(rd.sg.PlaceBias).scale(sc))
	o := orientations[s.ori]
	mo := pathAt(s.path, u, s.reps, s.size*rd.sg.Amplitude*tv.size*sc)
	fr := handFrame(o.fingers, o.palm).twist(deg(s.twist+tv.twist+rd.sg.TwistBias) + mo.twist)
	ang := shapeAngles(s.shape).lerp(shapeAngles(s.endShape), mo.shape)
	for i := range ang {
		ang[i] += tv.ang[i]
	}
	for f := 0; f < 4; f++ { // the sign's bend and the signer's laxness
		b := s.bend + rd.sg.Laxness
		ang[4*f] += b
		ang[4*f+1] += b
		ang[4*f+2] += b / 2
	}
	if mo.wiggle != 0 {
		for f := 0; f < 4; f++ {
			ang[4*f] += 22 * math.Sin(mo.wiggle+0.9*float64(f))
		}
	}
	var st bodyState
	switch s.hands {
	case symHands, altHands:
		L = L.add(vec{-0.07 * sc, 0, 0})
		st.d = rd.place(L.add(mo.offset), fr, ang)
		off := mo.offset
		if s.hands == altHands {
			// The other hand runs half a cycle behind: the reverse path for a single
			// movement, a phase shift for repeated (periodic) ones.
			v := 1 - u
			if s.reps > 1 {
				v = u + 0.5/float64(s.reps)
			}
			off = pathAt(s.path, v, s.reps, s.size*rd.sg.Amplitude*tv.size*sc).offset
		}
		st.n = rd.place(L.add(off), fr, ang)
	case baseHands:
		bpos := vec{-0.03 * sc, 0.17 * sc, -0.27 * sc}
		var bfr frame3
		var contact vec
		switch s.loc {
		case "base-palm":
			bfr, contact = handFrame(vec{0.6, 0, -0.8}, vec{0, -1, 0}), vec{0, 0.06, 0.03}
		case "base-back":
			bfr, contact = handFrame(vec{0.6, 0, -0.8}, vec{0, 1, 0}), vec{0, 0.06, -0.035}
		default:
			bfr, contact = handFrame(vec{0.3, -1, -0.2}, vec{1, 0, 0}), vec{0, 0.16, 0}
		}
		st.n = handState{wrist: bpos, fr: bfr, ang: shapeAngles(s.baseSh)}
		c := bpos.add(bfr.apply(contact.scale(rd.sg.HandSize))).mirror().add(s.shift.scale(sc))
		st.d = rd.place(c.add(vec{0, -0.02 * sc, -0.01 * sc}).add(tv.loc).add(mo.offset), fr, ang)
	default:
		st.d = rd.place(L.add(mo.offset), fr, ang)
		st.n = rd.restState(nSemi)
	}
	return st
}

func blendHands(a, b handState, t, bulge float64) handState {
	st := smooth(t)
	w := lerp(a.wrist, b.wrist, st)
	// Transitions curve a little towards the camera, as arms do.
	w[2] -= bulge * a.wrist.sub(b.wrist).norm() * math.Sin(math.Pi*st)
	return handState{wrist: w, fr: blendFrames(a.fr, b.fr, st), ang: a.ang.lerp(b.ang, st)}
}

// timeline lays out a turn: rest, transitions, signs, transitions, rest. Transitions
// take longer the farther the hands travel, as people's do (about 0.1 s plus 0.6 s per
// metre, at the signer's speed).
func (rd *renderer) timeline(signs []*sign) ([]segment, int) {
	r, sp := rd.r, rd.sg.Speed
	frames := func(sec float64) int { return max(2, int(math.Round(sec*rd.fps))) }
	tvs := make([]tokenVar, len(signs))
	durs := make([]int, len(signs))
	for i, s := range signs {
		tv := tokenVar{
			loc:   vec{0.008 * r.NormFloat64(), 0.008 * r.NormFloat64(), 0.008 * r.NormFloat64()}.scale(rd.sg.Scale),
			twist: 4 * r.NormFloat64(),
			size:  0.9 + 0.2*r.Float64(),
		}
		for j := range tv.ang {
			tv.ang[j] = 3 * r.NormFloat64()
		}
		tvs[i] = tv
		durs[i] = max(6, frames(s.dur*(0.9+0.2*r.Float64())/sp))
	}
	still := newHeadPose(rd.headOrigin(0), 0, 0, 0)
	semi := func(i int) bool {
		return (i > 0 && signs[i-1].hands != oneHand) || (i+1 < len(signs) && signs[i+1].hands != oneHand)
	}
	rest := bodyState{d: rd.restState(false), n: rd.restState(false)}
	state := func(i int, u float64) bodyState {
		if i < 0 || i >= len(signs) {
			return rest
		}
		return rd.signState(signs[i], u, &tvs[i], &still, semi(i))
	}
	move := func(from, to int) int {
		a, b := state(from, 1), state(to, 0)
		dist := math.Max(a.d.wrist.sub(b.d.wrist).norm(), a.n.wrist.sub(b.n.wrist).norm())
		return frames((0.1 + 0.6*dist) * (0.9 + 0.2*r.Float64()) / sp)
	}
	var segs []segment
	t := 0
	add := func(s segment) {
		s.start = t
		t += s.n
		segs = append(segs, s)
	}
	add(segment{kind: segRest, n: frames(0.4 + 0.4*r.Float64())}) // hands down while the other person finishes
	add(segment{kind: segMove, n: move(-1, 0), from: -1, to: 0})
	for i := range signs {
		add(segment{kind: segSign, n: durs[i], sign: i, tv: tvs[i]})
		if i+1 < len(signs) {
			add(segment{kind: segMove, n: move(i, i+1), from: i, to: i + 1})
		}
	}
	add(segment{kind: segMove, n: move(len(signs)-1, -1), from: len(signs) - 1, to: -1})
	add(segment{kind: segRest, n: frames(0.35 + 0.35*r.Float64())})
	return segs, t
}

// render draws one turn.
func (rd *renderer) render(signs []*sign) *Clip {
	segs, total := rd.timeline(signs)
	signSeg := make([]*segment, len(signs))
	for i := range segs {
		if segs[i].kind == segSign {
			signSeg[segs[i].sign] = &segs[i]
		}
	}
	twoHanded := func(i int) bool { return i >= 0 && i < len(signs) && signs[i].hands != oneHand }
	semi := func(i int) bool { return twoHanded(i-1) || twoHanded(i+1) }
	// Co-articulation: each sign leans 15% towards where its neighbours are, and its
	// handshape starts turning into the next one before it ends.
	still := newHeadPose(rd.headOrigin(0), 0, 0, 0)
	for i, sg := range signSeg {
		if i > 0 {
			prev := rd.signState(signs[i-1], 1, &signSeg[i-1].tv, &still, semi(i-1))
			cur := rd.signState(signs[i], 0, &sg.tv, &still, semi(i))
			sg.startShift = prev.d.wrist.sub(cur.d.wrist).scale(0.15)
		}
		if i+1 < len(signs) {
			next := rd.signState(signs[i+1], 0, &signSeg[i+1].tv, &still, semi(i+1))
			cur := rd.signState(signs[i], 1, &sg.tv, &still, semi(i))
			sg.endShift = next.d.wrist.sub(cur.d.wrist).scale(0.15)
			sg.nextAng, sg.hasNext = next.d.ang, true
		}
	}
	ph := [3]float64{rd.r.Float64() * 6.3, rd.r.Float64() * 6.3, rd.r.Float64() * 6.3}
	at := func(i int, u float64, hp *headPose) bodyState {
		sg := signSeg[i]
		st := rd.signState(signs[i], u, &sg.tv, hp, semi(i))
		shift := sg.startShift.scale(1 - u).add(sg.endShift.scale(u))
		st.d.wrist = st.d.wrist.add(shift)
		if signs[i].hands == symHands || signs[i].hands == altHands {
			st.n.wrist = st.n.wrist.add(shift)
		}
		if sg.hasNext && u > 0.75 {
			st.d.ang = st.d.ang.lerp(sg.nextAng, 0.25*smooth((u-0.75)/0.25))
		}
		return st
	}
	rest := bodyState{d: rd.restState(false), n: rd.restState(false)}
	c := &Clip{
		Points: make([][numPoints][3]float32, total),
		Conf:   make([][numPoints]float32, total),
	}
	nz := newNoise(rd)
	for _, s := range segs {
		if s.kind == segSign {
			c.Spans = append(c.Spans, [2]int{s.start, s.start + s.n})
		}
		for k := 0; k < s.n; k++ {
			f := s.start + k
			sec := float64(f) / rd.fps
			hp := newHeadPose(rd.headOrigin(sec),
				deg(3)*math.Sin(2*math.Pi*sec/4.1+ph[0]),
				deg(2.5)*math.Sin(2*math.Pi*sec/3.3+ph[1]),
				deg(1.5)*math.Sin(2*math.Pi*sec/5.3+ph[2]))
			var st bodyState
			switch s.kind {
			case segRest:
				st = rest
			case segSign:
				st = at(s.sign, (float64(k)+0.5)/float64(s.n), &hp)
			case segMove:
				a, b := rest, rest
				if s.from >= 0 {
					a = at(s.from, 1, &hp)
				}
				if s.to >= 0 {
					b = at(s.to, 0, &hp)
				}
				t := (float64(k) + 1) / float64(s.n+1)
				st = bodyState{d: blendHands(a.d, b.d, t, 0.15), n: blendHands(a.n, b.n, t, 0.15)}
			}
			mouth := 0.0
			if s.kind == segSign {
				mouth = 0.5 + 0.5*math.Sin(2*math.Pi*sec*3)
			}
			rd.draw(&c.Points[f], &hp, &st, sec, mouth)
			nz.apply(&c.Points[f], &c.Conf[f])
		}
	}
	return c
}

func (rd *renderer) headOrigin(sec float64) vec {
	sc := rd.sg.Scale
	return vec{0.006 * math.Sin(2*math.Pi*sec/2.7), -0.215*sc + 0.003*math.Sin(2*math.Pi*sec/3.9), -0.035 * sc}
}

// draw writes the clean keypoints of one frame (pixels; z as MediaPipe reports it).
func (rd *renderer) draw(out *[numPoints][3]float32, hp *headPose, st *bodyState, sec, mouth float64) {
	sg := rd.sg
	sc := sg.Scale
	sway := vec{0.006 * math.Sin(2*math.Pi*sec/2.7), 0.002 * math.Sin(2*math.Pi*sec/3.9), 0}
	s := sg.PxPerM
	w := float64(rd.width)
	proj := func(p vec, zref, zscale float64) [3]float32 {
		f := 2.6 / (2.6 + p[2])
		return [3]float32{float32(sg.Center[0] + s*p[0]*f), float32(sg.Center[1] + s*p[1]*f), float32((p[2] - zref) * s / w * zscale)}
	}
	// Face.
	var face [468]vec
	for i, p := range rd.face {
		q := p.scale(sc)
		if mouth > 0 && q[1] > 0.062*sc && q[1] < 0.1*sc && math.Abs(q[0]) < 0.03*sc {
			q[1] += lipOpening * mouth * sc // the jaw and lower lip drop while mouthing
		}
		face[i] = hp.origin.add(hp.rot(q)).add(sway)
		out[faceOff+i] = proj(face[i], hp.origin[2], 1)
	}
	// Hands: physical right and left.
	right, left := st.d, st.n
	rightMirror, leftMirror := false, true
	if sg.LeftHanded {
		right, left = st.n, st.d
		rightMirror, leftMirror = true, false
	}
	var hands [2][21]vec // left, right
	for hi, h := range []struct {
		hs     handState
		mirror bool
	}{{left, leftMirror}, {right, rightMirror}} {
		pts := handPoints(&h.hs.ang, sg.HandSize)
		for j, p := range pts {
			q := h.hs.wrist.add(h.hs.fr.apply(p)).add(sway)
			if j == 0 {
				q = h.hs.wrist.add(sway)
			}
			if h.mirror {
				q = q.mirror()
			}
			hands[hi][j] = q
		}
		off := leftOff
		if hi == 1 {
			off = rightOff
		}
		for j, q := range hands[hi] {
			out[off+j] = proj(q, hands[hi][0][2], 1)
		}
	}
	// Pose. MediaPipe's pose z is relative to the hips and exaggerated about five times.
	const zHip = 0.03
	pz := func(p vec) [3]float32 { return proj(p, zHip, 5) }
	avg := func(a, b vec) vec { return lerp(a, b, 0.5) }
	out[0] = pz(face[1])
	out[1], out[2], out[3] = pz(face[362]), pz(avg(face[362], face[263])), pz(face[263])
	out[4], out[5], out[6] = pz(face[133]), pz(avg(face[133], face[33])), pz(face[33])
	out[7] = pz(hp.origin.add(hp.rot(vec{0.075 * sc, 0.005, 0.06 * sc})).add(sway))
	out[8] = pz(hp.origin.add(hp.rot(vec{-0.075 * sc, 0.005, 0.06 * sc})).add(sway))
	out[9], out[10] = pz(face[291]), pz(face[61])
	shL := vec{0.19 * sc, 0, 0.02}.add(sway)
	shR := vec{-0.19 * sc, 0, 0.02}.add(sway)
	out[11], out[12] = pz(shL), pz(shR)
	out[13] = pz(elbow(shL, hands[0][0], sc, 1))
	out[14] = pz(elbow(shR, hands[1][0], sc, -1))
	for side := 0; side < 2; side++ {
		h := hands[side]
		out[15+side] = pz(h[0])
		out[17+side] = pz(h[17])
		out[19+side] = pz(avg(h[5], h[6]))
		out[21+side] = pz(h[2])
	}
	for side, x := range []float64{0.14, -0.14} {
		out[23+side] = pz(vec{x * sc, 0.52 * sc, zHip})
		out[25+side] = pz(vec{x * sc * 1.02, 0.98 * sc, 0.0})
		out[27+side] = pz(vec{x * sc * 0.95, 1.42 * sc, 0.05})
		out[29+side] = pz(vec{x * sc * 0.95, 1.47 * sc, 0.09})
		out[31+side] = pz(vec{x * sc, 1.50 * sc, -0.07})
	}
}

// elbow places the elbow for a shoulder and wrist with two-link inverse kinematics,
// the elbow hanging down and out (side: +1 for the left arm, -1 for the right).
func elbow(shoulder, wrist vec, sc, side float64) vec {
	l1, l2 := 0.29*sc, 0.25*sc
	d := wrist.sub(shoulder)
	dist := d.norm()
	dist = math.Min(math.Max(dist, math.Abs(l1-l2)+0.01), l1+l2-0.001)
	u := d.unit()
	a := (l1*l1 - l2*l2 + dist*dist) / (2 * dist)
	h := math.Sqrt(math.Max(0, l1*l1-a*a))
	pole := vec{0.35 * side, 1, 0.35}
	pole = pole.sub(u.scale(pole.dot(u))).unit()
	return shoulder.add(u.scale(a)).add(pole.scale(h))
}
