// Package keypoints is SCOPE's one capture -> pose loop: it takes the frames of a
// capture.Source through the Holistic pipeline (pose.Pipeline.Stream, which overlaps
// consecutive frames on two cores) and hands each frame's keypoints, in order, to the
// caller. `scope run`, `scope serve`, `scope pose`, `scope dataset import` and
// `scope bench pose` all use it, so that they stop, drain and release frames the same
// way.
//
// The rule it keeps: Run returns only after the pose stream has drained, so the caller
// may close the pose pipeline (and its ONNX Runtime sessions) as soon as Run returns,
// and no image is left unreleased.
package keypoints

import (
	"context"
	"time"

	"gocv.io/x/gocv"

	"scope/capture"
	"scope/models/pose"
)

// Options tune Run.
type Options struct {
	// KeepImage hands each frame's image to the callback (Result.Image), for drawing an
	// overlay; the callback must Close it. Otherwise images are released by the loop.
	KeepImage bool
}

// Result is one frame's keypoints, in capture order.
type Result struct {
	Seq   int64
	Frame pose.Frame // valid when Err is nil
	Err   error      // this frame failed (for example pose.ErrEmptyImage); the stream goes on
	Wall  time.Time  // when capture read the frame
	Image gocv.Mat   // with Options.KeepImage: the frame (the callback closes it)
}

// Run feeds frames through p and calls fn with each result in order. It returns nil
// when frames closes (the source ended), ctx's error when ctx ends, or fn's error when
// fn returns one; in every case only after p's stream has drained. It does not drain
// frames itself: cancel the source's context, then Discard the channel.
func Run(ctx context.Context, frames <-chan capture.Frame, p *pose.Pipeline, opt Options, fn func(Result) error) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type meta struct {
		wall time.Time
		img  gocv.Mat
	}
	// Stream keeps its inputs in order; metas pairs each result with what the loop kept
	// of its frame. Its buffer covers the frames Stream can hold at once.
	metas := make(chan meta, 8)
	in := make(chan pose.Input)
	go func() {
		defer close(in)
		defer close(metas)
		for {
			var f capture.Frame
			var ok bool
			select {
			case <-sctx.Done():
				return
			case f, ok = <-frames:
				if !ok {
					return
				}
			}
			m := meta{wall: f.Wall}
			x := pose.Input{Seq: f.Seq, PTS: f.PTS, Mat: f.Mat}
			if opt.KeepImage {
				m.img = f.Mat
				x.Mat = f.Mat.Clone()
			}
			select {
			case metas <- m:
			case <-sctx.Done():
				m.img.Close()
				x.Mat.Close()
				return
			}
			select {
			case in <- x:
			case <-sctx.Done():
				x.Mat.Close()
				return
			}
		}
	}()
	results := p.Stream(sctx, in)
	var err error
	for r := range results {
		m := <-metas
		if err != nil || sctx.Err() != nil {
			m.img.Close()
			continue // draining: after an error, or once ctx ended
		}
		res := Result{Seq: r.Seq, Frame: r.Frame, Err: r.Err, Wall: m.wall, Image: m.img}
		if ferr := fn(res); ferr != nil {
			err = ferr
			cancel()
		}
	}
	// Stream has drained; release what the feeder kept of frames it never ran.
	for m := range metas {
		m.img.Close()
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// Discard releases every frame left in a capture channel until it closes. Call it
// after cancelling the source's context.
func Discard(frames <-chan capture.Frame) {
	for f := range frames {
		f.Close()
	}
}
