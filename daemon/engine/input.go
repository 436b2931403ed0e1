package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"scope/capture"
	"scope/daemon/events"
	"scope/daemon/keypoints"
	"scope/dialogue"
	"scope/internal/assets"
	"scope/models/pose"
	"scope/models/slr"
	"scope/synth"
)

// input is where frames come from.
type input interface {
	// fps is the frame rate, as far as it is known before the input opens.
	fps() float64
	// run feeds the pipeline until inCtx ends or the input does; the pipeline runs on
	// workCtx, which outlives inCtx by the drain timeout.
	run(inCtx, workCtx context.Context, e *Engine) error
	// describe names the input for people.
	describe() string
}

func (e *Engine) newInput(spec string) (input, error) {
	switch {
	case spec == "":
		gen, err := synth.NewGenerator(synth.Config{Dialogues: 1 << 20, Seed: e.cfg.Demo.Seed})
		if err != nil {
			return nil, err
		}
		d := &demoInput{gen: gen, seed: e.cfg.Demo.Seed, count: e.cfg.Demo.Dialogues, realtime: e.cfg.Realtime, loop: e.cfg.Loop}
		if d.count == 0 && !d.loop {
			d.count = 1
		}
		e.demo = d
		return d, nil
	case isPose(spec):
		frames, fps, err := slr.ReadPose(spec, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", spec, err)
		}
		if len(frames) == 0 {
			return nil, fmt.Errorf("input %s: the .pose file has no frames", spec)
		}
		return &poseInput{path: spec, frames: frames, rate: fps, realtime: e.cfg.Realtime, loop: e.cfg.Loop}, nil
	}
	return &captureInput{spec: spec}, nil
}

// feeder sends frames to the pipeline at their pace (when realtime) with a stream clock
// that never goes back, and records that frames arrive.
type feeder struct {
	e        *Engine
	ch       chan slr.Frame
	rate     float64
	realtime bool
	clock    time.Duration // stream time of the next frame
	t0       time.Time     // wall time of stream time 0
}

