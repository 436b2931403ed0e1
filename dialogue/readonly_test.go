package dialogue

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestReadOnlyOpenNeverWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := mustStart(t, s)
	mustAppend(t, s, c.ID, SpeakerSigner, "hello")
	s.Close()
	os.Chmod(path, 0o400)
	before, _ := os.ReadFile(path)
	ro, err := Open(path, Options{ReadOnly: true, Retention: 1})
	if err != nil {
		t.Fatalf("read-only open of a 0400 file: %v", err)
	}
	ctx := context.Background()
	if cs, err := ro.Conversations(ctx); err != nil || len(cs) != 1 {
		t.Fatalf("list: %v %v", cs, err)
	}
	if err := ro.Check(ctx); err != nil {
		t.Fatalf("check: %v", err)
	}
	if _, err := ro.StartConversation(ctx, "k", "d"); err == nil {
		t.Error("a read-only store took a write")
	}
	ro.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the file changed")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none.db"), Options{ReadOnly: true}); !errors.Is(err, ErrNoStore) {
		t.Errorf("read-only open of a missing file: %v", err)
	}
}

func TestWhoseTellsStoresFromOtherFiles(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "d.db")
	s, err := Open(store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := Whose(store); err != nil {
		t.Errorf("a store: %v", err)
	}
	other := filepath.Join(dir, "other.bolt")
	db, _ := bolt.Open(other, 0o600, nil)
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("patients")); return err })
	db.Close()
	if err := Whose(other); !errors.Is(err, ErrNotStore) {
		t.Errorf("another program's file: %v", err)
	}
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, bytes.Repeat([]byte("notes "), 2000), 0o600)
	if err := Whose(text); !errors.Is(err, ErrNotStore) {
		t.Errorf("a text file: %v", err)
	}
	if _, err := WipeFile(other); !errors.Is(err, ErrNotStore) {
		t.Errorf("WipeFile of another program's file: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("another program's file is gone")
	}
}

// TestQuarantineMovesADamagedStoreAside: with Options.Quarantine (the daemon's), a store
// bbolt cannot open is moved aside, kept byte for byte, and an empty one starts; another
// program's file is never moved.
func TestQuarantineMovesADamagedStoreAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := mustStart(t, s)
	for i := range 40 {
		mustAppend(t, s, c.ID, SpeakerSigner, turnText(c.ID, uint64(i+1)))
	}
	s.Close()
	raw, _ := os.ReadFile(path)
	for i := 4 * 4096; i < len(raw); i++ {
		raw[i] ^= 0xff
	}
	os.WriteFile(path, raw, 0o600)
	if _, err := Open(path, Options{}); err == nil {
		t.Skip("this damage did not stop Open")
	}
	q, err := Open(path, Options{Quarantine: true})
	if err != nil {
		t.Fatalf("quarantine: %v", err)
	}
	defer q.Close()
	aside := q.Quarantined()
	if aside == "" {
		t.Fatal("no file moved aside")
	}
	if kept, _ := os.ReadFile(aside); !bytes.Equal(kept, raw) {
		t.Error("the damaged copy was not kept as it was")
	}
	if cs, err := q.Conversations(context.Background()); err != nil || len(cs) != 0 {
		t.Errorf("the new store: %v %v", cs, err)
	}
	other := filepath.Join(t.TempDir(), "other.bolt")
	db, _ := bolt.Open(other, 0o600, nil)
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("patients")); return err })
	db.Close()
	if _, err := Open(other, Options{Quarantine: true}); !errors.Is(err, ErrNotStore) {
		t.Errorf("another program's file: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("another program's file was moved")
	}
}
