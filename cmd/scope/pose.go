package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"scope/capture"
	"scope/daemon/keypoints"
	"scope/models/pose"
	"scope/models/poseformat"
)

const poseDescription = `Find the signer's keypoints (MediaPipe Holistic's 543 points: pose, face, both hands)
in an image, a video file, a camera or a stream, and write them as a .pose file. Frames
without a person are kept, with every part marked absent. --overlay also writes a video
with the landmarks drawn on it, for a person to check.`

func cmdPose(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "pose", "--input <image|video|camera|stream> --out x.pose [--overlay out.mp4] [--complexity lite|full|heavy]", poseDescription)
	input := fs.String("input", "", "image, video file, image folder or printf pattern, camera index, device or stream URL")
	out := fs.String("out", "", "the .pose file to write")
	overlay := fs.String("overlay", "", "also write this video (.mp4 or .avi) with the landmarks drawn")
	complexity := fs.String("complexity", "lite", "pose landmark model: lite, full or heavy (MediaPipe's modelComplexity 0, 1, 2)")
	handModel := fs.String("hand-model", "full", "hand landmark model: full (as Holistic) or lite")
	threads := fs.Int("threads", pose.DefaultThreads(), "CPU threads for the models (at most the CPUs)")
	maxFrames := fs.Int("max-frames", 0, "stop after this many frames (0: all; needed for cameras unless interrupted)")
	smoothing := fs.String("smoothing", "one-euro", "pose smoothing over time: one-euro or none")
	static := fs.Bool("static", false, "treat every frame alone (no tracking, no smoothing); on by default for a single image")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *input == "" || *out == "" {
		return fmt.Errorf("%w: --input and --out are required", errUsage)
	}
	if !strings.HasSuffix(*out, ".pose") {
		return fmt.Errorf("%w: --out %s: the file name must end in .pose", errUsage, *out)
	}
	p, err := pose.New(pose.Options{
		Complexity: *complexity, HandModel: *handModel, Threads: *threads,
		Static: *static || capture.Classify(*input) == capture.Image, Smoothing: pose.Smoother(*smoothing),
	})
	if err != nil {
		return err
	}
	defer p.Close()
	src, err := capture.Open(*input, capture.Options{MaxFrames: *maxFrames})
	if err != nil {
		return err
	}
	defer src.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	frames, err := src.Start(sctx)
	if err != nil {
		return err
	}
	defer keypoints.Discard(frames)
	defer cancel() // runs before Discard: the source stops, then its frames are released
	fps := src.FPS()
	if fps <= 0 {
		fps = 30
	}
	var (
		writer        *gocv.VideoWriter
		points        [][pose.NumPoints][3]float32
		conf          [][pose.NumPoints]float32
		world         [][pose.NumPosePoints][3]float32
		width, height int
		found         [4]int
		lastLog       = time.Now()
	)
	defer func() {
		if writer != nil {
			writer.Close()
		}
	}()
	started := time.Now()
	// keypoints.Run returns after the pose stream has drained, so p.Close (deferred
	// above) never closes a model that is still running.
	err = keypoints.Run(sctx, frames, p, keypoints.Options{KeepImage: *overlay != ""}, func(r keypoints.Result) error {
		shown := r.Image
		defer shown.Close()
		f, err := r.Frame, r.Err
		if err != nil {
			if errors.Is(err, pose.ErrEmptyImage) {
				a.log.Warn("skipping empty frame", "seq", r.Seq)
				return nil
			}
			return fmt.Errorf("%s frame %d: %w", *input, r.Seq, err)
		}
		if width == 0 {
			width, height = f.Width, f.Height
		}
		if f.Width != width || f.Height != height {
			return fmt.Errorf("%s frame %d is %dx%d, earlier frames %dx%d: a .pose file holds one size", *input, r.Seq, f.Width, f.Height, width, height)
		}
		points = append(points, f.Points)
		conf = append(conf, f.Visibility)
		world = append(world, f.World)
		for i, ok := range f.Present {
			if ok {
				found[i]++
			}
		}
		if *overlay != "" {
			if writer == nil {
				writer, err = gocv.VideoWriterFile(*overlay, fourcc(*overlay), fps, width, height, true)
				if err != nil {
					return fmt.Errorf("--overlay %s: %w", *overlay, err)
				}
			}
			pose.Draw(&shown, f)
			if err := writer.Write(shown); err != nil {
				return fmt.Errorf("--overlay %s: %w", *overlay, err)
			}
		}
		if time.Since(lastLog) > 2*time.Second {
			a.log.Info("pose", "frames", len(points), "fps", fmt.Sprintf("%.1f", float64(len(points))/time.Since(started).Seconds()))
			lastLog = time.Now()
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	// A truncated video still gives the keypoints of the frames before the damage:
	// they are written, and the error follows.
	srcErr := src.Err()
	if srcErr != nil && !(errors.Is(srcErr, capture.ErrTruncated) && len(points) > 0) {
		return srcErr
	}
	if ctx.Err() != nil && len(points) == 0 {
		return ctx.Err()
	}
	if len(points) == 0 {
		return fmt.Errorf("%s: no frames could be read", *input)
	}
	file, err := poseformat.NewHolistic(width, height, float32(fps), points, conf, world)
	if err != nil {
		return err
	}
	if err := file.WriteFile(*out); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	n := len(points)
	fmt.Fprintf(a.stdout, "%s: %d frames %dx%d, pose %d, face %d, left hand %d, right hand %d; %.1f frames/s (%s)\n",
		*out, n, width, height, found[0], found[1], found[2], found[3], float64(n)/time.Since(started).Seconds(), *complexity)
	if *overlay != "" {
		fmt.Fprintf(a.stdout, "overlay: %s\n", *overlay)
	}
	if srcErr != nil {
		return fmt.Errorf("%s holds the %d frames before the damage: %w", *out, n, srcErr)
	}
	return nil
}

func fourcc(path string) string {
	if strings.EqualFold(filepath.Ext(path), ".avi") {
		return "MJPG"
	}
	return "mp4v"
}
