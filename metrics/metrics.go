// Package metrics keeps SCOPE's counters, gauges and latency histograms in a Prometheus
// registry (github.com/prometheus/client_golang), so that an existing Prometheus scrapes
// a device, or federates a fleet, with nothing home-made in between. Names follow
// <namespace>_<subsystem>_<unit>, for example scope_pose_latency_seconds.
//
// Histograms also keep a bounded window of recent samples, so `scope run` and
// `scope bench` can print p50/p95 without a Prometheus server.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Registry holds a process's metrics. Its zero value is not usable; call NewRegistry.
type Registry struct {
	prom *prometheus.Registry

	mu     sync.Mutex
	byName map[string]any
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{prom: prometheus.NewRegistry(), byName: map[string]any{}}
}

// RegisterProcess adds the process collector (resident memory, CPU, open files) and the
// Go runtime collector (goroutines, heap, GC) under their standard names
// (process_resident_memory_bytes, go_goroutines, ...). Calling it again does nothing.
func (r *Registry) RegisterProcess() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byName["\x00process"]; ok {
		return
	}
	r.byName["\x00process"] = true
	r.prom.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
}

// Prometheus is the underlying registry, for collectors of other packages.
func (r *Registry) Prometheus() *prometheus.Registry { return r.prom }

// Handler serves the registry in the Prometheus exposition formats (text, or protobuf
// and OpenMetrics when the scraper asks for them).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.prom, promhttp.HandlerOpts{Registry: r.prom})
}

// add registers what make builds under name, or returns the metric already registered
// there, so that a stage built again (a new conversation, a reloaded model) keeps
// counting into the same series. The same name for two kinds of metric is a
// programming error.
func add[T any](r *Registry, name string, make func() (T, prometheus.Collector)) T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byName[name]; ok {
		m, ok := old.(T)
		if !ok {
			var want T
			panic(fmt.Sprintf("metrics: %s registered as %T and %T", name, old, want))
		}
		return m
	}
	m, c := make()
	r.prom.MustRegister(c)
	r.byName[name] = m
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
	mfs, err := r.prom.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// Counter counts events.
type Counter struct {
	c prometheus.Counter
	v atomic.Int64
}

// Counter registers a counter.
func (r *Registry) Counter(name, help string) *Counter {
	return add(r, name, func() (*Counter, prometheus.Collector) {
		c := &Counter{c: prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})}
		return c, c.c
	})
}

// Add adds n (n >= 0).
func (c *Counter) Add(n int64) {
	if n <= 0 {
		return
	}
	c.v.Add(n)
	c.c.Add(float64(n))
}

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Value is the count so far.
func (c *Counter) Value() int64 { return c.v.Load() }

// CounterVec is a family of counters told apart by label values, for example errors
// by stage.
type CounterVec struct {
	vec *prometheus.CounterVec

	mu       sync.Mutex
	children map[string]*Counter
}

// CounterVec registers a counter family with the given label names.
func (r *Registry) CounterVec(name, help string, labels ...string) *CounterVec {
	return add(r, name, func() (*CounterVec, prometheus.Collector) {
		v := &CounterVec{vec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels), children: map[string]*Counter{}}
		return v, v.vec
	})
}

// With returns the counter for these label values (in the order of the label names).
func (v *CounterVec) With(values ...string) *Counter {
	key := strings.Join(values, "\x00")
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.children[key]
	if c == nil {
		c = &Counter{c: v.vec.WithLabelValues(values...)}
		v.children[key] = c
	}
	return c
}

// Gauge is a value that goes up and down.
type Gauge struct {
	g    prometheus.Gauge
	bits atomic.Uint64
}

// Gauge registers a gauge.
func (r *Registry) Gauge(name, help string) *Gauge {
	return add(r, name, func() (*Gauge, prometheus.Collector) {
		g := &Gauge{g: prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})}
		return g, g.g
	})
}

// Set sets the value.
func (g *Gauge) Set(v float64) {
	g.bits.Store(math.Float64bits(v))
	g.g.Set(v)
}

// Value is the current value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

// Info is a gauge family that holds one series at a time, set to 1, whose labels carry
// the information (Prometheus' "info" pattern), for example
// scope_bundle_info{version="0.2.0",hash="..."} 1.
type Info struct {
	vec *prometheus.GaugeVec
	mu  sync.Mutex
}

// Info registers an info metric with the given label names.
func (r *Registry) Info(name, help string, labels ...string) *Info {
	return add(r, name, func() (*Info, prometheus.Collector) {
		i := &Info{vec: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)}
		return i, i.vec
	})
}

// Set replaces the series with one for these label values.
func (i *Info) Set(values ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.vec.Reset()
	i.vec.WithLabelValues(values...).Set(1)
}

// LatencyBuckets are upper bounds in seconds suited to per-frame and per-sentence work.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.033, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// window is how many recent samples a histogram keeps for quantiles.
const window = 4096

// Histogram records observations (seconds, for latencies) in cumulative buckets and
// keeps the most recent ones for quantiles.
type Histogram struct {
	h prometheus.Histogram

	mu     sync.Mutex
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
	return add(r, name, func() (*Histogram, prometheus.Collector) {
		h := &Histogram{h: prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: bounds})}
		return h, h.h
	})
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	h.h.Observe(v)
	h.mu.Lock()
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
