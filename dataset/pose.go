package dataset

import (
	"fmt"
	"math"

	"scope/models/poseformat"
)

// Turn is the keypoints of one signer turn in the 543-point MediaPipe Holistic layout.
type Turn struct {
	FPS     float64
	Width   int
	Height  int
	Points  [][poseformat.NumPoints][3]float32
	Conf    [][poseformat.NumPoints]float32
	Present [][poseformat.NumParts]bool
}

// LoadTurn reads the frames of a signer turn: its .pose file, cut to Start/End when set.
func (d *Dataset) LoadTurn(e *Entry) (*Turn, error) {
	if !e.IsSigner() {
		return nil, fmt.Errorf("entry %q is a hearing turn: it has no keypoints", e.ID)
	}
	file := d.PosePath(e)
	f, err := poseformat.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w", e.ID, err)
	}
	pts, conf, present, _, err := f.Holistic(0)
	if err != nil {
		return nil, fmt.Errorf("entry %q: %s: %w", e.ID, file, err)
	}
	t := &Turn{FPS: float64(f.FPS), Width: int(f.Dimensions.Width), Height: int(f.Dimensions.Height), Points: pts, Conf: conf, Present: present}
	if e.Start > 0 || e.End > 0 {
		if t.FPS <= 0 {
			return nil, fmt.Errorf("entry %q: %s has fps %g, so start/end cannot be turned into frames", e.ID, file, t.FPS)
		}
		// [round(start*fps), round(end*fps)), as train/slr reads it too.
		a := min(len(pts), int(math.Floor(e.Start*t.FPS+0.5)))
		b := len(pts)
		if e.End > 0 {
			b = min(b, int(math.Floor(e.End*t.FPS+0.5)))
		}
		if a >= b {
			return nil, fmt.Errorf("entry %q: start %.2f s / end %.2f s select no frames of the %d in %s (%.2f s)", e.ID, e.Start, e.End, len(pts), file, float64(len(pts))/t.FPS)
		}
		t.Points, t.Conf, t.Present = pts[a:b], conf[a:b], present[a:b]
	}
	if e.Frames > 0 && e.Frames != len(t.Points) {
		return nil, fmt.Errorf("entry %q: the manifest says %d frames, %s has %d", e.ID, e.Frames, file, len(t.Points))
	}
	if n := len(e.Spans); n > 0 && e.Spans[n-1][1] > len(t.Points) {
		return nil, fmt.Errorf("entry %q: spans reach frame %d, the turn has %d", e.ID, e.Spans[n-1][1], len(t.Points))
	}
	return t, nil
}
