package main

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"gocv.io/x/gocv"

	"scope/capture"
	"scope/daemon/keypoints"
	"scope/internal/assets"
	"scope/models/pose"
	"scope/models/pose/refcheck"
	ortruntime "scope/models/runtime"
	"scope/tools/mpref/mpref"
)

const benchPoseDescription = `Measure the Holistic keypoint pipeline (models/pose) at 640x480: frames/s and p50/p95
latency per stage, with the lite and the full pose models, and MediaPipe's own Holistic
(WASM SIMD, CPU inference, headless Chromium, through tools/mpref) on the same frames in
the same run.

The default frames are a slow made-up camera pan and zoom over opencv-doc's messi5.jpg
(a real photo of a person, so every stage runs on every frame); --input takes the first
--frames frames of a video instead, scaled to 640x480.

--compare instead holds the landmarks against MediaPipe's: opencv-doc's messi5.jpg,
basketball1.png and basketball2.png each alone, the first --compare-frames frames of
vtest.avi as a video, and --compare-pan frames of the made-up pan over messi5.jpg (a
person close up, so hands and face are tracked), and the real signing videos SOUP.mp4 and
FOOTBALL.mp4 of the developers' shared data (../shared/data/real-video, or --real-video)
whole, reporting per part how many frames each side found it on, how many both did, and
the mean and p95 landmark distance in % of the image's larger side. On the real signing
videos it also runs our hand stage alone on each frame, given MediaPipe's pose and its
hands of the frame before: that shows the stage's own agreement, apart from the drift that
comes from each side feeding back its own hands.

MediaPipe runs through the reference harness in tools/mpref of a scope source tree (after
` + "`make setup`" + ` there). A scope built into the tree's bin/ finds it from anywhere; otherwise
run from inside the tree, set $SCOPE_MPREF or give --mpref with the tree's tools/mpref
folder, or measure ours alone with --no-mediapipe.`

const opencvDocData = "/usr/share/doc/opencv-doc/examples/data"

