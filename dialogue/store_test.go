package dialogue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "dialogue.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustStart(t testing.TB, s *Store) Conversation {
	t.Helper()
	c, err := s.StartConversation(context.Background(), "kiosk-1", "pharmacy")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustAppend(t testing.TB, s *Store, id ConversationID, who Speaker, text string) Turn {
	t.Helper()
	turn, err := s.AppendTurn(context.Background(), Turn{Conversation: id, Speaker: who, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return turn
}

func mustCheck(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("store is inconsistent: %v", err)
	}
}

func TestConversationAndTurnsRoundTrip(t *testing.T) {
	clk := newClock()
	s := openTest(t, Options{Now: clk.Now})
	ctx := context.Background()
	c := mustStart(t, s)
	if c.ID != 1 || c.Device != "kiosk-1" || c.Domain != "pharmacy" || !c.Started.Equal(clk.Now()) {
		t.Fatalf("new conversation = %+v", c)
	}
	start := clk.Now().Add(-3 * time.Second)
	signed, err := s.AppendTurn(ctx, Turn{
		Conversation: c.ID, Speaker: SpeakerSigner, Text: "I need my prescription.",
		Hypotheses: []Hypothesis{
			{Glosses: []string{"ME", "NEED", "PRESCRIPTION"}, Score: -1.5},
			{Glosses: []string{"ME", "WANT", "PRESCRIPTION"}, Score: -2.25},
		},
		Start: start, End: start.Add(2 * time.Second), ModelVersion: "demo-2026.03",
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	heard := mustAppend(t, s, c.ID, SpeakerHearing, "Which one?")
	if signed.Seq != 1 || heard.Seq != 2 {
		t.Fatalf("seqs = %d, %d; want 1, 2", signed.Seq, heard.Seq)
	}
	if !heard.Start.Equal(clk.Now()) || !heard.End.Equal(clk.Now()) {
		t.Errorf("turn without timestamps got %v..%v, want now %v", heard.Start, heard.End, clk.Now())
	}

	// Reopen: everything must come back from the file, not from memory.
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Turns(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []Turn{signed, heard}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Fatalf("turns after reopen:\n got %s\nwant %s", gj, wj)
	}
	c2, err := s.Conversation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Turns != 2 || !c2.LastActivity.Equal(clk.Now()) {
		t.Errorf("conversation after 2 turns = %+v", c2)
	}
	mustCheck(t, s)
}

func TestContextWindow(t *testing.T) {
	s := openTest(t, Options{})
	c := mustStart(t, s)
	texts := []string{"one", "two two", "three three three", "four four four four", "five five five five five"}
	for i, x := range texts {
		who := SpeakerSigner
		if i%2 == 1 {
			who = SpeakerHearing
		}
		mustAppend(t, s, c.ID, who, x)
	}
	words := func(s string) int { return len(strings.Fields(s)) }
	tests := []struct {
		name                string
		maxTurns, maxTokens int
		want                []uint64
	}{
		{"no limits", 0, 0, []uint64{1, 2, 3, 4, 5}},
		{"last two turns", 2, 0, []uint64{4, 5}},
		{"more turns than exist", 50, 0, []uint64{1, 2, 3, 4, 5}},
		{"token budget fits exactly", 0, 12, []uint64{3, 4, 5}},
		{"token budget one short drops the oldest", 0, 11, []uint64{4, 5}},
		{"turn limit binds before tokens", 1, 100, []uint64{5}},
		{"token limit binds before turns", 4, 9, []uint64{4, 5}},
		{"newest turn alone too big", 0, 4, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ContextWindow(context.Background(), c.ID, tc.maxTurns, tc.maxTokens, words)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, turn := range got {
				seqs = append(seqs, turn.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tc.want) {
				t.Errorf("window seqs = %v, want %v (oldest first)", seqs, tc.want)
			}
		})
	}
	if _, err := s.ContextWindow(context.Background(), 99, 5, 0, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("window of a missing conversation: err = %v, want ErrNotFound", err)
	}
}

func TestApproxTokens(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int
	}{
		{"", 0},
		{"hi", 1},
		{"a b c d e", 5},          // words win over characters
		{"prescription", 3},       // 12 characters
		{"Grüße aus München!", 5}, // runes, not bytes
	} {
		if got := ApproxTokens(tc.text); got != tc.want {
			t.Errorf("ApproxTokens(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
}

func TestAppendTurnRejectsBadTurns(t *testing.T) {
	s := openTest(t, Options{})
	c := mustStart(t, s)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		turn Turn
		want error
	}{
		{"unknown speaker", Turn{Conversation: c.ID, Speaker: "robot", Text: "hi"}, ErrInvalid},
		{"empty turn", Turn{Conversation: c.ID, Speaker: SpeakerHearing, Text: "  "}, ErrInvalid},
		{"NaN score", Turn{Conversation: c.ID, Speaker: SpeakerSigner, Hypotheses: []Hypothesis{{Glosses: []string{"A"}, Score: nan()}}}, ErrInvalid},
		{"ends before start", Turn{Conversation: c.ID, Speaker: SpeakerSigner, Text: "x", Start: t0, End: t0.Add(-time.Second)}, ErrInvalid},
		{"no such conversation", Turn{Conversation: 42, Speaker: SpeakerSigner, Text: "x"}, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.AppendTurn(context.Background(), tc.turn); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Glosses without a translation are a valid signer turn.
	if _, err := s.AppendTurn(context.Background(), Turn{Conversation: c.ID, Speaker: SpeakerSigner,
		Hypotheses: []Hypothesis{{Glosses: []string{"HELLO"}, Score: -0.1}}}); err != nil {
		t.Errorf("gloss-only turn refused: %v", err)
	}
	mustCheck(t, s)
}

func nan() float64 { var z float64; return z / z }

func TestCanceledContext(t *testing.T) {
	s := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.StartConversation(ctx, "d", "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("StartConversation with canceled context: err = %v", err)
	}
	if cs, _ := s.Conversations(context.Background()); len(cs) != 0 {
		t.Errorf("canceled call still wrote: %v", cs)
	}
}

func TestFileModeIs0600(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "dialogue.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("new store has mode %v, want 0600", info.Mode().Perm())
	}
	if d, _ := os.Stat(filepath.Dir(path)); d.Mode().Perm() != 0o700 {
		t.Errorf("created folder has mode %v, want 0700", d.Mode().Perm())
	}
	// A copy restored with loose permissions is tightened on open.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("store opened with mode 0644 left at %v, want 0600", info.Mode().Perm())
	}
}

func TestOpenRejectsFilesThatAreNotStores(t *testing.T) {
	valid := func(t *testing.T, path string) {
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := mustStart(t, s)
		for i := range 40 {
			mustAppend(t, s, c.ID, SpeakerSigner, strings.Repeat(fmt.Sprintf("turn %d ", i), 150))
		}
		s.Close()
	}
	tests := []struct {
		name  string
		make  func(t *testing.T, path string)
		want  error
		words string // the message must say this besides the path
	}{
		{"text file", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("these are my notes, not a database\n"), 0o600)
		}, ErrNotStore, "names the store"},
		{"random bytes", func(t *testing.T, path string) {
			b := make([]byte, 64<<10)
			for i := range b {
				b[i] = byte(i*7919 + i>>8)
			}
			os.WriteFile(path, b, 0o600)
		}, ErrNotStore, "names the store"},
		{"another program's bbolt file", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
			db.Close()
		}, ErrNotStore, "another program"},
		{"truncated store", func(t *testing.T, path string) {
			valid(t, path)
			info, _ := os.Stat(path)
			os.Truncate(path, info.Size()/2)
		}, ErrNotStore, "truncated"},
		{"store cut after its meta pages", func(t *testing.T, path string) {
			// bbolt would read the lost pages through its memory map: SIGBUS, not an error.
			valid(t, path)
			os.Truncate(path, 3*4096)
		}, ErrNotStore, "truncated"},
		{"a directory", func(t *testing.T, path string) { os.Mkdir(path, 0o700) }, ErrNotStore, "directory"},
		{"schema from a newer scope", func(t *testing.T, path string) {
			valid(t, path)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte{0, 0, 0, 99}) })
			db.Close()
		}, ErrSchemaTooNew, "upgrade scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dialogue.db")
			tc.make(t, path)
			os.Chmod(path, 0o644) // someone's own file, which a failed open must not touch
			before := map[string]os.FileMode{}
			if info, err := os.Stat(path); err == nil {
				before[path] = info.Mode()
			}
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.words) {
				t.Errorf("error %q should name %s and say %q", err, path, tc.words)
			}
			// The bad file is left alone for the user to inspect.
			if info, err := os.Stat(path); err != nil {
				t.Errorf("bad file gone after failed open: %v", err)
			} else if before[path] != info.Mode() {
				t.Errorf("failed open changed the file's mode from %v to %v", before[path], info.Mode())
			}
		})
	}
}

