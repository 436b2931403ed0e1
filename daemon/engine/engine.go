// Package engine is SCOPE's interpreter as one object: it owns every stage and its
// resources (ONNX Runtime, the pose models, the recogniser, the translator, the
// confidence gate, the dialogue store, the events bus) and runs an input through them:
//
//	input (camera/video/stream via capture, a .pose file, or the built-in synthetic demo)
//	  -> pose (Holistic keypoints; skipped for .pose and the demo)
//	  -> pipeline (segment -> recognise with context -> translate -> gate -> store)
//	  -> events (a bounded queue per subscriber: the terminal, WebSocket clients)
//
// `scope run` (the one-shot terminal demo), `scope serve` (the daemon), `scope eval
// interpret` and the OTA updater all use it:
//
//	e, err := engine.New(engine.Config{Settings: cfg})  // loads every model; errors name the file
//	events, cancel := e.Subscribe(256)
//	go e.Start(ctx)                                     // runs until ctx ends, the input ends, or Close
//	e.Swap(ctx, dir)                                    // OTA: the bundle in dir, between sentences
//	e.Close()                                           // ordered, draining shutdown
//
// Shutdown is ordered: the input stops first (capture, then the pose stream drains), the
// sentences already cut are finished (for at most Config.DrainTimeout, then cancelled),
// the open conversation is ended, and only then are the models, the store and the bus
// closed, so no model is closed while a stage still runs it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"scope/capture"
	"scope/config"
	"scope/daemon/events"
	"scope/daemon/pipeline"
	"scope/dialogue"
	"scope/edge"
	"scope/metrics"
	"scope/models/pose"
	"scope/models/runtime"
	"scope/models/slr"
)

// ErrClosed is returned by Start and Swap after Close.
var ErrClosed = errors.New("engine is closed")

// Config configures an Engine.
type Config struct {
	// Settings is the configuration (config.Load); every section is read.
	Settings config.Config
	// Input overrides capture.source: a camera index, /dev/videoN, a video file, a
	// stream URL, an image, a .pose file (keypoints: the pose stage is skipped), or ""
	// for the built-in synthetic demo.
	Input string
	// Realtime paces file, .pose and demo inputs at their frame rate, as a camera would
	// deliver them (the daemon); otherwise they run as fast as the stages go (`scope run`).
	Realtime bool
	// Loop restarts file, .pose and demo inputs at their end (the daemon's default).
	Loop bool
	// Retry keeps reopening a source that is missing or fails, with backoff, instead of
	// returning its error (the daemon).
	Retry bool
	// Demo chooses the synthetic dialogues of the demo input.
	Demo Demo
	// Bundle, when set, is the bundle folder to start on instead of slr.bundle: the OTA
	// updater's current slot (ota.Updater.Boot). Like a Swap to it, its own translator
	// is preferred to slt.model.
	Bundle string
	// NoTranslate stops after recognition; NoStore keeps the dialogue in memory only.
	NoTranslate, NoStore bool
	// Gate decides whether a sentence is shown or asked about; nil shows every sentence
	// (ShowAll) unless NewGate is set. NewGate, when set, builds the gate for a bundle
	// folder (its thresholds travel with the bundle) at New and at every Swap.
	// Without either, the bundle's own calibrated gate (package gate, the bundle's
	// "gate" section) decides, and a bundle without one shows everything; NoGate shows
	// everything whatever the bundle has.
	Gate    Gate
	NewGate func(bundleDir string) (Gate, error)
	NoGate  bool
	// Device names this kiosk in stored conversations (default: the host name).
	Device string
	// DrainTimeout bounds how long shutdown waits for sentences in flight (default 4 s,
	// so that the store is closed within 5 s of SIGTERM).
	DrainTimeout time.Duration
	Log          *slog.Logger
	// Metrics is the registry stages report to; nil makes one (with the process collector).
	Metrics *metrics.Registry
	// OpenSource opens a capture source (default capture.Open); tests put a fake camera here.
	OpenSource func(spec string, opt capture.Options) (Source, error)
}

// Demo chooses the synthetic dialogues of the demo input.
type Demo struct {
	Seed uint64
	// Dialogues is how many to play; 0 plays one, or forever with Config.Loop.
	Dialogues int
}

// Source is what the engine needs of a frame source (*capture.Source has it).
type Source interface {
	Start(ctx context.Context) (<-chan capture.Frame, error)
	Err() error
	Close() error
	Kind() capture.Kind
	Spec() string
	FPS() float64
	Size() (w, h int)
	Stats() capture.Stats
}

