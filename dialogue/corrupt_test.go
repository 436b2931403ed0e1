package dialogue

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Damage inside the file (bit rot, a bad copy) must come back as errors from Open or
// from the reads, never as a crash of the process that reads it.
func TestDamagedPagesGiveErrorsNotCrashes(t *testing.T) {
	src := filepath.Join(t.TempDir(), "good.db")
	s, err := Open(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		c := mustStart(t, s)
		for i := range 30 {
			mustAppend(t, s, c.ID, SpeakerSigner, turnText(c.ID, uint64(i+1)))
		}
		s.PutEmbedding(ctx, "m", "x", make([]float32, 300))
	}
	s.Close()
	good, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096
	rng := rand.New(rand.NewPCG(1, 2))
	const copies = 40
	failed := 0
	for range copies {
		bad := append([]byte(nil), good...)
		// Damage a run of bytes in one page (the meta pages included).
		page := rng.IntN(len(bad) / pageSize)
		off := page*pageSize + rng.IntN(pageSize-64)
		for j := range 1 + rng.IntN(48) {
			bad[off+j] = byte(rng.Uint32())
		}
		path := filepath.Join(t.TempDir(), "bad.db")
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, Options{})
		if err != nil {
			failed++
			continue
		}
		errs := 0
		cs, err := s.Conversations(ctx)
		if err != nil {
			errs++
		}
		for _, c := range cs {
			if _, err := s.Turns(ctx, c.ID); err != nil {
				errs++
			}
			if _, err := s.ContextWindow(ctx, c.ID, 8, 512, nil); err != nil {
				errs++
			}
		}
		if err := s.Check(ctx); err != nil {
			errs++
		}
		s.Close()
		if errs > 0 {
			failed++
		}
	}
	t.Logf("%d damaged copies: %d reported damage, none crashed", copies, failed)
	if failed == 0 {
		t.Error("no damage was reported: the damage missed everything, or is not checked")
	}
}