func TestMustExist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	_, err := Open(path, Options{MustExist: true})
	if !errors.Is(err, ErrNoStore) || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want ErrNoStore naming %s", err, path)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("MustExist created the file")
	}
}

func TestSecondOpenFailsWhileInUse(t *testing.T) {
	s := openTest(t, Options{})
	_, err := Open(s.Path(), Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), s.Path()) {
		t.Errorf("second open: err = %v, want ErrInUse naming the file", err)
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dialogue.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := mustStart(t, s)
	mustAppend(t, s, c.ID, SpeakerSigner, "hello")
	if v, _ := s.Schema(context.Background()); v != SchemaVersion() {
		t.Fatalf("new file schema = %d, want %d", v, SchemaVersion())
	}
	s.Close()

	runs := 0
	next := SchemaVersion() + 1
	addBucket := append(append([]migration(nil), migrations...), migration{next, "test: add notes", func(tx *bolt.Tx) error {
		runs++
		_, err := tx.CreateBucket([]byte("notes"))
		return err
	}})
	failing := append(append([]migration(nil), migrations...), migration{next, "test: fails", func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("half-done")); err != nil {
			return err
		}
		return errors.New("disk on fire")
	}})

	// A failing migration leaves the file as it was, and says which step failed.
	_, err = openWith(path, Options{}, failing)
	if err == nil || !strings.Contains(err.Error(), "test: fails") || !strings.Contains(err.Error(), path) {
		t.Fatalf("failing migration: err = %v", err)
	}
	for range 2 {
		s, err = openWith(path, Options{}, addBucket)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := s.Schema(context.Background()); v != next {
			t.Errorf("schema after migration = %d, want %d", v, next)
		}
		s.view(context.Background(), "test", func(tx *bolt.Tx) error {
			if tx.Bucket([]byte("half-done")) != nil {
				t.Error("the failed migration's bucket survived")
			}
			return nil
		})
		if turns, err := s.Turns(context.Background(), c.ID); err != nil || len(turns) != 1 {
			t.Errorf("turns after migration = %v, %v", turns, err)
		}
		s.Close()
	}
	if runs != 1 {
		t.Errorf("migration ran %d times over two opens, want once", runs)
	}
	// The older build now refuses the file instead of misreading it.
	if _, err := Open(path, Options{}); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("old build on migrated file: err = %v, want ErrSchemaTooNew", err)
	}
}

