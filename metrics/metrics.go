// Package metrics keeps SCOPE's counters, gauges and latency histograms and writes them
// in Prometheus' text exposition format, so an existing Prometheus scrapes a device (or
// federates a fleet) without anything home-made in between. Names follow
// <namespace>_<subsystem>_<unit>, for example scope_pose_latency_seconds.
//
// Histograms also keep a bounded window of recent samples, so `scope run` and
// `scope bench` can print p50/p95 without a Prometheus server.
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds a process's metrics. Its zero value is not usable; call NewRegistry.
type Registry struct {
	mu      sync.Mutex
	metrics []metric
	byName  map[string]metric
}

type metric interface {
	write(w io.Writer) error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{byName: map[string]metric{}} }

// add registers m under name, or returns the metric already registered there, so that
// a stage built again (a new conversation, a reloaded model) keeps counting into the
// same series. The same name for two kinds of metric is a programming error.
func (r *Registry) add(name string, m metric) metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byName[name]; ok {
		if fmt.Sprintf("%T", old) != fmt.Sprintf("%T", m) {
			panic(fmt.Sprintf("metrics: %s registered as %T and %T", name, old, m))
		}
		return old
	}
	r.byName[name] = m
	r.metrics = append(r.metrics, m)
	return m
}

// Lookup returns the histogram registered under name, or nil.
func (r *Registry) Lookup(name string) *Histogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, _ := r.byName[name].(*Histogram)
	return h
}

// WritePrometheus writes every metric in the text exposition format.
func (r *Registry) WritePrometheus(w io.Writer) error {
	r.mu.Lock()
	ms := append([]metric(nil), r.metrics...)
	r.mu.Unlock()
	for _, m := range ms {
		if err := m.write(w); err != nil {
			return err
		}
	}
	return nil
}

// Counter counts events.
type Counter struct {
	name, help string
	v          atomic.Int64
}

// Counter registers a counter.
func (r *Registry) Counter(name, help string) *Counter {
	return r.add(name, &Counter{name: name, help: help}).(*Counter)
}

// Add adds n (n >= 0).
func (c *Counter) Add(n int64) { c.v.Add(n) }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Value is the count so far.
func (c *Counter) Value() int64 { return c.v.Load() }

func (c *Counter) write(w io.Writer) error {
	_, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v.Load())
	return err
}

// Gauge is a value that goes up and down.
type Gauge struct {
	name, help string
	bits       atomic.Uint64
}

// Gauge registers a gauge.
func (r *Registry) Gauge(name, help string) *Gauge {
	return r.add(name, &Gauge{name: name, help: help}).(*Gauge)
}

// Set sets the value.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Value is the current value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

func (g *Gauge) write(w io.Writer) error {
	_, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", g.name, g.help, g.name, g.name, g.Value())
	return err
}

// LatencyBuckets are upper bounds in seconds suited to per-frame and per-sentence work.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.033, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// window is how many recent samples a histogram keeps for quantiles.
const window = 4096

// Histogram records observations (seconds, for latencies) in cumulative buckets and
// keeps the most recent ones for quantiles.
type Histogram struct {
	name, help string
	bounds     []float64

	mu     sync.Mutex
	counts []uint64 // per bucket, plus +Inf
	sum    float64
	n      uint64
	recent []float64
	next   int
}

// Histogram registers a histogram with the given bucket upper bounds (nil means
// LatencyBuckets).
func (r *Registry) Histogram(name, help string, bounds []float64) *Histogram {
	if bounds == nil {
		bounds = LatencyBuckets
	}
	return r.add(name, &Histogram{name: name, help: help, bounds: bounds, counts: make([]uint64, len(bounds)+1)}).(*Histogram)
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.n++
	if len(h.recent) < window {
		h.recent = append(h.recent, v)
	} else {
		h.recent[h.next] = v
		h.next = (h.next + 1) % window
	}
	h.mu.Unlock()
}

// Since records the time elapsed since t, in seconds.
func (h *Histogram) Since(t time.Time) { h.Observe(time.Since(t).Seconds()) }

// Summary is a histogram's state in numbers.
type Summary struct {
	Count         uint64
	Mean          float64
	P50, P95, Max float64
}

// Summary returns the count and mean over all observations, and quantiles over the
// recent window.
func (h *Histogram) Summary() Summary {
	h.mu.Lock()
	s := append([]float64(nil), h.recent...)
	out := Summary{Count: h.n}
	if h.n > 0 {
		out.Mean = h.sum / float64(h.n)
	}
	h.mu.Unlock()
	if len(s) == 0 {
		return out
	}
	sort.Float64s(s)
	out.P50 = Quantile(s, 0.5)
	out.P95 = Quantile(s, 0.95)
	out.Max = s[len(s)-1]
	return out
}

// Quantile of sorted values, by linear interpolation between closest ranks.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

func (h *Histogram) write(w io.Writer) error {
	h.mu.Lock()
	counts := append([]uint64(nil), h.counts...)
	sum, n := h.sum, h.n
	h.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s histogram\n", h.name, h.help, h.name)
	var cum uint64
	for i, le := range h.bounds {
		cum += counts[i]
		fmt.Fprintf(&b, "%s_bucket{le=\"%g\"} %d\n", h.name, le, cum)
	}
	fmt.Fprintf(&b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", h.name, n, h.name, sum, h.name, n)
	_, err := io.WriteString(w, b.String())
	return err
}
