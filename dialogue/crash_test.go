package dialogue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test runs this test binary again as a writer process, kills it with
// SIGKILL at random points, reopens the file and checks it against what the writer
// said it had committed. The writer prints one line after each commit returns, so a
// line the parent read is a commit that must survive.
const (
	crashChildEnv = "SCOPE_DIALOGUE_CRASH_WRITER" // path of the store; selects child mode
	crashSeedEnv  = "SCOPE_DIALOGUE_CRASH_SEED"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
		if err := crashWriter(path, seed); err != nil {
			fmt.Fprintln(os.Stderr, "crash writer:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// turnText is deterministic, so the parent can check a surviving turn's content. Sizes
// vary from a few bytes to several pages, so commits split and overflow pages.
func turnText(conv ConversationID, seq uint64) string {
	return fmt.Sprintf("conversation %d turn %d|", conv, seq) + strings.Repeat("abcdefg ", int(seq*131%900))
}

// crashWriter writes until it is killed (or, as a safety net, for 30 s). Its lines:
//
//	conv ID            conversation ID was started
//	turn ID SEQ        turn SEQ of conversation ID was appended
//	deleting ID / deleted ID
//	wiping / wiped
func crashWriter(path string, seed uint64) error {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 7))
	s, err := Open(path, Options{LockTimeout: -1})
	if err != nil {
		return err
	}
	var mine []ConversationID
	var cur ConversationID
	start := func() error {
		c, err := s.StartConversation(ctx, "crash-kiosk", "reception")
		if err != nil {
			return err
		}
		cur = c.ID
		mine = append(mine, c.ID)
		fmt.Printf("conv %d\n", c.ID)
		return nil
	}
	if err := start(); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		switch r := rng.IntN(100); {
		case r < 70:
			c, err := s.Conversation(ctx, cur)
			if err != nil {
				return err
			}
			seq := uint64(c.Turns + 1)
			t, err := s.AppendTurn(ctx, Turn{
				Conversation: cur, Speaker: SpeakerSigner, Text: turnText(cur, seq),
				Hypotheses:   []Hypothesis{{Glosses: []string{"HELLO", "YOU"}, Score: -float64(seq)}},
				ModelVersion: "crash-test",
			})
			if err != nil {
				return err
			}
			if t.Seq != seq {
				return fmt.Errorf("appended turn %d, expected %d", t.Seq, seq)
			}
			fmt.Printf("turn %d %d\n", cur, t.Seq)
		case r < 82:
			if err := start(); err != nil {
				return err
			}
		case r < 94:
			vec := make([]float32, 64+rng.IntN(448))
			for i := range vec {
				vec[i] = rng.Float32()
			}
			if err := s.PutEmbedding(ctx, "crash-model", turnText(cur, uint64(rng.IntN(20))), vec); err != nil {
				return err
			}
		case r < 98:
			if len(mine) < 2 {
				continue
			}
			i := rng.IntN(len(mine) - 1) // never the current one (the last)
			id := mine[i]
			mine = append(mine[:i], mine[i+1:]...)
			fmt.Printf("deleting %d\n", id)
			if err := s.DeleteConversation(ctx, id); err != nil {
				return err
			}
			fmt.Printf("deleted %d\n", id)
		default:
			fmt.Println("wiping")
			if err := s.Wipe(ctx); err != nil {
				return err
			}
			fmt.Println("wiped")
			mine = nil
			if err := start(); err != nil {
				return err
			}
		}
	}
	return s.Close()
}

// crashModel is what the parent knows was committed.
type crashModel struct {
	turns    map[ConversationID]uint64 // conversation -> turns reported committed
	deleted  map[ConversationID]bool   // reported deleted: must be gone
	inFlight map[ConversationID]bool   // delete begun, not reported done: either way
	wiping   bool                      // wipe begun, not reported done: old state or empty
	last     [2]uint64                 // the last turn reported: conversation, seq
}

func newCrashModel() *crashModel {
	return &crashModel{turns: map[ConversationID]uint64{}, deleted: map[ConversationID]bool{}, inFlight: map[ConversationID]bool{}}
}

func (m *crashModel) apply(line string) error {
	f := strings.Fields(line)
	num := func(i int) uint64 {
		if i >= len(f) {
			return 0
		}
		v, _ := strconv.ParseUint(f[i], 10, 64)
		return v
	}
	switch f[0] {
	case "conv":
		m.turns[ConversationID(num(1))] = 0
	case "turn":
		m.turns[ConversationID(num(1))] = num(2)
		m.last = [2]uint64{num(1), num(2)}
	case "deleting":
		m.inFlight[ConversationID(num(1))] = true
	case "deleted":
		id := ConversationID(num(1))
		delete(m.inFlight, id)
		delete(m.turns, id)
		m.deleted[id] = true
		if m.last[0] == uint64(id) {
			m.last = [2]uint64{}
		}
	case "wiping":
		m.wiping = true
	case "wiped":
		*m = *newCrashModel()
	default:
		return fmt.Errorf("unexpected line from writer: %q", line)
	}
	return nil
}

