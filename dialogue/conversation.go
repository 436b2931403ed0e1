package dialogue

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ConversationID names a conversation in one store. IDs count up from 1 and are not
// reused while the file lives (a wipe starts a new file).
type ConversationID uint64

func (id ConversationID) String() string { return strconv.FormatUint(uint64(id), 10) }

// ParseConversationID reads an ID as printed by String (and by `scope conversations list`).
func ParseConversationID(s string) (ConversationID, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%w: conversation id %q: want a positive number as shown by `scope conversations list`", ErrInvalid, s)
	}
	return ConversationID(v), nil
}

// Conversation is one dialogue at one device: a signer and a hearing person taking
// turns, from its start to its last turn.
type Conversation struct {
	ID ConversationID `json:"id"`
	// Device names the kiosk, tablet or camera it happened at.
	Device string `json:"device"`
	// Domain is the setting ("reception", "pharmacy", ...); it picks the translator's
	// LoRA adapter.
	Domain string `json:"domain"`
	// Started is when the conversation was created; LastActivity when its latest turn
	// was stored (Started if it has none). Retention counts from LastActivity.
	Started      time.Time `json:"started"`
	LastActivity time.Time `json:"last_activity"`
	// Turns is how many turns it has.
	Turns int `json:"turns"`
	// Ended is when it ended (zero while it is open) and EndReason why: "ended" (by a
	// person, through the API or the page), "idle" (no signing or reply for the idle
	// timeout), "shutdown" (the daemon stopped), "replaced" (a new one started).
	// Added in schema 2.
	Ended     time.Time `json:"ended,omitzero"`
	EndReason string    `json:"end_reason,omitempty"`
}

// Open reports whether the conversation has not ended.
func (c Conversation) Open() bool { return c.Ended.IsZero() }

// EndConversation records that a conversation ended now, for reason. Ending one that
// has already ended keeps the first end.
func (s *Store) EndConversation(ctx context.Context, id ConversationID, reason string) (Conversation, error) {
	var c Conversation
	err := s.update(ctx, "ending conversation "+id.String(), func(tx *bolt.Tx) error {
		var err error
		if c, err = getConversation(tx, id); err != nil {
			return err
		}
		if !c.Open() {
			return nil
		}
		c.Ended, c.EndReason = s.now().UTC(), reason
		return putConversation(tx, c)
	})
	return c, err
}

// StartConversation creates a conversation that starts now.
func (s *Store) StartConversation(ctx context.Context, device, domain string) (Conversation, error) {
	now := s.now().UTC()
	c := Conversation{Device: device, Domain: domain, Started: now, LastActivity: now}
	err := s.update(ctx, "starting conversation", func(tx *bolt.Tx) error {
		convs := tx.Bucket(bucketConvs)
		seq, err := convs.NextSequence()
		if err != nil {
			return err
		}
		c.ID = ConversationID(seq)
		if _, err := tx.Bucket(bucketTurns).CreateBucket(u64(seq)); err != nil {
			return fmt.Errorf("creating turns of conversation %d: %w", seq, err)
		}
		if err := tx.Bucket(bucketActivity).Put(activityKey(now.UnixNano(), c.ID), nil); err != nil {
			return err
		}
		return putConversation(tx, c)
	})
	if err != nil {
		return Conversation{}, err
	}
	return c, nil
}

// Conversation returns one conversation's summary.
func (s *Store) Conversation(ctx context.Context, id ConversationID) (Conversation, error) {
	var c Conversation
	err := s.view(ctx, "reading conversation "+id.String(), func(tx *bolt.Tx) error {
		var err error
		c, err = getConversation(tx, id)
		return err
	})
	return c, err
}

// Conversations lists every conversation, oldest first.
func (s *Store) Conversations(ctx context.Context) ([]Conversation, error) {
	var out []Conversation
	err := s.view(ctx, "listing conversations", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConvs).ForEach(func(k, v []byte) error {
			c, err := decodeConversation(k, v)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// DeleteConversation deletes a conversation, its turns and the cached embeddings of
// its turns' text. It returns ErrNotFound if there is no such conversation.
//
// bbolt frees pages without overwriting them, so after the delete has committed the
// store is rewritten without the free pages (see scrub): the text is then gone from
// the file, not just unreachable. That takes about as long as copying the file.
func (s *Store) DeleteConversation(ctx context.Context, id ConversationID) error {
	err := s.update(ctx, "deleting conversation "+id.String(), func(tx *bolt.Tx) error {
		return deleteConversation(tx, id)
	})
	if err != nil {
		return err
	}
	if err := s.scrub(); err != nil {
		return fmt.Errorf("deleted conversation %d, but %w", id, err)
	}
	return nil
}

func deleteConversation(tx *bolt.Tx, id ConversationID) error {
	c, err := getConversation(tx, id)
	if err != nil {
		return err
	}
	turns := tx.Bucket(bucketTurns)
	if tb := turns.Bucket(u64(uint64(id))); tb != nil {
		var texts []string
		err := tb.ForEach(func(k, v []byte) error {
			var t Turn
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("%w: turn %d of conversation %d: %v", ErrCorrupt, binary.BigEndian.Uint64(k), id, err)
			}
			texts = append(texts, t.Text)
			return nil
		})
		if err != nil {
			return err
		}
		if err := deleteEmbeddingsOf(tx, texts); err != nil {
			return err
		}
		if err := turns.DeleteBucket(u64(uint64(id))); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketActivity).Delete(activityKey(c.LastActivity.UnixNano(), id)); err != nil {
		return err
	}
	return tx.Bucket(bucketConvs).Delete(u64(uint64(id)))
}

func getConversation(tx *bolt.Tx, id ConversationID) (Conversation, error) {
	v := tx.Bucket(bucketConvs).Get(u64(uint64(id)))
	if v == nil {
		return Conversation{}, fmt.Errorf("conversation %d: %w", id, ErrNotFound)
	}
	return decodeConversation(u64(uint64(id)), v)
}

func decodeConversation(k, v []byte) (Conversation, error) {
	var c Conversation
	if len(k) != 8 {
		return c, fmt.Errorf("%w: conversation key %x", ErrCorrupt, k)
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return c, fmt.Errorf("%w: conversation %d: %v", ErrCorrupt, binary.BigEndian.Uint64(k), err)
	}
	return c, nil
}

func putConversation(tx *bolt.Tx, c Conversation) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketConvs).Put(u64(uint64(c.ID)), v)
}