func TestDeleteConversation(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	a, b := mustStart(t, s), mustStart(t, s)
	mustAppend(t, s, a.ID, SpeakerSigner, "secret one")
	mustAppend(t, s, b.ID, SpeakerSigner, "keep me")
	for _, text := range []string{"secret one", "keep me"} {
		if err := s.PutEmbedding(ctx, "m1", text, []float32{1, 2}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteConversation(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	// Deleted means gone from the file too, not just unreachable in free pages.
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("secret one")) {
		t.Error("the deleted turn's text is still in the store file")
	}
	if !bytes.Contains(raw, []byte("keep me")) {
		t.Error("the other conversation's text is not in the store file")
	}
	if _, err := os.Stat(s.Path() + compactSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compaction left %s behind", s.Path()+compactSuffix)
	}
	if _, err := s.Conversation(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted conversation still readable: %v", err)
	}
	if _, err := s.Turns(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted conversation's turns still readable: %v", err)
	}
	if _, err := s.Embedding(ctx, "m1", "secret one"); !errors.Is(err, ErrNotFound) {
		t.Errorf("embedding of a deleted turn survived: %v", err)
	}
	if _, err := s.Embedding(ctx, "m1", "keep me"); err != nil {
		t.Errorf("other conversation's embedding lost: %v", err)
	}
	if turns, _ := s.Turns(ctx, b.ID); len(turns) != 1 {
		t.Errorf("other conversation has %d turns, want 1", len(turns))
	}
	if err := s.DeleteConversation(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: err = %v, want ErrNotFound", err)
	}
	// IDs are not reused.
	if c := mustStart(t, s); c.ID != 3 {
		t.Errorf("next id = %d, want 3", c.ID)
	}
	mustCheck(t, s)
}

func TestEmbeddingCache(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	vec := []float32{0.25, -1, 3.5e-8}
	if err := s.PutEmbedding(ctx, "bundle-1", "Good morning", vec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Embedding(ctx, "bundle-1", "Good morning")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(vec) {
		t.Fatalf("Embedding = %v, %v; want %v", got, err, vec)
	}
	for _, miss := range [][2]string{{"bundle-2", "Good morning"}, {"bundle-1", "good morning"}} {
		if _, err := s.Embedding(ctx, miss[0], miss[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("Embedding(%q, %q): err = %v, want ErrNotFound", miss[0], miss[1], err)
		}
	}
	batch, err := s.Embeddings(ctx, "bundle-1", []string{"Hello", "Good morning"})
	if err != nil || len(batch) != 2 || batch[0] != nil || fmt.Sprint(batch[1]) != fmt.Sprint(vec) {
		t.Errorf("Embeddings = %v, %v; want [nil %v]", batch, err, vec)
	}
	if err := s.PutEmbedding(ctx, "bundle-2", "Good morning", []float32{9}); err != nil {
		t.Fatal(err)
	}
	n, err := s.DropEmbeddings(ctx, "bundle-2")
	if err != nil || n != 1 {
		t.Errorf("DropEmbeddings = %d, %v; want 1", n, err)
	}
	if _, err := s.Embedding(ctx, "bundle-1", "Good morning"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old model's embedding survived DropEmbeddings")
	}
	if _, err := s.Embedding(ctx, "bundle-2", "Good morning"); err != nil {
		t.Errorf("kept model's embedding lost: %v", err)
	}
	if err := s.PutEmbedding(ctx, "", "x", vec); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty model version: err = %v", err)
	}
}

func TestExport(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	c := mustStart(t, s)
	want := []Turn{
		mustAppend(t, s, c.ID, SpeakerHearing, "Hello, how can I help?"),
		mustAppend(t, s, c.ID, SpeakerSigner, "Ich brauche Hilfe."),
	}
	var buf bytes.Buffer
	if err := s.Export(ctx, c.ID, &buf); err != nil {
		t.Fatal(err)
	}
	var doc Exported
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, buf.String())
	}
	if doc.Format != ExportFormat || doc.Conversation.ID != c.ID || doc.Conversation.Turns != 2 {
		t.Errorf("export header = %+v", doc)
	}
	gj, _ := json.Marshal(doc.Turns)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Errorf("exported turns:\n got %s\nwant %s", gj, wj)
	}
	if err := s.Export(ctx, 77, &buf); !errors.Is(err, ErrNotFound) {
		t.Errorf("export of missing conversation: err = %v", err)
	}
}

