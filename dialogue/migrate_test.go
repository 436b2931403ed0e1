package dialogue

import (
	"context"
	"path/filepath"
	"testing"
)

// A file written by schema 1 opens in schema 2 with each turn's model version moved into
// its bundle and its conversations marked ended; the turns' other data is untouched.
func TestMigrationToSchema2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.db")
	old, err := openWith(path, Options{}, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	c, err := old.StartConversation(ctx, "kiosk-1", "pharmacy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.AppendTurn(ctx, Turn{Conversation: c.ID, Speaker: SpeakerSigner, Text: "Where is the pharmacy?",
		Hypotheses: []Hypothesis{{Glosses: []string{"PHARMACY", "WHERE"}, Score: -1.5}}, ModelVersion: "scope-demo-slr@0.2.0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := old.AppendTurn(ctx, Turn{Conversation: c.ID, Speaker: SpeakerHearing, Text: "Second floor."}); err != nil {
		t.Fatal(err)
	}
	if v, _ := old.Schema(ctx); v != 1 {
		t.Fatalf("old store has schema %d", v)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.Schema(ctx); v != 2 || SchemaVersion() < 2 {
		t.Fatalf("schema %d after open, build knows %d", v, SchemaVersion())
	}
	turns, err := s.Turns(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(turns) != 2 || turns[0].ModelVersion != "" || turns[0].Bundle == nil || turns[0].Bundle.Version != "scope-demo-slr@0.2.0" {
		t.Fatalf("signer turn after migration: %+v", turns[0])
	}
	if turns[0].Text != "Where is the pharmacy?" || len(turns[0].Hypotheses) != 1 || turns[0].Hypotheses[0].Score != -1.5 {
		t.Fatalf("migration changed the turn's data: %+v", turns[0])
	}
	if turns[1].Bundle != nil {
		t.Fatalf("hearing turn got a bundle: %+v", turns[1])
	}
	got, err := s.Conversation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Open() || !got.Ended.Equal(got.LastActivity) || got.EndReason == "" {
		t.Fatalf("schema-1 conversation after migration: %+v; want it ended at its last activity", got)
	}
}

func TestEndConversationAndConfirmStep(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "d.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.StartConversation(ctx, "kiosk", "reception")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Open() {
		t.Fatal("a new conversation is not open")
	}
	add := func(tr Turn) Turn {
		tr.Conversation = c.ID
		out, err := s.AppendTurn(ctx, tr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	add(Turn{Speaker: SpeakerHearing, Text: "Hello, how can I help?"})
	unsure := add(Turn{Speaker: SpeakerSigner, Text: "I have an appointment.", Unsure: true,
		Alternatives: []string{"I have an appointment.", "I need an appointment."}, Bundle: &BundleRef{Version: "0.2.0", Hash: "abc"}})
	rejected := add(Turn{Speaker: SpeakerSigner, Text: "My head hurts.", Unsure: true})
	add(Turn{Speaker: SpeakerSigner, Text: "(asked for a human interpreter)", InterpreterRequest: true})

	ctxTurns, err := s.ContextWindow(ctx, c.ID, 10, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ctxTurns) != 1 {
		t.Fatalf("context holds %d turns, want only the hearing one (unsure ones wait for the signer)", len(ctxTurns))
	}
	unsure.Confirmed, unsure.Text = true, "I need an appointment."
	if err := s.UpdateTurn(ctx, unsure); err != nil {
		t.Fatal(err)
	}
	rejected.Rejected = true
	rejected.Speaker = SpeakerHearing // not changeable: stays the signer's
	if err := s.UpdateTurn(ctx, rejected); err != nil {
		t.Fatal(err)
	}
	ctxTurns, _ = s.ContextWindow(ctx, c.ID, 10, 0, nil)
	if len(ctxTurns) != 2 || ctxTurns[1].Text != "I need an appointment." || ctxTurns[1].Bundle.Hash != "abc" {
		t.Fatalf("context after confirming: %+v", ctxTurns)
	}
	all, _ := s.Turns(ctx, c.ID)
	if all[2].Speaker != SpeakerSigner || !all[2].Rejected {
		t.Fatalf("rejected turn: %+v", all[2])
	}
	if err := s.UpdateTurn(ctx, Turn{Conversation: c.ID, Seq: 99, Speaker: SpeakerSigner, Text: "x"}); err == nil {
		t.Fatal("updating a turn that does not exist succeeded")
	}

	ended, err := s.EndConversation(ctx, c.ID, "idle")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.EndConversation(ctx, c.ID, "ended")
	if err != nil {
		t.Fatal(err)
	}
	if ended.Open() || again.EndReason != "idle" || !again.Ended.Equal(ended.Ended) {
		t.Fatalf("ended %+v, then %+v: the first end must stay", ended, again)
	}
	if _, err := s.EndConversation(ctx, 999, "ended"); err == nil {
		t.Fatal("ending a missing conversation succeeded")
	}
}