// Engine runs the interpreter. Its methods are safe for concurrent use.
type Engine struct {
	cfg      Config
	settings config.Config
	log      *slog.Logger
	reg      *metrics.Registry
	bus      *events.Bus
	device   edge.Device
	budget   edge.Budget
	provider string
	store    *dialogue.Store
	pipe     *pipeline.Pipeline
	in       input
	demo     *demoInput

	mu        sync.Mutex // guards cur, started, closed, stopInput, pose
	cur       *modelSet
	info      BundleInfo // cur's, kept after Close
	started   bool
	closed    bool
	stopInput context.CancelFunc
	stopped   chan struct{} // closed when Start returns
	closeOnce sync.Once
	closeErr  error
	swapMu    sync.Mutex
	pose      *pose.Pipeline

	st status

	bundleInfo *metrics.Info
	frames     *metrics.Counter
	dropped    *metrics.Counter
	poseLat    *metrics.Histogram
	eventDrops *metrics.Counter
	dropMu     sync.Mutex // eventDrops follows the count of the bus
	swaps      *metrics.CounterVec
}

// New loads every model the configuration names (errors name the file) and opens the
// dialogue store. Nothing runs until Start.
func New(cfg Config) (_ *Engine, err error) {
	c := cfg.Settings
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
		cfg.Metrics.RegisterProcess()
	}
	if cfg.Device == "" {
		cfg.Device, _ = os.Hostname()
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 4 * time.Second
	}
	if cfg.OpenSource == nil {
		cfg.OpenSource = func(spec string, opt capture.Options) (Source, error) { return capture.Open(spec, opt) }
	}
	if cfg.Input == "" {
		cfg.Input = c.Capture.Source
	}
	e := &Engine{cfg: cfg, settings: c, log: cfg.Log, reg: cfg.Metrics, bus: events.New(), stopped: make(chan struct{})}
	e.device = edge.Discover("/")
	e.budget = edge.Split(c.Edge.Threads, e.device)
	e.st.camera = "starting"
	defer func() {
		if err != nil {
			e.release()
		}
	}()
	// One owner loads ONNX Runtime, from the configuration, before any model ("" keeps
	// what is loaded, or finds the installed or cached library).
	if err := runtime.Init(c.Runtime.ONNXRuntimeLibrary); err != nil {
		return nil, err
	}
	if e.provider, err = edge.ChooseProvider(c.Edge.Provider, e.device, runtime.HasGPU()); err != nil {
		return nil, err
	}
	runtime.SetDefaultProvider(runtime.Provider(e.provider))

	if e.cur, err = e.loadBundle(cfg.Bundle); err != nil {
		return nil, err
	}
	e.info = e.cur.info
	e.bundleInfo = e.reg.Info("scope_bundle_info", "The model bundle that runs now (value 1; the labels name it).", "name", "version", "hash")
	e.bundleInfo.Set(e.cur.info.Name, e.cur.info.Version, e.cur.info.Hash)
	e.frames = e.reg.Counter("scope_frames_total", "Keypoint frames that reached the sentence pipeline.")
	e.dropped = e.reg.Counter("scope_capture_dropped_frames_total", "Frames capture dropped because the pose stage fell behind.")
	e.poseLat = e.reg.Histogram("scope_pose_latency_seconds", "Pose stage per frame: detection or tracking, landmarks, hands and face.", nil)
	e.eventDrops = e.reg.Counter("scope_events_dropped_total", "Events dropped from full subscriber queues (slow or stalled clients).")
	e.swaps = e.reg.CounterVec("scope_bundle_swaps_total", "Bundle swaps by result (ok, failed).", "result")

	if !cfg.NoStore {
		// A damaged store is moved aside (kept) and an empty one started: the kiosk
		// keeps interpreting (reliability issue; dialogue.Options.Quarantine).
		e.store, err = dialogue.Open(c.DialoguePath(), dialogue.Options{Retention: time.Duration(c.Dialogue.Retention), Logger: e.log, Quarantine: true})
		if err != nil {
			return nil, err
		}
		if q := e.store.Quarantined(); q != "" {
			e.log.Error("the dialogue store was damaged and has been moved aside; conversations from now on go to a new store", "damaged_copy", q, "store", c.DialoguePath())
		}
		e.st.store = "ok"
	} else {
		e.st.store = "off"
	}
	e.in, err = e.newInput(cfg.Input)
	if err != nil {
		return nil, err
	}
	pcfg := pipeline.Config{
		FPS: e.in.fps(), Models: e.models, Device: cfg.Device, Domain: c.SLT.Domain,
		ContextTurns: c.Dialogue.ContextTurns, ContextTokens: c.Dialogue.ContextTokens, TranslatorContextTokens: c.SLT.ContextTokens,
		IdleTimeout: time.Duration(c.Daemon.IdleTimeout), Metrics: e.reg, Log: e.log, OnEvent: e.onEvent,
	}
	if e.store != nil {
		pcfg.Store = e.store
	}
	if e.pipe, err = pipeline.New(pcfg); err != nil {
		return nil, err
	}
	return e, nil
}

