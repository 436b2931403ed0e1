package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"scope/daemon/events"
	"scope/dialogue"
)

// Errors of the conversation methods; test with errors.Is.
var (
	// ErrNoConversation: no conversation is open.
	ErrNoConversation = errors.New("no conversation is open")
	// ErrNoSentence: the open conversation has no such sentence, or it is not waiting
	// for the signer's confirmation.
	ErrNoSentence = errors.New("no such sentence waiting for confirmation")
)

// Current returns the open conversation, if there is one.
func (p *Pipeline) Current() (Conversation, bool) {
	p.convMu.Lock()
	defer p.convMu.Unlock()
	if p.conv == nil {
		return Conversation{}, false
	}
	return *p.conv, true
}

// StartConversation ends the open conversation, if any (reason "replaced"), and opens a
// new one in domain ("" means the configured domain).
func (p *Pipeline) StartConversation(ctx context.Context, domain string) (Conversation, error) {
	p.convMu.Lock()
	defer p.convMu.Unlock()
	if p.conv != nil {
		p.endLocked(ctx, "replaced")
	}
	return p.openLocked(ctx, domain), nil
}

// EndConversation ends the open conversation for reason ("ended", "idle", "shutdown").
func (p *Pipeline) EndConversation(ctx context.Context, reason string) (Conversation, error) {
	p.convMu.Lock()
	defer p.convMu.Unlock()
	if p.conv == nil {
		return Conversation{}, ErrNoConversation
	}
	c := *p.conv
	p.endLocked(ctx, reason)
	return c, nil
}

// Drop forgets the open conversation without writing anything, when it has been deleted
// ("end and erase"): it reports whether id was the open one.
func (p *Pipeline) Drop(id dialogue.ConversationID) bool {
	p.convMu.Lock()
	defer p.convMu.Unlock()
	if p.conv == nil || p.conv.ID != id {
		return false
	}
	c := *p.conv
	p.conv, p.turns = nil, nil
	p.emit(events.Event{Kind: events.ConversationEnded, Conversation: uint64(c.ID), Domain: c.Domain, Reason: "erased"})
	return true
}

// ensureConversation returns the open conversation, opening one if none is.
func (p *Pipeline) ensureConversation(ctx context.Context) Conversation {
	p.convMu.Lock()
	defer p.convMu.Unlock()
	p.lastSeen = p.now()
	if p.conv != nil {
		return *p.conv
	}
	return p.openLocked(ctx, "")
}

func (p *Pipeline) touch() {
	p.convMu.Lock()
	p.lastSeen = p.now()
	p.convMu.Unlock()
}

func (p *Pipeline) endIfIdle(ctx context.Context) {
	p.convMu.Lock()
	defer p.convMu.Unlock()
	if p.conv != nil && p.cfg.IdleTimeout > 0 && p.now().Sub(p.lastSeen) >= p.cfg.IdleTimeout {
		p.endLocked(ctx, "idle")
	}
}

func (p *Pipeline) openLocked(ctx context.Context, domain string) Conversation {
	if domain == "" {
		domain = p.cfg.Domain
	}
	c := Conversation{Domain: domain, Started: p.now()}
	if p.cfg.Store != nil {
		sc, err := p.cfg.Store.StartConversation(context.WithoutCancel(ctx), p.cfg.Device, domain)
		if err != nil {
			p.storeFailed(err, 0)
		} else {
			c.ID, c.Started, c.Stored = sc.ID, sc.Started, true
			p.storeWorked()
		}
	}
	p.conv, p.turns, p.lastSeen = &c, nil, p.now()
	p.emit(events.Event{Kind: events.ConversationStarted, Conversation: uint64(c.ID), Domain: c.Domain, Stored: c.Stored})
	return c
}

func (p *Pipeline) endLocked(ctx context.Context, reason string) {
	c := *p.conv
	p.conv, p.turns = nil, nil
	if c.Stored && p.cfg.Store != nil {
		if _, err := p.cfg.Store.EndConversation(context.WithoutCancel(ctx), c.ID, reason); err != nil {
			p.storeFailed(err, c.ID)
		}
	}
	p.emit(events.Event{Kind: events.ConversationEnded, Conversation: uint64(c.ID), Domain: c.Domain, Reason: reason})
}

