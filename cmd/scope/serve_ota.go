package main

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"scope/config"
	"scope/daemon/engine"
	"scope/daemon/events"
	"scope/ota"
)

// serveOTA is the OTA updater inside scope serve (package ota's doc says how a daemon
// uses it): Boot picks the bundle the engine starts on, Run polls the repository and
// swaps the engine to a new bundle between sentences, the engine's sentences feed the
// health check of a bundle on probation, GET /api/ota and /metrics show its status.
type serveOTA struct {
	u   *ota.Updater
	eng lateEngine
	log *slog.Logger
	wg  sync.WaitGroup
}

// lateEngine lets the updater open (and Boot choose the bundle) before the engine that
// loads that bundle exists; start sets it before anything swaps.
type lateEngine struct {
	mu sync.Mutex
	e  *engine.Engine
}

func (l *lateEngine) Swap(ctx context.Context, dir string) error {
	l.mu.Lock()
	e := l.e
	l.mu.Unlock()
	if e == nil {
		return errors.New("the engine has not started")
	}
	return e.Swap(ctx, dir)
}

// openServeOTA opens the updater from the ota section and boots it. It returns the
// bundle folder to start on ("" = the configured models). An updater that cannot open
// (an unwritable data folder, a damaged state file) is logged and left out: the kiosk
// keeps interpreting on its configured models.
func openServeOTA(a *app, c config.Config) (*serveOTA, string) {
	s := &serveOTA{log: a.log}
	cfg := otaConfig(a, c, c.OTA.Root)
	cfg.Engine = &s.eng
	u, err := ota.Open(cfg)
	if err != nil {
		a.log.Error("OTA updates are off: the updater did not open", "err", err, "data_dir", config.DataDir())
		return nil, ""
	}
	dir, err := u.Boot()
	if err != nil {
		a.log.Error("OTA: boot recovery failed; starting on the configured models", "err", err)
		dir = ""
	}
	s.u = u
	return s, dir
}

// bootFailed reports that the engine could not load the bundle in dir: the updater rolls
// it back as failed. It returns the folder to try next ("" = the configured models).
func (s *serveOTA) bootFailed(dir string, err error) string {
	next, rerr := s.u.BootFailed(err.Error())
	if rerr != nil {
		s.log.Error("OTA: the installed bundle did not load and could not be rolled back; starting on the configured models", "dir", dir, "err", err, "rollback_err", rerr)
		return ""
	}
	s.log.Error("OTA: the installed bundle did not load; rolled back", "dir", dir, "err", err, "next", next)
	if next == dir {
		return ""
	}
	return next
}

// start runs the updater beside the engine until ctx ends: polling, swapping, and the
// health check fed from the engine's events. It registers the OTA metrics.
func (s *serveOTA) start(ctx context.Context, e *engine.Engine) {
	s.eng.mu.Lock()
	s.eng.e = e
	s.eng.mu.Unlock()
	if err := e.Metrics().Prometheus().Register(otaCollector{s.u}); err != nil {
		s.log.Warn("OTA metrics not exported", "err", err)
	}
	evs, unsubscribe := e.Subscribe(4096)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.u.Run(ctx)
	}()
	go func() {
		defer s.wg.Done()
		defer unsubscribe()
		h := healthFeed{nonFinite: map[int]bool{}}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-evs:
				if !ok {
					return
				}
				if o, ok := h.outcome(ev); ok {
					s.u.Observe(o)
				}
			}
		}
	}()
}

// wait returns once the updater's goroutines have stopped (after ctx ended), or after
// 2 s: shutdown stays within its 5 s, and an update cut short is recovered at the next
// start like a kill.
func (s *serveOTA) wait() {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		s.log.Warn("OTA: stopping without waiting for the update in progress; it is recovered at the next start")
	}
}

// healthFeed turns the engine's events into one ota.Outcome per sentence: a sentence
// shown or unsure (unsure counts toward the gate's rate), a stage that failed on it, and
// non-finite numbers in its confidence or its hypotheses' scores.
// Sentences still finishing on the old models after a swap are not counted.
type healthFeed struct {
	nonFinite map[int]bool // sentences whose hypotheses had NaN or +Inf scores
	running   string       // the hash of the bundle the engine last swapped to
}

func (h *healthFeed) outcome(ev events.Event) (ota.Outcome, bool) {
	switch ev.Kind {
	case events.Bundle:
		if ev.Bundle != nil {
			h.running = ev.Bundle.Hash
		}
	case events.Hypotheses:
		for _, hy := range ev.Hypotheses {
			if math.IsNaN(hy.Score) || math.IsInf(hy.Score, 1) {
				h.nonFinite[ev.Sentence] = true
			}
		}
	case events.Sentence, events.Unsure:
		nf := h.nonFinite[ev.Sentence] || math.IsNaN(ev.Confidence) || math.IsInf(ev.Confidence, 0)
		delete(h.nonFinite, ev.Sentence)
		if len(h.nonFinite) > 64 { // sentences that never ended (cancelled): forget them
			clear(h.nonFinite)
		}
		if h.running != "" && ev.Bundle != nil && ev.Bundle.Hash != h.running {
			return ota.Outcome{}, false // the bundle before the swap finished it
		}
		return ota.Outcome{Unsure: ev.Kind == events.Unsure, NonFinite: nf}, true
	case events.Error:
		switch ev.Stage {
		case "recognise", "translate", "gate":
			if strings.HasPrefix(ev.Error, "recognition is behind") {
				return ota.Outcome{}, false // the machine's load, not the bundle
			}
			return ota.Outcome{Err: errors.New(ev.Stage + ": " + ev.Error)}, true
		}
	}
	return ota.Outcome{}, false
}

// otaCollector exports the updater's status in /metrics at each scrape. The engine
// already exports scope_bundle_info{name,version,hash} for the bundle that runs, so that
// sample is left to it.
type otaCollector struct{ u *ota.Updater }

func (c otaCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c otaCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.u.Status()
	if err != nil {
		return
	}
	for _, m := range st.Metrics() {
		if m.Name == "scope_bundle_info" {
			continue
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(m.Name, m.Help, nil, nil), prometheus.GaugeValue, m.Value)
	}
}
