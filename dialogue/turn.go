package dialogue

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Speaker says who produced a turn.
type Speaker string

const (
	// SpeakerSigner: the deaf or hard-of-hearing person, recognised from signing.
	SpeakerSigner Speaker = "signer"
	// SpeakerHearing: the hearing person, typed or transcribed.
	SpeakerHearing Speaker = "hearing"
)

// Hypothesis is one gloss sequence the recogniser proposed, with its score (a log
// probability from the CTC beam search: higher is better).
type Hypothesis struct {
	Glosses []string `json:"glosses"`
	Score   float64  `json:"score"`
}

// Turn is one utterance in a conversation.
type Turn struct {
	Conversation ConversationID `json:"conversation"`
	// Seq numbers the turns of a conversation from 1; the store assigns it.
	Seq     uint64  `json:"seq"`
	Speaker Speaker `json:"speaker"`
	// Text is the spoken-language sentence: the translation for the signer, what was
	// said for the hearing person.
	Text string `json:"text"`
	// Hypotheses are the recogniser's top-k gloss sequences, best first (signer turns).
	Hypotheses []Hypothesis `json:"hypotheses,omitempty"`
	// Start and End bound the utterance (capture timestamps). Zero means "now".
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// ModelVersion is what schema 1 recorded: the recogniser's name@version. Schema 2
	// moved it into Bundle.Version (migration 2); new turns leave it empty.
	ModelVersion string `json:"model_version,omitempty"`

	// Fields added in schema 2 (see migrations in schema.go). Each is omitted when
	// empty, so a turn that does not use one reads and writes as before.

	// Bundle is the model bundle (version and content hash) that produced a signer
	// turn, so that every sentence can be traced to the models behind it.
	Bundle *BundleRef `json:"bundle,omitempty"`
	// Confidence is the confidence gate's score for the sentence, in [0, 1].
	Confidence float64 `json:"confidence,omitempty"`
	// Gate names the confidence gate that decided (its Name()).
	Gate string `json:"gate,omitempty"`
	// Unsure: the gate was not sure; the sentence went to the signer's confirm step with
	// Alternatives (at most three) and was not shown to the hearing side as fact.
	Unsure       bool     `json:"unsure,omitempty"`
	Alternatives []string `json:"alternatives,omitempty"`
	// Confirmed: the signer confirmed an unsure sentence (Text is then what they chose).
	// Rejected: the signer asked to sign it again; the turn stays on record but is no
	// longer context.
	Confirmed bool `json:"confirmed,omitempty"`
	Rejected  bool `json:"rejected,omitempty"`
	// InterpreterRequest marks the turn that records a request for a human interpreter
	// (Speaker says from whose side it came). It is not context.
	InterpreterRequest bool `json:"interpreter_request,omitempty"`
}

// BundleRef names a model bundle: its version and the hash of its contents.
type BundleRef struct {
	Version string `json:"version"`
	Hash    string `json:"hash,omitempty"`
}

// IsContext reports whether the turn is part of the dialogue the stages read as
// context: not a sentence the signer rejected or has not confirmed yet, and not a
// request for an interpreter.
func (t Turn) IsContext() bool {
	return !t.Rejected && !t.InterpreterRequest && (!t.Unsure || t.Confirmed)
}

func (t Turn) validate() error {
	switch t.Speaker {
	case SpeakerSigner, SpeakerHearing:
	default:
		return fmt.Errorf("%w: speaker %q: want %q or %q", ErrInvalid, t.Speaker, SpeakerSigner, SpeakerHearing)
	}
	if strings.TrimSpace(t.Text) == "" && len(t.Hypotheses) == 0 {
		return fmt.Errorf("%w: empty turn: neither text nor gloss hypotheses", ErrInvalid)
	}
	for i, h := range t.Hypotheses {
		if math.IsNaN(h.Score) || math.IsInf(h.Score, 0) {
			return fmt.Errorf("%w: hypothesis %d has score %v; want a finite number", ErrInvalid, i, h.Score)
		}
	}
	if !t.Start.IsZero() && !t.End.IsZero() && t.End.Before(t.Start) {
		return fmt.Errorf("%w: turn ends (%v) before it starts (%v)", ErrInvalid, t.End, t.Start)
	}
	return nil
}

// AppendTurn adds t at the end of conversation t.Conversation and returns it as
// stored (with Seq and any missing timestamps filled in). When it returns nil the
// turn is on disk: a crash after that point does not lose it.
func (s *Store) AppendTurn(ctx context.Context, t Turn) (Turn, error) {
	if err := t.validate(); err != nil {
		return Turn{}, fmt.Errorf("appending turn to conversation %d: %w", t.Conversation, err)
	}
	now := s.now().UTC()
	if t.End.IsZero() {
		t.End = now
	}
	if t.Start.IsZero() {
		t.Start = t.End
	}
	t.Start, t.End = t.Start.UTC(), t.End.UTC()
	err := s.update(ctx, "appending turn to conversation "+t.Conversation.String(), func(tx *bolt.Tx) error {
		c, err := getConversation(tx, t.Conversation)
		if err != nil {
			return err
		}
		tb := tx.Bucket(bucketTurns).Bucket(u64(uint64(t.Conversation)))
		if tb == nil {
			return fmt.Errorf("%w: conversation %d has no turns bucket", ErrCorrupt, t.Conversation)
		}
		if t.Seq, err = tb.NextSequence(); err != nil {
			return err
		}
		v, err := json.Marshal(t)
		if err != nil {
			return err
		}
		if err := tb.Put(u64(t.Seq), v); err != nil {
			return err
		}
		act := tx.Bucket(bucketActivity)
		if err := act.Delete(activityKey(c.LastActivity.UnixNano(), c.ID)); err != nil {
			return err
		}
		if now.After(c.LastActivity) {
			c.LastActivity = now
		}
		c.Turns++
		if err := act.Put(activityKey(c.LastActivity.UnixNano(), c.ID), nil); err != nil {
			return err
		}
		return putConversation(tx, c)
	})
	if err != nil {
		return Turn{}, err
	}
	return t, nil
}