// AddReply adds what the hearing person said (typed or transcribed) to the open
// conversation, opening one if none is, so that it becomes context for the signer's
// next sentence.
func (p *Pipeline) AddReply(ctx context.Context, text string) (dialogue.Turn, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return dialogue.Turn{}, fmt.Errorf("%w: a reply needs text", dialogue.ErrInvalid)
	}
	p.convMu.Lock()
	c := p.conv
	if c == nil {
		cc := p.openLocked(ctx, "")
		c = &cc
	}
	conv := *c
	p.lastSeen = p.now()
	p.convMu.Unlock()
	t, stored := p.addTurn(ctx, conv, dialogue.Turn{Conversation: conv.ID, Speaker: dialogue.SpeakerHearing, Text: text}, 0)
	p.emit(events.Event{Kind: events.Reply, Conversation: uint64(conv.ID), Turn: t.Seq, Text: text,
		Speaker: string(dialogue.SpeakerHearing), Stored: stored})
	return t, nil
}

// Confirm records the signer's answer to an unsure sentence of the open conversation:
// choice is the text they confirmed (the sentence or one of its alternatives); an empty
// choice means "sign again", which rejects it.
func (p *Pipeline) Confirm(ctx context.Context, sentence int, choice string) (dialogue.Turn, error) {
	p.convMu.Lock()
	if p.conv == nil {
		p.convMu.Unlock()
		return dialogue.Turn{}, ErrNoConversation
	}
	conv := *p.conv
	var mt *memTurn
	for i := range p.turns {
		if p.turns[i].sentence == sentence && sentence > 0 {
			mt = &p.turns[i]
		}
	}
	if mt == nil || !mt.turn.Unsure || mt.turn.Confirmed || mt.turn.Rejected {
		p.convMu.Unlock()
		return dialogue.Turn{}, fmt.Errorf("sentence %d: %w", sentence, ErrNoSentence)
	}
	choice = strings.TrimSpace(choice)
	if choice != "" {
		ok := choice == mt.turn.Text
		for _, a := range mt.turn.Alternatives {
			ok = ok || choice == a
		}
		if !ok {
			p.convMu.Unlock()
			return dialogue.Turn{}, fmt.Errorf("%w: %q is neither the sentence nor one of its alternatives", dialogue.ErrInvalid, choice)
		}
		mt.turn.Confirmed, mt.turn.Text = true, choice
	} else {
		mt.turn.Rejected = true
	}
	t, stored := mt.turn, mt.stored
	p.lastSeen = p.now()
	p.convMu.Unlock()
	if stored {
		if err := p.cfg.Store.UpdateTurn(context.WithoutCancel(ctx), t); err != nil {
			p.storeFailed(err, conv.ID)
		}
	}
	kind := events.Confirmed
	if t.Rejected {
		kind = events.Rejected
	}
	p.emit(events.Event{Kind: kind, Sentence: sentence, Conversation: uint64(conv.ID), Turn: t.Seq, Text: t.Text,
		Speaker: string(dialogue.SpeakerSigner), Confidence: t.Confidence, Bundle: bundleRef(t.Bundle)})
	return t, nil
}

// RequestInterpreter pauses machine interpretation in the open conversation (opening
// one if none is) and records who asked (SpeakerSigner or SpeakerHearing) as a turn and
// an event. It lasts until Resume or the conversation's end.
func (p *Pipeline) RequestInterpreter(ctx context.Context, by dialogue.Speaker) (dialogue.Turn, error) {
	if by != dialogue.SpeakerSigner && by != dialogue.SpeakerHearing {
		return dialogue.Turn{}, fmt.Errorf("%w: requested by %q: want %q or %q", dialogue.ErrInvalid, by, dialogue.SpeakerSigner, dialogue.SpeakerHearing)
	}
	p.convMu.Lock()
	if p.conv == nil {
		p.openLocked(ctx, "")
	}
	p.conv.Paused = true
	conv := *p.conv
	p.convMu.Unlock()
	t, stored := p.addTurn(ctx, conv, dialogue.Turn{Conversation: conv.ID, Speaker: by,
		Text: "Asked for a human interpreter; machine interpretation paused.", InterpreterRequest: true}, 0)
	p.emit(events.Event{Kind: events.Interpreter, Conversation: uint64(conv.ID), Turn: t.Seq, Speaker: string(by), Paused: true, Stored: stored})
	return t, nil
}

