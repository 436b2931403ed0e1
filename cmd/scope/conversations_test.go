package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

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

// isolateWipe points wipe's telemetry clean-up at empty folders of the test.
func isolateWipe(t *testing.T) (home, tmp string) {
	home, tmp = t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	old := wipeTmpDirs
	wipeTmpDirs = []string{tmp}
	t.Cleanup(func() { wipeTmpDirs = old })
	return home, tmp
}

func TestWipeCommand(t *testing.T) {
	isolateWipe(t)
	db := seedStore(t)
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()

	err := cmdWipe(ctx, a, []string{"--db", db})
	if !errors.Is(err, errUsage) || !strings.Contains(out.String(), "would overwrite with zeros and remove "+db) ||
		!strings.Contains(out.String(), "2 conversations, 3 turns") {
		t.Fatalf("wipe without --yes: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatal("wipe without --yes deleted the store")
	}
	out.Reset()
	if err := cmdWipe(ctx, a, []string{"--yes", "--db", db}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "done: overwrite with zeros and remove "+db) {
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
	raw, _ := os.ReadFile(db)
	for i := 5 * 4096; i < len(raw); i++ {
		raw[i] ^= 0xff // the data pages
	}
	os.WriteFile(db, raw, 0o600)
	out.Reset()
	if err := cmdWipe(ctx, a, []string{"--yes", "--db", db}); err != nil {
		t.Errorf("wipe of a damaged store: %v, %s", err, out.String())
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("damaged store still there after wipe")
	}
	// Cut off where its root was, it cannot be told from another program's file:
	// the dry run says so, and --unverified wipes it.
	db = seedStore(t)
	os.Truncate(db, 2*4096)
	out.Reset()
	if err := cmdWipe(ctx, a, []string{"--db", db}); err == nil || !strings.Contains(out.String(), "would NOT touch") || !strings.Contains(out.String(), "--unverified") {
		t.Errorf("dry run on a truncated store: %v, %s", err, out.String())
	}
	if err := cmdWipe(ctx, a, []string{"--yes", "--unverified", "--db", db}); err != nil {
		t.Errorf("wipe --unverified of a truncated store: %v", err)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("truncated store still there after wipe --unverified")
	}
}

// TestWipeRefusesAnotherProgramsDatabase: `wipe --yes --db other.bolt` zeroed and deleted
// another program's bbolt file (a "patients" bucket). Both the dry run and --yes refuse,
// name the bucket, and leave the file as it was.
func TestWipeRefusesAnotherProgramsDatabase(t *testing.T) {
	isolateWipe(t)
	other := filepath.Join(t.TempDir(), "other.bolt")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("patients"))
		if err != nil {
			return err
		}
		return b.Put([]byte("42"), []byte("Jane Doe"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(other)
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, args := range [][]string{{"--db", other}, {"--yes", "--db", other}, {"--yes", "--unverified", "--db", other}} {
		out.Reset()
		err := cmdWipe(context.Background(), a, args)
		if err == nil || !errors.Is(err, dialogue.ErrNotStore) || !strings.Contains(err.Error(), `"patients"`) {
			t.Errorf("wipe %v: err = %v, want a refusal naming the bucket\n%s", args, err, out.String())
		}
		if strings.Contains(out.String(), "would overwrite") || strings.Contains(out.String(), "done:") {
			t.Errorf("wipe %v announced a wipe:\n%s", args, out.String())
		}
		if after, _ := os.ReadFile(other); !bytes.Equal(before, after) {
			t.Fatalf("wipe %v changed another program's file", args)
		}
	}
	// A bbolt file whose root page is unreadable: refused unless --unverified.
	s := seedStore(t)
	raw, _ := os.ReadFile(s)
	// The newer meta page (higher transaction id) names the root bucket's page.
	meta := 0
	if binary.LittleEndian.Uint64(raw[4096+64:]) > binary.LittleEndian.Uint64(raw[64:]) {
		meta = 4096
	}
	root := int64(binary.LittleEndian.Uint64(raw[meta+32:]))
	for i := range 4096 {
		raw[root*4096+int64(i)] ^= 0x5a
	}
	os.WriteFile(s, raw, 0o600)
	out.Reset()
	if err := cmdWipe(context.Background(), a, []string{"--yes", "--db", s}); !errors.Is(err, dialogue.ErrUnverified) || !strings.Contains(err.Error(), "--unverified") {
		t.Fatalf("unreadable root: %v", err)
	}
	if err := cmdWipe(context.Background(), a, []string{"--yes", "--unverified", "--db", s}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s); !errors.Is(err, os.ErrNotExist) {
		t.Error("--unverified did not wipe it")
	}
}

// TestWipeRemovesTelemetryLeftovers: what ONNX Runtime's telemetry left (its store with a
// device id, empty mat-debug logs) goes with the conversations; the dry run lists it.
func TestWipeRemovesTelemetryLeftovers(t *testing.T) {
	home, tmp := isolateWipe(t)
	store := filepath.Join(home, ".cache", "Microsoft", "DeveloperTools", ".onnxruntime")
	os.MkdirAll(store, 0o700)
	os.WriteFile(filepath.Join(store, "deviceid"), []byte("1234"), 0o600)
	logs := []string{filepath.Join(tmp, "mat-debug-123.log"), filepath.Join(tmp, "mat-debug-456.log")}
	for _, l := range logs {
		os.WriteFile(l, nil, 0o644)
	}
	notEmpty := filepath.Join(tmp, "mat-debug-789.log")
	os.WriteFile(notEmpty, []byte("someone else's"), 0o644)
	db := filepath.Join(t.TempDir(), "none.db")
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := cmdWipe(context.Background(), a, []string{"--db", db}); !errors.Is(err, errUsage) || !strings.Contains(out.String(), "would remove "+store) {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	if err := cmdWipe(context.Background(), a, []string{"--yes", "--db", db}); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(logs, store, filepath.Join(home, ".cache", "Microsoft")) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there", p)
		}
	}
	if _, err := os.Stat(notEmpty); err != nil {
		t.Errorf("a log with content was removed")
	}
}

// TestWipeRemovesDamagedCopies: a damaged store the daemon moved aside holds
// conversations too: wipe lists and destroys it.
func TestWipeRemovesDamagedCopies(t *testing.T) {
	isolateWipe(t)
	db := seedStore(t)
	raw, _ := os.ReadFile(db)
	for i := 4 * 4096; i < len(raw); i++ {
		raw[i] ^= 0xff
	}
	os.WriteFile(db, raw, 0o600)
	s, err := dialogue.Open(db, dialogue.Options{Quarantine: true})
	if err != nil {
		t.Fatal(err)
	}
	aside := s.Quarantined()
	s.Close()
	if aside == "" {
		t.Fatal("nothing was moved aside")
	}
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := cmdWipe(context.Background(), a, []string{"--db", db}); !errors.Is(err, errUsage) || !strings.Contains(out.String(), aside) {
		t.Fatalf("dry run does not list %s: %v\n%s", aside, err, out.String())
	}
	if err := cmdWipe(context.Background(), a, []string{"--yes", "--db", db}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{db, aside} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there", p)
		}
	}
}

// TestLookingAtAStoreNeverWritesToIt: list, show, export and check open the store
// read-only: they work on a read-only file and leave a (damaged) file byte for byte.
func TestLookingAtAStoreNeverWritesToIt(t *testing.T) {
	db := seedStore(t)
	if err := os.Chmod(db, 0o400); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(db)
	for _, args := range [][]string{{"conversations", "list"}, {"conversations", "show", "1"}, {"conversations", "export", "1"}, {"conversations", "check"}} {
		out, err := runScope(t, append(args, "--db", db)...)
		if err != nil {
			t.Errorf("scope %s on a read-only store: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Error("looking at the store changed the file")
	}
	// A damaged store: check reports the damage, without pointing at itself.
	os.Chmod(db, 0o600)
	raw, _ := os.ReadFile(db)
	for i := 4 * 4096; i < len(raw); i++ {
		raw[i] ^= 0xff
	}
	os.WriteFile(db, raw, 0o600)
	_, err := runScope(t, "conversations", "check", "--db", db)
	if err == nil || strings.Contains(err.Error(), "run `scope conversations check`") {
		t.Errorf("check of a damaged store: %v", err)
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(raw, after) {
		t.Error("check wrote into the damaged store")
	}
}
