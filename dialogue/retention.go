package dialogue

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Swept counts what one retention run deleted.
type Swept struct {
	Conversations int
	Embeddings    int
}

// sweepBatch bounds one write transaction of a retention run, so that a large backlog
// (a device that was off for months) does not hold the writer for long.
const sweepBatch = 64

// Sweep deletes the conversations whose last activity is older than the retention
// period, and the cached embeddings older than it. The timer calls it; callers may too
// (for example right after changing the period). With no retention it does nothing.
func (s *Store) Sweep(ctx context.Context) (Swept, error) {
	var done Swept
	if s.opts.Retention <= 0 {
		return done, nil
	}
	cutoff := s.now().Add(-s.opts.Retention)
	// The index is ordered by last activity: everything before this key has expired.
	limit := activityKey(cutoff.UnixNano(), 0)
	for {
		n := 0
		err := s.update(ctx, "deleting expired conversations", func(tx *bolt.Tx) error {
			act := tx.Bucket(bucketActivity)
			var keys [][]byte
			cur := act.Cursor()
			for k, _ := cur.First(); k != nil && bytes.Compare(k, limit) < 0 && len(keys) < sweepBatch; k, _ = cur.Next() {
				keys = append(keys, append([]byte(nil), k...))
			}
			for _, k := range keys {
				if len(k) == 16 {
					id := ConversationID(binary.BigEndian.Uint64(k[8:]))
					if err := deleteConversation(tx, id); err != nil && !errors.Is(err, ErrNotFound) {
						return err
					}
				}
				// Also drop the key itself, so that an index entry left without its
				// conversation cannot stall every later run.
				if err := act.Delete(k); err != nil {
					return err
				}
			}
			n = len(keys)
			return nil
		})
		if err != nil {
			return done, err
		}
		done.Conversations += n
		if n < sweepBatch {
			break
		}
	}
	err := s.update(ctx, "deleting expired embeddings", func(tx *bolt.Tx) error {
		var err error
		done.Embeddings, err = expireEmbeddings(tx, cutoff)
		return err
	})
	if err != nil {
		return done, err
	}
	if done.Conversations > 0 || done.Embeddings > 0 {
		if err := s.scrub(); err != nil {
			return done, fmt.Errorf("deleted expired data, but %w", err)
		}
		s.log.Info("dialogue retention: deleted expired data", "path", s.path,
			"conversations", done.Conversations, "embeddings", done.Embeddings, "older_than", cutoff.UTC().Format(time.RFC3339))
	}
	return done, nil
}

func (s *Store) retentionInterval() time.Duration {
	if s.opts.RetentionInterval > 0 {
		return s.opts.RetentionInterval
	}
	return min(max(s.opts.Retention/4, time.Second), time.Hour)
}

func (s *Store) retentionLoop(ctx context.Context) {
	defer s.done.Done()
	t := time.NewTicker(s.retentionInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("dialogue retention failed; will retry", "path", s.path, "err", err)
			}
		}
	}
}
