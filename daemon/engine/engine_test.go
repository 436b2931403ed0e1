package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"scope/capture"
	"scope/config"
	"scope/daemon/events"
	"scope/dialogue"
	"scope/internal/assets"
	"scope/internal/shareddata"
)

// settings is the default configuration with the store in a temporary folder.
func settings(t *testing.T) config.Config {
	t.Helper()
	c := config.Default()
	c.Dialogue.Path = filepath.Join(t.TempDir(), "dialogue.db")
	c.Edge.Threads = 2
	return c
}

// collect subscribes and returns a function that waits for an event of a kind.
type collector struct {
	ch  <-chan events.Event
	mu  sync.Mutex
	all []events.Event
}

func collect(e *Engine) *collector {
	ch, _ := e.Subscribe(1 << 14)
	return &collector{ch: ch}
}

// wait returns the next event of kind k (a liveness bound, not a timing assertion).
func (c *collector) wait(t *testing.T, k events.Kind) events.Event {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case e, ok := <-c.ch:
			if !ok {
				t.Fatalf("bus closed before a %s event", k)
			}
			c.mu.Lock()
			c.all = append(c.all, e)
			c.mu.Unlock()
			if e.Kind == k {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", k)
		}
	}
}

// rest drains what is left after the bus closed.
func (c *collector) rest() []events.Event {
	for e := range c.ch {
		c.all = append(c.all, e)
	}
	return c.all
}

