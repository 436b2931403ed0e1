package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/dialogue"
)

// seedStore writes two conversations, as the daemon would, and closes the store.
func seedStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dialogue.db")
	s, err := dialogue.Open(path, dialogue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, turns := range [][]dialogue.Turn{
		{{Speaker: dialogue.SpeakerHearing, Text: "Good morning, how can I help?"},
			{Speaker: dialogue.SpeakerSigner, Text: "I need my prescription.",
				Hypotheses: []dialogue.Hypothesis{{Glosses: []string{"ME", "NEED", "PRESCRIPTION"}, Score: -1.25}}}},
		{{Speaker: dialogue.SpeakerSigner, Text: "Where is the lift?"}},
	} {
		c, err := s.StartConversation(ctx, "kiosk-7", "reception")
		if err != nil {
			t.Fatal(err)
		}
		for _, turn := range turns {
			turn.Conversation = c.ID
			if _, err := s.AppendTurn(ctx, turn); err != nil {
				t.Fatal(err)
			}
		}
	}
	return path
}

func runScope(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runMain(context.Background(), args, &out, &errOut)
	return out.String(), err
}

func TestConversationsCommands(t *testing.T) {
	db := seedStore(t)

	out, err := runScope(t, "conversations", "list", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "1 ") || !strings.Contains(lines[1], "kiosk-7") || !strings.Contains(lines[2], "reception") {
		t.Errorf("list:\n%s", out)
	}

	out, err = runScope(t, "conversations", "show", "1", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"I need my prescription.", "ME NEED PRESCRIPTION (-1.25)", "hearing", "turns 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}

	// Export to stdout and to a file; flags may come before the ID.
	out, err = runScope(t, "conversations", "export", "--db", db, "1")
	if err != nil {
		t.Fatal(err)
	}
	var doc dialogue.Exported
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Turns) != 2 || doc.Turns[1].Hypotheses[0].Score != -1.25 {
		t.Errorf("export to stdout: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "conv1.json")
	if _, err := runScope(t, "conversations", "export", "1", "-o", file, "--db", db); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("exported file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}

	if _, err := runScope(t, "conversations", "delete", "1", "--db", db); err != nil {
		t.Fatal(err)
	}
	out, _ = runScope(t, "conversations", "list", "--json", "--db", db)
	var cs []dialogue.Conversation
	if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs) != 1 || cs[0].ID != 2 {
		t.Errorf("list --json after delete: %v\n%s", err, out)
	}
	if _, err := runScope(t, "conversations", "show", "1", "--db", db); !errors.Is(err, dialogue.ErrNotFound) {
		t.Errorf("show of a deleted conversation: err = %v", err)
	}
	if out, err := runScope(t, "conversations", "check", "--db", db); err != nil || !strings.Contains(out, "ok (1 conversations)") {
		t.Errorf("check: %v\n%s", err, out)
	}
}

func TestConversationsCommandErrors(t *testing.T) {
	db := seedStore(t)
	missing := filepath.Join(t.TempDir(), "none.db")
	tests := []struct {
		args []string
		want error
		says string
	}{
		{[]string{"conversations", "show", "--db", db}, errUsage, "needs a conversation ID"},
		{[]string{"conversations", "show", "one", "--db", db}, errUsage, `conversation id "one"`},
		{[]string{"conversations", "delete", "9", "--db", db}, dialogue.ErrNotFound, "conversation 9"},
		{[]string{"conversations", "list", "--db", missing}, dialogue.ErrNoStore, missing},
	}
	for _, tc := range tests {
		_, err := runScope(t, tc.args...)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("scope %s: err = %v; want %v saying %q", strings.Join(tc.args, " "), err, tc.want, tc.says)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("listing a missing store created it")
	}
}

func TestWipeCommand(t *testing.T) {
	db := seedStore(t)
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()

	err := cmdWipe(ctx, a, []string{"--db", db})
	if !errors.Is(err, errUsage) || !strings.Contains(out.String(), "would delete 2 conversations (3 turns)") {
		t.Fatalf("wipe without --yes: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatal("wipe without --yes deleted the store")
	}
	out.Reset()
	if err := cmdWipe(ctx, a, []string{"--yes", "--db", db}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "wiped 2 conversations") {
		t.Errorf("wipe --yes said: %s", out.String())
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store still there after wipe: %v", err)
	}
	out.Reset()
	if err := cmdWipe(ctx, a, []string{"--yes", "--db", db}); err != nil || !strings.Contains(out.String(), "nothing to wipe") {
		t.Errorf("second wipe: %v, %s", err, out.String())
	}

	// A damaged store cannot be opened, but it can be wiped.
	db = seedStore(t)
	os.Truncate(db, 3*4096) // the meta pages survive, the data pages are cut off
	out.Reset()
	if err := cmdWipe(ctx, a, []string{"--yes", "--db", db}); err != nil || !strings.Contains(out.String(), "cannot be read") {
		t.Errorf("wipe of a damaged store: %v, %s", err, out.String())
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("damaged store still there after wipe")
	}
}
