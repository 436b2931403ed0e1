package kiosk_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scope/config"
	"scope/daemon/api"
	"scope/daemon/engine"
	"scope/daemon/events"
	"scope/daemon/pipeline"
	"scope/internal/assets"
	"scope/models/poseformat"
	"scope/synth"
)

// synthPose writes signer turns of synthetic test-split signers as one .pose file, each
// followed by a second at rest: a recorded keypoint stream the daemon plays in a loop.
func synthPose(t *testing.T, turns int) string {
	t.Helper()
	gen, err := synth.NewGenerator(synth.Config{Dialogues: 1 << 20, Seed: 2026})
	if err != nil {
		t.Fatal(err)
	}
	var pts [][poseformat.NumPoints][3]float32
	var conf [][poseformat.NumPoints]float32
	fps := gen.Config().FPS
	for i := 0; len(pts) == 0 || turns > 0; i++ {
		d, clips := gen.Dialogue(i)
		if d.Signer.Split != "test" {
			continue
		}
		for k, turn := range d.Turns {
			if !turn.Signer || turns == 0 {
				continue
			}
			c := clips[k]
			for f := range c.Points {
				pts = append(pts, c.Points[f])
				conf = append(conf, c.Conf[f])
			}
			for r := 0; r < int(1.5*fps); r++ {
				pts = append(pts, c.Points[len(c.Points)-1])
				conf = append(conf, c.Conf[len(c.Conf)-1])
			}
			turns--
		}
		break
	}
	f, err := poseformat.NewHolistic(gen.Config().Width, gen.Config().Height, float32(fps), pts, conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "signing.pose")
	if err := f.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// askEverything is a confidence gate that asks the signer about every sentence, so the
// page's confirm step can be tested; the alternatives are the other hypotheses.
type askEverything struct{}

func (askEverything) Name() string { return "test: ask about every sentence" }
func (askEverything) Decide(in engine.GateInput) engine.Verdict {
	var alts []string
	for _, h := range in.Hypotheses[1:] {
		alts = append(alts, strings.ToLower(strings.Join(h.Glosses, " "))+" (alternative)")
	}
	return engine.Verdict{Show: false, Confidence: 0.3, Reason: "test gate", Alternatives: alts}
}

// serve starts a daemon on input with gate and returns its address and engine.
func serve(t *testing.T, ctx context.Context, input string, gate engine.Gate) (string, *engine.Engine) {
	t.Helper()
	c := config.Default()
	c.Dialogue.Path = filepath.Join(t.TempDir(), "dialogue.db")
	c.Edge.Threads = 1
	e, err := engine.New(engine.Config{Settings: c, Input: input, Realtime: true, Loop: true, Retry: true, Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	s, err := api.New(e, api.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	go s.Serve(ctx)
	go e.Start(ctx)
	return strings.TrimSuffix(s.URL(), "/"), e
}

// The page in Debian's Chromium, headless, through playwright-core (pagetest/): it loads
// with nothing reachable but the daemon; a sentence signed in a .pose source appears as a
// caption; a typed reply appears in the history and in the next translation's context;
// the unsure flow (choose, sign again), the interpreter button and end and erase work.
// SCOPE_SCREENSHOTS=DIR keeps the screenshots (the README's comes from here).
func TestPageInChromium(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed (make setup installs it)")
	}
	chromium := "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s: %v (make setup installs Debian's chromium)", chromium, err)
	}
	dir, err := assets.Find("daemon/kiosk/pagetest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("playwright-core is not installed in %s: run make setup", dir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	input := synthPose(t, 4)
	shown, _ := serve(t, ctx, input, pipeline.ShowAll{})
	unsure, ue := serve(t, ctx, input, askEverything{})
	// The page's messages for failures: the pipeline's tests make these events from a
	// failing translator and a full disk; here they are sent as the engine sends them.
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				ue.Bus().Publish(events.Event{Kind: events.Error, Stage: "translate", Error: "translating sentence 9: slt: test failure"})
				ue.Bus().Publish(events.Event{Kind: events.Store, Status: "full", Error: "write dialogue.db: no space left on device"})
			}
		}
	}()
	out := os.Getenv("SCOPE_SCREENSHOTS")
	if out == "" {
		out = t.TempDir()
	}
	cctx, ccancel := context.WithTimeout(ctx, 8*time.Minute)
	defer ccancel()
	cmd := exec.CommandContext(cctx, node, "pagetest.mjs", "--shown", shown, "--unsure", unsure, "--out", out)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	lines := make(chan string)
	go func() {
		defer close(lines)
		b := make([]byte, 4096)
		var acc strings.Builder
		for {
			n, err := pr.Read(b)
			acc.Write(b[:n])
			if err != nil {
				lines <- acc.String()
				return
			}
		}
	}()
	err = cmd.Run()
	pw.Close()
	log := <-lines
	t.Log("\n" + log)
	if err != nil {
		t.Fatalf("page tests failed: %v", err)
	}
	for _, want := range []string{"ok page loads offline", "ok a sentence signed", "ok a typed reply", "ok an unsure sentence",
		"ok the signer's choice", "ok sign again", "ok calling a human interpreter", "ok end and erase", "ok a translator error", "ok a full disk"} {
		if !strings.Contains(log, want) {
			t.Errorf("check %q did not pass", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "kiosk-signer.png")); err != nil {
		t.Error(fmt.Errorf("no screenshot: %w", err))
	}
}