// The demo plays a synthetic dialogue through every stage: the sentences are shown,
// annotated with what was meant (labelled synthetic), stored with the bundle's version
// and hash, and the conversation ends with the dialogue.
func TestDemoThroughTheEngine(t *testing.T) {
	c := settings(t)
	e, err := New(Config{Settings: c, Demo: Demo{Seed: 2026, Dialogues: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	col := collect(e)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	var sentences, turns, ended int
	for _, ev := range col.rest() {
		switch ev.Kind {
		case events.Sentence, events.Unsure:
			sentences++
			if !ev.Synthetic || ev.Meant == "" || ev.Bundle == nil || ev.Bundle.Hash != e.Bundle().Hash {
				t.Errorf("sentence event %+v: want the meaning (synthetic) and the bundle", ev)
			}
		case events.Demo:
			if ev.Status == "turn" {
				turns++
			}
		case events.ConversationEnded:
			ended++
			if ev.Reason != "ended" {
				t.Errorf("conversation ended for %q", ev.Reason)
			}
		}
	}
	if sentences == 0 || turns == 0 || ended != 1 {
		t.Fatalf("%d sentences, %d signer turns, %d conversations ended", sentences, turns, ended)
	}
	st, err := dialogue.Open(c.Dialogue.Path, dialogue.Options{})
	if err != nil {
		t.Fatalf("the store is not closed after Close: %v", err)
	}
	defer st.Close()
	convs, _ := st.Conversations(context.Background())
	if len(convs) != 1 || convs[0].Open() {
		t.Fatalf("conversations %+v", convs)
	}
	ts, _ := st.Turns(context.Background(), convs[0].ID)
	for _, tr := range ts {
		if tr.Speaker == dialogue.SpeakerSigner && (tr.Bundle == nil || tr.Bundle.Hash != e.Bundle().Hash || tr.Bundle.Version == "") {
			t.Errorf("turn %d records bundle %+v, want %+v", tr.Seq, tr.Bundle, e.Bundle())
		}
	}
}

// A .pose file is an input like a video: the pose stage is skipped and its keypoints go
// on to the recogniser.
func TestPoseFileInput(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	c := settings(t)
	e, err := New(Config{Settings: c, Input: filepath.Join(dir, "mediapipe_long.pose"), NoStore: true, NoTranslate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	col := collect(e)
	if !strings.Contains(e.Health().Input, ".pose file") {
		t.Fatalf("input %q", e.Health().Input)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.Close()
	var ends, decided int
	for _, ev := range col.rest() {
		switch ev.Kind {
		case events.SegmentEnd:
			ends++
		case events.Sentence, events.Unsure:
			decided++
		case events.Error:
			t.Errorf("error event: %+v", ev)
		}
	}
	if ends == 0 || decided != ends {
		t.Fatalf("%d segments, %d decided sentences", ends, decided)
	}
	if _, err := New(Config{Settings: c, Input: filepath.Join(t.TempDir(), "missing.pose"), NoStore: true}); err == nil || !strings.Contains(err.Error(), "missing.pose") {
		t.Fatalf("a missing .pose file: %v", err)
	}
}

// Close while the daemon plays in real time: the input stops, the work in flight
// drains, the open conversation ends with reason "shutdown", the store is released.
func TestCloseDrainsAndEndsTheConversation(t *testing.T) {
	c := settings(t)
	e, err := New(Config{Settings: c, Realtime: true, Loop: true, Retry: true, Demo: Demo{Seed: 7}})
	if err != nil {
		t.Fatal(err)
	}
	col := collect(e)
	done := make(chan error)
	go func() { done <- e.Start(context.Background()) }()
	col.wait(t, events.SegmentStart) // signing is under way
	if h := e.Health(); !h.Ready || !h.Live || h.Open == nil {
		t.Fatalf("health while playing: %+v", h)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Start after Close: %v", err)
	}
	var ended *events.Event
	for _, ev := range col.rest() {
		if ev.Kind == events.ConversationEnded {
			ev := ev
			ended = &ev
		}
	}
	if ended == nil || ended.Reason != "shutdown" {
		t.Fatalf("last conversation end %+v, want reason shutdown", ended)
	}
	st, err := dialogue.Open(c.Dialogue.Path, dialogue.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("store still held after Close: %v", err)
	}
	st.Close()
	if err := e.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if h := e.Health(); h.Live || h.Ready {
		t.Fatalf("health after Close: %+v", h)
	}
}

// Swap loads another bundle beside the running one and switches between sentences; a
// bundle that does not load leaves the running one in place and says why.
func TestSwap(t *testing.T) {
	src, err := assets.Find("models/demo/slr")
	if err != nil {
		t.Fatal(err)
	}
	next := filepath.Join(t.TempDir(), "next")
	if err := os.MkdirAll(next, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range files { // every file the manifest names (models, lexicon), and the manifest
		f := de.Name()
		if de.IsDir() || filepath.Ext(f) == ".md" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "manifest.json" {
			b = []byte(strings.Replace(string(b), `"version": "`, `"version": "9`, 1))
		}
		if err := os.WriteFile(filepath.Join(next, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := settings(t)
	e, err := New(Config{Settings: c, Demo: Demo{Seed: 2026, Dialogues: 1}, NoStore: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	col := collect(e)
	before := e.Bundle()
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "manifest.json"), []byte("{not json"), 0o644)
	err = e.Swap(context.Background(), broken)
	if err == nil || !strings.Contains(err.Error(), broken) || !strings.Contains(err.Error(), "keeps running") {
		t.Fatalf("swap to a broken bundle: %v", err)
	}
	if e.Bundle() != before {
		t.Fatal("a failed swap changed the bundle")
	}
	if err := e.Swap(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	after := e.Bundle()
	if after.Hash == before.Hash || !strings.HasPrefix(after.Version, "9") || after.Dir != next {
		t.Fatalf("after swap: %+v (before %+v)", after, before)
	}
	if ev := col.wait(t, events.Bundle); ev.Bundle.Hash != after.Hash {
		t.Fatalf("bundle event %+v", ev)
	}
	// The new models serve the next sentences.
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ev := col.wait(t, events.Sentence); ev.Bundle.Hash != after.Hash {
		t.Fatalf("sentence after swap from bundle %+v", ev.Bundle)
	}
	var b strings.Builder
	e.Metrics().WritePrometheus(&b)
	if !strings.Contains(b.String(), `scope_bundle_info{hash="`+after.Hash) || !strings.Contains(b.String(), `scope_bundle_swaps_total{result="failed"} 1`) {
		t.Fatalf("metrics after swaps:\n%s", grep(b.String(), "bundle"))
	}
	// "" is the configured models again (the OTA updater's rollback past its first bundle).
	if err := e.Swap(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if got := e.Bundle(); got.Hash != before.Hash || got.Dir != before.Dir {
		t.Fatalf("after a swap to the configured models: %+v, want %+v", got, before)
	}
	// Config.Bundle starts on a bundle folder instead of slr.bundle (the OTA's current slot).
	e2, err := New(Config{Settings: c, Bundle: next, Demo: Demo{Seed: 2026, Dialogues: 1}, NoStore: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := e2.Bundle(); got.Hash != after.Hash || got.Dir != next {
		t.Fatalf("started with Bundle %s: %+v, want %+v", next, got, after)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// fakeCamera is a camera for the fault tests: missing for the first opens, then each
// opening delivers a few frames of a real photo and stops, as an unplugged camera does.
type fakeCamera struct {
	missing int32 // opens that fail
	frames  int
	img     string
	opens   atomic.Int32
}

func (f *fakeCamera) open(spec string, opt capture.Options) (Source, error) {
	if n := f.opens.Add(1); n <= f.missing {
		return nil, errors.New("capture: /dev/video9: no such device")
	}
	return &fakeSource{f: f}, nil
}

type fakeSource struct {
	f    *fakeCamera
	done chan struct{}
}

func (s *fakeSource) Start(ctx context.Context) (<-chan capture.Frame, error) {
	ch := make(chan capture.Frame, 2)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		defer close(ch)
		for i := 0; i < s.f.frames; i++ {
			m := gocv.IMRead(s.f.img, gocv.IMReadColor)
			select {
			case ch <- capture.Frame{Seq: int64(i), PTS: time.Duration(i) * time.Second / 30, Wall: time.Now(), Mat: m}:
			case <-ctx.Done():
				m.Close()
				return
			}
		}
	}()
	return ch, nil
}
func (s *fakeSource) Err() error           { <-s.done; return nil }
func (s *fakeSource) Close() error         { return nil }
func (s *fakeSource) Kind() capture.Kind   { return capture.Device }
func (s *fakeSource) Spec() string         { return "/dev/video9" }
func (s *fakeSource) FPS() float64         { return 30 }
func (s *fakeSource) Size() (int, int)     { return 0, 0 }
func (s *fakeSource) Stats() capture.Stats { return capture.Stats{} }

// A camera missing at boot is retried; once it delivers, the engine is ready; when it
// stops (unplugged), the status says so and it is reopened.
func TestCameraMissingThenUnplugged(t *testing.T) {
	img := "/usr/share/doc/opencv-doc/examples/data/messi5.jpg"
	if _, err := os.Stat(img); err != nil {
		t.Fatalf("%v (make setup installs opencv-doc)", err)
	}
	cam := &fakeCamera{missing: 2, frames: 6, img: img}
	c := settings(t)
	c.Capture.Reconnect = config.Duration(100 * time.Millisecond)
	e, err := New(Config{Settings: c, Input: "/dev/video9", Retry: true, NoStore: true, NoTranslate: true, OpenSource: cam.open})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	col := collect(e)
	go e.Start(context.Background())
	ev := col.wait(t, events.Camera)
	if ev.Status != "missing" || !strings.Contains(ev.Error, "no such device") {
		t.Fatalf("first camera event %+v", ev)
	}
	if h := e.Health(); h.Ready || !h.Live || !strings.Contains(strings.Join(h.Reasons, ";"), "missing") {
		t.Fatalf("health with the camera missing: %+v", h)
	}
	for ev.Status != "ok" {
		ev = col.wait(t, events.Camera)
	}
	for ev.Status != "reconnecting" {
		ev = col.wait(t, events.Camera)
	}
	for ev.Status != "ok" {
		ev = col.wait(t, events.Camera)
	}
	if cam.opens.Load() < 4 || e.Health().Frames < int64(cam.frames) {
		t.Fatalf("%d opens, %d frames", cam.opens.Load(), e.Health().Frames)
	}
	// The camera's failures are counted, once per failure rather than once per retry.
	var m strings.Builder
	e.Metrics().WritePrometheus(&m)
	if got := grep(m.String(), `scope_errors_total{stage="capture"}`); got == "" || strings.HasSuffix(got, " 0") {
		t.Fatalf("capture errors in /metrics: %q", got)
	}
}
