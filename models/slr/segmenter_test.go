package slr

import (
	"math"
	"testing"
)

// streamFrame is a frame of a signer with shoulders at y=220, 120 px apart; raised hands
// sign in front of the chest, resting hands hang at y=420 (1.67 shoulder widths down).
func streamFrame(signing bool, t int) Frame {
	var f Frame
	f.Points[11] = [3]float32{380, 220, 0}
	f.Points[12] = [3]float32{260, 220, 0}
	f.Conf[11], f.Conf[12] = 1, 1
	hx, hy := float32(250), float32(420)
	if signing {
		ph := float64(t) * 0.5
		hx = 300 + float32(40*math.Sin(ph))
		hy = 260 + float32(30*math.Cos(ph))
	}
	f.Points[16] = [3]float32{hx, hy, 0}
	f.Conf[16] = 0.9
	for j := 0; j < 21; j++ {
		f.Points[522+j] = [3]float32{hx + float32(j), hy + float32(j%4), 0}
		f.Conf[522+j] = 1
	}
	return f
}

func TestSegmenterSplitsSentencesAtRest(t *testing.T) {
	const fps = 30
	// runs of (signing, frames)
	runs := []struct {
		signing bool
		n       int
	}{
		{false, 30}, {true, 60}, {false, 30}, // sentence 1: frames 30..90
		{true, 3}, {false, 30}, // a 0.1 s twitch: no sentence
		{true, 40}, {false, 6}, {true, 40}, {false, 40}, // sentence 2 with a 0.2 s pause inside: 153..239
		{true, 45}, // sentence 3, still open at the end of the stream: 279..324
	}
	s := NewSegmenter(DefaultSegmenterConfig(fps))
	var segs []Segment
	i := 0
	for _, r := range runs {
		for k := 0; k < r.n; k++ {
			if seg, ok := s.Push(streamFrame(r.signing, i)); ok {
				segs = append(segs, seg)
			}
			i++
		}
	}
	if seg, ok := s.Flush(); ok {
		segs = append(segs, seg)
	}
	want := [][2]int{{30, 90}, {153, 239}, {279, 324}}
	if len(segs) != len(want) {
		for _, g := range segs {
			t.Logf("segment %d..%d", g.Start, g.End)
		}
		t.Fatalf("got %d segments, want %d", len(segs), len(want))
	}
	pad := int(DefaultSegmenterConfig(fps).PadSeconds*fps) + 1
	for k, g := range segs {
		if len(g.Frames) != g.End-g.Start {
			t.Errorf("segment %d: %d frames for range %d..%d", k, len(g.Frames), g.Start, g.End)
		}
		if g.Start > want[k][0] || g.Start < want[k][0]-pad || g.End < want[k][1] || g.End > want[k][1]+pad {
			t.Errorf("segment %d spans %d..%d, want %d..%d within %d frames of padding", k, g.Start, g.End, want[k][0], want[k][1], pad)
		}
	}
}

func TestSegmenterCutsOverlongSentences(t *testing.T) {
	cfg := DefaultSegmenterConfig(30)
	cfg.MaxSeconds = 2
	s := NewSegmenter(cfg)
	n := 0
	for i := 0; i < 300; i++ {
		if seg, ok := s.Push(streamFrame(true, i)); ok {
			n++
			if len(seg.Frames) > 60 {
				t.Fatalf("segment of %d frames, limit 60", len(seg.Frames))
			}
		}
	}
	if n < 4 {
		t.Errorf("10 s of signing with a 2 s limit gave %d segments", n)
	}
}

func TestSegmenterWithoutAPersonStaysIdle(t *testing.T) {
	s := NewSegmenter(DefaultSegmenterConfig(30))
	for i := 0; i < 100; i++ {
		if _, ok := s.Push(Frame{}); ok {
			t.Fatal("a segment from empty frames")
		}
	}
	if _, ok := s.Flush(); ok {
		t.Fatal("a segment from empty frames at flush")
	}
}
