package slr

import (
	"fmt"
	"math"
	"time"

	"scope/models/bundle"
)

// NumPoints is the size of the MediaPipe Holistic layout: 33 pose, 468 face, 21 + 21 hand points.
const NumPoints = 543

// Shoulder points of the pose, which centre and scale the features.
const (
	leftShoulder  = 11
	rightShoulder = 12
)

// Frame is one frame of keypoints in the Holistic layout: x, y (pixels, or any units equal
// on both axes), z, and a confidence per point (0 = not found).
//
// PTS is the frame's capture time. The recogniser does not read it; the segmenter keeps
// it with the frame, so that a Segment carries its own start and end times.
type Frame struct {
	Points [NumPoints][3]float32
	Conf   [NumPoints]float32
	PTS    time.Duration
}

// Features computes the standardised feature matrix [len(frames)][spec.Dim], row-major,
// of frames recorded at fps. The steps are those of train/slr/features.py (and the bundle
// manifest's feature spec): centre on the shoulders, scale by their distance, positions and
// velocities of the selected points, hand flags, then (v - mean) / std.
func Features(frames []Frame, fps float64, spec *bundle.Features) ([]float32, error) {
	raw, err := RawFeatures(frames, fps, spec)
	if err != nil {
		return nil, err
	}
	d := spec.Dim
	for t := 0; t < len(frames); t++ {
		row := raw[t*d : (t+1)*d]
		for i := range row {
			row[i] = float32((float64(row[i]) - float64(spec.Mean[i])) / float64(spec.Std[i]))
		}
	}
	return raw, nil
}

// handShapeDim is the size of version 2's hand-shape block: hand points 1..20 of each
// hand, x and y, relative to the wrist.
const handShapeDim = 2 * 20 * 2

// FeatureDim is the feature vector's size for p selected points in feature version v.
func FeatureDim(p, version int) int {
	if version >= 2 {
		return 4*p + 2 + handShapeDim
	}
	return 4*p + 2
}

// RawFeatures is Features without the final standardisation.
func RawFeatures(frames []Frame, fps float64, spec *bundle.Features) ([]float32, error) {
	p := len(spec.Points)
	if spec.Version < 1 || spec.Version > 2 {
		return nil, fmt.Errorf("feature spec: version %d is unknown (this scope reads 1 and 2): update scope", spec.Version)
	}
	if spec.Dim != FeatureDim(p, spec.Version) {
		return nil, fmt.Errorf("feature spec: dim %d does not match %d points in version %d", spec.Dim, p, spec.Version)
	}
	if spec.Version >= 2 && p < 42 {
		return nil, fmt.Errorf("feature spec: version 2 needs both hands (21 points each) last among the points; have %d points", p)
	}
	if !(fps > 0) || math.IsInf(fps, 0) {
		return nil, fmt.Errorf("features: frame rate %g is not a positive number", fps)
	}
	for _, i := range spec.Points {
		if i < 0 || i >= NumPoints {
			return nil, fmt.Errorf("feature spec: point %d is outside the %d-point layout", i, NumPoints)
		}
	}
	T := len(frames)
	// Centre and scale per frame, carried over frames without both shoulders.
	cx, cy, sc := make([]float64, T), make([]float64, T), make([]float64, T)
	first := -1
	for t := range frames {
		f := &frames[t]
		a, b := f.Points[leftShoulder], f.Points[rightShoulder]
		if !valid(f, leftShoulder) || !valid(f, rightShoulder) {
			continue
		}
		ax, ay, bx, by := float64(a[0]), float64(a[1]), float64(b[0]), float64(b[1])
		s := math.Sqrt((ax-bx)*(ax-bx) + (ay-by)*(ay-by))
		if !(s > 1e-6) {
			continue
		}
		cx[t], cy[t], sc[t] = (ax+bx)/2, (ay+by)/2, s
		if first < 0 {
			first = t
		}
	}
	if first < 0 {
		for t := range sc {
			cx[t], cy[t], sc[t] = 0, 0, 1
		}
	} else {
		last := first
		for t := range sc {
			if sc[t] > 0 {
				last = t
			}
			cx[t], cy[t], sc[t] = cx[last], cy[last], sc[last]
		}
	}
	d := spec.Dim
	out := make([]float32, T*d)
	prev := make([]float64, 2*p)
	prevOK := make([]bool, p)
	pos := make([]float64, 2*p)
	ok := make([]bool, p)
	k := fps / spec.RefFPS
	for t := range frames {
		f := &frames[t]
		row := out[t*d : (t+1)*d]
		var lh, rh bool
		for j, i := range spec.Points {
			ok[j] = valid(f, i)
			if ok[j] {
				pos[2*j] = (float64(f.Points[i][0]) - cx[t]) / sc[t]
				pos[2*j+1] = (float64(f.Points[i][1]) - cy[t]) / sc[t]
				if i >= spec.LeftHand[0] && i < spec.LeftHand[1] {
					lh = true
				}
				if i >= spec.RightHand[0] && i < spec.RightHand[1] {
					rh = true
				}
			} else {
				pos[2*j], pos[2*j+1] = 0, 0
			}
			row[2*j], row[2*j+1] = float32(pos[2*j]), float32(pos[2*j+1])
			if t > 0 && ok[j] && prevOK[j] {
				row[2*p+2*j] = float32((pos[2*j] - prev[2*j]) * k)
				row[2*p+2*j+1] = float32((pos[2*j+1] - prev[2*j+1]) * k)
			}
		}
		if lh {
			row[4*p] = 1
		}
		if rh {
			row[4*p+1] = 1
		}
		if spec.Version >= 2 {
			handShape(f, spec.Points, row[4*p+2:])
		}
		copy(prev, pos)
		copy(prevOK, ok)
	}
	return out, nil
}

// handShape writes version 2's hand-shape block for one frame into out (handShapeDim
// values, zero on entry): for each hand (the last 42 selected points, left then right)
// whose wrist (hand point 0) and middle-finger base (point 9) are valid and apart, points
// 1..20 relative to the wrist in units of that distance.
func handShape(f *Frame, points []int, out []float32) {
	p := len(points)
	for h, lo := range []int{p - 42, p - 21} {
		w, m := points[lo], points[lo+9]
		if !valid(f, w) || !valid(f, m) {
			continue
		}
		wx, wy := float64(f.Points[w][0]), float64(f.Points[w][1])
		dx, dy := float64(f.Points[m][0])-wx, float64(f.Points[m][1])-wy
		s := math.Sqrt(dx*dx + dy*dy)
		if !(s > 1e-6) {
			continue
		}
		o := out[h*40 : (h+1)*40]
		for j := 1; j < 21; j++ {
			i := points[lo+j]
			if !valid(f, i) {
				continue
			}
			o[2*(j-1)] = float32((float64(f.Points[i][0]) - wx) / s)
			o[2*(j-1)+1] = float32((float64(f.Points[i][1]) - wy) / s)
		}
	}
}

func valid(f *Frame, i int) bool {
	x, y := f.Points[i][0], f.Points[i][1]
	return f.Conf[i] > 0 && !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) &&
		!math.IsNaN(float64(y)) && !math.IsInf(float64(y), 0)
}