// Bus is the engine's event bus.
func (e *Engine) Bus() *events.Bus { return e.bus }

// Subscribe returns a channel of every event from now on, with a queue of buf events
// (a full queue loses its oldest event; recognition never waits for a subscriber), and
// a function that unsubscribes. The channel closes when the engine closes.
func (e *Engine) Subscribe(buf int) (<-chan events.Event, func()) { return e.bus.Subscribe(buf) }

// Metrics is the registry the stages report to.
func (e *Engine) Metrics() *metrics.Registry { return e.reg }

// Store is the dialogue store (nil with NoStore).
func (e *Engine) Store() *dialogue.Store { return e.store }

// Pipeline is the sentence pipeline (conversations, replies, the confirm step).
func (e *Engine) Pipeline() *pipeline.Pipeline { return e.pipe }

// Settings is the configuration the engine runs with.
func (e *Engine) Settings() config.Config { return e.settings }

// Describe says in one line what the engine runs on, for logs and the terminal.
func (e *Engine) Describe() string {
	b := e.Bundle()
	tr := b.Translator
	if tr == "" {
		tr = "none"
	}
	return fmt.Sprintf("device: %s; ONNX Runtime provider %s; threads: pose %d, recogniser %d, translator %d\nbundle: %s %s (%s) in %s\ntranslator: %s\ngate: %s",
		e.device, e.provider, e.budget.Pose, e.budget.SLR, e.budget.LLM, b.Name, b.Version, shortHash(b.Hash), b.Dir, tr, b.Gate)
}

// Bundle is what runs now.
func (e *Engine) Bundle() BundleInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.info
}

// models gives a sentence the current set and counts it as a user until release.
func (e *Engine) models() (*pipeline.Models, func()) {
	e.mu.Lock()
	s := e.cur
	s.users.Add(1)
	e.mu.Unlock()
	e.st.sentenceStarted()
	return &s.m, func() {
		e.st.sentenceDone()
		s.users.Done()
	}
}

// loadBundle opens the bundle in dir, whose own translator is preferred to slt.model
// (an OTA bundle), or with dir "" the models the configuration names (slr.bundle, else
// the demo bundle; slt.model when set).
func (e *Engine) loadBundle(dir string) (*modelSet, error) {
	if dir != "" {
		return e.loadSet(dir, false)
	}
	dir = e.settings.SLR.Bundle
	if dir == "" {
		var err error
		if dir, err = slr.DefaultBundleDir(); err != nil {
			return nil, err
		}
	}
	return e.loadSet(dir, true)
}

// Swap loads the bundle in dir beside the running one (its recogniser, its translator
// or else the configured one, its gate) and switches to it between sentences: the
// sentence in flight finishes on the old models, the next runs on the new. An empty dir
// means the models of the configuration (the OTA updater's rollback past its first
// bundle). On an error the old bundle keeps running and the error says why. The old
// models are closed once their last sentence is done (Swap waits for that, or for ctx).
func (e *Engine) Swap(ctx context.Context, dir string) error {
	e.swapMu.Lock()
	defer e.swapMu.Unlock()
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return ErrClosed
	}
	old := e.Bundle()
	ns, err := e.loadBundle(dir)
	if dir == "" {
		dir = "the configured models"
	}
	if err != nil {
		e.swaps.With("failed").Inc()
		e.onEvent(events.Event{Kind: events.Error, Stage: "swap", Error: err.Error()})
		return fmt.Errorf("swapping to %s: %w (bundle %s %s keeps running)", dir, err, old.Version, shortHash(old.Hash))
	}
	e.mu.Lock()
	prev := e.cur
	e.cur, e.info = ns, ns.info
	e.mu.Unlock()
	e.swaps.With("ok").Inc()
	e.bundleInfo.Set(ns.info.Name, ns.info.Version, ns.info.Hash)
	e.log.Info("bundle swapped", "from", old.Version, "to", ns.info.Version, "hash", shortHash(ns.info.Hash), "dir", ns.info.Dir)
	e.onEvent(events.Event{Kind: events.Bundle, Bundle: &events.BundleRef{Version: ns.info.Version, Hash: ns.info.Hash}, Text: ns.info.Name, Gate: ns.info.Gate})
	done := make(chan struct{})
	go func() {
		prev.users.Wait()
		if prev.m.Translator != nil {
			e.pipe.Forget(prev.m.Translator)
		}
		prev.close()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// The old set closes by itself when its sentence ends.
	}
	return nil
}

