package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"scope/daemon/api"
	"scope/daemon/engine"
	"scope/daemon/service"
)

const serveHelp = `Run the interpreter as a daemon: capture -> pose -> segmenter -> recogniser -> translator
-> confidence gate -> dialogue store, with the kiosk page, the HTTP/WebSocket API, /metrics,
/healthz and /readyz on daemon.listen (loopback by default).

With no source (capture.source empty, no --input) it plays the built-in demo, looping:
synthetic dialogues whose signers the recogniser never saw, paced like a camera. A
.pose file, a video or an image loops too; a camera that is missing or unplugged is
retried with backoff while the page and /readyz say so. A conversation opens by itself
when signing starts (the API can also start and end them) and ends after
daemon.idle_timeout without signing or replies.

Each sentence is printed as the page shows it (--quiet: not). Ctrl-C or SIGTERM stops
it in order: the input stops, sentences in flight finish, the conversation ends and the
store is closed, within 5 s. Under systemd it reports readiness and pings the watchdog
(see ` + "`scope service`" + `) and logs with journal priorities.`

func cmdServe(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "serve", "[--config FILE] [--listen ADDR] [--input SOURCE] [flags]", serveHelp)
	cfgPath := configFlag(fs)
	listen := fs.String("listen", "", "host:port for the page and the API (default daemon.listen, 127.0.0.1:8580)")
	input := fs.String("input", "", "frame source: camera index, /dev/videoN, video file, stream URL, image, or a .pose file (default capture.source; empty: the synthetic demo)")
	seed := fs.Uint64("seed", 2026, "demo: seed of the synthetic dialogues")
	noTranslate := fs.Bool("no-translate", false, "stop after recognition (no language model)")
	noStore := fs.Bool("no-store", false, "keep conversations in memory only")
	quiet := fs.Bool("quiet", false, "do not print each sentence")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if service.InJournal() {
		a.log = slog.New(service.JournalHandler(a.stderr, a.level))
	}
	c, err := loadRunConfig(a, *cfgPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		c.Daemon.Listen = *listen
	}
	if *input != "" {
		c.Capture.Source = *input
	}
	upd, bundleDir := openServeOTA(a, c) // the OTA bundle to start on ("" = the configured models)
	ecfg := engine.Config{Settings: c, Realtime: true, Loop: true, Retry: true, Bundle: bundleDir,
		Demo: engine.Demo{Seed: *seed}, NoTranslate: *noTranslate, NoStore: *noStore, Log: a.log}
	e, err := engine.New(ecfg)
	for err != nil && ecfg.Bundle != "" { // roll back to the previous bundle, then the configured models
		ecfg.Bundle = upd.bootFailed(ecfg.Bundle, err)
		e, err = engine.New(ecfg)
	}
	if err != nil {
		return err
	}
	defer e.Close()
	aopt := api.Options{Listen: c.Daemon.Listen, Token: c.Daemon.Token, TLSCert: c.Daemon.TLSCert, TLSKey: c.Daemon.TLSKey, Log: a.log}
	if upd != nil {
		aopt.OTA = upd.u
	}
	srv, err := api.New(e, aopt)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	w := a.stdout
	fmt.Fprintln(w, e.Describe())
	fmt.Fprintf(w, "input: %s\n", e.Health().Input)
	if c.Capture.Source == "" {
		fmt.Fprintln(w, "The demo plays SYNTHETIC signing: what it shows is not accuracy on real signers.")
	}
	if st := e.Store(); st != nil {
		fmt.Fprintf(w, "dialogue store: %s\n", st.Path())
	}
	fmt.Fprintf(w, "SCOPE is serving: signer's page %s, staff's page %sstaff, API %sapi/, metrics %smetrics\n",
		srv.URL(), srv.URL(), srv.URL(), srv.URL())
	if !api.IsLoopback(strings.Split(c.Daemon.Listen, ":")[0]) && c.Daemon.TLSCert == "" {
		a.log.Warn("listening beyond loopback without TLS: the token and the conversation travel in clear; set daemon.tls_cert and daemon.tls_key")
	}

	var wg sync.WaitGroup
	if !*quiet {
		evs, unsubscribe := e.Subscribe(4096)
		defer unsubscribe()
		pr := &printer{w: w, demo: c.Capture.Source == "", translate: !*noTranslate, top1: map[int][]string{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range evs {
				pr.print(ev)
			}
		}()
	}
	sctx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(sctx) }()
	stopWatch := make(chan struct{})
	go service.Watchdog(stopWatch, func() (bool, string) {
		h := e.Health()
		if h.Ready {
			return h.Live, fmt.Sprintf("interpreting %s; bundle %s", h.Input, h.Bundle.Version)
		}
		return h.Live, "not ready: " + strings.Join(h.Reasons, "; ")
	})
	_ = service.Notify("READY=1")

	runErr := make(chan error, 1)
	go func() { runErr <- e.Start(ctx) }()
	octx, stopOTA := context.WithCancel(context.Background())
	defer stopOTA()
	if upd != nil {
		upd.start(octx, e) // polls, swaps between sentences, health-checks a new bundle
	}
	var err2 error
	select {
	case err2 = <-runErr:
	case err2 = <-srvErr:
		if err2 != nil {
			err2 = fmt.Errorf("serving %s: %w", c.Daemon.Listen, err2)
		}
	}
	stopOTA()
	if upd != nil {
		upd.wait()
	}
	_ = service.Notify("STOPPING=1")
	close(stopWatch)
	a.log.Info("stopping: draining the work in flight")
	closeErr := e.Close() // input stops, sentences finish, the conversation ends, the store closes
	stopServing()
	wg.Wait()
	a.log.Info("stopped")
	if err2 != nil && !errors.Is(err2, context.Canceled) {
		return err2
	}
	if closeErr != nil {
		return closeErr
	}
	return ctx.Err()
}