func TestRetention(t *testing.T) {
	clk := newClock()
	const day = 24 * time.Hour
	s := openTest(t, Options{Retention: 30 * day, Now: clk.Now})
	ctx := context.Background()
	old := mustStart(t, s)
	mustAppend(t, s, old.ID, SpeakerSigner, "from long ago")
	s.PutEmbedding(ctx, "m", "from long ago", []float32{1})     // goes with its conversation
	s.PutEmbedding(ctx, "m", "a text of no turn", []float32{2}) // expires by its own age
	clk.Advance(20 * day)
	active := mustStart(t, s) // started 20 days in; its last turn will be recent
	mustAppend(t, s, active.ID, SpeakerSigner, "first")
	clk.Advance(11 * day) // old: 31 days idle; active: 11 days
	// A refused turn is no activity.
	if _, err := s.AppendTurn(ctx, Turn{Conversation: old.ID, Speaker: SpeakerHearing}); err == nil {
		t.Fatal("empty turn accepted")
	}
	mustAppend(t, s, active.ID, SpeakerHearing, "still talking")

	swept, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if swept.Conversations != 1 || swept.Embeddings != 1 {
		t.Errorf("Sweep = %+v, want 1 conversation and 1 embedding", swept)
	}
	if _, err := s.Conversation(ctx, old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired conversation still there: %v", err)
	}
	if raw, _ := os.ReadFile(s.Path()); bytes.Contains(raw, []byte("from long ago")) {
		t.Error("the expired turn's text is still in the store file")
	}
	for _, text := range []string{"from long ago", "a text of no turn"} {
		if _, err := s.Embedding(ctx, "m", text); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired embedding of %q still there: %v", text, err)
		}
	}
	if c, err := s.Conversation(ctx, active.ID); err != nil || c.Turns != 2 {
		t.Errorf("active conversation = %+v, %v", c, err)
	}
	mustCheck(t, s)
}

