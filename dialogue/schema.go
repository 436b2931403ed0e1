package dialogue

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The file's layout (schema version 2; version 1 had the same buckets, without the
// fields that migration 2 describes). Keys are big-endian so that bbolt's byte order
// is numeric order.
//
//	meta        "schema" -> uint32 schema version
//	convs       conversation id (u64) -> JSON Conversation
//	turns       conversation id (u64) -> bucket: turn seq (u64) -> JSON Turn
//	activity    last activity (unix ns, u64) ++ conversation id (u64) -> empty
//	            (the retention index: oldest first)
//	embeddings  model version -> bucket: sha256(text) -> created (unix ns, u64) ++ float32 LE...
var (
	bucketMeta       = []byte("meta")
	bucketConvs      = []byte("convs")
	bucketTurns      = []byte("turns")
	bucketActivity   = []byte("activity")
	bucketEmbeddings = []byte("embeddings")

	keySchema = []byte("schema")
)

// errStop ends a bbolt ForEach early.
var errStop = errors.New("stop")

// migration moves the file from schema version-1 to version. Each runs in the same
// write transaction as the version bump, so a crash leaves either the old or the new
// schema, never half of one.
type migration struct {
	version uint32
	name    string
	up      func(tx *bolt.Tx) error
}

// migrations lists every schema change in order; append, never edit or reorder.
var migrations = []migration{
	{1, "initial layout", func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketConvs, bucketTurns, bucketActivity, bucketEmbeddings} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("creating bucket %s: %w", b, err)
			}
		}
		return nil
	}},
	{2, "turns record their bundle; conversations record their end", migrateBundleAndEnd},
}

// migrateBundleAndEnd moves schema 1's model_version of each turn into bundle.version
// (the hash was not recorded then, so it stays empty), and marks every conversation of
// schema 1 as ended at its last activity: schema 1 had no end, and no process is running
// them while the file is being migrated. Fields added in schema 2 that old records lack
// (unsure, alternatives, confirmed, ...) read as empty and need no step.
func migrateBundleAndEnd(tx *bolt.Tx) error {
	turns := tx.Bucket(bucketTurns)
	err := turns.ForEachBucket(func(conv []byte) error {
		tb := turns.Bucket(conv)
		type kv struct{ k, v []byte }
		var changed []kv
		err := tb.ForEach(func(k, v []byte) error {
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(v, &raw); err != nil {
				return fmt.Errorf("%w: turn %x of conversation %x: %v", ErrCorrupt, k, conv, err)
			}
			mv, ok := raw["model_version"]
			if !ok {
				return nil
			}
			var version string
			if err := json.Unmarshal(mv, &version); err != nil {
				return fmt.Errorf("%w: turn %x of conversation %x: model_version: %v", ErrCorrupt, k, conv, err)
			}
			delete(raw, "model_version")
			if _, has := raw["bundle"]; !has && version != "" {
				b, _ := json.Marshal(BundleRef{Version: version})
				raw["bundle"] = b
			}
			nv, err := json.Marshal(raw)
			if err != nil {
				return err
			}
			changed = append(changed, kv{append([]byte(nil), k...), nv})
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range changed {
			if err := tb.Put(c.k, c.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	convs := tx.Bucket(bucketConvs)
	type kv struct{ k, v []byte }
	var ended []kv
	err = convs.ForEach(func(k, v []byte) error {
		c, err := decodeConversation(k, v)
		if err != nil {
			return err
		}
		if !c.Open() {
			return nil
		}
		c.Ended, c.EndReason = c.LastActivity, "before schema 2"
		nv, err := json.Marshal(c)
		if err != nil {
			return err
		}
		ended = append(ended, kv{append([]byte(nil), k...), nv})
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range ended {
		if err := convs.Put(c.k, c.v); err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion is the schema this build writes.
func SchemaVersion() uint32 { return migrations[len(migrations)-1].version }

// migrate brings db to the newest schema in s.migs, or explains why it cannot.
func (s *Store) migrate(db *bolt.DB) error {
	latest := s.migs[len(s.migs)-1].version
	return db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var have uint32
		if meta == nil {
			// A new file has no buckets; a file with buckets but no meta is someone
			// else's bbolt database, which we must not write into.
			var other []byte
			_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				other = append([]byte(nil), name...)
				return errStop
			})
			if other != nil {
				return fmt.Errorf("opening dialogue store %s: %w: it is a bbolt file of another program (bucket %q); give scope its own file", s.path, ErrNotStore, other)
			}
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return fmt.Errorf("opening dialogue store %s: %w", s.path, err)
			}
		} else {
			v := meta.Get(keySchema)
			if len(v) != 4 {
				return fmt.Errorf("opening dialogue store %s: %w: schema version is missing or damaged", s.path, ErrNotStore)
			}
			have = binary.BigEndian.Uint32(v)
		}
		if have > latest {
			return fmt.Errorf("opening dialogue store %s: %w: file has schema %d, this scope knows up to %d; upgrade scope or use another --db", s.path, ErrSchemaTooNew, have, latest)
		}
		for _, m := range s.migs {
			if m.version <= have {
				continue
			}
			if err := m.up(tx); err != nil {
				return fmt.Errorf("migrating dialogue store %s to schema %d (%s): %w", s.path, m.version, m.name, err)
			}
			s.log.Info("dialogue store migrated", "path", s.path, "schema", m.version, "step", m.name)
		}
		var buf [4]byte
		binary.BigEndian.PutUint32(buf[:], latest)
		if have != latest {
			return meta.Put(keySchema, buf[:])
		}
		return nil
	})
}

// Schema returns the schema version of the open file.
func (s *Store) Schema(ctx context.Context) (uint32, error) {
	var v uint32
	err := s.view(ctx, "reading schema version", func(tx *bolt.Tx) error {
		v = binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(keySchema))
		return nil
	})
	return v, err
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// activityKey orders conversations by last activity, then id.
func activityKey(unixNano int64, id ConversationID) []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(max(unixNano, 0)))
	binary.BigEndian.PutUint64(b[8:], uint64(id))
	return b[:]
}
