package main

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"scope/models/slr"
)

const benchSLRDescription = `Measure the recogniser's latency for one segment (default 10 s): keypoint features,
the model on ONNX Runtime and the CTC prefix beam search, as the daemon runs them after a
sentence ends. The frames come from --pose (a .pose file, looped or cut to length) or are
made up (random hand movement), which does not change the cost.`

func benchSLR(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "bench slr", "[--model DIR] [--precision fp32|int8] [--seconds 10] [--threads 2]", benchSLRDescription)
	model := fs.String("model", "", "recogniser bundle folder (default: the demo bundle models/demo/slr)")
	precision := fs.String("precision", "fp32", "model file of the bundle: fp32, int8, or both")
	seconds := fs.Float64("seconds", 10, "segment length in seconds")
	fps := fs.Float64("fps", 30, "frame rate of made-up frames")
	pose := fs.String("pose", "", "take the frames from this .pose file instead")
	threads := fs.Int("threads", 2, "ONNX Runtime threads")
	beam := fs.Int("beam", 8, "CTC prefix beam width")
	runs := fs.Int("runs", 50, "timed runs (after 5 warm-up runs)")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	dir := *model
	var err error
	if dir == "" {
		if dir, err = slr.DefaultBundleDir(); err != nil {
			return err
		}
	}
	frames, rate, err := slrBenchFrames(*pose, *seconds, *fps)
	if err != nil {
		return err
	}
	precs := []string{*precision}
	if *precision == "both" {
		precs = []string{"fp32", "int8"}
	}
	turns := []string{"Good morning, this is the pharmacy. How can I help?"}
	for _, p := range precs {
		rec, err := slr.Open(dir, slr.Options{Precision: p, Threads: *threads, BeamWidth: *beam, TopK: 3})
		if err != nil {
			return err
		}
		var times []float64
		var feat, run, dec time.Duration
		var cpu0 time.Duration
		for i := 0; i < *runs+5; i++ {
			if i == 5 {
				cpu0 = slrProcessCPU()
			}
			if err := ctx.Err(); err != nil {
				rec.Close()
				return err
			}
			t0 := time.Now()
			x, err := slr.Features(frames, rate, &rec.Manifest().SLR.Features)
			if err != nil {
				rec.Close()
				return err
			}
			t1 := time.Now()
			var ids []int64
			if rec.UsesContext() {
				tok, _ := slr.NewTokenizer(rec.Manifest().SLR.ContextTokenizer)
				ids = tok.Encode(turns)
			}
			out, err := rec.RunFeatures(ctx, x, len(frames), ids)
			if err != nil {
				rec.Close()
				return err
			}
			t2 := time.Now()
			rec.Decode(out)
			t3 := time.Now()
			if i >= 5 {
				times = append(times, float64(t3.Sub(t0).Microseconds())/1000)
				feat += t1.Sub(t0)
				run += t2.Sub(t1)
				dec += t3.Sub(t2)
			}
		}
		cpu := slrProcessCPU() - cpu0
		f := rec.File()
		rec.Close()
		sort.Float64s(times)
		n := float64(len(times))
		pct := func(q float64) float64 { return times[min(len(times)-1, int(math.Ceil(q*n))-1)] }
		fmt.Fprintf(a.stdout, "scope bench slr: %s %s (%s, %d bytes), %.1f s segment (%d frames at %g fps), %d ORT threads, beam %d, %d runs\n",
			rec.Manifest().Name, rec.Manifest().Version, f.Precision, f.Bytes, float64(len(frames))/rate, len(frames), rate, *threads, *beam, len(times))
		fmt.Fprintf(a.stdout, "  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (features %.2f, model %.2f, beam search %.2f mean)\n",
			pct(0.5), pct(0.9), pct(0.99), times[len(times)-1],
			float64(feat.Microseconds())/1000/n, float64(run.Microseconds())/1000/n, float64(dec.Microseconds())/1000/n)
		// CPU time is what the work costs whatever else runs on the machine; on a busy
		// machine wall-clock latency mostly measures waiting for a core.
		fmt.Fprintf(a.stdout, "  CPU time per segment: %.2f ms (all threads); load average %s\n",
			float64(cpu.Microseconds())/1000/n, slrLoadAverage())
	}
	fmt.Fprintf(a.stdout, "  machine: %s, %d CPUs visible, GOMAXPROCS %d, %s/%s\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	return nil
}

// slrBenchFrames returns a segment of the requested length.
func slrBenchFrames(pose string, seconds, fps float64) ([]slr.Frame, float64, error) {
	// The segmenter cuts sentences at 20 s; --fps Inf or 1e12 used to panic in makeslice.
	if !(seconds > 0 && seconds <= 60) {
		return nil, 0, fmt.Errorf("bench slr: --seconds %g: use more than 0 and at most 60: %w", seconds, errUsage)
	}
	if pose != "" {
		src, rate, err := slr.ReadPose(pose, 0, 0)
		if err != nil {
			return nil, 0, err
		}
		if len(src) == 0 {
			return nil, 0, fmt.Errorf("%s has no frames", pose)
		}
		if !(rate > 0 && rate <= 1000) {
			return nil, 0, fmt.Errorf("%s: frame rate %g: want more than 0 and at most 1000 frames/s", pose, rate)
		}
		n := max(1, int(seconds*rate))
		out := make([]slr.Frame, n)
		for i := range out {
			out[i] = src[i%len(src)]
		}
		return out, rate, nil
	}
	if !(fps > 0 && fps <= 240) {
		return nil, 0, fmt.Errorf("bench slr: --fps %g: use more than 0 and at most 240: %w", fps, errUsage)
	}
	r := rand.New(rand.NewSource(1))
	n := int(seconds * fps)
	out := make([]slr.Frame, n)
	for t := range out {
		f := &out[t]
		for p := 0; p < slr.NumPoints; p++ {
			f.Points[p] = [3]float32{250 + 140*r.Float32(), 150 + 200*r.Float32(), 0}
			f.Conf[p] = 1
		}
		f.Points[11] = [3]float32{380, 220, 0}
		f.Points[12] = [3]float32{260, 220, 0}
	}
	return out, fps, nil
}

// slrProcessCPU returns the user + system CPU time this process has used.
func slrProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func slrLoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if i := strings.Index(l, ":"); i >= 0 {
				return strings.TrimSpace(l[i+1:])
			}
		}
	}
	return runtime.GOARCH
}