// UpdateTurn replaces the stored turn t.Conversation/t.Seq with t, for the confirm step
// (Confirmed, Rejected, the chosen Text). Speaker, Start and End stay as stored.
func (s *Store) UpdateTurn(ctx context.Context, t Turn) error {
	if err := t.validate(); err != nil {
		return fmt.Errorf("updating turn %d of conversation %d: %w", t.Seq, t.Conversation, err)
	}
	return s.update(ctx, fmt.Sprintf("updating turn %d of conversation %d", t.Seq, t.Conversation), func(tx *bolt.Tx) error {
		tb, err := turnsBucket(tx, t.Conversation)
		if err != nil {
			return err
		}
		old := tb.Get(u64(t.Seq))
		if old == nil {
			return fmt.Errorf("turn %d of conversation %d: %w", t.Seq, t.Conversation, ErrNotFound)
		}
		was, err := decodeTurn(t.Conversation, u64(t.Seq), old)
		if err != nil {
			return err
		}
		t.Speaker, t.Start, t.End = was.Speaker, was.Start, was.End
		v, err := json.Marshal(t)
		if err != nil {
			return err
		}
		return tb.Put(u64(t.Seq), v)
	})
}

// Turns returns every turn of a conversation, oldest first.
func (s *Store) Turns(ctx context.Context, id ConversationID) ([]Turn, error) {
	var out []Turn
	err := s.view(ctx, "reading turns of conversation "+id.String(), func(tx *bolt.Tx) error {
		tb, err := turnsBucket(tx, id)
		if err != nil {
			return err
		}
		return tb.ForEach(func(k, v []byte) error {
			t, err := decodeTurn(id, k, v)
			if err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

// ContextWindow returns the latest turns of a conversation that the recogniser and
// translator read as context (Turn.IsContext), oldest first: at most maxTurns turns whose texts count
// at most maxTokens tokens together by tokenCount. Turns are taken from the newest
// backwards, so when a limit is reached it is the oldest that are left out; the window
// stops at the first turn that does not fit, so it never has gaps. maxTurns <= 0 or
// maxTokens <= 0 switches that limit off; a nil tokenCount means ApproxTokens.
//
// The window is a copy read from one snapshot: no transaction or lock is held while
// the caller runs inference on it.
func (s *Store) ContextWindow(ctx context.Context, id ConversationID, maxTurns, maxTokens int, tokenCount func(string) int) ([]Turn, error) {
	if tokenCount == nil {
		tokenCount = ApproxTokens
	}
	var rev []Turn
	err := s.view(ctx, "reading context window of conversation "+id.String(), func(tx *bolt.Tx) error {
		tb, err := turnsBucket(tx, id)
		if err != nil {
			return err
		}
		tokens := 0
		cur := tb.Cursor()
		for k, v := cur.Last(); k != nil; k, v = cur.Prev() {
			if maxTurns > 0 && len(rev) >= maxTurns {
				break
			}
			t, err := decodeTurn(id, k, v)
			if err != nil {
				return err
			}
			if !t.IsContext() {
				continue
			}
			if maxTokens > 0 {
				tokens += tokenCount(t.Text)
				if tokens > maxTokens {
					break
				}
			}
			rev = append(rev, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev, nil
}

// ApproxTokens estimates how many LLM tokens text takes without a tokenizer: about
// four characters per token, and never fewer than its words.
func ApproxTokens(text string) int {
	return max(len(strings.Fields(text)), (utf8.RuneCountInString(text)+3)/4)
}

func turnsBucket(tx *bolt.Tx, id ConversationID) (*bolt.Bucket, error) {
	tb := tx.Bucket(bucketTurns).Bucket(u64(uint64(id)))
	if tb == nil {
		return nil, fmt.Errorf("conversation %d: %w", id, ErrNotFound)
	}
	return tb, nil
}

func decodeTurn(id ConversationID, k, v []byte) (Turn, error) {
	var t Turn
	if len(k) != 8 {
		return t, fmt.Errorf("%w: conversation %d: turn key %x", ErrCorrupt, id, k)
	}
	if err := json.Unmarshal(v, &t); err != nil {
		return t, fmt.Errorf("%w: turn %d of conversation %d: %v", ErrCorrupt, binary.BigEndian.Uint64(k), id, err)
	}
	return t, nil
}
