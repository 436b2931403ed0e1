package dialogue

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// benchTurn is a typical signer turn: a sentence, three gloss hypotheses, timestamps.
func benchTurn(id ConversationID, i int) Turn {
	return Turn{
		Conversation: id, Speaker: SpeakerSigner,
		Text: fmt.Sprintf("Turn %d: I would like to collect the prescription my doctor sent this morning.", i),
		Hypotheses: []Hypothesis{
			{Glosses: strings.Fields("ME WANT COLLECT PRESCRIPTION DOCTOR SEND MORNING"), Score: -3.1},
			{Glosses: strings.Fields("ME WANT COLLECT PRESCRIPTION DOCTOR MORNING"), Score: -3.9},
			{Glosses: strings.Fields("ME NEED PRESCRIPTION DOCTOR SEND MORNING"), Score: -4.4},
		},
		ModelVersion: "bench-1",
	}
}

// BenchmarkAppendTurn: durable (synced) appends, one per transaction, as the pipeline
// makes them.
func BenchmarkAppendTurn(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "dialogue.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	c, err := s.StartConversation(ctx, "bench", "pharmacy")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.AppendTurn(ctx, benchTurn(c.ID, i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
}

// BenchmarkContextWindow: the latency of reading the last 8 turns within 512 tokens
// of a 1000-turn conversation, alone and while a writer appends.
func BenchmarkContextWindow(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "dialogue.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	c, err := s.StartConversation(ctx, "bench", "pharmacy")
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if _, err := s.AppendTurn(ctx, benchTurn(c.ID, i)); err != nil {
			b.Fatal(err)
		}
	}
	read := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w, err := s.ContextWindow(ctx, c.ID, 8, 512, nil)
			if err != nil || len(w) != 8 {
				b.Fatalf("window: %d turns, %v", len(w), err)
			}
		}
	}
	b.Run("idle", read)
	b.Run("while-writing", func(b *testing.B) {
		var stop atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; !stop.Load(); i++ {
				if _, err := s.AppendTurn(ctx, benchTurn(c.ID, i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		read(b)
		stop.Store(true)
		<-done
	})
}