func benchPose(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "bench pose", "[--complexity lite,full] [--frames 90] [--input video] [--threads 2] [--no-mediapipe] [--compare [--real-video DIR]] [--mpref DIR]", benchPoseDescription)
	complexities := fs.String("complexity", "lite,full", "pose models to measure, comma-separated: lite, full, heavy")
	nframes := fs.Int("frames", 90, "frames per run")
	input := fs.String("input", "", "take the frames from this video instead of the pan over messi5.jpg")
	threads := fs.Int("threads", pose.DefaultThreads(), "CPU threads for our pipeline (at most the CPUs)")
	handModel := fs.String("hand-model", "full", "hand landmark models, comma-separated: full (as Holistic), lite")
	noMP := fs.Bool("no-mediapipe", false, "skip MediaPipe's Holistic")
	compare := fs.Bool("compare", false, "compare landmarks with MediaPipe's instead of measuring speed")
	compareFrames := fs.Int("compare-frames", 200, "frames of vtest.avi for --compare")
	comparePan := fs.Int("compare-pan", 90, "frames of the pan over messi5.jpg for --compare (0: none)")
	realVideo := fs.String("real-video", "", "folder with the real signing videos SOUP.mp4 and FOOTBALL.mp4 for --compare (default: the shared data's real-video; \"none\" to leave them out)")
	harness := fs.String("mpref", "", "MediaPipe reference harness: the tools/mpref folder of a scope source tree (default: $"+mpref.DirEnv+", else found from where scope is built or run)")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *harness != "" {
		os.Setenv(mpref.DirEnv, *harness)
	}
	if *compare || !*noMP {
		// Before anything is measured: say at once where the harness was looked for.
		if _, err := mpref.Locate(); err != nil {
			if *compare {
				return fmt.Errorf("%w (or --mpref DIR)", err)
			}
			return fmt.Errorf("%w (or --mpref DIR; --no-mediapipe measures ours alone)", err)
		}
	}
	var cs []string
	for _, c := range strings.Split(*complexities, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cs = append(cs, c)
		}
	}
	if *compare {
		return benchPoseCompare(ctx, a, cs, *compareFrames, *comparePan, *threads, *realVideo)
	}
	if *nframes < 2 {
		return fmt.Errorf("%w: --frames %d: want at least 2", errUsage, *nframes)
	}
	frames, label, err := benchPoseFrames(*input, *nframes)
	if err != nil {
		return err
	}
	defer func() {
		for _, m := range frames {
			m.Close()
		}
	}()
	var dir string
	if !*noMP {
		if dir, err = os.MkdirTemp("", "scope-bench-pose-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		for i, m := range frames {
			if !gocv.IMWrite(filepath.Join(dir, fmt.Sprintf("f%05d.png", i+1)), m) {
				return fmt.Errorf("writing frame %d to %s", i+1, dir)
			}
		}
	}
	var hands []string
	for _, h := range strings.Split(*handModel, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hands = append(hands, h)
		}
	}
	fmt.Fprintf(a.stdout, "scope bench pose: %d frames 640x480 (%s), %d models at once\n", len(frames), label, *threads)
	fmt.Fprintf(a.stdout, "  machine: %s, %d CPUs visible, GOMAXPROCS %d, %s/%s, load average %s\n", cpuModel(), goruntime.NumCPU(), goruntime.GOMAXPROCS(0), goruntime.GOOS, goruntime.GOARCH, poseLoadAverage())
	// Load ONNX Runtime first, so that its version can be printed before the numbers.
	lib, err := assets.ONNXRuntimeLibrary()
	if err != nil {
		return err
	}
	if err := ortruntime.Init(lib); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "  onnx runtime %s\n", ortruntime.Version())
	for _, c := range cs {
		for _, h := range hands {
			if err := benchPoseOurs(ctx, a, frames, c, h, *threads); err != nil {
				return err
			}
		}
		if *noMP {
			continue
		}
		mc := map[string]int{"lite": 0, "full": 1, "heavy": 2}[c]
		a.log.Info("running MediaPipe's Holistic in Chromium", "complexity", c, "frames", len(frames))
		res, err := mpref.RunHolistic(ctx, mpref.HolisticRequest{Mode: mpref.Video, ModelComplexity: mc, FramesDir: dir})
		if err != nil {
			fmt.Fprintf(a.stdout, "  mediapipe %-5s not measured: %v\n", c, err)
			continue
		}
		var mpPresent [4]int
		for _, f := range res.Frames {
			for k, ok := range []bool{f.Pose != nil, f.Face != nil, f.LeftHand != nil, f.RightHand != nil} {
				if ok {
					mpPresent[k]++
				}
			}
		}
		fmt.Fprintf(a.stdout, "  mediapipe %-5s %6.1f frames/s after the first (median %.1f ms; found pose %d, face %d, left hand %d, right hand %d) [@mediapipe/holistic WASM SIMD, CPU inference, 1 thread]\n",
			c, res.Timing.FPSAfterFirst, poseMS(res.Timing.Median), mpPresent[0], mpPresent[1], mpPresent[2], mpPresent[3])
	}
	return nil
}

