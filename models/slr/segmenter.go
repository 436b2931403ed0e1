package slr

import (
	"math"
	"time"
)

// SegmenterConfig tunes sentence segmentation. Distances are in shoulder widths, so they
// hold for any camera distance.
type SegmenterConfig struct {
	FPS float64 // frame rate of the stream
	// RestDrop: a wrist lower than the shoulder line by more than this may be resting; it
	// counts as raised when it is RaiseMargin above where that hand rested last (signers
	// sign low, near their rest pose, too).
	RestDrop, RaiseMargin float64
	// StartSpeed: a wrist faster than this (shoulder widths per second) is signing even
	// in the rest zone; StopSpeed: slower than this counts as still (hysteresis: Stop < Start).
	StartSpeed, StopSpeed float64
	// StartSeconds of signing open a segment; StopSeconds of rest close it.
	StartSeconds, StopSeconds float64
	// PadSeconds of frames before the start and after the end are kept in the segment.
	PadSeconds float64
	// MinSeconds: shorter segments are dropped; MaxSeconds: longer ones are cut.
	MinSeconds, MaxSeconds float64
}

// DefaultSegmenterConfig returns settings that fit conversational signing at fps.
func DefaultSegmenterConfig(fps float64) SegmenterConfig {
	return SegmenterConfig{FPS: fps, RestDrop: 0.6, RaiseMargin: 0.1, StartSpeed: 1.5, StopSpeed: 0.6,
		StartSeconds: 0.2, StopSeconds: 0.5, PadSeconds: 0.2, MinSeconds: 0.4, MaxSeconds: 20}
}

// Segment is one sentence cut from the stream: frames [Start, End) of the stream
// (counting every pushed frame from 0), padding included.
type Segment struct {
	Frames     []Frame
	Start, End int
}

// Times returns the capture times (Frame.PTS) of the segment's first and last frames.
func (s Segment) Times() (start, end time.Duration) {
	if len(s.Frames) == 0 {
		return 0, 0
	}
	return s.Frames[0].PTS, s.Frames[len(s.Frames)-1].PTS
}

// Segmenter splits a live stream of frames into sentences from hand motion and the rest
// pose, with hysteresis: a segment opens after StartSeconds of signing (a hand raised
// above the rest zone or moving fast) and closes after StopSeconds of rest (hands down or
// not seen, and still). Push frames in order; it is not safe for concurrent use.
type Segmenter struct {
	cfg                   SegmenterConfig
	startN, stopN, padN   int
	minN, maxN            int
	n                     int     // frames pushed
	buf                   []Frame // open segment, or the recent pre-roll
	bufStart              int     // stream index of buf[0]
	open                  bool
	active, idle          int // consecutive active / idle frames
	lastEnd               int // stream index after the last active frame
	prevWrist             [2][2]float64
	prevOK                [2]bool
	prevSrc               [2]int     // which point gave the wrist: 0 hand model, 1 pose
	restY                 [2]float64 // where each hand rested, relative to the shoulders
	restOK                [2]bool
	lastCX, lastCY, lastS float64
	haveScale             bool
}

// NewSegmenter returns a Segmenter; zero fields of cfg take DefaultSegmenterConfig's values.
func NewSegmenter(cfg SegmenterConfig) *Segmenter {
	if cfg.FPS <= 0 {
		cfg.FPS = 30
	}
	d := DefaultSegmenterConfig(cfg.FPS)
	for _, p := range []struct {
		v   *float64
		def float64
	}{
		{&cfg.RestDrop, d.RestDrop}, {&cfg.RaiseMargin, d.RaiseMargin}, {&cfg.StartSpeed, d.StartSpeed}, {&cfg.StopSpeed, d.StopSpeed},
		{&cfg.StartSeconds, d.StartSeconds}, {&cfg.StopSeconds, d.StopSeconds}, {&cfg.PadSeconds, d.PadSeconds},
		{&cfg.MinSeconds, d.MinSeconds}, {&cfg.MaxSeconds, d.MaxSeconds},
	} {
		if *p.v <= 0 {
			*p.v = p.def
		}
	}
	frames := func(s float64) int { return max(1, int(math.Round(s*cfg.FPS))) }
	return &Segmenter{cfg: cfg, startN: frames(cfg.StartSeconds), stopN: frames(cfg.StopSeconds),
		padN: frames(cfg.PadSeconds), minN: frames(cfg.MinSeconds), maxN: frames(cfg.MaxSeconds)}
}