// verify checks the reopened store against the model.
func (m *crashModel) verify(ctx context.Context, s *Store) error {
	if err := s.Check(ctx); err != nil {
		return err
	}
	cs, err := s.Conversations(ctx)
	if err != nil {
		return err
	}
	if m.wiping {
		if len(cs) == 0 {
			*m = *newCrashModel() // the wipe got far enough: everything is gone
			return nil
		}
		m.wiping = false // the wipe had not started on the file: all must be there
	}
	have := map[ConversationID]Conversation{}
	for _, c := range cs {
		have[c.ID] = c
	}
	for id, n := range m.turns {
		c, ok := have[id]
		switch {
		case !ok && m.inFlight[id]: // the delete committed before the kill
			delete(m.turns, id)
			if m.last[0] == uint64(id) {
				m.last = [2]uint64{}
			}
			continue
		case !ok:
			return fmt.Errorf("conversation %d (reported committed) is gone", id)
		case uint64(c.Turns) < n:
			return fmt.Errorf("conversation %d has %d turns, but %d were reported committed", id, c.Turns, n)
		case uint64(c.Turns) > n+1:
			return fmt.Errorf("conversation %d has %d turns; only %d were committed (and one may have been unreported)", id, c.Turns, n)
		}
		m.turns[id] = uint64(c.Turns) // an unreported commit is now known
	}
	for id := range m.deleted {
		if _, ok := have[id]; ok {
			return fmt.Errorf("conversation %d was reported deleted but is there", id)
		}
	}
	m.inFlight = map[ConversationID]bool{}
	if m.last[0] != 0 {
		id, seq := ConversationID(m.last[0]), m.last[1]
		turns, err := s.Turns(ctx, id)
		if err != nil {
			return fmt.Errorf("last committed turn %d of conversation %d: %w", seq, id, err)
		}
		if uint64(len(turns)) < seq || turns[seq-1].Text != turnText(id, seq) {
			return fmt.Errorf("last committed turn %d of conversation %d is missing or wrong", seq, id)
		}
	}
	return nil
}

func TestCrashSafetyUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dialogue.db")
	ctx := context.Background()
	model := newCrashModel()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const killPoints = 25
	var lines, turnsSeen, midWipe, midDelete int
	for i := range killPoints {
		seed := rng.Uint64()
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of reported commits plus a random delay (so
		// the kill lands inside the next operation), or, for some kill points,
		// after a short time from start (inside Open or the first commit).
		afterLines := 1 + rng.IntN(60)
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond
		if rng.IntN(5) == 0 {
			afterLines = 0
			delay = time.Duration(rng.IntN(40)) * time.Millisecond
			time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		}
		sc := bufio.NewScanner(out)
		n := 0
		var got []string // this run's lines, for the failure message
		for sc.Scan() {
			got = append(got, sc.Text())
			if err := model.apply(sc.Text()); err != nil {
				cmd.Process.Kill()
				t.Fatal(err)
			}
			if n++; n == afterLines {
				time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
			}
			if strings.HasPrefix(sc.Text(), "turn") {
				turnsSeen++
			}
		}
		lines += n
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill point %d: writer did not die by SIGKILL: %v\n%s", i, err, stderr.String())
		}

		if model.wiping {
			midWipe++
		}
		if len(model.inFlight) > 0 {
			midDelete++
		}
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("kill point %d (seed %d, after %d lines + %v): reopen: %v", i, seed, afterLines, delay, err)
		}
		err = model.verify(ctx, s)
		s.Close()
		for _, leftover := range []string{path + wipeSuffix, path + compactSuffix} {
			if _, serr := os.Stat(leftover); err == nil && serr == nil {
				err = fmt.Errorf("%s survived Open", leftover)
			}
		}
		if err != nil {
			t.Fatalf("kill point %d (seed %d, after %d lines + %v): %v\nthe writer's lines: %q", i, seed, afterLines, delay, err, got)
		}
	}
	t.Logf("%d kill points (%d inside a wipe, %d inside a delete and its compaction), %d committed operations reported (%d turns), all consistent",
		killPoints, midWipe, midDelete, lines, turnsSeen)
	if turnsSeen == 0 {
		t.Error("the writer never committed a turn: the test tested nothing")
	}
}
