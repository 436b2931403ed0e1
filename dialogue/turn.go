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
	// ModelVersion is the model bundle version that produced the turn.
	ModelVersion string `json:"model_version,omitempty"`
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
// translator read as context, oldest first: at most maxTurns turns whose texts count
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
