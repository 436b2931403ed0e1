package pose

import "math"

// Rect is a rotated rectangle in normalised image coordinates, MediaPipe's NormalizedRect:
// centre XC, YC and size W, H as fractions of the image's width and height, and Rot the
// clockwise rotation in radians (image y points down). Every crop the pipeline feeds a
// model is one of these.
type Rect struct {
	XC, YC, W, H, Rot float64
}

// point is a landmark or keypoint in normalised image coordinates (z on the scale of x).
type point struct {
	X, Y, Z    float64
	Visibility float64
	Presence   float64
}

// normalizeRadians maps a to [-pi, pi).
func normalizeRadians(a float64) float64 {
	return a - 2*math.Pi*math.Floor((a+math.Pi)/(2*math.Pi))
}

// rotationOf is the rotation that turns the vector from p0 to p1 (measured in pixels)
// to the target angle (radians, counter-clockwise from +x as a person sees the image).
func rotationOf(p0, p1 point, w, h int, target float64) float64 {
	dx := (p1.X - p0.X) * float64(w)
	dy := (p1.Y - p0.Y) * float64(h)
	return normalizeRadians(target - math.Atan2(-dy, dx))
}

// alignmentRect centres a square on start whose side is twice the pixel distance from
// start to end, rotated so that start->end points at target.
func alignmentRect(start, end point, w, h int, target float64) Rect {
	dx := (end.X - start.X) * float64(w)
	dy := (end.Y - start.Y) * float64(h)
	size := 2 * math.Hypot(dx, dy)
	return Rect{
		XC: start.X, YC: start.Y,
		W: size / float64(w), H: size / float64(h),
		Rot: rotationOf(start, end, w, h, target),
	}
}

// boundsRect is the axis-aligned bounding box of pts, unrotated.
func boundsRect(pts []point) Rect {
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		minX, maxX = math.Min(minX, p.X), math.Max(maxX, p.X)
		minY, maxY = math.Min(minY, p.Y), math.Max(maxY, p.Y)
	}
	return Rect{XC: (minX + maxX) / 2, YC: (minY + maxY) / 2, W: maxX - minX, H: maxY - minY}
}

// transform is MediaPipe's RectTransformationCalculator: shift along the rectangle's own
// axes (fractions of its size), optionally make it square on its long side in pixels,
// then scale.
type transform struct {
	scaleX, scaleY float64
	shiftX, shiftY float64
	squareLong     bool
}

func (t transform) apply(r Rect, w, h int) Rect {
	fw, fh := float64(w), float64(h)
	if r.Rot == 0 {
		r.XC += r.W * t.shiftX
		r.YC += r.H * t.shiftY
	} else {
		sin, cos := math.Sincos(r.Rot)
		r.XC += (fw*r.W*t.shiftX*cos - fh*r.H*t.shiftY*sin) / fw
		r.YC += (fw*r.W*t.shiftX*sin + fh*r.H*t.shiftY*cos) / fh
	}
	if t.squareLong {
		long := math.Max(r.W*fw, r.H*fh)
		r.W, r.H = long/fw, long/fh
	}
	r.W *= t.scaleX
	r.H *= t.scaleY
	return r
}

// project maps a point given in the rectangle's own normalised frame (0..1 across the
// crop) back to normalised image coordinates. z is scaled like x.
func (r Rect) project(p point) point {
	x, y := p.X-0.5, p.Y-0.5
	sin, cos := math.Sincos(r.Rot)
	p.X = (cos*x-sin*y)*r.W + r.XC
	p.Y = (sin*x+cos*y)*r.H + r.YC
	p.Z *= r.W
	return p
}

// valid reports whether the rectangle can be cropped: a finite, positive size.
func (r Rect) valid(w, h int) bool {
	for _, v := range []float64{r.XC, r.YC, r.W, r.H, r.Rot} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return r.W*float64(w) >= 1 && r.H*float64(h) >= 1
}

// handRectFromPose is the hand's first crop from the pose: centred on an estimate of the
// middle finger (two thirds of the way from pinky to index), twice the wrist distance in
// size, rotated so that the wrist->middle vector points up.
func handRectFromPose(wrist, pinky, index point, w, h int) Rect {
	middle := point{X: (2*index.X + pinky.X) / 3, Y: (2*index.Y + pinky.Y) / 3}
	dx := (middle.X - wrist.X) * float64(w)
	dy := (middle.Y - wrist.Y) * float64(h)
	size := 2 * math.Hypot(dx, dy)
	return Rect{
		XC: middle.X, YC: middle.Y,
		W: size / float64(w), H: size / float64(h),
		Rot: rotationOf(wrist, middle, w, h, math.Pi/2),
	}
}

