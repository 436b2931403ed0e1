package interpret

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"scope/daemon/engine"
	"scope/daemon/events"
	"scope/gate"
	"scope/models/slr"
)

// Engine interprets through the daemon's engine (daemon/engine): each signer turn's
// keypoints go into the engine's sentence pipeline as a stream, which the segmenter cuts,
// the recogniser reads with the conversation so far, the translator translates and the
// gate judges, exactly as at the kiosk; hearing turns go in as replies. A turn the
// segmenter cuts into several sentences is shown only if every one of them is, as their
// texts joined; a turn in which it finds no sentence is not shown.
type Engine struct {
	e      *engine.Engine
	events <-chan events.Event
	cancel func()

	mu   sync.Mutex
	got  map[int]events.Event // final event (sentence, unsure, error) per sentence number
	wake chan struct{}
	done chan struct{}
	// RestAfter is how long the signer rests after each turn before the next (1 s): the
	// segmenter closes the sentence on it.
	RestAfter time.Duration
	clock     time.Duration
}

// NewEngine wraps an engine (from engine.New, not started; it should not store turns).
func NewEngine(e *engine.Engine) *Engine {
	ch, cancel := e.Subscribe(1 << 14)
	x := &Engine{e: e, events: ch, cancel: cancel, got: map[int]events.Event{}, wake: make(chan struct{}, 1),
		done: make(chan struct{}), RestAfter: time.Second}
	go x.collect()
	return x
}

func (x *Engine) collect() {
	defer close(x.done)
	for ev := range x.events {
		switch ev.Kind {
		case events.Sentence, events.Unsure, events.Error:
			if ev.Sentence == 0 {
				continue
			}
			x.mu.Lock()
			if _, ok := x.got[ev.Sentence]; !ok || ev.Kind != events.Error {
				x.got[ev.Sentence] = ev
			}
			x.mu.Unlock()
			select {
			case x.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Close unsubscribes; the caller closes the engine.
func (x *Engine) Close() { x.cancel() }

// Gate names the engine's gate.
func (x *Engine) Gate() string { return x.e.Bundle().Gate }

// Begin ends the open conversation and starts one in domain.
func (x *Engine) Begin(ctx context.Context, domain string) error {
	p := x.e.Pipeline()
	if _, ok := p.Current(); ok {
		if _, err := p.EndConversation(ctx, "ended"); err != nil {
			return err
		}
	}
	_, err := p.StartConversation(ctx, domain)
	return err
}

// Hearing adds the hearing person's words as a reply.
func (x *Engine) Hearing(ctx context.Context, text string) error {
	_, err := x.e.Pipeline().AddReply(ctx, text)
	return err
}

// Sign streams one turn's frames (then a rest) through the pipeline and gathers what it
// made of them. The engine always recognises: oracle glosses are not supported here.
func (x *Engine) Sign(ctx context.Context, frames []slr.Frame, fps float64, oracle []string) (Sentence, error) {
	if oracle != nil {
		return Sentence{}, errors.New("interpret: the engine recognises the keypoints itself; oracle glosses go through Chain")
	}
	if len(frames) == 0 {
		return Sentence{Verdict: gate.Verdict{Reason: "no frames"}}, nil
	}
	p := x.e.Pipeline()
	before := p.Sentences()
	ch := make(chan slr.Frame, 64)
	step := time.Duration(float64(time.Second) / fps)
	go func() {
		defer close(ch)
		send := func(f slr.Frame) bool {
			f.PTS = x.clock
			x.clock += step
			select {
			case ch <- f:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, f := range frames {
			if !send(f) {
				return
			}
		}
		rest := frames[len(frames)-1]
		for i := 0; i < int(x.RestAfter.Seconds()*fps); i++ {
			if !send(rest) {
				return
			}
		}
	}()
	if err := p.Run(ctx, fps, ch); err != nil {
		return Sentence{}, err
	}
	after := p.Sentences()
	// Wait for the final event of every sentence the turn gave.
	var evs []events.Event
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		x.mu.Lock()
		evs = evs[:0]
		for n := before + 1; n <= after; n++ {
			if ev, ok := x.got[n]; ok {
				evs = append(evs, ev)
			}
		}
		x.mu.Unlock()
		if len(evs) == after-before {
			break
		}
		select {
		case <-x.wake:
		case <-deadline.C:
			return Sentence{}, fmt.Errorf("interpret: sentences %d..%d gave no result within 30 s", before+1, after)
		case <-ctx.Done():
			return Sentence{}, ctx.Err()
		}
	}
	x.mu.Lock()
	for n := before + 1; n <= after; n++ {
		delete(x.got, n)
	}
	x.mu.Unlock()
	return combine(evs), nil
}

// combine makes one Sentence of a turn's sentence events.
func combine(evs []events.Event) Sentence {
	s := Sentence{Verdict: gate.Verdict{Show: len(evs) > 0, Confidence: 1}, Extra: map[string]any{"segments": len(evs)}}
	if len(evs) == 0 {
		s.Verdict = gate.Verdict{Reason: "no sentence was found in the keypoints"}
		s.Forced = true
		return s
	}
	var texts, reasons []string
	for i, ev := range evs {
		if i == 0 {
			for _, h := range ev.Hypotheses {
				s.Hypotheses = append(s.Hypotheses, slr.Hypothesis{Glosses: h.Glosses, Score: h.Score})
			}
		} else if len(ev.Hypotheses) > 0 && len(s.Hypotheses) > 0 {
			// the best hypothesis of the turn is the segments' best ones in order
			s.Hypotheses[0].Glosses = append(append([]string(nil), s.Hypotheses[0].Glosses...), ev.Hypotheses[0].Glosses...)
			s.Hypotheses[0].Score += ev.Hypotheses[0].Score
		}
		if ev.Text != "" {
			texts = append(texts, ev.Text)
		}
		switch ev.Kind {
		case events.Error:
			s.Verdict.Show = false
			s.Forced = true
			reasons = append(reasons, "error: "+ev.Error)
			s.Verdict.Confidence = 0
		case events.Unsure:
			s.Verdict.Show = false
			reasons = append(reasons, ev.Reason)
			if !strings.HasPrefix(ev.Reason, gate.LowConfidence) {
				s.Forced = true
			}
			if s.Verdict.Alternatives == nil {
				s.Verdict.Alternatives = ev.Alternatives
			}
			s.Verdict.Confidence = min(s.Verdict.Confidence, ev.Confidence)
		default:
			s.Verdict.Confidence = min(s.Verdict.Confidence, ev.Confidence)
		}
	}
	s.Translation = strings.Join(texts, " ")
	s.Verdict.Reason = strings.Join(reasons, "; ")
	if s.Verdict.Show {
		s.Verdict.Alternatives = nil
	}
	return s
}
