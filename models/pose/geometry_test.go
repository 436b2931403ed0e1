package pose

import (
	"math"
	"testing"
	"time"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestAlignmentRectRotation(t *testing.T) {
	// 640x480 image; hips at the centre; the scale point straight above, up-right, left.
	hip := point{X: 0.5, Y: 0.5}
	for _, c := range []struct {
		name    string
		end     point
		wantDeg float64
	}{
		{"upright", point{X: 0.5, Y: 0.25}, 0},
		{"leaning right", point{X: 0.5 + 120.0/640, Y: 0.5 - 120.0/480}, 45},
		{"lying left", point{X: 0.3, Y: 0.5}, -90},
	} {
		r := alignmentRect(hip, c.end, 640, 480, math.Pi/2)
		if got := r.Rot * 180 / math.Pi; !near(got, c.wantDeg, 1e-9) {
			t.Errorf("%s: rotation %.3f deg, want %.3f", c.name, got, c.wantDeg)
		}
		// The square's side is twice the hip -> scale point distance, in pixels.
		d := math.Hypot((c.end.X-hip.X)*640, (c.end.Y-hip.Y)*480)
		if !near(r.W*640, 2*d, 1e-9) || !near(r.H*480, 2*d, 1e-9) {
			t.Errorf("%s: size %.1fx%.1f px, want %.1f square", c.name, r.W*640, r.H*480, 2*d)
		}
		// The crop's "up" (0.5, 0) maps onto the line from the hips towards the scale point.
		top := r.project(point{X: 0.5, Y: 0})
		ux, uy := (top.X-hip.X)*640, (top.Y-hip.Y)*480
		vx, vy := (c.end.X-hip.X)*640, (c.end.Y-hip.Y)*480
		if cross := ux*vy - uy*vx; !near(cross, 0, 1e-6) || ux*vx+uy*vy <= 0 {
			t.Errorf("%s: crop top at (%.1f, %.1f) px from the hips, not towards (%.1f, %.1f)", c.name, ux, uy, vx, vy)
		}
	}
}

func TestTransformSquareLongAndShift(t *testing.T) {
	r := Rect{XC: 0.5, YC: 0.5, W: 0.1, H: 0.2} // 64 x 96 px in 640x480
	got := transform{scaleX: 2, scaleY: 2, shiftY: -0.1, squareLong: true}.apply(r, 640, 480)
	if !near(got.W*640, 192, 1e-9) || !near(got.H*480, 192, 1e-9) {
		t.Errorf("size %.1fx%.1f px, want 192x192", got.W*640, got.H*480)
	}
	if !near(got.YC*480, 240-9.6, 1e-9) || got.XC != 0.5 {
		t.Errorf("centre (%.2f, %.2f) px, want (320, 230.4): shifted up by a tenth of the height", got.XC*640, got.YC*480)
	}
	// Rotated by 90 degrees clockwise, a shift "up" the rect moves right in the image.
	r.Rot = math.Pi / 2
	got = transform{scaleX: 1, scaleY: 1, shiftY: -0.1}.apply(r, 640, 480)
	if !near(got.XC*640, 320+9.6, 1e-9) || !near(got.YC, 0.5, 1e-12) {
		t.Errorf("rotated shift gave centre (%.2f, %.2f) px, want (329.6, 240)", got.XC*640, got.YC*480)
	}
}

// testHand is a flat hand in pixels of a 640x480 frame: wrist at (300, 300), fingers
// straight along the direction turned a radians clockwise from "up" (the middle finger on
// the line through the wrist), each finger's four points (knuckle to tip) 20 px apart,
// knuckles 12 px apart across the palm and 60 px above the wrist, the thumb out to the side.
func testHand(a float64) []point {
	sin, cos := math.Sincos(a)
	at := func(along, across float64) point { // along: up the hand; across: to the right
		return point{X: (300 + along*sin + across*cos) / 640, Y: (300 - along*cos + across*sin) / 480}
	}
	lm := []point{at(0, 0)}
	for f := 0; f < 5; f++ {
		for j := 0; j < 4; j++ {
			if f == 0 { // thumb: out to the side
				lm = append(lm, at(15+10*float64(j), -30-12*float64(j)))
				continue
			}
			lm = append(lm, at(60+20*float64(j), float64(f-2)*12))
		}
	}
	return lm
}

func TestHandRectFromLandmarksPalm(t *testing.T) {
	a := 30 * math.Pi / 180
	lm := testHand(a)
	r := handRectFromLandmarks(lm, 640, 480)
	// Turned so that wrist -> middle knuckle points up: the hand's own angle.
	if !near(r.Rot, a, 1e-9) {
		t.Errorf("rotation %.4f rad, want %.4f (wrist -> middle finger knuckle)", r.Rot, a)
	}
	var palm []point
	for _, k := range palmPoints {
		palm = append(palm, lm[k])
	}
	big := transform{scaleX: 1.01, scaleY: 1.01}.apply(r, 640, 480)
	if !keepTracking(palm, big, big, 640, 480, trackingLimits{rotationDeg: 1, translation: 0.01, scale: 0.01}) {
		t.Errorf("the rect (grown 1%%) does not contain the palm points: %+v", r)
	}
	// Along the hand the rect spans wrist to the second joints (0..80 px), not the
	// fingertips (120 px): MediaPipe sizes the next crop from the palm.
	if h := r.H * 480; !near(h, 80, 1e-6) {
		t.Errorf("rect is %.2f px along the hand, want 80 (wrist to the fingers' second joints)", h)
	}
	// Fingertips and the thumb's tip do not move the rect, however they blur.
	moved := append([]point(nil), lm...)
	for _, k := range []int{4, 7, 8, 11, 12, 15, 16, 19, 20} {
		moved[k].X += 0.05
		moved[k].Y -= 0.07
	}
	if got := handRectFromLandmarks(moved, 640, 480); got != r {
		t.Errorf("moving the fingertips changed the rect: %+v, was %+v", got, r)
	}
}

func TestKeepTracking(t *testing.T) {
	lim := trackingLimits{rotationDeg: 15, translation: 0.1, scale: 0.3, margin: -0.2}
	prev := []point{{X: 0.5, Y: 0.5}, {X: 0.52, Y: 0.48}}
	r := Rect{XC: 0.5, YC: 0.5, W: 0.2, H: 0.2 * 640 / 480}
	if !keepTracking(prev, r, r, 640, 480, lim) {
		t.Error("identical rectangles: tracking dropped")
	}
	moved := r
	moved.XC += 0.05 // 32 px of a 128 px box: more than 10%
	if keepTracking(prev, r, moved, 640, 480, lim) {
		t.Error("rect moved by a quarter of its size: tracking kept")
	}
	turned := r
	turned.Rot = 20 * math.Pi / 180
	if keepTracking(prev, r, turned, 640, 480, lim) {
		t.Error("rect turned by 20 degrees (limit 15): tracking kept")
	}
	outside := append(prev, point{X: 0.9, Y: 0.9})
	if keepTracking(outside, r, r, 640, 480, lim) {
		t.Error("a previous landmark outside the re-crop: tracking kept")
	}
}

func TestAnchors(t *testing.T) {
	for _, c := range []struct {
		name   string
		spec   anchorSpec
		want   int
		firstX float64 // centre of the first cell of the stride-8 grid
	}{
		{"pose_detection", anchorSpec{224, 224, []int{8, 16, 32, 32, 32}}, 2254, 0.5 / 28},
		{"face_detection_short_range", anchorSpec{128, 128, []int{8, 16, 16, 16}}, 896, 0.5 / 16},
	} {
		a := c.spec.anchors()
		if len(a) != c.want {
			t.Errorf("%s: %d anchors, want %d (the model's box count)", c.name, len(a), c.want)
			continue
		}
		if a[0].x != c.firstX || a[1].x != c.firstX {
			t.Errorf("%s: first anchors at %v, %v", c.name, a[0], a[1])
		}
	}
}

func TestWeightedNMS(t *testing.T) {
	box := func(x, y, s, score float64) detection {
		return detection{xmin: x, ymin: y, xmax: x + s, ymax: y + s, score: score,
			keypoints: []point{{X: x, Y: y}}}
	}
	dets := []detection{
		box(0.10, 0.10, 0.2, 0.6),
		box(0.12, 0.10, 0.2, 0.9), // overlaps the first: merged, score-weighted
		box(0.60, 0.60, 0.2, 0.7), // separate person
		{xmin: 0.5, ymin: 0.5, xmax: 0.5, ymax: 0.5, score: 0.55, keypoints: []point{{}}}, // empty box
	}
	out := weightedNMS(dets, 0.3)
	if len(out) != 3 {
		t.Fatalf("%d detections, want 3 (two people and the empty box): %+v", len(out), out)
	}
	if out[0].score != 0.9 {
		t.Errorf("best score %.2f, want 0.9 (the merged group keeps its best score)", out[0].score)
	}
	wantX := (0.10*0.6 + 0.12*0.9) / 1.5
	if !near(out[0].xmin, wantX, 1e-12) || !near(out[0].keypoints[0].X, wantX, 1e-12) {
		t.Errorf("merged xmin %.4f, keypoint %.4f; want the weighted mean %.4f", out[0].xmin, out[0].keypoints[0].X, wantX)
	}
	if out[1].score != 0.7 {
		t.Errorf("second detection score %.2f, want 0.7", out[1].score)
	}
}

func TestOneEuroFollowsSlowlyThenFast(t *testing.T) {
	f := landmarkFilter{kind: SmoothOneEuro, minCutoff: 0.05, beta: 80, dCutoff: 1}
	step := 33333 * time.Microsecond
	// Still: jitter of +-1 px is damped.
	var out []float64
	for i := 0; i < 30; i++ {
		v := 100.0
		if i%2 == 1 {
			v = 101
		}
		p := [][3]float64{{v, v, 0}}
		f.apply(time.Duration(i+1)*step, 200, p)
		out = append(out, p[0][0])
	}
	if lo, hi := minMax(out[10:]); hi-lo > 0.5 {
		t.Errorf("jitter of 1 px came through as %.2f px", hi-lo)
	}
	// A fast move of 100 px is followed within a few frames.
	var last float64
	for i := 30; i < 36; i++ {
		p := [][3]float64{{200, 200, 0}}
		f.apply(time.Duration(i+1)*step, 200, p)
		last = p[0][0]
	}
	if last < 190 {
		t.Errorf("after 6 frames of a 100 px jump the filter is at %.1f, want > 190", last)
	}
	// Time that does not move forward passes the value through.
	p := [][3]float64{{300, 300, 0}}
	f.apply(36*step, 200, p)
	if p[0][0] != 300 {
		t.Errorf("repeated timestamp: got %.1f, want the raw 300", p[0][0])
	}
}

func TestVelocityFilterSmoothsJitter(t *testing.T) {
	f := landmarkFilter{kind: SmoothVelocity, windowSize: 5, velocityScale: 10}
	var out []float64
	for i := 0; i < 30; i++ {
		v := 100.0 + float64(i%2)
		p := [][3]float64{{v, 0, 0}}
		f.apply(time.Duration(i+1)*33333*time.Microsecond, 200, p)
		out = append(out, p[0][0])
	}
	if lo, hi := minMax(out[10:]); hi-lo >= 1 {
		t.Errorf("velocity filter let 1 px jitter through as %.2f px", hi-lo)
	}
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return
}
