package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"scope/capture"
	"scope/config"
	"scope/daemon/pipeline"
	"scope/dialogue"
	"scope/edge"
	"scope/eval"
	"scope/internal/assets"
	"scope/metrics"
	"scope/models/pose"
	"scope/models/runtime"
	"scope/models/slr"
	"scope/models/slt"
	"scope/synth"
)

const runHelp = `Interpret signing: keypoints -> sentences -> top-3 gloss hypotheses (with the dialogue
as context) -> translation -> the dialogue store, printing each sentence and each stage's
timing.

With no input (capture.source empty, no --input) it runs the built-in demo: a synthetic
dialogue at a hospital reception, pharmacy or service counter, signed by a synthetic signer
the recogniser never saw, played through the same stages as a camera would be. The
demo's scores are on SYNTHETIC signing, not accuracy on real signers.`

func cmdRun(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "run", "[--config FILE] [--input SOURCE] [flags]", runHelp)
	cfgPath := configFlag(fs)
	input := fs.String("input", "", "frame source: camera index, /dev/videoN, video file, rtsp:// URL, image (default capture.source; empty: the synthetic demo)")
	dialogues := fs.Int("dialogues", 1, "demo: how many synthetic dialogues to play")
	seed := fs.Uint64("seed", 2026, "demo: seed of the synthetic dialogues (the demo model was trained on other signers)")
	noTranslate := fs.Bool("no-translate", false, "stop after recognition (no language model)")
	memory := fs.Bool("no-store", false, "keep the dialogue in memory instead of the dialogue store")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	c, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *input != "" {
		c.Capture.Source = *input
	}
	if c.Capture.Source != "" {
		return runSource(ctx, a, c, !*noTranslate, !*memory)
	}
	return runDemo(ctx, a, c, *dialogues, *seed, !*noTranslate, !*memory)
}

// stages holds what the interpretation needs, opened from the configuration.
type stages struct {
	device     edge.Device
	budget     edge.Budget
	recognizer *slr.Recognizer
	translator *slt.Translator
	store      *dialogue.Store
	version    string
}

