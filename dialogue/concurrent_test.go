package dialogue

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// One writer appends while several readers read context windows, as the pipeline's
// stages do. Every window must be a consistent snapshot: consecutive turns, ending at
// or after the last turn committed before the read began.
func TestOneWriterManyReaders(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	c := mustStart(t, s)
	const turns, readers = 60, 3
	var committed atomic.Uint64
	done := make(chan struct{})
	errs := make(chan error, readers+1)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reads := 0; ; reads++ {
				select {
				case <-done:
					if reads == 0 {
						errs <- fmt.Errorf("reader %d never read", r)
					}
					return
				default:
				}
				floor := committed.Load()
				w, err := s.ContextWindow(ctx, c.ID, 8, 0, nil)
				if err != nil {
					errs <- err
					return
				}
				if floor > 0 && (len(w) == 0 || w[len(w)-1].Seq < floor) {
					errs <- fmt.Errorf("reader %d: window ends before turn %d, which was committed before the read", r, floor)
					return
				}
				for i := 1; i < len(w); i++ {
					if w[i].Seq != w[i-1].Seq+1 {
						errs <- fmt.Errorf("reader %d: window has a gap: %d then %d", r, w[i-1].Seq, w[i].Seq)
						return
					}
				}
				if len(w) > 0 && w[len(w)-1].Text != fmt.Sprintf("turn %d", w[len(w)-1].Seq) {
					errs <- fmt.Errorf("reader %d: turn %d has text %q", r, w[len(w)-1].Seq, w[len(w)-1].Text)
					return
				}
			}
		}()
	}
	for i := 1; i <= turns; i++ {
		turn, err := s.AppendTurn(ctx, Turn{Conversation: c.ID, Speaker: SpeakerSigner, Text: fmt.Sprintf("turn %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		committed.Store(turn.Seq)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustCheck(t, s)
}

// A stage holds its context window for as long as inference takes; the writer must
// not wait for it.
func TestWriterDoesNotWaitForReaderInference(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	c := mustStart(t, s)
	mustAppend(t, s, c.ID, SpeakerHearing, "Good morning.")
	window, err := s.ContextWindow(ctx, c.ID, 8, 256, nil)
	if err != nil {
		t.Fatal(err)
	}
	// "Inference" is still running with window in hand while the next turn arrives.
	wrote := make(chan error, 1)
	go func() {
		_, err := s.AppendTurn(ctx, Turn{Conversation: c.ID, Speaker: SpeakerSigner, Text: "Good morning to you."})
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("AppendTurn blocked while a reader held its context window")
	}
	if len(window) != 1 || window[0].Text != "Good morning." {
		t.Errorf("window changed under its reader: %+v", window)
	}
}

// A second opener (a command-line tool) that waits for the lock while the owner
// replaces the file (a delete compacts it) must end up on the new file: what it
// writes must not go to the replaced one.
func TestOpenerWaitingDuringCompactionGetsNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dialogue.db")
	a, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gone, kept := mustStart(t, a), mustStart(t, a)
	mustAppend(t, a, gone.ID, SpeakerSigner, "to be deleted")

	done := make(chan error, 1)
	go func() {
		b, err := Open(path, Options{LockTimeout: 20 * time.Second})
		if err == nil {
			_, err = b.AppendTurn(ctx, Turn{Conversation: kept.ID, Speaker: SpeakerHearing, Text: "written by the waiting opener"})
			if cerr := b.Close(); err == nil {
				err = cerr
			}
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it start waiting (either order is correct)
	if err := a.DeleteConversation(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	turns, err := s.Turns(ctx, kept.ID)
	if err != nil || len(turns) != 1 {
		t.Fatalf("turn written by the waiting opener: %v, %v (lost to the replaced file?)", turns, err)
	}
	mustCheck(t, s)
}
