package api

// Soak benchmarks (issue 13 item 10). They report numbers; they assert no timing.
//
//	# one hour on the looping demo, 100 WebSocket clients of which one never reads:
//	SCOPE_SOAK=1h SCOPE_SOAK_CLIENTS=100 go test ./daemon/api -run '^$' -bench BenchmarkSoak -benchtime 1x -timeout 0
//	# 100 clients, one stalled, for 5 minutes: p95 from the end of signing to the caption
//	go test ./daemon/api -run '^$' -bench BenchmarkWebSocketClients -benchtime 1x -timeout 0
//
// Knobs (environment): SCOPE_SOAK (duration), SCOPE_SOAK_INPUT (a .pose file, a video,
// ...; empty: the built-in synthetic demo, as `scope serve` plays it), SCOPE_SOAK_CLIENTS
// (WebSocket clients; with more than one, one of them connects and never reads),
// SCOPE_SOAK_EVERY (sampling period), SCOPE_SOAK_THREADS (edge.threads, default 1).
// Progress lines go to stderr while it runs. RSS is this test process's: the engine, the
// API server and the clients together.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"scope/config"
	"scope/daemon/engine"
	"scope/daemon/events"
	"scope/metrics"
)

type soakOptions struct {
	dur     time.Duration
	input   string
	clients int
	every   time.Duration
	threads int
}

func soakEnv(b *testing.B, dur time.Duration, clients int) soakOptions {
	o := soakOptions{dur: dur, clients: clients, every: 10 * time.Second, threads: 1, input: os.Getenv("SCOPE_SOAK_INPUT")}
	parse := func(name string, f func(string) error) {
		if v := os.Getenv(name); v != "" {
			if err := f(v); err != nil {
				b.Fatalf("%s=%q: %v", name, v, err)
			}
		}
	}
	parse("SCOPE_SOAK", func(v string) (err error) { o.dur, err = time.ParseDuration(v); return })
	parse("SCOPE_SOAK_EVERY", func(v string) (err error) { o.every, err = time.ParseDuration(v); return })
	parse("SCOPE_SOAK_CLIENTS", func(v string) (err error) { o.clients, err = strconv.Atoi(v); return })
	parse("SCOPE_SOAK_THREADS", func(v string) (err error) { o.threads, err = strconv.Atoi(v); return })
	return o
}

// rssBytes reads this process's resident set size from /proc.
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type sample struct {
	at         time.Duration
	rss        int64
	goroutines int
}

// latencies collects end-of-signing -> caption latencies seen by the clients.
type latencies struct {
	mu sync.Mutex
	ms []float64
}

func (l *latencies) add(v float64) { l.mu.Lock(); l.ms = append(l.ms, v); l.mu.Unlock() }

func (l *latencies) quantile(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ms) == 0 {
		return 0
	}
	s := append([]float64(nil), l.ms...)
	sort.Float64s(s)
	return metrics.Quantile(s, q)
}

func (l *latencies) n() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.ms) }

