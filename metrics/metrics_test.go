package metrics

import (
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestPrometheusExposition(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("scope_capture_dropped_frames_total", "Frames dropped because the pose stage fell behind.")
	g := r.Gauge("scope_process_resident_bytes", "Resident memory.")
	h := r.Histogram("scope_pose_latency_seconds", "Pose stage latency.", []float64{0.01, 0.1})
	c.Add(3)
	g.Set(1.5e8)
	for _, v := range []float64{0.005, 0.02, 0.05, 2} {
		h.Observe(v)
	}
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE scope_capture_dropped_frames_total counter\nscope_capture_dropped_frames_total 3\n",
		"scope_process_resident_bytes 1.5e+08\n",
		`scope_pose_latency_seconds_bucket{le="0.01"} 1` + "\n",
		`scope_pose_latency_seconds_bucket{le="0.1"} 3` + "\n",
		`scope_pose_latency_seconds_bucket{le="+Inf"} 4` + "\n",
		"scope_pose_latency_seconds_sum 2.075\nscope_pose_latency_seconds_count 4\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("exposition lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSummaryQuantiles(t *testing.T) {
	h := NewRegistry().Histogram("x_seconds", "x", nil)
	for i := 1; i <= 100; i++ {
		h.Observe(float64(i))
	}
	s := h.Summary()
	if s.Count != 100 || s.Mean != 50.5 || math.Abs(s.P50-50.5) > 1e-9 || math.Abs(s.P95-95.05) > 1e-9 || s.Max != 100 {
		t.Fatalf("summary %+v", s)
	}
	// The window keeps the newest samples only.
	for i := 0; i < 2*window; i++ {
		h.Observe(1000)
	}
	if s := h.Summary(); s.P50 != 1000 || s.Count != 100+2*window {
		t.Fatalf("after the window moved: %+v", s)
	}
}

func TestConcurrentObserve(t *testing.T) {
	h := NewRegistry().Histogram("y_seconds", "y", nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				h.Observe(0.001)
			}
		}()
	}
	wg.Wait()
	if s := h.Summary(); s.Count != 8000 {
		t.Fatalf("count %d, want 8000", s.Count)
	}
}

func TestSameNameIsTheSameSeries(t *testing.T) {
	r := NewRegistry()
	a := r.Counter("a_total", "a")
	a.Inc()
	if b := r.Counter("a_total", "again"); b != a || b.Value() != 1 {
		t.Fatal("registering a_total again gave a new counter")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a_total as a gauge did not panic")
		}
	}()
	r.Gauge("a_total", "a gauge now")
}

// The HTTP handler serves labelled families, the info pattern and, once registered, the
// process and Go runtime collectors that a fleet's Prometheus reads RSS and goroutines from.
func TestHandlerWithProcessCollectors(t *testing.T) {
	r := NewRegistry()
	r.RegisterProcess()
	r.RegisterProcess() // twice is fine
	errs := r.CounterVec("scope_errors_total", "Errors by stage.", "stage")
	errs.With("translate").Inc()
	errs.With("translate").Inc()
	errs.With("store").Inc()
	if errs.With("translate").Value() != 2 {
		t.Fatal("labelled counter lost its count")
	}
	info := r.Info("scope_bundle_info", "The running bundle.", "version", "hash")
	info.Set("0.1.0", "aaa")
	info.Set("0.2.0", "bbb")
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`scope_errors_total{stage="translate"} 2`,
		`scope_errors_total{stage="store"} 1`,
		`scope_bundle_info{hash="bbb",version="0.2.0"} 1`,
		"process_resident_memory_bytes ",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `version="0.1.0"`) {
		t.Error("the info metric kept the old bundle's series")
	}
}
