package slr

import (
	"testing"

	"scope/synth"
)

// TestSegmenterFindsEverySignedTurn plays the signer turns of synthetic dialogues back to
// back, as a camera would see a signer answering several times, and expects one segment
// per turn that covers that turn's signs.
func TestSegmenterFindsEverySignedTurn(t *testing.T) {
	cfg := synth.DefaultConfig()
	cfg.Dialogues = 6
	g, err := synth.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fps := g.Config().FPS
	s := NewSegmenter(DefaultSegmenterConfig(fps))
	type span struct{ first, end int }
	var want []span
	var got []Segment
	n := 0
	for i := 0; i < cfg.Dialogues; i++ {
		_, clips := g.Dialogue(i)
		for _, c := range clips {
			if c == nil || len(c.Spans) == 0 {
				continue
			}
			want = append(want, span{n + c.Spans[0][0], n + c.Spans[len(c.Spans)-1][1]})
			for k := range c.Points {
				if seg, ok := s.Push(Frame{Points: c.Points[k], Conf: c.Conf[k]}); ok {
					got = append(got, seg)
				}
			}
			n += len(c.Points)
		}
	}
	if seg, ok := s.Flush(); ok {
		got = append(got, seg)
	}
	if len(got) != len(want) {
		for _, g := range got {
			t.Logf("segment %d..%d", g.Start, g.End)
		}
		t.Fatalf("%d segments for %d signed turns", len(got), len(want))
	}
	// The synthetic spans include the hands' approach from the rest pose, which is slow and
	// low; a segment may start up to 0.5 s into the first span (the padding keeps most of it).
	slack := int(0.5 * fps)
	for i := range want {
		if got[i].Start > want[i].first+slack || got[i].End < want[i].end {
			t.Errorf("turn %d: signs at frames %d..%d, segment %d..%d misses some", i, want[i].first, want[i].end, got[i].Start, got[i].End)
		}
	}
}
