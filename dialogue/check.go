package dialogue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// errRollback ends a write transaction without committing it.
var errRollback = errors.New("rollback")

// Check verifies the whole file: bbolt's own page checks, then that every record
// decodes and that the conversations, their turns and the retention index agree. It
// reads one snapshot and returns nil, or every problem found (up to 20) joined, each
// wrapping ErrCorrupt. It reads the whole file, so it is for tools and tests, not for
// every start. It runs as a write transaction that changes nothing, because bbolt's
// page check is only exact while no other writer runs; so it waits for, and then
// briefly holds up, AppendTurn.
func (s *Store) Check(ctx context.Context) error {
	var problems []error
	add := func(format string, args ...any) bool {
		if len(problems) < 20 {
			if len(args) == 1 && format == "%v" {
				if e, ok := args[0].(error); ok && errors.Is(e, ErrCorrupt) {
					problems = append(problems, e) // already says it is corrupt
					return true
				}
			}
			problems = append(problems, fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...))
		}
		return len(problems) < 20
	}
	run := s.update
	if s.opts.ReadOnly {
		// Read-only: no writer can run in this process, and bbolt's shared lock keeps
		// other processes' writers out, so a read transaction checks exactly.
		run = s.view
	}
	err := run(ctx, "checking dialogue store "+s.path, func(tx *bolt.Tx) error {
		full := false
		for err := range tx.Check() { // drain it all: the checker runs on this tx
			full = full || !add("bbolt: %v", err)
		}
		if full {
			return errRollback
		}
		turns := tx.Bucket(bucketTurns)
		act := tx.Bucket(bucketActivity)
		seen := map[ConversationID]bool{}
		err := tx.Bucket(bucketConvs).ForEach(func(k, v []byte) error {
			c, err := decodeConversation(k, v)
			if err != nil {
				add("%v", err)
				return nil
			}
			id := ConversationID(binary.BigEndian.Uint64(k))
			seen[id] = true
			if c.ID != id {
				add("conversation stored under id %d says it is %d", id, c.ID)
			}
			if act.Get(activityKey(c.LastActivity.UnixNano(), id)) == nil {
				add("conversation %d is missing from the retention index", id)
			}
			tb := turns.Bucket(k)
			if tb == nil {
				add("conversation %d has no turns bucket", id)
				return nil
			}
			want := uint64(1)
			_ = tb.ForEach(func(tk, tv []byte) error {
				t, err := decodeTurn(id, tk, tv)
				switch {
				case err != nil:
					add("%v", err)
				case t.Seq != want || binary.BigEndian.Uint64(tk) != want:
					add("conversation %d: turn %d found where turn %d belongs", id, binary.BigEndian.Uint64(tk), want)
				case t.Conversation != id:
					add("conversation %d: turn %d says it belongs to conversation %d", id, t.Seq, t.Conversation)
				}
				want++
				return nil
			})
			if got := int(want - 1); got != c.Turns {
				add("conversation %d records %d turns but has %d", id, c.Turns, got)
			}
			if tb.Sequence() != want-1 {
				add("conversation %d: turn sequence is %d after %d turns", id, tb.Sequence(), want-1)
			}
			return nil
		})
		if err != nil {
			return err
		}
		_ = turns.ForEachBucket(func(k []byte) error {
			if len(k) != 8 || !seen[ConversationID(binary.BigEndian.Uint64(k))] {
				add("turns bucket %x belongs to no conversation", k)
			}
			return nil
		})
		indexed := map[ConversationID]int{}
		_ = act.ForEach(func(k, _ []byte) error {
			if len(k) != 16 || !seen[ConversationID(binary.BigEndian.Uint64(k[8:]))] {
				add("retention index entry %x names no conversation", k)
				return nil
			}
			id := ConversationID(binary.BigEndian.Uint64(k[8:]))
			if indexed[id]++; indexed[id] == 2 {
				add("conversation %d is in the retention index more than once", id)
			}
			return nil
		})
		return errRollback
	})
	if err != nil && !errors.Is(err, errRollback) {
		return err
	}
	return errors.Join(problems...)
}