// Resume restarts machine interpretation after RequestInterpreter.
func (p *Pipeline) Resume() error {
	p.convMu.Lock()
	defer p.convMu.Unlock()
	if p.conv == nil {
		return ErrNoConversation
	}
	if p.conv.Paused {
		p.conv.Paused = false
		p.emit(events.Event{Kind: events.Interpreter, Conversation: uint64(p.conv.ID), Paused: false})
	}
	return nil
}

// addTurn keeps t in the open conversation's memory (if conv is still the open one) and
// writes it through to the store. It reports whether the store has it.
func (p *Pipeline) addTurn(ctx context.Context, conv Conversation, t dialogue.Turn, sentence int) (dialogue.Turn, bool) {
	stored := false
	if conv.Stored && p.cfg.Store != nil {
		st, err := p.cfg.Store.AppendTurn(context.WithoutCancel(ctx), t)
		if err != nil {
			p.storeFailed(err, conv.ID)
		} else {
			t, stored = st, true
			p.storeWorked()
		}
	}
	p.convMu.Lock()
	if p.conv != nil && p.conv.ID == conv.ID && p.conv.Started.Equal(conv.Started) {
		if !stored {
			t.Seq = uint64(len(p.turns) + 1) // numbered in memory as the store would
		}
		p.turns = append(p.turns, memTurn{turn: t, sentence: sentence, stored: stored})
	}
	p.convMu.Unlock()
	return t, stored
}

// context returns the open conversation's context turns within the configured window,
// oldest first (the same rule as dialogue.Store.ContextWindow).
func (p *Pipeline) context(id dialogue.ConversationID) []dialogue.Turn {
	p.convMu.Lock()
	defer p.convMu.Unlock()
	if p.conv == nil || p.conv.ID != id {
		return nil
	}
	var out []dialogue.Turn
	tokens := 0
	for i := len(p.turns) - 1; i >= 0 && len(out) < p.cfg.ContextTurns; i-- {
		t := p.turns[i].turn
		if !t.IsContext() {
			continue
		}
		tokens += dialogue.ApproxTokens(t.Text)
		if tokens > p.cfg.ContextTokens {
			break
		}
		out = append(out, t)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// ContextTexts is the text of the open conversation's context window, oldest first: what
// the next sentence's recogniser and translator will see.
func (p *Pipeline) ContextTexts() []string {
	p.convMu.Lock()
	var id dialogue.ConversationID
	if p.conv != nil {
		id = p.conv.ID
	}
	p.convMu.Unlock()
	ts := p.context(id)
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Text
	}
	return out
}

func (p *Pipeline) storeFailed(err error, conv dialogue.ConversationID) {
	p.errors.With("store").Inc()
	p.log.Error("dialogue store refused a write; interpretation goes on without storing", "err", err)
	p.eventMu.Lock()
	was := p.storeOK
	p.storeOK = false
	p.eventMu.Unlock()
	if was {
		p.emit(events.Event{Kind: events.Store, Status: storeStatus(err), Error: err.Error(), Conversation: uint64(conv)})
	}
	p.emit(events.Event{Kind: events.Error, Stage: "store", Conversation: uint64(conv), Error: err.Error()})
}

func (p *Pipeline) storeWorked() {
	p.eventMu.Lock()
	was := p.storeOK
	p.storeOK = true
	p.eventMu.Unlock()
	if !was {
		p.emit(events.Event{Kind: events.Store, Status: "ok"})
	}
}

// StoreOK reports whether the last write to the store succeeded.
func (p *Pipeline) StoreOK() bool {
	p.eventMu.Lock()
	defer p.eventMu.Unlock()
	return p.storeOK
}

func bundleRef(b *dialogue.BundleRef) *events.BundleRef {
	if b == nil {
		return nil
	}
	return &events.BundleRef{Version: b.Version, Hash: b.Hash}
}

// Turns returns the open conversation's turns as kept in memory (what the page shows
// when the store has not recorded them), oldest first, with the sentence number of each
// signer turn (0 for the others).
func (p *Pipeline) Turns() ([]dialogue.Turn, []int) {
	p.convMu.Lock()
	defer p.convMu.Unlock()
	ts := make([]dialogue.Turn, len(p.turns))
	ns := make([]int, len(p.turns))
	for i, m := range p.turns {
		ts[i], ns[i] = m.turn, m.sentence
	}
	return ts, ns
}
