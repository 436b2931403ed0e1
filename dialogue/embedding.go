package dialogue

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The embeddings cache keeps sentence embeddings of turn texts so that the recogniser's
// context input is computed once per text and model, not once per segment. Entries are
// keyed by the SHA-256 of the text under the model (bundle) version that computed them,
// so a model update never reads stale vectors. The text itself is not stored here.

// Embedding returns the cached embedding of text under model, or ErrNotFound.
func (s *Store) Embedding(ctx context.Context, model, text string) ([]float32, error) {
	var vec []float32
	err := s.view(ctx, "reading embedding", func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketEmbeddings).Bucket([]byte(model))
		if mb == nil {
			return fmt.Errorf("embedding for model %q: %w", model, ErrNotFound)
		}
		h := sha256.Sum256([]byte(text))
		v := mb.Get(h[:])
		if v == nil {
			return fmt.Errorf("embedding for model %q: %w", model, ErrNotFound)
		}
		var err error
		vec, err = decodeVector(model, v)
		return err
	})
	return vec, err
}

// Embeddings looks up the embeddings of several texts under model in one snapshot,
// as a stage does for a context window: out[i] is the vector of texts[i], or nil when
// it is not cached.
func (s *Store) Embeddings(ctx context.Context, model string, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	err := s.view(ctx, "reading embeddings", func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketEmbeddings).Bucket([]byte(model))
		if mb == nil {
			return nil
		}
		for i, text := range texts {
			h := sha256.Sum256([]byte(text))
			v := mb.Get(h[:])
			if v == nil {
				continue
			}
			vec, err := decodeVector(model, v)
			if err != nil {
				return err
			}
			out[i] = vec
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func decodeVector(model string, v []byte) ([]float32, error) {
	if len(v) < 8 || (len(v)-8)%4 != 0 {
		return nil, fmt.Errorf("%w: embedding for model %q has %d bytes", ErrCorrupt, model, len(v))
	}
	vec := make([]float32, (len(v)-8)/4)
	for i := range vec {
		vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(v[8+4*i:]))
	}
	return vec, nil
}

// PutEmbedding caches the embedding of text computed by model (replacing any earlier
// one). Entries expire with the conversation retention period, and deleting a
// conversation deletes the entries of its turns' texts.
func (s *Store) PutEmbedding(ctx context.Context, model, text string, vec []float32) error {
	if model == "" {
		return fmt.Errorf("caching embedding: %w: empty model version", ErrInvalid)
	}
	if len(vec) == 0 {
		return fmt.Errorf("caching embedding for model %q: %w: empty vector", model, ErrInvalid)
	}
	v := make([]byte, 8+4*len(vec))
	binary.BigEndian.PutUint64(v, uint64(s.now().UnixNano()))
	for i, x := range vec {
		binary.LittleEndian.PutUint32(v[8+4*i:], math.Float32bits(x))
	}
	h := sha256.Sum256([]byte(text))
	return s.update(ctx, "caching embedding for model "+model, func(tx *bolt.Tx) error {
		mb, err := tx.Bucket(bucketEmbeddings).CreateBucketIfNotExists([]byte(model))
		if err != nil {
			return err
		}
		return mb.Put(h[:], v)
	})
}

// DropEmbeddings deletes the cached embeddings of every model version except keep
// (after a model update, the old vectors are useless). It returns how many it deleted.
func (s *Store) DropEmbeddings(ctx context.Context, keep string) (int, error) {
	n := 0
	err := s.update(ctx, "dropping old embeddings", func(tx *bolt.Tx) error {
		emb := tx.Bucket(bucketEmbeddings)
		for _, name := range modelNames(emb) {
			if string(name) == keep {
				continue
			}
			n += emb.Bucket(name).Stats().KeyN
			if err := emb.DeleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// deleteEmbeddingsOf removes the entries of texts under every model version.
func deleteEmbeddingsOf(tx *bolt.Tx, texts []string) error {
	if len(texts) == 0 {
		return nil
	}
	emb := tx.Bucket(bucketEmbeddings)
	for _, name := range modelNames(emb) {
		mb := emb.Bucket(name)
		for _, t := range texts {
			h := sha256.Sum256([]byte(t))
			if err := mb.Delete(h[:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// modelNames lists the model buckets first, because changing a nested bucket while its
// parent is being iterated is not allowed.
func modelNames(emb *bolt.Bucket) [][]byte {
	var names [][]byte
	_ = emb.ForEachBucket(func(name []byte) error {
		names = append(names, append([]byte(nil), name...))
		return nil
	})
	return names
}

// expireEmbeddings deletes entries created before cutoff and returns how many.
func expireEmbeddings(tx *bolt.Tx, cutoff time.Time) (int, error) {
	n := 0
	emb := tx.Bucket(bucketEmbeddings)
	for _, name := range modelNames(emb) {
		mb := emb.Bucket(name)
		var old [][]byte
		err := mb.ForEach(func(k, v []byte) error {
			if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) < cutoff.UnixNano() {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		for _, k := range old {
			if err := mb.Delete(k); err != nil {
				return n, err
			}
		}
		n += len(old)
	}
	return n, nil
}
