// Package events is the daemon's fan-out bus: the engine publishes what happens (hands
// seen, a sentence cut, hypotheses, translated tokens, the final sentence or "unsure",
// conversations opening and closing, camera and store status, errors) and every
// subscriber (the terminal printer, each WebSocket client, tests) gets its own bounded
// queue.
//
// Publishing never blocks: when a subscriber's queue is full the oldest event in it is
// dropped and counted, so a slow or stalled client never holds up recognition and
// always catches up on the newest state (every sentence event carries the whole
// sentence, so a client that lost some tokens still shows the right caption).
package events

import (
	"sync"
	"sync/atomic"
	"time"
)

// Kind says what an Event reports. The names are the "kind" field of the JSON that the
// WebSocket API sends.
type Kind string

const (
	// Hands: the signer's hands came into view (Hands true) or left it.
	Hands Kind = "hands"
	// SegmentStart: signing started (Start is the stream time).
	SegmentStart Kind = "segment_start"
	// SegmentEnd: a signed sentence ended (Start, End, Frames).
	SegmentEnd Kind = "segment_end"
	// Hypotheses: the recogniser's top-k gloss sequences with their scores.
	Hypotheses Kind = "hypotheses"
	// Token: the next piece of the translation being written (Text).
	Token Kind = "token"
	// Sentence: the final sentence, shown (Text, Glosses, Confidence, Turn, Bundle).
	Sentence Kind = "sentence"
	// Unsure: the engine is not sure of the sentence: it goes to the signer's confirm
	// step with up to three Alternatives, and is not shown to the hearing side as fact.
	Unsure Kind = "unsure"
	// Confirmed: the signer confirmed an unsure sentence (Text is what they chose).
	Confirmed Kind = "confirmed"
	// Rejected: the signer asked to sign an unsure sentence again.
	Rejected Kind = "rejected"
	// Reply: the hearing person's words were added to the conversation (Text).
	Reply Kind = "reply"
	// ConversationStarted, ConversationEnded, ConversationDeleted: an encounter's life.
	ConversationStarted Kind = "conversation_started"
	ConversationEnded   Kind = "conversation_ended"
	ConversationDeleted Kind = "conversation_deleted"
	// Interpreter: someone asked for a human interpreter; machine interpretation is
	// paused until the conversation ends or it is resumed (Paused).
	Interpreter Kind = "interpreter"
	// Camera: the frame source's status changed (Status: ok, missing, reconnecting, ended).
	Camera Kind = "camera"
	// Store: the dialogue store's status changed (Status: ok, full, error).
	Store Kind = "store"
	// Error: a stage failed (Stage, Error); the daemon goes on.
	Error Kind = "error"
	// Bundle: the running model bundle changed (Bundle).
	Bundle Kind = "bundle"
	// Demo: the built-in demo's narration (Synthetic): Status "dialogue" when a synthetic
	// dialogue starts (Text describes it), "turn" when a signer turn has been played and
	// its sentences are done (Meant, MeantGlosses; Frames is how many sentences it gave).
	Demo Kind = "demo"
)

// Hypothesis is one gloss sequence with its score (log probability; higher is better).
type Hypothesis struct {
	Glosses []string `json:"glosses"`
	Score   float64  `json:"score"`
}

// BundleRef names a model bundle: its version and the hash of its contents.
type BundleRef struct {
	Version string `json:"version"`
	Hash    string `json:"hash"`
}

// Timing is one sentence's latencies in milliseconds.
type Timing struct {
	RecognizeMS  float64 `json:"recognize_ms"`
	FirstTokenMS float64 `json:"first_token_ms"` // end of signing -> first translated token
	TranslateMS  float64 `json:"translate_ms"`
	TotalMS      float64 `json:"total_ms"` // end of signing -> sentence ready
}