func (f *feeder) send(ctx context.Context, fr slr.Frame) error {
	fr.PTS = f.clock
	if f.realtime {
		if f.t0.IsZero() {
			f.t0 = time.Now().Add(-f.clock)
		}
		if d := time.Until(f.t0.Add(f.clock)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	select {
	case f.ch <- fr:
	case <-ctx.Done():
		return ctx.Err()
	}
	f.clock += time.Duration(float64(time.Second) / f.rate)
	f.e.st.frame()
	f.e.frames.Inc()
	return nil
}

// hold sends the same frame for d of stream time: a signer at rest between sentences.
func (f *feeder) hold(ctx context.Context, fr slr.Frame, d time.Duration) error {
	n := int(d.Seconds() * f.rate)
	for i := 0; i < n; i++ {
		if err := f.send(ctx, fr); err != nil {
			return err
		}
	}
	return nil
}

// pipe runs the pipeline on a fresh channel while fn feeds it, and waits for both.
func (e *Engine) pipe2(inCtx, workCtx context.Context, rate float64, realtime bool, fn func(f *feeder) error) error {
	f := &feeder{e: e, ch: make(chan slr.Frame, 8), rate: rate, realtime: realtime}
	done := make(chan error, 1)
	go func() { done <- e.pipe.Run(workCtx, rate, f.ch) }()
	err := fn(f)
	close(f.ch)
	perr := <-done
	if err == nil && perr != nil && !errors.Is(perr, context.Canceled) {
		err = perr
	}
	return err
}

// poseInput plays a .pose file's keypoints: the pose stage is skipped.
type poseInput struct {
	path     string
	frames   []slr.Frame
	rate     float64
	realtime bool
	loop     bool
}

func (p *poseInput) fps() float64 { return p.rate }
func (p *poseInput) describe() string {
	return fmt.Sprintf(".pose file %s (%d frames at %g frames/s)", p.path, len(p.frames), p.rate)
}

func (p *poseInput) run(inCtx, workCtx context.Context, e *Engine) error {
	e.setCamera("ok", "")
	err := e.pipe2(inCtx, workCtx, p.rate, p.realtime, func(f *feeder) error {
		for {
			for _, fr := range p.frames {
				if err := f.send(inCtx, fr); err != nil {
					return err
				}
			}
			// A second at rest closes a sentence that the file ends in.
			if err := f.hold(inCtx, restFrame(p.frames[len(p.frames)-1]), time.Second); err != nil {
				return err
			}
			if !p.loop {
				return nil
			}
		}
	})
	e.setCamera("ended", "")
	return ignoreCancel(inCtx, err)
}

// restFrame is fr with the hands taken away: what the segmenter sees as rest.
func restFrame(fr slr.Frame) slr.Frame {
	for i := 501; i < slr.NumPoints; i++ {
		fr.Conf[i] = 0
	}
	fr.Conf[15], fr.Conf[16] = 0, 0 // pose wrists
	return fr
}

func ignoreCancel(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// demoInput plays synthetic dialogues (signers the recogniser never saw in training):
// each dialogue is a conversation in its domain; the hearing person's lines are added
// as replies, and each signer turn is streamed as keypoints.
type demoInput struct {
	gen      *synth.Generator
	seed     uint64
	count    int // dialogues to play; 0 with loop: forever
	realtime bool
	loop     bool

	mu    sync.Mutex
	spans []demoSpan // signer turns by stream time, for annotate
}

type demoSpan struct {
	start, end time.Duration
	turn       synth.Turn
}

func (d *demoInput) fps() float64 { return d.gen.Config().FPS }
func (d *demoInput) describe() string {
	return fmt.Sprintf("built-in demo: synthetic dialogues (seed %d), signers not seen in training", d.seed)
}

func (d *demoInput) run(inCtx, workCtx context.Context, e *Engine) error {
	e.setCamera("ok", "")
	defer e.setCamera("ended", "")
	fps := d.fps()
	played := 0
	var clock time.Duration
	var body func(f *feeder) error
	body = func(f *feeder) error {
		for i := 0; ; i++ {
			if d.count > 0 && played >= d.count {
				return nil
			}
			if i >= 1<<20 {
				i = 0
			}
			dl, clips := d.gen.Dialogue(i)
			if dl.Signer.Split != "test" {
				continue // unseen signers only
			}
			played++
			if err := d.dialogue(inCtx, workCtx, e, f, dl, clips, fps, &clock); err != nil {
				return err
			}
		}
	}
	var err error
	if d.realtime {
		// One continuous stream, paced like a camera.
		err = e.pipe2(inCtx, workCtx, fps, true, body)
	} else {
		err = body(nil)
	}
	return ignoreCancel(inCtx, err)
}

// dialogue plays one synthetic dialogue as a conversation. With f (realtime) it feeds
// the one paced stream; without, each signer turn is its own stream, run to the end
// before the next line, so the context is the same on every machine.
func (d *demoInput) dialogue(inCtx, workCtx context.Context, e *Engine, f *feeder, dl *synth.Dialogue, clips []*synth.Clip, fps float64, clock *time.Duration) error {
	if _, err := e.pipe.StartConversation(inCtx, dl.Domain); err != nil {
		return err
	}
	e.onEvent(events.Event{Kind: events.Demo, Status: "dialogue", Domain: dl.Domain, Synthetic: true,
		Text: fmt.Sprintf("dialogue %s: %s, topic %s; signer %s (not seen in training)", dl.ID, dl.Domain, dl.Topic, dl.Signer.ID)})
	var rest slr.Frame
	for t, c := range clips {
		if c != nil && len(c.Points) > 0 && dl.Turns[t].Signer {
			rest = slr.Frame{Points: c.Points[0], Conf: c.Conf[0]}
			break
		}
	}
	for t, turn := range dl.Turns {
		if err := inCtx.Err(); err != nil {
			return err
		}
		if !turn.Signer {
			if _, err := e.pipe.AddReply(inCtx, turn.Text); err != nil {
				return err
			}
			if f != nil { // time to read the line
				if err := f.hold(inCtx, rest, 1500*time.Millisecond); err != nil {
					return err
				}
			}
			continue
		}
		clip := clips[t]
		n := len(clip.Points)
		sentencesBefore := e.pipe.Sentences()
		play := func(f *feeder) error {
			start := f.clock
			d.mu.Lock()
			d.spans = append(d.spans, demoSpan{start: start, end: start + time.Duration(float64(n)/fps*float64(time.Second)), turn: turn})
			if len(d.spans) > 64 {
				d.spans = d.spans[len(d.spans)-64:]
			}
			d.mu.Unlock()
			for i := 0; i < n; i++ {
				if err := f.send(inCtx, slr.Frame{Points: clip.Points[i], Conf: clip.Conf[i]}); err != nil {
					return err
				}
			}
			rest = slr.Frame{Points: clip.Points[n-1], Conf: clip.Conf[n-1]}
			return f.hold(inCtx, rest, time.Second)
		}
		if f != nil {
			if err := play(f); err != nil {
				return err
			}
		} else {
			err := e.pipe2(inCtx, workCtx, fps, false, func(g *feeder) error {
				g.clock = *clock
				err := play(g)
				*clock = g.clock
				return err
			})
			if err != nil {
				return err
			}
			// Each signer turn, when its sentences are done: for a display that counts
			// turns without a sentence.
			e.onEvent(events.Event{Kind: events.Demo, Status: "turn", Synthetic: true, Meant: turn.Text,
				MeantGlosses: turn.Glosses, Sentence: e.pipe.Sentences(), Frames: e.pipe.Sentences() - sentencesBefore})
		}
	}
	if _, err := e.pipe.EndConversation(inCtx, "ended"); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// annotate adds what the synthetic signer meant to a sentence event.
func (d *demoInput) annotate(ev *events.Event) {
	mid := time.Duration((ev.Start + ev.End) / 2 * float64(time.Second))
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.spans) - 1; i >= 0; i-- {
		s := d.spans[i]
		if mid >= s.start && mid <= s.end+time.Second {
			ev.Meant, ev.MeantGlosses, ev.Synthetic = s.turn.Text, s.turn.Glosses, true
			return
		}
	}
	ev.Synthetic = true
}

// captureInput is a camera, video file, stream or image through the pose stage.
type captureInput struct {
	spec string
	rate float64
}

func (c *captureInput) fps() float64 {
	if c.rate > 0 {
		return c.rate
	}
	return 30
}
func (c *captureInput) describe() string { return "capture " + c.spec }

// run opens the source and keeps it open: a source missing at start, or one that fails
// (a camera unplugged), is reopened with backoff while the status says so, when
// Config.Retry is set; otherwise its error is returned.
func (c *captureInput) run(inCtx, workCtx context.Context, e *Engine) error {
	s := e.settings.Capture
	kp := make(chan slr.Frame, 8)
	pdone := make(chan error, 1)
	rate := s.FPS
	started := false
	defer func() {
		close(kp)
		if started {
			<-pdone
		}
	}()
	base := time.Duration(s.Reconnect)
	if base < 500*time.Millisecond {
		base = 500 * time.Millisecond
	}
	backoff := base
	wait := func(status string, err error) bool {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		e.setCamera(status, msg)
		e.log.Warn("camera", "status", status, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		defer t.Stop()
		backoff = min(2*backoff, 30*time.Second)
		select {
		case <-inCtx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for attempt := 0; ; attempt++ {
		src, err := e.cfg.OpenSource(c.spec, capture.Options{Width: s.Width, Height: s.Height, FPS: s.FPS, Buffer: s.Buffer,
			Loop: s.Loop || (e.cfg.Loop && capture.Classify(c.spec) != capture.Image), Realtime: e.cfg.Realtime})
		if err != nil {
			if !e.cfg.Retry {
				e.setCamera("missing", err.Error())
				return err
			}
			status := "missing"
			if attempt > 0 && started {
				status = "reconnecting"
			}
			if !wait(status, err) {
				return nil
			}
			continue
		}
		if rate <= 0 {
			rate = src.FPS()
		}
		if rate <= 0 || rate > 240 {
			rate = 30
		}
		c.rate = rate
		pp, err := e.posePipeline(src.Kind() == capture.Image)
		if err != nil {
			src.Close()
			return err
		}
		if !started {
			started = true
			go func() { pdone <- e.pipe.Run(workCtx, rate, kp) }()
		}
		w, h := src.Size()
		e.log.Info("input", "kind", src.Kind(), "spec", src.Spec(), "size", fmt.Sprintf("%dx%d", w, h), "fps", rate)
		err = c.stream(inCtx, e, src, pp, kp)
		if inCtx.Err() != nil {
			e.setCamera("stopped", "")
			return nil
		}
		live := src.Kind() == capture.Camera || src.Kind() == capture.Device || src.Kind() == capture.Stream
		if err == nil && !live {
			e.setCamera("ended", "")
			if !e.cfg.Retry {
				return nil
			}
			<-inCtx.Done() // the daemon keeps serving its API
			return nil
		}
		if err == nil {
			err = errors.New("the source stopped delivering frames")
		}
		if !e.cfg.Retry {
			return err
		}
		pp.Reset() // a new stream: no tracking across the gap
		if !wait("reconnecting", err) {
			return nil
		}
		backoff = base
	}
}

// stream runs one open source through the pose stage into kp until it ends.
func (c *captureInput) stream(inCtx context.Context, e *Engine, src Source, pp *pose.Pipeline, kp chan<- slr.Frame) error {
	sctx, cancel := context.WithCancel(inCtx)
	frames, err := src.Start(sctx)
	if err != nil {
		cancel()
		src.Close()
		return err
	}
	var lastWarn time.Time
	first := true
	err = keypoints.Run(sctx, frames, pp, keypoints.Options{}, func(r keypoints.Result) error {
		if r.Err != nil {
			if errors.Is(r.Err, pose.ErrEmptyImage) {
				return nil
			}
			e.pipe.CountError("pose")
			if time.Since(lastWarn) > 5*time.Second {
				lastWarn = time.Now()
				e.onEvent(events.Event{Kind: events.Error, Stage: "pose", Error: fmt.Sprintf("frame %d: %v", r.Seq, r.Err)})
			}
			return nil
		}
		if first {
			first = false
			e.setCamera("ok", "")
		}
		e.poseLat.Observe(r.Frame.Timing.Total.Seconds())
		f := slr.Frame{Points: r.Frame.Points, Conf: r.Frame.Visibility, PTS: r.Frame.PTS}
		select {
		case kp <- f:
		case <-sctx.Done():
			return sctx.Err()
		}
		e.st.frame()
		e.frames.Inc()
		return nil
	})
	cancel()
	keypoints.Discard(frames)
	srcErr := src.Err()
	e.dropped.Add(src.Stats().Dropped)
	src.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return srcErr
}

// posePipeline opens the pose models once (the bundle's, pose.model_dir, or the cache).
func (e *Engine) posePipeline(static bool) (*pose.Pipeline, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pose != nil {
		return e.pose, nil
	}
	c := e.settings.Pose
	o := pose.Options{Complexity: c.Complexity, HandModel: c.HandModel, Threads: e.budget.Pose, Static: static,
		Smoothing: pose.SmoothNone, ModelDir: c.ModelDir}
	if c.Smoothing {
		o.Smoothing = pose.SmoothOneEuro
	}
	if o.ModelDir == "" && e.cur != nil && e.cur.pose != nil {
		o.ModelDir, o.Complexity, o.HandModel = e.cur.pose.dir, e.cur.pose.complexity, e.cur.pose.handModel
	}
	if o.ModelDir == "" {
		if d, err := assets.Lib("onnx"); err == nil {
			o.ModelDir = d // installed (/usr/lib/scope/onnx) or the cache's converted models
		}
	}
	p, err := pose.New(o)
	if err != nil {
		return nil, fmt.Errorf("opening the pose models: %w", err)
	}
	e.pose = p
	return p, nil
}

func (e *Engine) setCamera(status, errText string) {
	e.st.mu.Lock()
	changed := e.st.camera != status || e.st.cameraErr != errText
	e.st.camera, e.st.cameraErr = status, errText
	e.st.mu.Unlock()
	e.st.beat()
	if changed {
		if errText != "" {
			e.pipe.CountError("capture") // once per failure, not per retry
		}
		e.onEvent(events.Event{Kind: events.Camera, Status: status, Error: errText})
	}
}

// Health is the engine's state for /healthz, /readyz, the watchdog and the page.
type Health struct {
	// Live: the engine's loops are turning (no sentence stuck, the input loop beating).
	Live bool `json:"live"`
	// Ready: models loaded, the input delivering frames, not shut down.
	Ready bool `json:"ready"`
	// Reasons says why not live or not ready.
	Reasons     []string          `json:"reasons,omitempty"`
	Input       string            `json:"input"`
	Camera      string            `json:"camera"`
	CameraError string            `json:"camera_error,omitempty"`
	LastFrame   time.Time         `json:"last_frame,omitzero"`
	Frames      int64             `json:"frames"`
	Store       string            `json:"store"`
	Bundle      BundleInfo        `json:"bundle"`
	Paused      bool              `json:"paused"`
	Open        *ConversationInfo `json:"conversation,omitempty"`
}

// ConversationInfo is the open conversation.
type ConversationInfo struct {
	ID      dialogue.ConversationID `json:"id"`
	Domain  string                  `json:"domain"`
	Started time.Time               `json:"started"`
	Stored  bool                    `json:"stored"`
	Paused  bool                    `json:"paused"`
}

// stall is how long one sentence may run before the engine counts as stuck.
const stall = 60 * time.Second

// Health reports the engine's state.
func (e *Engine) Health() Health {
	h := Health{Input: e.in.describe(), Bundle: e.Bundle(), Frames: e.st.frameCount.Load()}
	e.st.mu.Lock()
	h.Camera, h.CameraError, h.LastFrame, h.Store = e.st.camera, e.st.cameraErr, e.st.lastFrame, e.st.store
	e.st.mu.Unlock()
	e.mu.Lock()
	closed, started := e.closed, e.started
	e.mu.Unlock()
	if c, ok := e.pipe.Current(); ok {
		h.Open = &ConversationInfo{ID: c.ID, Domain: c.Domain, Started: c.Started, Stored: c.Stored, Paused: c.Paused}
		h.Paused = c.Paused
	}
	h.Live = true
	if since := e.st.inFlight.Load(); since != 0 && time.Since(time.Unix(0, since)) > stall {
		h.Live = false
		h.Reasons = append(h.Reasons, fmt.Sprintf("a sentence has been running for %s", time.Since(time.Unix(0, since)).Round(time.Second)))
	}
	if closed {
		h.Live = false
		h.Reasons = append(h.Reasons, "shut down")
	}
	h.Ready = h.Live && started && h.Bundle.Hash != ""
	switch {
	case !started:
		h.Ready = false
		h.Reasons = append(h.Reasons, "not started")
	case h.Camera != "ok":
		h.Ready = false
		r := "input " + h.Camera
		if h.CameraError != "" {
			r += ": " + h.CameraError
		}
		h.Reasons = append(h.Reasons, r)
	case time.Since(h.LastFrame) > 3*time.Second:
		h.Ready = false
		h.Reasons = append(h.Reasons, fmt.Sprintf("no frame for %s", time.Since(h.LastFrame).Round(time.Second)))
	}
	return h
}

// HostName is the device name used when none is configured.
func HostName() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
