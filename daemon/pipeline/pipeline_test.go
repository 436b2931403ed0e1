package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"scope/daemon/events"
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

// stream plays a synthetic signer turn as a keypoint stream whose clock starts at
// offset, followed by a second of the last frame (hands at rest).
func stream(clip *synth.Clip, fps float64, offset time.Duration) <-chan slr.Frame {
	ch := make(chan slr.Frame, 16)
	go func() {
		defer close(ch)
		n := len(clip.Points)
		for i := 0; i < n+int(fps); i++ {
			k := min(i, n-1)
			ch <- slr.Frame{Points: clip.Points[k], Conf: clip.Conf[k], PTS: offset + time.Duration(float64(i)/fps*float64(time.Second))}
		}
	}()
	return ch
}

// recorder collects events.
type recorder struct {
	mu  sync.Mutex
	evs []events.Event
	ch  chan events.Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan events.Event, 10000)} }

func (r *recorder) add(e events.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	r.ch <- e
}

func (r *recorder) all() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.evs...)
}

func (r *recorder) of(k events.Kind) []events.Event {
	var out []events.Event
	for _, e := range r.all() {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// wait returns the next event of kind k, failing after a generous deadline (this is a
// liveness bound, not a timing assertion).
func (r *recorder) wait(t *testing.T, k events.Kind) events.Event {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case e := <-r.ch:
			if e.Kind == k {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", k)
		}
	}
}

func openStore(t *testing.T) *dialogue.Store {
	t.Helper()
	s, err := dialogue.Open(filepath.Join(t.TempDir(), "d.db"), dialogue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A synthetic dialogue goes through the stages: every signer turn becomes one stored
// turn with hypotheses, streamed text and the bundle that produced it; each sentence
// sees the turns before it; the conversation opened by itself and carries its times.
func TestDialogueThroughTheStages(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	gen, err := synth.NewGenerator(synth.Config{Dialogues: 10, Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	d, clips := gen.Dialogue(0)
	fps := gen.Config().FPS
	rec := newRecorder()
	bundle := dialogue.BundleRef{Version: "test@1", Hash: "feedface"}
	p, err := New(Config{
		FPS: fps, Models: Static(&Models{Recognizer: demoRecognizer(t), Translator: tinyTranslator(t), Bundle: bundle}),
		Store: store, Device: "test-kiosk", Domain: "pharmacy", OnEvent: rec.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	signed := 0
	offset := time.Hour // a stream that has run for an hour: times come from the frames
	for i, turn := range d.Turns {
		if !turn.Signer {
			if _, err := p.AddReply(ctx, turn.Text); err != nil {
				t.Fatal(err)
			}
			continue
		}
		signed++
		if err := p.Run(ctx, 0, stream(clips[i], fps, offset)); err != nil {
			t.Fatal(err)
		}
		offset += time.Minute
	}
	conv, ok := p.Current()
	if !ok || !conv.Stored || conv.Domain != "pharmacy" {
		t.Fatalf("current conversation %+v, %v", conv, ok)
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
			if len(tr.Hypotheses) == 0 || tr.Bundle == nil || *tr.Bundle != bundle || tr.Gate == "" {
				t.Errorf("signer turn %d: %+v, want hypotheses, the bundle and the gate", tr.Seq, tr)
			}
		case dialogue.SpeakerHearing:
			hearing++
		}
	}
	if signer != signed || signer == 0 {
		t.Fatalf("%d signed turns stored for %d signed sentences", signer, signed)
	}
	if len(rec.of(events.Token)) == 0 {
		t.Error("no translated tokens were streamed")
	}
	// Each sentence reports start, end, hypotheses and the sentence, in that order.
	seq := ""
	for _, e := range rec.all() {
		seq += map[events.Kind]string{events.SegmentStart: "s", events.SegmentEnd: "e", events.Hypotheses: "h", events.Sentence: "S", events.Reply: "r"}[e.Kind]
	}
	if strings.Count(seq, "sehS") != signed || strings.Count(seq, "r") != hearing {
		t.Fatalf("event order %q for %d signed and %d hearing turns", seq, signed, hearing)
	}
	for _, e := range rec.of(events.Sentence) {
		if e.Start < 3600 || e.End <= e.Start || e.Timing == nil || e.Timing.TotalMS <= 0 || e.Bundle.Hash != "feedface" || !e.Stored {
			t.Errorf("sentence event %+v: want stream times past an hour, timing, bundle, stored", e)
		}
	}
	if len(rec.of(events.ConversationStarted)) != 1 {
		t.Fatalf("%d conversations started, want one for the whole dialogue", len(rec.of(events.ConversationStarted)))
	}
	if h := p.Metrics().Lookup("scope_pipeline_sentence_latency_seconds"); h == nil || h.Summary().Count != uint64(signed) {
		t.Fatal("sentence latency not recorded for every sentence")
	}
	if _, err := p.EndConversation(ctx, "ended"); err != nil {
		t.Fatal(err)
	}
	if c, _ := store.Conversation(ctx, conv.ID); c.Open() || c.EndReason != "ended" {
		t.Fatalf("stored conversation after end: %+v", c)
	}
}

// A sentence that fails is reported while the stream is still running, and the stream
// goes on to the next sentence.
func TestErrorsAreReportedWhenTheyHappen(t *testing.T) {
	gen, _ := synth.NewGenerator(synth.Config{Dialogues: 10, Seed: 5})
	d, clips := gen.Dialogue(0)
	fps := gen.Config().FPS
	tr := tinyTranslator(t)
	tr.Close() // every translation now fails
	rec := newRecorder()
	p, err := New(Config{FPS: fps, Models: Static(&Models{Recognizer: demoRecognizer(t), Translator: tr}), OnEvent: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	frames := make(chan slr.Frame)
	done := make(chan error)
	go func() { done <- p.Run(context.Background(), 0, frames) }()
	for i, turn := range d.Turns {
		if !turn.Signer {
			continue
		}
		for f := range stream(clips[i], fps, 0) {
			frames <- f
		}
		e := rec.wait(t, events.Error) // before the stream ends
		if e.Stage != "translate" || !strings.Contains(e.Error, "closed") {
			t.Fatalf("error event %+v", e)
		}
	}
	close(frames)
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v; a failed sentence is an event, not the end of the stream", err)
	}
	failed := map[int]bool{}
	for _, e := range rec.of(events.Error) {
		failed[e.Sentence] = true
	}
	if got, want := len(failed), len(rec.of(events.SegmentEnd)); got != want || got < 2 {
		t.Fatalf("%d sentences reported failing of %d", got, want)
	}
}

// unsureGate sends every sentence to the confirm step with two alternatives.
type unsureGate struct{}

func (unsureGate) Name() string { return "test: always unsure" }
func (unsureGate) Decide(in GateInput) Verdict {
	if len(in.Posteriors) == 0 || len(in.Posteriors[0]) == 0 {
		panic("gate got no posteriors")
	}
	return Verdict{Show: false, Confidence: 0.2, Reason: "test", Alternatives: []string{"I need a doctor.", "I need a nurse.", "x", "y"}}
}

// The confirm step, the interpreter button and the context: an unsure sentence is not
// context until the signer confirms it; "sign again" rejects it; asking for an
// interpreter pauses recognition and is recorded.
func TestConfirmStepAndInterpreter(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	gen, _ := synth.NewGenerator(synth.Config{Dialogues: 10, Seed: 7})
	d, clips := gen.Dialogue(0)
	fps := gen.Config().FPS
	var signerClips []*synth.Clip
	for i, turn := range d.Turns {
		if turn.Signer {
			signerClips = append(signerClips, clips[i])
		}
	}
	rec := newRecorder()
	p, err := New(Config{FPS: fps, Models: Static(&Models{Recognizer: demoRecognizer(t), Gate: unsureGate{}}), Store: store, OnEvent: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddReply(ctx, "Good morning."); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx, 0, stream(signerClips[0], fps, 0)); err != nil {
		t.Fatal(err)
	}
	u := rec.of(events.Unsure)
	if len(u) != 1 || len(u[0].Alternatives) != 3 || u[0].Gate != "test: always unsure" || len(rec.of(events.Sentence)) != 0 {
		t.Fatalf("unsure events %+v, sentence events %d", u, len(rec.of(events.Sentence)))
	}
	if got := p.ContextTexts(); len(got) != 1 || got[0] != "Good morning." {
		t.Fatalf("context before confirming: %q", got)
	}
	if _, err := p.Confirm(ctx, u[0].Sentence, "something else"); !errors.Is(err, dialogue.ErrInvalid) {
		t.Fatalf("confirming a text that was not offered: %v", err)
	}
	if _, err := p.Confirm(ctx, u[0].Sentence, "I need a nurse."); err != nil {
		t.Fatal(err)
	}
	if got := p.ContextTexts(); len(got) != 2 || got[1] != "I need a nurse." {
		t.Fatalf("context after confirming: %q", got)
	}
	if _, err := p.Confirm(ctx, u[0].Sentence, ""); !errors.Is(err, ErrNoSentence) {
		t.Fatalf("answering twice: %v", err)
	}
	if err := p.Run(ctx, 0, stream(signerClips[1], fps, time.Minute)); err != nil {
		t.Fatal(err)
	}
	u = rec.of(events.Unsure)
	if _, err := p.Confirm(ctx, u[1].Sentence, ""); err != nil { // sign again
		t.Fatal(err)
	}
	if len(p.ContextTexts()) != 2 || len(rec.of(events.Rejected)) != 1 {
		t.Fatalf("a rejected sentence became context: %q", p.ContextTexts())
	}

	if _, err := p.RequestInterpreter(ctx, dialogue.SpeakerSigner); err != nil {
		t.Fatal(err)
	}
	before := len(rec.of(events.Hypotheses))
	if err := p.Run(ctx, 0, stream(signerClips[0], fps, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(rec.of(events.Hypotheses)) != before {
		t.Fatal("recognition went on while a human interpreter was asked for")
	}
	conv, _ := p.Current()
	turns, _ := store.Turns(ctx, conv.ID)
	var kinds []string
	for _, tr := range turns {
		switch {
		case tr.InterpreterRequest:
			kinds = append(kinds, "interpreter")
		case tr.Confirmed:
			kinds = append(kinds, "confirmed")
		case tr.Rejected:
			kinds = append(kinds, "rejected")
		default:
			kinds = append(kinds, string(tr.Speaker))
		}
	}
	if fmt.Sprint(kinds) != "[hearing confirmed rejected interpreter]" {
		t.Fatalf("stored turns %v", kinds)
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx, 0, stream(signerClips[0], fps, 3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(rec.of(events.Hypotheses)) == before {
		t.Fatal("recognition did not resume")
	}
}

// fullStore refuses every turn as a full disk would.
type fullStore struct{ *dialogue.Store }

func (fullStore) AppendTurn(context.Context, dialogue.Turn) (dialogue.Turn, error) {
	return dialogue.Turn{}, fmt.Errorf("appending turn: write d.db: %w", syscall.ENOSPC)
}

// With the disk full, the store refuses writes, a Store event says so, and the
// conversation goes on from memory.
func TestFullDiskInterpretationGoesOn(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder()
	gen, _ := synth.NewGenerator(synth.Config{Dialogues: 10, Seed: 3})
	d, clips := gen.Dialogue(0)
	fps := gen.Config().FPS
	p, err := New(Config{FPS: fps, Models: Static(&Models{Recognizer: demoRecognizer(t)}), Store: fullStore{openStore(t)}, OnEvent: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddReply(ctx, "Hello."); err != nil {
		t.Fatal(err)
	}
	for i, turn := range d.Turns {
		if turn.Signer {
			if err := p.Run(ctx, 0, stream(clips[i], fps, 0)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	st := rec.of(events.Store)
	if len(st) != 1 || st[0].Status != "full" {
		t.Fatalf("store events %+v, want one saying the disk is full", st)
	}
	s := rec.of(events.Sentence)
	if len(s) != 1 || s[0].Stored {
		t.Fatalf("sentence events %+v: want one, not stored", s)
	}
	if got := p.ContextTexts(); len(got) != 2 || got[0] != "Hello." || p.StoreOK() {
		t.Fatalf("context %q: the conversation must go on from memory", got)
	}
}

// A conversation ends by itself after the idle timeout.
func TestIdleTimeoutEndsTheConversation(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rec := newRecorder()
	p, err := New(Config{FPS: 30, Models: Static(&Models{Recognizer: demoRecognizer(t)}), Store: openStore(t),
		IdleTimeout: 2 * time.Minute, Now: clock, OnEvent: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.StartConversation(context.Background(), "counter"); err != nil {
		t.Fatal(err)
	}
	frames := make(chan slr.Frame)
	done := make(chan error)
	go func() { done <- p.Run(context.Background(), 0, frames) }()
	mu.Lock()
	now = now.Add(3 * time.Minute)
	mu.Unlock()
	e := rec.wait(t, events.ConversationEnded)
	if e.Reason != "idle" || e.Domain != "counter" {
		t.Fatalf("ended %+v", e)
	}
	if _, ok := p.Current(); ok {
		t.Fatal("a conversation is still open")
	}
	close(frames)
	<-done
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

func TestTranslatorContextKeepsTheNewest(t *testing.T) {
	p, err := New(Config{FPS: 30, Models: Static(&Models{}), TranslatorContextTokens: 6})
	if err != nil {
		t.Fatal(err)
	}
	got := p.translatorContext([]string{"an old turn that is long", "Hi.", "Your name?"})
	if fmt.Sprint(got) != "[Hi. Your name?]" {
		t.Fatalf("%q", got)
	}
	p.cfg.TranslatorContextTokens = 0
	if got := p.translatorContext([]string{"a"}); len(got) != 0 {
		t.Fatalf("slt.context_tokens 0 still gave %q", got)
	}
}

func TestStoppedByContext(t *testing.T) {
	p, err := New(Config{FPS: 30, Models: Static(&Models{Recognizer: demoRecognizer(t)})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan slr.Frame) // never closed: only cancellation can end Run
	done := make(chan error)
	go func() { done <- p.Run(ctx, 0, ch) }()
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("Run ended with %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop when its context was cancelled")
	}
}