func TestRetentionRunsOnTimerAndAtOpen(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "dialogue.db")
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		c := mustStart(t, s)
		mustAppend(t, s, c.ID, SpeakerSigner, "hello")
	}
	s.Close()

	// Opened with a period the old conversations exceed: they go at once.
	clk.Advance(2 * time.Hour)
	s, err = Open(path, Options{Now: clk.Now, Retention: time.Hour, RetentionInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if cs, _ := s.Conversations(ctx); len(cs) != 0 {
		t.Fatalf("%d expired conversations survived Open", len(cs))
	}
	// A new one expires while the store is open: the timer must remove it.
	c := mustStart(t, s)
	clk.Advance(61 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.Conversation(ctx, c.ID); errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retention timer did not delete an expired conversation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mustCheck(t, s)
}

func TestWipe(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	c := mustStart(t, s)
	const secret = "my date of birth is 1970-01-01"
	mustAppend(t, s, c.ID, SpeakerSigner, secret)
	s.PutEmbedding(ctx, "m", secret, []float32{1})
	if err := s.Wipe(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Error("wiped store file still contains the turn's text")
	}
	if cs, err := s.Conversations(ctx); err != nil || len(cs) != 0 {
		t.Errorf("after wipe: %d conversations, %v", len(cs), err)
	}
	// The store goes on working, in a fresh 0600 file.
	c2 := mustStart(t, s)
	mustAppend(t, s, c2.ID, SpeakerHearing, "new start")
	if info, _ := os.Stat(s.Path()); info.Mode().Perm() != 0o600 {
		t.Errorf("file after wipe has mode %v", info.Mode().Perm())
	}
	mustCheck(t, s)
}

func TestWipeFile(t *testing.T) {
	s := openTest(t, Options{})
	c := mustStart(t, s)
	mustAppend(t, s, c.ID, SpeakerSigner, "hello")
	if _, err := WipeFile(s.Path()); !errors.Is(err, ErrInUse) {
		t.Fatalf("WipeFile on an open store: err = %v, want ErrInUse", err)
	}
	s.Close()
	existed, err := WipeFile(s.Path())
	if err != nil || !existed {
		t.Fatalf("WipeFile = %v, %v", existed, err)
	}
	if _, err := os.Stat(s.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there after WipeFile: %v", err)
	}
	if existed, err := WipeFile(s.Path()); existed || err != nil {
		t.Errorf("WipeFile of a missing file = %v, %v; want false, nil", existed, err)
	}
	// What a killed compaction left is a copy of the conversations: wipe it too.
	os.WriteFile(s.Path()+compactSuffix, []byte("partial copy"), 0o600)
	if existed, err := WipeFile(s.Path()); !existed || err != nil {
		t.Errorf("WipeFile with a compaction's leftover = %v, %v; want true, nil", existed, err)
	}
	if _, err := os.Stat(s.Path() + compactSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compaction leftover survived WipeFile: %v", err)
	}
	// A damaged store that Open refuses can still be wiped...
	damaged := damagedStore(t)
	if _, err := Open(damaged, Options{}); err == nil {
		t.Fatal("damaged store opened")
	}
	if existed, err := WipeFile(damaged); err != nil || !existed {
		t.Errorf("WipeFile of a damaged store = %v, %v", existed, err)
	}
	// ...but a file that is no store at all is left alone.
	notes := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notes, []byte("my own notes, named by a mistyped --db"), 0o600)
	if _, err := WipeFile(notes); !errors.Is(err, ErrNotStore) {
		t.Errorf("WipeFile of a text file: err = %v, want ErrNotStore", err)
	}
	if b, _ := os.ReadFile(notes); !bytes.HasPrefix(b, []byte("my own notes")) {
		t.Error("WipeFile touched a file that is not a store")
	}
}

// damagedStore returns the path of a store cut to half its length (a bad copy).
func damagedStore(t testing.TB) string {
	path := filepath.Join(t.TempDir(), "damaged.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := mustStart(t, s)
	for i := range 40 {
		mustAppend(t, s, c.ID, SpeakerSigner, strings.Repeat(fmt.Sprintf("turn %d ", i), 150))
	}
	s.Close()
	info, _ := os.Stat(path)
	if err := os.Truncate(path, info.Size()/2); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClosedStore(t *testing.T) {
	s := openTest(t, Options{})
	s.Close()
	if _, err := s.Conversations(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
