package dialogue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestSimulation runs random operations (start, append, delete, retention with the
// clock moving, reopen) against the store and against a plain in-memory model of
// what should be there, and compares the two after every step that changes them.
func TestSimulation(t *testing.T) {
	clk := newClock()
	const retention = 10 * time.Hour
	path := filepath.Join(t.TempDir(), "dialogue.db")
	opts := Options{Now: clk.Now, Retention: retention, RetentionInterval: time.Hour}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	ctx := context.Background()

	type conv struct {
		texts []string
		last  time.Time
	}
	model := map[ConversationID]*conv{}
	rng := rand.New(rand.NewPCG(3, 4))
	var expired, deleted, appended int
	pick := func() (ConversationID, bool) {
		ids := make([]ConversationID, 0, len(model))
		for id := range model {
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			return 0, false
		}
		slices.Sort(ids)
		return ids[rng.IntN(len(ids))], true
	}
	compare := func(step int, op string) {
		t.Helper()
		cs, err := s.Conversations(ctx)
		if err != nil {
			t.Fatalf("step %d (%s): %v", step, op, err)
		}
		if len(cs) != len(model) {
			t.Fatalf("step %d (%s): store has %d conversations, model %d", step, op, len(cs), len(model))
		}
		for _, c := range cs {
			m, ok := model[c.ID]
			if !ok || c.Turns != len(m.texts) || !c.LastActivity.Equal(m.last) {
				t.Fatalf("step %d (%s): conversation %+v does not match the model %+v", step, op, c, m)
			}
			w, err := s.ContextWindow(ctx, c.ID, 3, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := m.texts[max(0, len(m.texts)-3):]
			got := make([]string, len(w))
			for i, turn := range w {
				got[i] = turn.Text
			}
			if !slices.Equal(got, want) {
				t.Fatalf("step %d (%s): window of %d = %q, want %q", step, op, c.ID, got, want)
			}
		}
	}
	for step := range 160 {
		var op string
		switch r := rng.IntN(100); {
		case r < 15:
			op = "start"
			c, err := s.StartConversation(ctx, "sim", "reception")
			if err != nil {
				t.Fatal(err)
			}
			model[c.ID] = &conv{last: clk.Now()}
		case r < 70:
			id, ok := pick()
			if !ok {
				continue
			}
			op = fmt.Sprintf("append to %d", id)
			text := fmt.Sprintf("step %d says hello to %d", step, id)
			if _, err := s.AppendTurn(ctx, Turn{Conversation: id, Speaker: SpeakerHearing, Text: text}); err != nil {
				t.Fatal(err)
			}
			model[id].texts = append(model[id].texts, text)
			appended++
			model[id].last = clk.Now()
		case r < 77:
			id, ok := pick()
			if !ok {
				continue
			}
			op = fmt.Sprintf("delete %d", id)
			if err := s.DeleteConversation(ctx, id); err != nil {
				t.Fatal(err)
			}
			delete(model, id)
			deleted++
		case r < 95:
			op = "time passes, retention runs"
			clk.Advance(time.Duration(rng.IntN(4*60)) * time.Minute)
			if _, err := s.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			for id, c := range model {
				if clk.Now().Sub(c.last) > retention {
					delete(model, id)
					expired++
				}
			}
		default:
			op = "reopen"
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = Open(path, opts); err != nil {
				t.Fatal(err)
			}
		}
		compare(step, op)
	}
	mustCheck(t, s)
	t.Logf("%d turns appended, %d conversations deleted, %d expired", appended, deleted, expired)
	if appended == 0 || deleted == 0 || expired == 0 {
		t.Error("the simulation did not exercise every operation; change the seed")
	}
	if _, err := s.Turns(ctx, 1_000_000); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown conversation: err = %v", err)
	}
}