// palmPoints are the hand landmarks that place the next frame's hand crop: the wrist and
// the two lower joints of each finger (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18). Fingertips
// and the thumb's tip move and blur most from frame to frame; the palm does not.
// MediaPipe's HandLandmarksToRectCalculator picks this subset itself when it is handed all
// 21 landmarks (as Holistic's hand-tracking graph does); before March 2022 the graph cut
// the same subset out before calling it.
var palmPoints = [...]int{0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18}

// handRectFromLandmarks is Holistic's rectangle around the previous frame's hand: the
// tightest box around palmPoints, rotated so that the vector from the wrist to the palm's
// top points up. The palm's top is the mean of the middle finger's knuckle (MCP, 9) and the
// midpoint of the index and ring knuckles (5, 13).
func handRectFromLandmarks(lm []point, w, h int) Rect {
	palm := make([]point, len(palmPoints))
	for i, k := range palmPoints {
		palm[i] = lm[k]
	}
	x1 := ((lm[5].X+lm[13].X)/2 + lm[9].X) / 2
	y1 := ((lm[5].Y+lm[13].Y)/2 + lm[9].Y) / 2
	rot := rotationOf(lm[0], point{X: x1, Y: y1}, w, h, math.Pi/2)
	return rotatedBounds(palm, rot, float64(w), float64(h))
}

// rotatedBounds is the tightest rectangle with rotation rot around pts.
func rotatedBounds(pts []point, rot, fw, fh float64) Rect {
	ab := boundsRect(pts)
	sin, cos := math.Sincos(normalizeRadians(-rot))
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		x := (p.X - ab.XC) * fw
		y := (p.Y - ab.YC) * fh
		px := x*cos - y*sin
		py := x*sin + y*cos
		minX, maxX = math.Min(minX, px), math.Max(maxX, px)
		minY, maxY = math.Min(minY, py), math.Max(maxY, py)
	}
	cx, cy := (minX+maxX)/2, (minY+maxY)/2
	s, c := math.Sincos(rot)
	return Rect{
		XC:  (cx*c-cy*s)/fw + ab.XC,
		YC:  (cx*s+cy*c)/fh + ab.YC,
		W:   (maxX - minX) / fw,
		H:   (maxY - minY) / fh,
		Rot: rot,
	}
}

// trackingLimits say how far a new re-crop rectangle may move from the previous frame's
// landmark rectangle before the pipeline stops trusting the previous landmarks.
type trackingLimits struct {
	rotationDeg float64
	translation float64 // fraction of the re-crop's size
	scale       float64 // fraction of the re-crop's size
	margin      float64 // the previous landmarks must lie inside the re-crop grown by this
}

// keepTracking is MediaPipe's RoiTrackingCalculator: true when the previous frame's
// landmark rectangle is close enough to this frame's re-crop rectangle, and every previous
// landmark lies inside the re-crop, to be used instead of it.
func keepTracking(prev []point, prevRect, recrop Rect, w, h int, lim trackingLimits) bool {
	fw, fh := float64(w), float64(h)
	sin, cos := math.Sincos(-recrop.Rot)
	rot := func(x, y float64) (float64, float64) {
		return x*fw*cos - y*fh*sin, x*fw*sin + y*fh*cos
	}
	ok := true
	d := (prevRect.Rot - recrop.Rot) * 180 / math.Pi
	if d > 180 {
		d -= 360
	}
	if d < -180 {
		d += 360
	}
	if math.Abs(d) > lim.rotationDeg {
		ok = false
	}
	px, py := rot(prevRect.XC, prevRect.YC)
	rx, ry := rot(recrop.XC, recrop.YC)
	rw, rh := recrop.W*fw, recrop.H*fh
	if math.Abs(px-rx) > rw*lim.translation || math.Abs(py-ry) > rh*lim.translation {
		ok = false
	}
	if math.Abs(prevRect.W*fw-rw) > rw*lim.scale || math.Abs(prevRect.H*fh-rh) > rh*lim.scale {
		ok = false
	}
	mw, mh := rw*(1+lim.margin), rh*(1+lim.margin)
	for _, p := range prev {
		x, y := rot(p.X, p.Y)
		if !(rx-mw/2 < x && x < rx+mw/2 && ry-mh/2 < y && y < ry+mh/2) {
			return false
		}
	}
	return ok
}