// Start runs the input through the stages until ctx ends, Close is called, or the
// input ends (a file or .pose without Loop, the demo's dialogues). It returns nil then,
// or why the input failed (without Retry). Start may be called once.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	if e.started {
		e.mu.Unlock()
		return errors.New("engine: Start called twice")
	}
	e.started = true
	inCtx, cancel := context.WithCancel(ctx)
	e.stopInput = cancel
	e.mu.Unlock()
	defer close(e.stopped)
	defer cancel()
	// The sentence stages run on their own context: when the input stops they finish
	// what was cut, for at most DrainTimeout.
	workCtx, workCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer workCancel()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-finished:
			return
		case <-inCtx.Done():
		}
		t := time.NewTimer(e.cfg.DrainTimeout)
		defer t.Stop()
		select {
		case <-finished:
		case <-t.C:
			e.log.Warn("shutdown: sentences still running after the drain timeout; cancelling them", "timeout", e.cfg.DrainTimeout)
			workCancel()
		}
	}()
	e.st.beat()
	err := e.in.run(inCtx, workCtx, e)
	if errors.Is(err, context.Canceled) && inCtx.Err() != nil {
		err = nil
	}
	return err
}

// Close shuts the engine down in order: the input stops and drains, the sentences in
// flight finish (or are cancelled after DrainTimeout), the open conversation ends, and
// the models, the pose pipeline, the store and the bus close. It is idempotent.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		stop, started := e.stopInput, e.started
		e.mu.Unlock()
		if stop != nil {
			stop()
		}
		if started {
			<-e.stopped
		}
		if e.pipe != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if _, err := e.pipe.EndConversation(ctx, "shutdown"); err != nil && !errors.Is(err, pipeline.ErrNoConversation) {
				e.log.Warn("ending the conversation at shutdown", "err", err)
			}
			cancel()
		}
		e.closeErr = e.release()
	})
	return e.closeErr
}

// release closes what New opened, in reverse order of use.
func (e *Engine) release() error {
	var errs []error
	e.swapMu.Lock()
	e.mu.Lock()
	cur := e.cur
	e.cur = nil
	p := e.pose
	e.pose = nil
	e.mu.Unlock()
	e.swapMu.Unlock()
	if cur != nil {
		cur.users.Wait()
		cur.close()
	}
	if p != nil {
		if err := p.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if e.store != nil {
		if err := e.store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	e.bus.Close()
	return errors.Join(errs...)
}

// onEvent is the pipeline's and the inputs' one way out: it notes status and publishes.
func (e *Engine) onEvent(ev events.Event) {
	switch ev.Kind {
	case events.Store:
		e.st.setStore(ev.Status)
	case events.Sentence, events.Unsure, events.Hypotheses:
		if e.demo != nil {
			e.demo.annotate(&ev)
		}
	}
	e.bus.Publish(ev)
	e.dropMu.Lock()
	e.eventDrops.Add(e.bus.Dropped() - e.eventDrops.Value())
	e.dropMu.Unlock()
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// isPose reports whether an input names a .pose keypoints file.
func isPose(input string) bool { return strings.HasSuffix(strings.ToLower(input), ".pose") }

// status is what the health endpoints and the watchdog read.
type status struct {
	mu         sync.Mutex
	camera     string // starting, ok, missing, reconnecting, ended, stopped
	cameraErr  string
	store      string // ok, full, error, off
	lastFrame  time.Time
	heartbeat  atomic.Int64 // unix ns of the input loop's last turn
	inFlight   atomic.Int64 // unix ns the running sentence started, 0 when none
	frameCount atomic.Int64
}

func (s *status) beat() { s.heartbeat.Store(time.Now().UnixNano()) }

func (s *status) frame() {
	s.frameCount.Add(1)
	s.mu.Lock()
	s.lastFrame = time.Now()
	s.mu.Unlock()
	s.beat()
}

func (s *status) sentenceStarted() { s.inFlight.Store(time.Now().UnixNano()) }
func (s *status) sentenceDone()    { s.inFlight.Store(0) }

func (s *status) setStore(v string) {
	s.mu.Lock()
	s.store = v
	s.mu.Unlock()
}
