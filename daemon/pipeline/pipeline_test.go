package pipeline

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"scope/dialogue"
	"scope/internal/assets"
	"scope/models/slr"
	"scope/models/slt"
	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
	"scope/synth"
)

func demoRecognizer(t *testing.T) *slr.Recognizer {
	t.Helper()
	dir, err := assets.Find("models/demo/slr")
	if err != nil {
		t.Fatal(err)
	}
	r, err := slr.Open(dir, slr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// tinyTranslator is a llama with random weights: its text is nonsense, but it runs
// the real llama.cpp path, which is what the pipeline's plumbing needs.
func tinyTranslator(t *testing.T) *slt.Translator {
	t.Helper()
	m, err := tinyllama.New(tinyllama.Default())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := m.WriteGGUF(p, gguf.F16); err != nil {
		t.Fatal(err)
	}
	tr, err := slt.Open(slt.Config{Model: p, MaxTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// stream plays a synthetic signer turn as a keypoint stream.
func stream(clip *synth.Clip, fps float64) <-chan Keypoints {
	ch := make(chan Keypoints, 16)
	go func() {
		defer close(ch)
		for i := range clip.Points {
			ch <- Keypoints{PTS: time.Duration(float64(i) / fps * float64(time.Second)), Frame: slr.Frame{Points: clip.Points[i], Conf: clip.Conf[i]}}
		}
	}()
	return ch
}

// A synthetic dialogue goes through the stages: every signer turn becomes one stored
// turn with hypotheses and streamed text, and each sentence sees the turns before it.
func TestDialogueThroughTheStages(t *testing.T) {
	ctx := context.Background()
	store, err := dialogue.Open(filepath.Join(t.TempDir(), "d.db"), dialogue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	conv, err := store.StartConversation(ctx, "test-kiosk", "pharmacy")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := synth.NewGenerator(synth.Config{Dialogues: 10, Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	d, clips := gen.Dialogue(0)

	var mu sync.Mutex
	var events []Event
	p, err := New(Config{
		FPS: gen.Config().FPS, Recognizer: demoRecognizer(t), Translator: tinyTranslator(t),
		Store: store, Conversation: conv.ID, ModelVersion: "test@1",
		OnEvent: func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	signed := 0
	for i, turn := range d.Turns {
		if !turn.Signer {
			if _, err := p.AddHearingTurn(ctx, turn.Text); err != nil {
				t.Fatal(err)
			}
			continue
		}
		signed++
		if err := p.Run(ctx, stream(clips[i], gen.Config().FPS)); err != nil {
			t.Fatal(err)
		}
	}
	turns, err := store.Turns(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	var signer, hearing int
	for _, tr := range turns {
		switch tr.Speaker {
		case dialogue.SpeakerSigner:
			signer++
			if len(tr.Hypotheses) == 0 || tr.ModelVersion != "test@1" {
				t.Errorf("signer turn %d: %+v, want hypotheses and the model version", tr.Seq, tr)
			}
		case dialogue.SpeakerHearing:
			hearing++
		}
	}
	if signer != signed {
		t.Fatalf("%d signed turns stored for %d signed sentences", signer, signed)
	}
	var kinds []EventKind
	tokens := 0
	for _, e := range events {
		if e.Kind == Token {
			tokens++
			continue
		}
		kinds = append(kinds, e.Kind)
		if e.Kind == TurnDone && (e.Timing.Total <= 0 || e.Timing.Recognize <= 0 || e.Timing.Total < e.Timing.Recognize) {
			t.Errorf("sentence %d timing %+v", e.Sentence, e.Timing)
		}
	}
	if tokens == 0 {
		t.Error("no translated tokens were streamed")
	}
	// Each sentence reports closed, recognised, done, in that order.
	seq := ""
	for _, k := range kinds {
		seq += map[EventKind]string{SegmentClosed: "c", Recognized: "r", TurnDone: "d", HearingTurn: "h"}[k]
	}
	if strings.Count(seq, "crd") != signed || strings.Count(seq, "h") != hearing {
		t.Fatalf("event order %q for %d signed and %d hearing turns", seq, signed, hearing)
	}
	if h := p.Metrics().Lookup("scope_pipeline_sentence_latency_seconds"); h == nil || h.Summary().Count != uint64(signed) {
		t.Fatal("sentence latency not recorded for every sentence")
	}
}

func TestTranslatorHypothesesArePosteriors(t *testing.T) {
	got := TranslatorHypotheses([]slr.Hypothesis{
		{Glosses: []string{"PAIN", "HEAD"}, Score: -1},
		{Glosses: []string{"PAIN", "HAND"}, Score: -2},
		{Glosses: []string{"PAIN"}, Score: -3},
		{Glosses: []string{"HEAD"}, Score: -9},
	})
	if len(got) != 3 || got[0].Glosses != "PAIN HEAD" {
		t.Fatalf("%+v", got)
	}
	sum := got[0].Score + got[1].Score + got[2].Score
	if sum < 0.999 || sum > 1.001 || got[0].Score <= got[1].Score || got[1].Score <= got[2].Score {
		t.Fatalf("scores %+v: want posteriors over the top 3, best first, summing to 1", got)
	}
}

func TestStoppedByContext(t *testing.T) {
	p, err := New(Config{FPS: 30, Recognizer: demoRecognizer(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Keypoints) // never closed: only cancellation can end Run
	done := make(chan error)
	go func() { done <- p.Run(ctx, ch) }()
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("Run ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context was cancelled")
	}
}