// soak runs the daemon's engine and API as `scope serve` does (paced like a camera,
// looping, retrying), with o.clients WebSocket clients on /api/events, for o.dur.
func soak(b *testing.B, o soakOptions) {
	c := config.Default()
	c.Dialogue.Path = filepath.Join(b.TempDir(), "dialogue.db")
	c.Edge.Threads = o.threads
	e, err := engine.New(engine.Config{Settings: c, Input: o.input, Realtime: true, Loop: true, Retry: true, Demo: engine.Demo{Seed: 2026}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	s, err := New(e, Options{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		b.Fatal(err)
	}
	// Every connection gets a fixed 16 KiB send buffer: by default it grows to a few MB,
	// more than an hour of events, and a client that does not read would never make the
	// server's writes block as a hung tab on a slow network does.
	s.ln = smallSendBuffer{s.ln}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx)
	wsURL := "ws" + strings.TrimPrefix(s.URL(), "http") + "api/events"

	// The engine's own view: end of signing -> sentence ready, and how many sentences.
	own, unsub := e.Subscribe(1024)
	defer unsub()
	var sentences, errorsSeen atomic.Int64
	engineLat := &latencies{}
	firstSentence := make(chan struct{})
	go func() {
		var once sync.Once
		for ev := range own {
			switch ev.Kind {
			case events.Sentence, events.Unsure:
				sentences.Add(1)
				if ev.Timing != nil {
					engineLat.add(ev.Timing.TotalMS)
				}
				once.Do(func() { close(firstSentence) })
			case events.Error:
				errorsSeen.Add(1)
				fmt.Fprintf(os.Stderr, "soak: error event: %s: %s\n", ev.Stage, ev.Error)
			}
		}
	}()

	// Clients: each reads every event and times the caption from the end of signing
	// (the sentence's own end-of-signing -> ready time plus its trip to the client).
	clientLat := &latencies{}
	var connected, disconnected, stalls atomic.Int64 // connected, disconnected: the readers
	var wg sync.WaitGroup
	if o.clients > 1 {
		// Connected, never reads; when the server gives up on it, it connects again and
		// stalls again, so that one client is stalled for the whole run.
		first, _, err := websocket.Dial(ctx, wsURL+"?buffer=16", smallWindow())
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := first
			for {
				stalls.Add(1)
				// Wait until the server has given up on it: the bus has one subscriber
				// fewer than the engine's own, the readers' and this one (a read would
				// consume events, so the subscribers are counted instead).
				for short := 0; short < 2; { // twice in a row: a reader may be connecting
					select {
					case <-ctx.Done():
						conn.CloseNow()
						return
					case <-time.After(time.Second):
					}
					if int64(e.Bus().Subscribers()) < 1+connected.Load()-disconnected.Load()+1 {
						short++
					} else {
						short = 0
					}
				}
				conn.CloseNow()
				var err error
				if conn, _, err = websocket.Dial(ctx, wsURL+"?buffer=16", smallWindow()); err != nil {
					return
				}
			}
		}()
	}
	for i := 0; i < o.clients; i++ {
		if o.clients > 1 && i == 0 {
			continue // the stalled one, above
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, _, err := websocket.Dial(ctx, wsURL, nil)
			if err != nil {
				if ctx.Err() == nil {
					fmt.Fprintf(os.Stderr, "soak: client %d: %v\n", i, err)
				}
				return
			}
			connected.Add(1)
			defer conn.CloseNow()
			conn.SetReadLimit(1 << 20)
			for {
				_, msg, err := conn.Read(ctx)
				if err != nil {
					if ctx.Err() == nil {
						disconnected.Add(1)
					}
					return
				}
				got := time.Now()
				var ev events.Event
				if json.Unmarshal(msg, &ev) != nil {
					continue
				}
				if (ev.Kind == events.Sentence || ev.Kind == events.Unsure) && ev.Timing != nil {
					clientLat.add(ev.Timing.TotalMS + float64(got.Sub(ev.Time).Microseconds())/1000)
				}
			}
		}()
	}

	runErr := make(chan error, 1)
	go func() { runErr <- e.Start(ctx) }()
	select {
	case <-firstSentence:
	case err := <-runErr:
		b.Fatalf("the engine stopped before its first sentence: %v", err)
	case <-time.After(5 * time.Minute):
		b.Fatal("no sentence in 5 minutes")
	}
	// Start: models loaded, clients connected, the first sentence out.
	runtime.GC()
	t0 := time.Now()
	take := func() sample {
		return sample{at: time.Since(t0), rss: rssBytes(), goroutines: runtime.NumGoroutine()}
	}
	samples := []sample{take()}
	fmt.Fprintf(os.Stderr, "soak: %s, input %q, %d clients, edge.threads %d; start RSS %.1f MB, %d goroutines\n",
		o.dur, e.Health().Input, o.clients, o.threads, float64(samples[0].rss)/(1<<20), samples[0].goroutines)
	tick := time.NewTicker(o.every)
	defer tick.Stop()
	end := time.After(o.dur)
loop:
	for {
		select {
		case <-tick.C:
			s := take()
			samples = append(samples, s)
			fmt.Fprintf(os.Stderr, "soak: %6s RSS %7.1f MB, goroutines %4d, sentences %d, caption p95 %.0f ms (%d), ws subscribers %d, stalled client connections %d, bus drops %d\n",
				s.at.Round(time.Second), float64(s.rss)/(1<<20), s.goroutines, sentences.Load(), clientLat.quantile(0.95), clientLat.n(),
				e.Bus().Subscribers(), stalls.Load(), e.Bus().Dropped())
		case err := <-runErr:
			b.Fatalf("the engine stopped after %s: %v", time.Since(t0).Round(time.Second), err)
		case <-end:
			break loop
		}
	}
	last := take()
	samples = append(samples, last)
	first := samples[0]
	var maxRSS int64
	maxG := 0
	for _, s := range samples {
		maxRSS = max(maxRSS, s.rss)
		maxG = max(maxG, s.goroutines)
	}
	mb := func(v int64) float64 { return float64(v) / (1 << 20) }
	b.ReportMetric(time.Since(t0).Minutes(), "minutes")
	b.ReportMetric(float64(sentences.Load()), "sentences")
	b.ReportMetric(mb(first.rss), "rss-start-MB")
	b.ReportMetric(mb(last.rss), "rss-end-MB")
	b.ReportMetric(mb(maxRSS), "rss-max-MB")
	b.ReportMetric(float64(first.goroutines), "goroutines-start")
	b.ReportMetric(float64(last.goroutines), "goroutines-end")
	b.ReportMetric(float64(maxG), "goroutines-max")
	b.ReportMetric(engineLat.quantile(0.95), "engine-p95-ms")
	if o.clients > 0 {
		b.ReportMetric(clientLat.quantile(0.5), "caption-p50-ms")
		b.ReportMetric(clientLat.quantile(0.95), "caption-p95-ms")
		b.ReportMetric(float64(clientLat.n()), "captions")
	}
	fmt.Fprintf(os.Stderr, "soak: done after %s: %d sentences, %d error events; RSS start %.1f end %.1f max %.1f MB; goroutines start %d end %d max %d;"+
		" engine end-of-signing->sentence p50 %.0f p95 %.0f ms; readers %d connected, %d cut off by the server; stalled client connected %d times (the server gave up on it %d times); caption p50 %.0f p95 %.0f max %.0f ms over %d captions; bus drops %d\n",
		time.Since(t0).Round(time.Second), sentences.Load(), errorsSeen.Load(), mb(first.rss), mb(last.rss), mb(maxRSS),
		first.goroutines, last.goroutines, maxG, engineLat.quantile(0.5), engineLat.quantile(0.95),
		connected.Load(), disconnected.Load(), stalls.Load(), max(0, stalls.Load()-1), clientLat.quantile(0.5), clientLat.quantile(0.95), clientLat.quantile(1), clientLat.n(), e.Bus().Dropped())
	cancel()
	wg.Wait()
}

type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// BenchmarkSoak runs the daemon on a looping input (default: the built-in demo) for
// SCOPE_SOAK (default 2m; the figure is 1h) and reports RSS and goroutines at
// the start, the end and their highest.
func BenchmarkSoak(b *testing.B) {
	soak(b, soakEnv(b, 2*time.Minute, 1))
}

// BenchmarkWebSocketClients connects 100 WebSocket clients, one of which never reads,
// and reports the p95 from the end of signing to the caption at the other clients.
func BenchmarkWebSocketClients(b *testing.B) {
	soak(b, soakEnv(b, 5*time.Minute, 100))
}