// Event is one thing that happened. Fields that do not apply to a Kind are empty.
type Event struct {
	Seq          uint64       `json:"seq"` // 1, 2, ... in publishing order
	Kind         Kind         `json:"kind"`
	Time         time.Time    `json:"time"`
	Conversation uint64       `json:"conversation,omitempty"`
	Domain       string       `json:"domain,omitempty"`
	Sentence     int          `json:"sentence,omitempty"` // 1, 2, ... since the engine started
	Turn         uint64       `json:"turn,omitempty"`     // the stored turn's seq in its conversation
	Start        float64      `json:"start,omitempty"`    // seconds of stream time
	End          float64      `json:"end,omitempty"`
	Frames       int          `json:"frames,omitempty"`
	Hands        bool         `json:"hands,omitempty"`
	Hypotheses   []Hypothesis `json:"hypotheses,omitempty"`
	Glosses      []string     `json:"glosses,omitempty"`
	Text         string       `json:"text,omitempty"`
	Speaker      string       `json:"speaker,omitempty"`
	Confidence   float64      `json:"confidence,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	Alternatives []string     `json:"alternatives,omitempty"`
	Gate         string       `json:"gate,omitempty"` // which confidence gate decided
	Stored       bool         `json:"stored,omitempty"`
	Paused       bool         `json:"paused,omitempty"`
	Status       string       `json:"status,omitempty"`
	Stage        string       `json:"stage,omitempty"`
	Error        string       `json:"error,omitempty"`
	Bundle       *BundleRef   `json:"bundle,omitempty"`
	Timing       *Timing      `json:"timing,omitempty"`
	// Meant and MeantGlosses: what the built-in demo's synthetic signer meant to sign,
	// so that a display can put it beside what was recognised. Synthetic is then true.
	Meant        string   `json:"meant,omitempty"`
	MeantGlosses []string `json:"meant_glosses,omitempty"`
	Synthetic    bool     `json:"synthetic,omitempty"`
}

// Bus fans events out to subscribers. The zero value is not usable; call New.
type Bus struct {
	mu     sync.Mutex
	subs   map[*sub]struct{}
	seq    uint64
	closed bool
	now    func() time.Time

	dropped atomic.Int64
}

type sub struct {
	ch      chan Event
	dropped atomic.Int64
}

// New returns an empty bus.
func New() *Bus { return &Bus{subs: map[*sub]struct{}{}, now: time.Now} }

// Subscribe returns a channel that receives every event published from now on, with a
// queue of buf events (at least 1), and a function that unsubscribes and closes the
// channel (safe to call more than once, and after Close). The channel also closes when
// the bus closes.
func (b *Bus) Subscribe(buf int) (<-chan Event, func()) {
	if buf < 1 {
		buf = 1
	}
	s := &sub{ch: make(chan Event, buf)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(s.ch)
		return s.ch, func() {}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if _, ok := b.subs[s]; ok {
				delete(b.subs, s)
				close(s.ch)
			}
		})
	}
}

// Publish stamps e with the next sequence number (and the time, if unset) and queues it
// for every subscriber without waiting: a full queue loses its oldest event. It returns
// the stamped event. Publishing on a closed bus does nothing.
func (b *Bus) Publish(e Event) Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return e
	}
	b.seq++
	e.Seq = b.seq
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	for s := range b.subs {
		for {
			select {
			case s.ch <- e:
			default:
				// Full: drop the oldest and try again. Only Publish sends (under b.mu),
				// so after one receive there is room unless the reader took one first,
				// in which case the send above succeeds next time round.
				select {
				case <-s.ch:
					s.dropped.Add(1)
					b.dropped.Add(1)
				default:
				}
				continue
			}
			break
		}
	}
	return e
}

// Subscribers is how many subscribers there are now.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Dropped is how many events were dropped from full queues since the bus started.
func (b *Bus) Dropped() int64 { return b.dropped.Load() }

// Close closes every subscriber's channel; later Publish calls do nothing and later
// Subscribe calls get a closed channel.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		close(s.ch)
		delete(b.subs, s)
	}
}