func (s *stages) Close() {
	if s.translator != nil {
		s.translator.Close()
	}
	if s.recognizer != nil {
		s.recognizer.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
}

func openStages(a *app, c config.Config, translate, store bool) (*stages, error) {
	if err := c.CheckFiles(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	s := &stages{device: edge.Discover("/")}
	s.budget = edge.Split(c.Edge.Threads, s.device)
	if lib, err := ortLibrary(c); err != nil {
		return nil, err
	} else if err := runtime.Init(lib); err != nil {
		return nil, err
	}
	dir := c.SLR.Bundle
	if dir == "" {
		d, err := slr.DefaultBundleDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	prec := "fp32"
	if c.SLR.Int8 {
		prec = "int8"
	}
	r, err := slr.Open(dir, slr.Options{Precision: prec, Threads: s.budget.SLR, BeamWidth: c.SLR.BeamWidth, TopK: c.SLR.TopK})
	if err != nil {
		return nil, fmt.Errorf("opening the recogniser: %w", err)
	}
	s.recognizer = r
	s.version = r.Manifest().Name + "@" + r.Manifest().Version
	if translate {
		model, adapters := c.SLT.Model, c.SLT.Adapters
		if model == "" {
			model, adapters, err = demoTranslator()
			if err != nil {
				s.Close()
				return nil, err
			}
		}
		threads := c.SLT.Threads
		if threads == 0 {
			threads = s.budget.LLM
		}
		t, err := slt.Open(slt.Config{Model: model, Adapters: adapters, MaxTokens: c.SLT.MaxTokens, Threads: threads, Log: a.log})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("opening the translator: %w", err)
		}
		s.translator = t
	}
	if store {
		st, err := dialogue.Open(c.DialoguePath(), dialogue.Options{Retention: timeDuration(c.Dialogue.Retention), Logger: a.log})
		if err != nil {
			s.Close()
			return nil, err
		}
		s.store = st
	}
	return s, nil
}

func timeDuration(d config.Duration) time.Duration { return time.Duration(d) }

// demoTranslator finds the demo translator that ships in models/demo/slt: one base
// model (the .gguf file not named lora-*) and one LoRA adapter per domain
// (lora-<domain>.gguf).
func demoTranslator() (string, map[string]string, error) {
	dir, err := assets.Find("models/demo/slt")
	if err != nil {
		return "", nil, fmt.Errorf("demo translator: %w; set slt.model to a GGUF file", err)
	}
	all, _ := filepath.Glob(filepath.Join(dir, "*.gguf"))
	var models []string
	adapters := map[string]string{}
	for _, m := range all {
		name := filepath.Base(m)
		if strings.HasPrefix(name, "lora-") {
			adapters[strings.TrimSuffix(strings.TrimPrefix(name, "lora-"), ".gguf")] = m
			continue
		}
		models = append(models, m)
	}
	if len(models) != 1 {
		return "", nil, fmt.Errorf("demo translator: want one base model in %s, found %d (%v); set slt.model to a GGUF file", dir, len(models), models)
	}
	return models[0], adapters, nil
}

func runDemo(ctx context.Context, a *app, c config.Config, n int, seed uint64, translate, store bool) error {
	if n < 1 {
		return fmt.Errorf("--dialogues %d: want at least 1: %w", n, errUsage)
	}
	w := a.stdout
	fmt.Fprintf(w, "SCOPE demo on SYNTHETIC signing (seed %d): scores below are not accuracy on real signers.\n", seed)
	st, err := openStages(a, c, translate, store)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(w, "device: %s; threads: recogniser %d, translator %d\n", st.device, st.budget.SLR, st.budget.LLM)
	fmt.Fprintf(w, "recogniser: %s (%s, context: %v)\n", st.version, st.recognizer.File().Path, st.recognizer.UsesContext())
	if st.store != nil {
		fmt.Fprintf(w, "dialogue store: %s\n", st.store.Path())
	}

	gen, err := synth.NewGenerator(synth.Config{Dialogues: 1 << 20, Seed: seed})
	if err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	var refs, hyps [][]string
	played := 0
	for i := 0; played < n && i < 10000; i++ {
		d, clips := gen.Dialogue(i)
		if d.Signer.Split != "test" {
			continue // unseen signers only
		}
		played++
		if err := playDialogue(ctx, w, st, c, reg, d, clips, gen.Config().FPS, &refs, &hyps); err != nil {
			return err
		}
	}
	counts, err := eval.WER(refs, hyps)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nsummary (SYNTHETIC): %d dialogues, %d signed sentences, gloss WER %.1f%% (sub %d, del %d, ins %d of %d glosses)\n",
		played, len(refs), counts.Rate(), counts.Sub, counts.Del, counts.Ins, counts.RefLen)
	printStageTimes(w, reg)
	return nil
}

func playDialogue(ctx context.Context, w io.Writer, st *stages, c config.Config, reg *metrics.Registry, d *synth.Dialogue, clips []*synth.Clip, fps float64,
	refs, hyps *[][]string) error {
	var conv dialogue.ConversationID
	if st.store != nil {
		cv, err := st.store.StartConversation(ctx, hostname(), d.Domain)
		if err != nil {
			return err
		}
		conv = cv.ID
	}
	if st.translator != nil {
		domain := ""
		for _, x := range st.translator.Domains() {
			if x == d.Domain {
				domain = x
			}
		}
		if err := st.translator.SetDomain(domain, float32(c.SLT.LoRAScale)); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n=== dialogue %s: %s, topic %s; signer %s (not seen in training)\n", d.ID, d.Domain, d.Topic, d.Signer.ID)
	var last pipeline.Event
	p, err := pipeline.New(pipeline.Config{
		FPS: fps, Recognizer: st.recognizer, Translator: st.translator, Store: st.store, Conversation: conv,
		ContextTurns: c.Dialogue.ContextTurns, ContextTokens: c.Dialogue.ContextTokens,
		ModelVersion: st.version, Metrics: reg,
		OnEvent: func(e pipeline.Event) {
			if e.Kind == pipeline.TurnDone {
				last = e
			}
		},
	})
	if err != nil {
		return err
	}
	for t, turn := range d.Turns {
		if !turn.Signer {
			if _, err := p.AddHearingTurn(ctx, turn.Text); err != nil {
				return err
			}
			fmt.Fprintf(w, "hearing:   %s\n", turn.Text)
			continue
		}
		clip := clips[t]
		ch := make(chan pipeline.Keypoints, 64)
		go func() {
			defer close(ch)
			for i := range clip.Points {
				f := slr.Frame{Points: clip.Points[i], Conf: clip.Conf[i]}
				select {
				case ch <- pipeline.Keypoints{PTS: time.Duration(float64(i) / fps * float64(time.Second)), Frame: f}:
				case <-ctx.Done():
					return
				}
			}
		}()
		last = pipeline.Event{}
		if err := p.Run(ctx, ch); err != nil {
			return err
		}
		fmt.Fprintf(w, "signer:    [signed %s]\n", strings.Join(turn.Glosses, " "))
		*refs = append(*refs, turn.Glosses)
		if last.Kind != pipeline.TurnDone {
			fmt.Fprintf(w, "           (no sentence found in the keypoints)\n")
			*hyps = append(*hyps, nil)
			continue
		}
		printHypotheses(w, last.Hypotheses)
		if len(last.Hypotheses) > 0 {
			*hyps = append(*hyps, last.Hypotheses[0].Glosses)
		} else {
			*hyps = append(*hyps, nil)
		}
		if st.translator != nil {
			fmt.Fprintf(w, "  shown:   %s\n", last.Text)
			fmt.Fprintf(w, "  meant:   %s\n", turn.Text)
		}
		printTiming(w, last.Timing)
	}
	return nil
}

func printStageTimes(w io.Writer, reg *metrics.Registry) {
	fmt.Fprintln(w, "stage latencies (this machine):")
	names := []struct{ metric, label string }{
		{"scope_slr_latency_seconds", "recognise (features, network, beam search)"},
		{"scope_slt_first_token_seconds", "end of signing -> first token"},
		{"scope_slt_latency_seconds", "translate (whole sentence)"},
		{"scope_pipeline_sentence_latency_seconds", "end of signing -> sentence stored"},
	}
	for _, n := range names {
		if h := reg.Lookup(n.metric); h != nil {
			s := h.Summary()
			if s.Count == 0 {
				continue
			}
			fmt.Fprintf(w, "  %-46s p50 %8s  p95 %8s  (n=%d)\n", n.label, ms(dur(s.P50)), ms(dur(s.P95)), s.Count)
		}
	}
}

func dur(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// runSource interprets a camera, video, stream or image: capture -> pose -> the
// sentence pipeline. It runs until the source ends or Ctrl-C.
func runSource(ctx context.Context, a *app, c config.Config, translate, store bool) error {
	w := a.stdout
	st, err := openStages(a, c, translate, store)
	if err != nil {
		return err
	}
	defer st.Close()
	src, err := capture.Open(c.Capture.Source, capture.Options{
		Width: c.Capture.Width, Height: c.Capture.Height, FPS: c.Capture.FPS, Buffer: c.Capture.Buffer,
		Loop: c.Capture.Loop, Reconnect: timeDuration(c.Capture.Reconnect),
	})
	if err != nil {
		return err
	}
	defer src.Close()
	fps := src.FPS()
	if c.Capture.FPS > 0 {
		fps = c.Capture.FPS
	}
	if fps <= 0 || fps > 240 {
		fps = 30
	}
	sw, sh := src.Size()
	fmt.Fprintf(w, "input: %s %s, %dx%d at %.1f frames/s\n", src.Kind(), src.Spec(), sw, sh, fps)
	fmt.Fprintf(w, "device: %s; threads: pose %d, recogniser %d, translator %d\n", st.device, st.budget.Pose, st.budget.SLR, st.budget.LLM)
	lib, _ := ortLibrary(c)
	pp, err := pose.New(pose.Options{
		Complexity: c.Pose.Complexity, HandModel: c.Pose.HandModel, Threads: st.budget.Pose,
		Static: src.Kind() == capture.Image, Smoothing: smoother(c.Pose.Smoothing),
		ModelDir: c.Pose.ModelDir, ORTLibrary: lib,
	})
	if err != nil {
		return err
	}
	defer pp.Close()

	var conv dialogue.ConversationID
	if st.store != nil {
		cv, err := st.store.StartConversation(ctx, hostname(), c.SLT.Domain)
		if err != nil {
			return err
		}
		conv = cv.ID
		fmt.Fprintf(w, "conversation %d in %s\n", conv, st.store.Path())
	}
	if st.translator != nil {
		if err := st.translator.SetDomain(c.SLT.Domain, float32(c.SLT.LoRAScale)); err != nil {
			return err
		}
	}
	reg := metrics.NewRegistry()
	poseLat := reg.Histogram("scope_pose_latency_seconds", "Pose stage per frame: detection or tracking, landmarks, hands and face.", nil)
	dropped := reg.Counter("scope_capture_dropped_frames_total", "Frames dropped because the pose stage fell behind.")
	p, err := pipeline.New(pipeline.Config{
		FPS: fps, Recognizer: st.recognizer, Translator: st.translator, Store: st.store, Conversation: conv,
		ContextTurns: c.Dialogue.ContextTurns, ContextTokens: c.Dialogue.ContextTokens, ModelVersion: st.version,
		Metrics: reg, Log: a.log,
		OnEvent: func(e pipeline.Event) { printEvent(w, e) },
	})
	if err != nil {
		return err
	}
	frames, err := src.Start(ctx)
	if err != nil {
		return err
	}
	in := make(chan pose.Input)
	go func() {
		defer close(in)
		for f := range frames {
			select {
			case in <- pose.Input{Seq: f.Seq, PTS: f.PTS, Mat: f.Mat}:
			case <-ctx.Done():
				f.Close()
			}
		}
	}()
	kps := make(chan pipeline.Keypoints, 8)
	var n, withPose int
	start := time.Now()
	go func() {
		defer close(kps)
		for r := range pp.Stream(ctx, in) {
			if r.Err != nil {
				a.log.Warn("pose", "frame", r.Seq, "err", r.Err)
				continue
			}
			n++
			if r.Frame.Present[0] {
				withPose++
			}
			poseLat.Observe(r.Frame.Timing.Total.Seconds())
			kp := pipeline.Keypoints{PTS: r.Frame.PTS}
			kp.Frame.Points = r.Frame.Points
			kp.Frame.Conf = r.Frame.Visibility
			select {
			case kps <- kp:
			case <-ctx.Done():
				return
			}
		}
	}()
	runErr := p.Run(ctx, kps)
	if err := src.Err(); err != nil {
		return err
	}
	dropped.Add(src.Stats().Dropped)
	el := time.Since(start)
	fmt.Fprintf(w, "\n%d frames in %.1f s (%.1f frames/s), a person in %d; %d dropped by capture\n", n, el.Seconds(), float64(n)/el.Seconds(), withPose, src.Stats().Dropped)
	printStageTimes(w, reg)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	return nil
}

func smoother(on bool) pose.Smoother {
	if on {
		return pose.SmoothOneEuro
	}
	return pose.SmoothNone
}

func printEvent(w io.Writer, e pipeline.Event) {
	switch e.Kind {
	case pipeline.SegmentClosed:
		fmt.Fprintf(w, "[%s-%s] sentence %d: %d frames of signing\n", clock(e.Start), clock(e.End), e.Sentence, e.Frames)
	case pipeline.TurnDone:
		printHypotheses(w, e.Hypotheses)
		fmt.Fprintf(w, "  shown:   %s\n", e.Text)
		printTiming(w, e.Timing)
	}
}

func printHypotheses(w io.Writer, hyps []slr.Hypothesis) {
	for k, h := range hyps {
		fmt.Fprintf(w, "           %d) %-48s log p %.2f\n", k+1, strings.Join(h.Glosses, " "), h.Score)
	}
}

func printTiming(w io.Writer, t pipeline.Timing) {
	fmt.Fprintf(w, "  timing:  recognise %s, first token %s, sentence on screen %s after signing ended\n",
		ms(t.Recognize), ms(t.FirstToken), ms(t.Total))
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%d:%04.1f", int(d.Minutes()), d.Seconds()-60*float64(int(d.Minutes())))
}