// processCPU is the CPU time (user + system) this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPoseOurs measures our pipeline on frames through Stream and prints its lines.
func benchPoseOurs(ctx context.Context, a *app, frames []gocv.Mat, c, hand string, threads int) error {
	p, err := pose.New(pose.Options{Complexity: c, HandModel: hand, Threads: threads})
	if err != nil {
		return err
	}
	// Warm up on a few frames (first runs allocate), then start the stream afresh.
	for i := 0; i < 5 && i < len(frames); i++ {
		if _, err := p.Process(ctx, frames[i], time.Duration(i+1)*33333*time.Microsecond); err != nil {
			p.Close()
			return err
		}
	}
	p.Reset()
	var st [6][]time.Duration
	var present [4]int
	detections := 0
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan capture.Frame)
	go func() {
		defer close(in)
		for i, m := range frames {
			x := capture.Frame{Seq: int64(i), PTS: time.Duration(i+1) * 33333 * time.Microsecond, Wall: time.Now(), Mat: m.Clone()}
			select {
			case in <- x:
			case <-sctx.Done():
				x.Close()
				return
			}
		}
	}()
	cpu0 := processCPU()
	start := time.Now()
	// keypoints.Run is the capture -> pose loop every command shares; it returns after the
	// stream has drained, so the models are idle before p.Close.
	firstErr := keypoints.Run(sctx, in, p, keypoints.Options{}, func(r keypoints.Result) error {
		if r.Err != nil {
			return r.Err
		}
		f := r.Frame
		t := f.Timing
		if t.Detect > 0 {
			detections++
			st[0] = append(st[0], t.Detect)
		}
		if f.Present[pose.PartPose] || t.Pose > 0 {
			st[1] = append(st[1], t.Pose)
		}
		if f.Present[pose.PartPose] {
			st[2] = append(st[2], t.LeftHand)
			st[3] = append(st[3], t.RightHand)
			st[4] = append(st[4], t.Face)
		}
		st[5] = append(st[5], t.Total)
		for k, ok := range f.Present {
			if ok {
				present[k]++
			}
		}
		return nil
	})
	cancel()
	keypoints.Discard(in)
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		p.Close()
		return firstErr
	}
	wall := time.Since(start)
	cpu := processCPU() - cpu0
	p.Close()
	fmt.Fprintf(a.stdout, "  scope %-5s hand %-4s %6.1f frames/s (%d frames in %.2f s; CPU %.1f ms/frame; detector ran on %d; found pose %d, face %d, left hand %d, right hand %d)\n",
		c, hand, float64(len(frames))/wall.Seconds(), len(frames), wall.Seconds(), poseMS(cpu)/float64(len(frames)), detections, present[0], present[1], present[2], present[3])
	names := []string{"detect", "pose", "left hand", "right hand", "face", "frame in->out"}
	var parts []string
	for k, d := range st {
		if len(d) == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.1f/%.1f", names[k], poseMS(posePctl(d, 0.5)), poseMS(posePctl(d, 0.95))))
	}
	fmt.Fprintf(a.stdout, "    latency ms p50/p95: %s\n", strings.Join(parts, ", "))
	return nil
}

func poseMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func posePctl(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// benchPoseFrames returns n frames of 640x480: a video's first frames, or a slow pan and
// zoom over messi5.jpg.
func benchPoseFrames(video string, n int) ([]gocv.Mat, string, error) {
	var out []gocv.Mat
	if video != "" {
		vc, err := gocv.VideoCaptureFile(video)
		if err != nil {
			return nil, "", fmt.Errorf("--input %s: %w", video, err)
		}
		defer vc.Close()
		m := gocv.NewMat()
		defer m.Close()
		for len(out) < n && vc.Read(&m) && !m.Empty() {
			r := gocv.NewMat()
			gocv.Resize(m, &r, image.Pt(640, 480), 0, 0, gocv.InterpolationArea)
			out = append(out, r)
		}
		if len(out) < 2 {
			for _, m := range out {
				m.Close()
			}
			return nil, "", fmt.Errorf("--input %s: fewer than 2 frames could be read", video)
		}
		return out, video + " scaled", nil
	}
	path := filepath.Join(opencvDocData, "messi5.jpg")
	out, err := refcheck.PanFrames(path, n, 640, 480)
	if err != nil {
		return nil, "", fmt.Errorf("%w (apt-get install opencv-doc, or give --input)", err)
	}
	return out, "made-up camera pan over the real photo messi5.jpg", nil
}

func benchPoseCompare(ctx context.Context, a *app, cs []string, frames, panFrames, threads int, realDir string) error {
	var imgs []string
	for _, n := range []string{"messi5.jpg", "basketball1.png", "basketball2.png"} {
		imgs = append(imgs, filepath.Join(opencvDocData, n))
	}
	video := filepath.Join(opencvDocData, "vtest.avi")
	var clips []refcheck.Clip
	var realNote string
	switch {
	case realDir == "none":
	case realDir != "":
		var err error
		if clips, err = refcheck.RealSigning(realDir); err != nil {
			return fmt.Errorf("--real-video: %w", err)
		}
	default:
		dir, err := defaultRealVideoDir()
		if err == nil {
			clips, err = refcheck.RealSigning(dir)
		}
		if err != nil {
			realNote = fmt.Sprintf("real signing videos left out: %v (set SCOPE_SHARED_DATA or --real-video)", err)
		}
	}
	for _, c := range cs {
		a.log.Info("comparing with MediaPipe's Holistic", "complexity", c, "images", len(imgs), "video frames", frames, "real signing videos", len(clips))
		res, err := refcheck.Run(ctx, refcheck.Options{Complexity: c, Images: imgs, Video: video, Frames: frames,
			Pan: imgs[0], PanFrames: panFrames, Clips: clips, Threads: threads, Log: a.stderr})
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "scope bench pose --compare, complexity %s (MediaPipe's @mediapipe/holistic at the same complexity, CPU inference)\n", c)
		fmt.Fprintf(a.stdout, "  images: messi5.jpg basketball1.png basketball2.png, each alone\n")
		for _, p := range res.Static {
			fmt.Fprintf(a.stdout, "    %s\n", p)
		}
		if frames > 0 {
			fmt.Fprintf(a.stdout, "  video: vtest.avi, first %d frames, tracking and smoothing on\n", len(res.VideoFrames))
			for _, p := range res.Video {
				fmt.Fprintf(a.stdout, "    %s\n", p)
			}
		}
		if panFrames > 0 {
			fmt.Fprintf(a.stdout, "  video: %d frames 640x480 of a made-up camera pan over messi5.jpg (real photo), tracking and smoothing on\n", panFrames)
			for _, p := range res.Pan {
				fmt.Fprintf(a.stdout, "    %s\n", p)
			}
		}
		for _, cr := range res.Clips {
			fmt.Fprintf(a.stdout, "  real signing: %s, %dx%d, all %d frames, tracking and smoothing on\n", cr.Name, cr.Width, cr.Height, len(cr.Ours))
			for _, p := range cr.Parts {
				fmt.Fprintf(a.stdout, "    %s\n", p)
			}
			benchPoseSteps(a, cr.Step)
		}
		if len(res.Clips) > 1 {
			pooled, err := refcheck.Pooled(res.Clips)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "  real signing: all %d videos together\n", len(res.Clips))
			for _, p := range pooled {
				fmt.Fprintf(a.stdout, "    %s\n", p)
			}
			steps, err := refcheck.PooledSteps(res.Clips)
			if err != nil {
				return err
			}
			benchPoseSteps(a, steps)
		}
		if realNote != "" {
			fmt.Fprintf(a.stdout, "  %s\n", realNote)
		}
	}
	return nil
}

// benchPoseSteps prints the hand stage alone (refcheck.HandSteps) for the hands.
func benchPoseSteps(a *app, parts [4]refcheck.Part) {
	fmt.Fprintf(a.stdout, "    hand stage alone, given MediaPipe's pose and its hands of the frame before:\n")
	for _, p := range parts[pose.PartLeftHand:] {
		fmt.Fprintf(a.stdout, "      %s\n", p)
	}
}

// defaultRealVideoDir is the shared data's real-video folder: under $SCOPE_SHARED_DATA,
// else ../shared/data beside the source tree that holds scope or the working directory.
func defaultRealVideoDir() (string, error) {
	if d := os.Getenv("SCOPE_SHARED_DATA"); d != "" {
		return filepath.Join(d, "real-video"), nil
	}
	return assets.Find(filepath.Join("..", "shared", "data", "real-video"))
}

// poseLoadAverage is /proc/loadavg's 1-minute figure: on shared machines the numbers above
// depend on it.
func poseLoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
