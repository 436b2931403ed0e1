package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"scope/config"
	"scope/daemon/engine"
	"scope/daemon/events"
	"scope/eval"
	"scope/metrics"
	"scope/models/bundle/modelset"
)

const runHelp = `Interpret signing once, in the terminal: keypoints -> sentences -> top-3 gloss hypotheses
(with the dialogue as context) -> translation -> the confidence gate -> the dialogue store,
printing each sentence and each stage's timing. (The daemon, with its page and API, is
` + "`scope serve`" + `.)

With no input (capture.source empty, no --input) it runs the built-in demo: a synthetic
dialogue at a hospital reception, pharmacy or service counter, signed by a synthetic signer
the recogniser never saw, played through the same stages as a camera would be. The
demo's scores are on SYNTHETIC signing, not accuracy on real signers.

--input takes a camera index, /dev/videoN, a video file, an rtsp:// URL, an image, or a
.pose file of keypoints (the pose stage is then skipped).`

func cmdRun(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "run", "[--config FILE] [--input SOURCE] [flags]", runHelp)
	cfgPath := configFlag(fs)
	input := fs.String("input", "", "frame source: camera index, /dev/videoN, video file, rtsp:// URL, image, or a .pose file (default capture.source; empty: the synthetic demo)")
	dialogues := fs.Int("dialogues", 1, "demo: how many synthetic dialogues to play")
	seed := fs.Uint64("seed", 2026, "demo: seed of the synthetic dialogues (the demo model was trained on other signers)")
	noTranslate := fs.Bool("no-translate", false, "stop after recognition (no language model)")
	memory := fs.Bool("no-store", false, "keep the dialogue in memory instead of the dialogue store")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *dialogues < 1 {
		return fmt.Errorf("--dialogues %d: want at least 1: %w", *dialogues, errUsage)
	}
	c, err := loadRunConfig(a, *cfgPath)
	if err != nil {
		return err
	}
	if *input != "" {
		c.Capture.Source = *input
	}
	demo := c.Capture.Source == ""
	w := a.stdout
	if demo {
		fmt.Fprintf(w, "SCOPE demo on SYNTHETIC signing (seed %d): scores below are not accuracy on real signers.\n", *seed)
	}
	reg := metrics.NewRegistry()
	e, err := engine.New(engine.Config{Settings: c, Demo: engine.Demo{Seed: *seed, Dialogues: *dialogues},
		NoTranslate: *noTranslate, NoStore: *memory, Log: a.log, Metrics: reg})
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Fprintln(w, e.Describe())
	if st := e.Store(); st != nil {
		fmt.Fprintf(w, "dialogue store: %s\n", st.Path())
	}
	if !demo {
		fmt.Fprintf(w, "input: %s\n", e.Health().Input)
	}
	evs, unsubscribe := e.Subscribe(1 << 16)
	defer unsubscribe()
	pr := &printer{w: w, demo: demo, translate: !*noTranslate, top1: map[int][]string{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range evs {
			pr.print(ev)
		}
	}()
	start := time.Now()
	runErr := e.Start(ctx)
	closeErr := e.Close() // drains, then closes the bus: the printer sees every event
	wg.Wait()
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return closeErr
	}
	if demo {
		counts, err := eval.WER(pr.refs, pr.hyps)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\nsummary (SYNTHETIC): %d dialogues, %d signed sentences, gloss WER %.1f%% (sub %d, del %d, ins %d of %d glosses)\n",
			pr.dialogues, len(pr.refs), counts.Rate(), counts.Sub, counts.Del, counts.Ins, counts.RefLen)
	} else {
		h := e.Health()
		el := time.Since(start)
		fmt.Fprintf(w, "\n%d frames in %.1f s (%.1f frames/s); %d dropped by capture\n", h.Frames, el.Seconds(), float64(h.Frames)/el.Seconds(),
			reg.Counter("scope_capture_dropped_frames_total", "").Value())
	}
	if pr.unsure > 0 {
		fmt.Fprintf(w, "%d sentences were unsure (asked the signer to confirm) of %d\n", pr.unsure, pr.unsure+pr.shown)
	}
	printStageTimes(w, reg)
	if pr.errors > 0 {
		return fmt.Errorf("%d errors while interpreting (first: %s)", pr.errors, pr.firstErr)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// loadRunConfig loads the configuration for run and serve, checks the files it names
// and sets the log level from log.level.
func loadRunConfig(a *app, path string) (config.Config, error) {
	c, err := config.Load(path)
	if err != nil {
		return c, err
	}
	if err := c.CheckFiles(); err != nil {
		return c, err
	}
	setLogLevel(a, c.Log.Level)
	return c, nil
}

func setLogLevel(a *app, level string) {
	if a.level == nil {
		return
	}
	switch level {
	case "debug":
		a.level.Set(slog.LevelDebug)
	case "warn":
		a.level.Set(slog.LevelWarn)
	case "error":
		a.level.Set(slog.LevelError)
	default:
		a.level.Set(slog.LevelInfo)
	}
}

// printer writes events for a person at a terminal, the way the page shows them: what
// was signed (the demo's meaning, labelled synthetic), the hypotheses, the sentence shown
// or "unsure" with its alternatives, and the timing.
type printer struct {
	w               io.Writer
	demo, translate bool
	mu              sync.Mutex

	dialogues     int
	refs, hyps    [][]string
	top1          map[int][]string // sentence -> best glosses, until its demo turn is counted
	shown, unsure int
	errors        int
	firstErr      string
}

func (p *printer) print(e events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.w
	switch e.Kind {
	case events.Demo:
		switch e.Status {
		case "dialogue":
			p.dialogues++
			fmt.Fprintf(w, "\n=== %s\n", e.Text)
		case "turn":
			// The sentences of this signer turn are e.Sentence-e.Frames+1 .. e.Sentence.
			var hyp []string
			for n := e.Sentence - e.Frames + 1; n <= e.Sentence; n++ {
				hyp = append(hyp, p.top1[n]...)
				delete(p.top1, n)
			}
			p.refs = append(p.refs, e.MeantGlosses)
			p.hyps = append(p.hyps, hyp)
			if e.Frames == 0 {
				fmt.Fprintf(w, "signer:    [signed %s]\n           (no sentence found in the keypoints)\n", strings.Join(e.MeantGlosses, " "))
			}
		}
	case events.Reply:
		fmt.Fprintf(w, "hearing:   %s\n", e.Text)
	case events.SegmentEnd:
		if !p.demo {
			fmt.Fprintf(w, "[%s-%s] sentence %d: %d frames of signing\n", clock(e.Start), clock(e.End), e.Sentence, e.Frames)
		}
	case events.Sentence, events.Unsure:
		if len(e.Hypotheses) > 0 {
			p.top1[e.Sentence] = e.Hypotheses[0].Glosses
		} else {
			p.top1[e.Sentence] = nil
		}
		if e.Synthetic && len(e.MeantGlosses) > 0 {
			fmt.Fprintf(w, "signer:    [signed %s]\n", strings.Join(e.MeantGlosses, " "))
		}
		for k, h := range e.Hypotheses {
			fmt.Fprintf(w, "           %d) %-48s log p %.2f\n", k+1, strings.Join(h.Glosses, " "), h.Score)
		}
		if e.Kind == events.Sentence {
			p.shown++
			fmt.Fprintf(w, "  shown:   %s\n", e.Text)
		} else {
			p.unsure++
			fmt.Fprintf(w, "  unsure:  %s   (confidence %.2f: %s)\n", e.Text, e.Confidence, e.Reason)
			for i, alt := range e.Alternatives {
				fmt.Fprintf(w, "           or %d: %s\n", i+1, alt)
			}
			fmt.Fprintln(w, "           or: sign again")
		}
		if e.Meant != "" && p.translate {
			fmt.Fprintf(w, "  meant:   %s   (synthetic)\n", e.Meant)
		}
		if t := e.Timing; t != nil {
			fmt.Fprintf(w, "  timing:  recognise %.1f ms, first token %.1f ms, sentence on screen %.1f ms after signing ended\n",
				t.RecognizeMS, t.FirstTokenMS, t.TotalMS)
		}
	case events.Error:
		p.errors++
		if p.firstErr == "" {
			p.firstErr = e.Stage + ": " + e.Error
		}
		fmt.Fprintf(w, "  error:   %s: %s\n", e.Stage, e.Error)
	case events.Camera:
		if e.Status != "ok" && e.Status != "ended" {
			fmt.Fprintf(w, "input:     %s %s\n", e.Status, e.Error)
		}
	case events.Store:
		fmt.Fprintf(w, "store:     %s %s\n", e.Status, e.Error)
	}
}

func printStageTimes(w io.Writer, reg *metrics.Registry) {
	fmt.Fprintln(w, "stage latencies (this machine):")
	names := []struct{ metric, label string }{
		{"scope_pose_latency_seconds", "pose (per frame)"},
		{"scope_slr_latency_seconds", "recognise (features, network, beam search)"},
		{"scope_slt_first_token_seconds", "end of signing -> first token"},
		{"scope_slt_latency_seconds", "translate (whole sentence)"},
		{"scope_pipeline_sentence_latency_seconds", "end of signing -> sentence ready"},
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

// demoTranslator is the demo translator that ships in models/demo/slt.
func demoTranslator() (string, map[string]string, error) { return modelset.DemoTranslator() }

func dur(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// clock formats stream seconds as m:ss.s.
func clock(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	return fmt.Sprintf("%d:%04.1f", int(d.Minutes()), d.Seconds()-60*float64(int(d.Minutes())))
}