// wrist returns the wrist of hand h (0 left, 1 right): the hand model's wrist when the hand
// was found (src 0), else the pose wrist when visible (src 1).
func wrist(f *Frame, h int) (x, y float64, src int, ok bool) {
	hi := 501 + 21*h
	if f.Conf[hi] > 0 {
		return float64(f.Points[hi][0]), float64(f.Points[hi][1]), 0, true
	}
	pi := 15 + h
	if f.Conf[pi] > 0.5 {
		return float64(f.Points[pi][0]), float64(f.Points[pi][1]), 1, true
	}
	return 0, 0, 0, false
}

// signing reports whether frame f shows signing, and updates the motion state.
func (s *Segmenter) signing(f *Frame) bool {
	if valid(f, leftShoulder) && valid(f, rightShoulder) {
		a, b := f.Points[leftShoulder], f.Points[rightShoulder]
		w := math.Hypot(float64(a[0]-b[0]), float64(a[1]-b[1]))
		if w > 1e-6 {
			s.lastCX, s.lastCY, s.lastS = float64(a[0]+b[0])/2, float64(a[1]+b[1])/2, w
			s.haveScale = true
		}
	}
	if !s.haveScale {
		return false
	}
	act := false
	for h := 0; h < 2; h++ {
		x, y, src, ok := wrist(f, h)
		if !ok {
			s.prevOK[h] = false
			continue
		}
		ry := (y - s.lastCY) / s.lastS
		speed := 0.0
		if s.prevOK[h] && s.prevSrc[h] == src {
			// the hand model's and the pose model's wrists differ: no speed across a switch
			speed = math.Hypot(x-s.prevWrist[h][0], y-s.prevWrist[h][1]) / s.lastS * s.cfg.FPS
		}
		s.prevWrist[h], s.prevOK[h], s.prevSrc[h] = [2]float64{x, y}, true, src
		if !s.open && ry >= s.cfg.RestDrop && speed < s.cfg.StopSpeed {
			if s.restOK[h] {
				s.restY[h] += 0.1 * (ry - s.restY[h])
			} else {
				s.restY[h], s.restOK[h] = ry, true
			}
		}
		raised := ry < s.cfg.RestDrop || (s.restOK[h] && ry < s.restY[h]-s.cfg.RaiseMargin)
		// Hysteresis on speed: fast always counts; a raised hand counts unless it is in the rest
		// zone and still.
		if raised || speed > s.cfg.StartSpeed || (s.open && speed > s.cfg.StopSpeed) {
			act = true
		}
	}
	return act
}

// Push adds the next frame. It returns a finished segment when this frame closed one.
func (s *Segmenter) Push(f Frame) (Segment, bool) {
	idx := s.n
	s.n++
	act := s.signing(&f)
	s.buf = append(s.buf, f)
	if act {
		s.active++
		s.idle = 0
		s.lastEnd = idx + 1
	} else {
		s.idle++
		s.active = 0
	}
	if !s.open {
		if s.active >= s.startN {
			s.open = true
			// keep the pre-roll: the frames of the start run plus padding
			keep := s.startN + s.padN
			if len(s.buf) > keep {
				s.bufStart += len(s.buf) - keep
				s.buf = s.buf[len(s.buf)-keep:]
			}
			return Segment{}, false
		}
		keep := s.startN + s.padN
		if len(s.buf) > 2*keep {
			drop := len(s.buf) - keep
			s.buf = append(s.buf[:0], s.buf[drop:]...)
			s.bufStart += drop
		}
		return Segment{}, false
	}
	if s.idle >= s.stopN || len(s.buf) >= s.maxN {
		return s.cut(s.idle >= s.stopN)
	}
	return Segment{}, false
}

// Open reports whether a segment is open: signing started and has not ended yet.
func (s *Segmenter) Open() bool { return s.open }

// Flush closes an open segment at the end of the stream.
func (s *Segmenter) Flush() (Segment, bool) {
	if !s.open {
		return Segment{}, false
	}
	return s.cut(true)
}

func (s *Segmenter) cut(atRest bool) (Segment, bool) {
	end := s.bufStart + len(s.buf)
	if atRest {
		end = min(end, s.lastEnd+s.padN)
	}
	frames := append([]Frame(nil), s.buf[:end-s.bufStart]...)
	seg := Segment{Frames: frames, Start: s.bufStart, End: end}
	rest := s.buf[end-s.bufStart:]
	s.buf = append([]Frame(nil), rest...)
	s.bufStart = end
	s.open = !atRest
	s.active, s.idle = 0, 0
	if len(seg.Frames) < s.minN+s.padN {
		return Segment{}, false
	}
	return seg, true
}
