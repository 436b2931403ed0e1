package events

import (
	"sync"
	"testing"
)

// A subscriber that never reads does not stop publishing, and the others still get
// every event in order.
func TestStalledSubscriberDoesNotBlockOthers(t *testing.T) {
	b := New()
	_, cancelStalled := b.Subscribe(4) // never read
	defer cancelStalled()
	live, cancel := b.Subscribe(1000)
	defer cancel()
	const n = 500
	for i := 0; i < n; i++ {
		b.Publish(Event{Kind: Token, Text: "x"})
	}
	for i := 1; i <= n; i++ {
		e := <-live
		if e.Seq != uint64(i) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
	if got := b.Dropped(); got != n-4 {
		t.Fatalf("dropped %d events from the stalled queue of 4, want %d", got, n-4)
	}
}

// A full queue loses its oldest events: the newest state always gets through.
func TestFullQueueKeepsTheNewest(t *testing.T) {
	b := New()
	ch, cancel := b.Subscribe(3)
	defer cancel()
	for i := 0; i < 10; i++ {
		b.Publish(Event{Kind: Token})
	}
	b.Publish(Event{Kind: Sentence, Text: "Where is the pharmacy?"})
	var got []Event
	for len(ch) > 0 {
		got = append(got, <-ch)
	}
	if len(got) != 3 || got[2].Kind != Sentence || got[2].Text != "Where is the pharmacy?" || got[0].Seq != 9 {
		t.Fatalf("queue holds %+v, want seq 9, 10 and the sentence", got)
	}
	if got[0].Time.IsZero() {
		t.Fatal("events are not time-stamped")
	}
}

func TestUnsubscribeAndClose(t *testing.T) {
	b := New()
	a, cancelA := b.Subscribe(1)
	c, cancelC := b.Subscribe(1)
	cancelA()
	cancelA() // twice is fine
	if _, ok := <-a; ok {
		t.Fatal("channel open after unsubscribe")
	}
	if b.Subscribers() != 1 {
		t.Fatalf("%d subscribers, want 1", b.Subscribers())
	}
	b.Close()
	if _, ok := <-c; ok {
		t.Fatal("channel open after Close")
	}
	cancelC() // after Close is fine
	b.Publish(Event{Kind: Token})
	d, _ := b.Subscribe(1)
	if _, ok := <-d; ok {
		t.Fatal("subscribing to a closed bus gave an open channel")
	}
}

// Publishers and subscribers on many goroutines: run with -race.
func TestConcurrentUse(t *testing.T) {
	b := New()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		ch, cancel := b.Subscribe(2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for range ch {
				n++
				if n == 50 {
					cancel()
				}
			}
		}()
	}
	var pub sync.WaitGroup
	for i := 0; i < 4; i++ {
		pub.Add(1)
		go func() {
			defer pub.Done()
			for j := 0; j < 200; j++ {
				b.Publish(Event{Kind: Token})
			}
		}()
	}
	pub.Wait()
	b.Close()
	wg.Wait()
}
