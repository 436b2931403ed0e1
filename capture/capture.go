// Package capture delivers frames from a camera, a video file, a network stream, an
// image sequence or a single image, through OpenCV (gocv).
//
// A Source is opened with Open, started with Start, which returns a channel of Frames, and
// released with Close. Each Frame owns its gocv.Mat: whoever takes a Frame from the
// channel must Close it. When the consumer falls behind, the oldest waiting frame is
// dropped (latency beats completeness for live interpretation) and counted in Stats.
// Cameras and streams that fail are reopened after Options.Reconnect; files end at their
// last frame unless Options.Loop is set.
package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // header sizes (headerSize)
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"
)

// Kind is what a source spec names.
type Kind int

const (
	Camera   Kind = iota // camera index: "0"
	Device               // device path: "/dev/video0"
	File                 // video file
	Stream               // rtsp://, http(s)://, or a GStreamer pipeline
	Sequence             // printf pattern "frames/%04d.png", or a folder of images
	Image                // one still image
)

func (k Kind) String() string {
	return [...]string{"camera", "device", "file", "stream", "image sequence", "image"}[k]
}

// Options configure a Source.
type Options struct {
	Width, Height int           // requested camera resolution; 0 keeps the source's
	FPS           float64       // camera rate request; for files, pace to this rate (0: unpaced, or the file's rate when Realtime)
	Realtime      bool          // pace files at their own frame rate, as a camera would deliver them
	Buffer        int           // frames waiting for the consumer before the oldest is dropped (default 4)
	Loop          bool          // restart files at the end
	Reconnect     time.Duration // wait before reopening a failed camera or stream; 0 gives up
	MaxFrames     int           // stop after this many frames; 0 means no limit
}

// Frame is one captured image.
type Frame struct {
	Seq  int64         // 0, 1, 2, ... in capture order, counting dropped frames too
	PTS  time.Duration // presentation time: the file's timestamp, or time since start for live sources
	Wall time.Time     // when it was read
	Mat  gocv.Mat      // BGR image; the receiver must Close it
}

// Close releases the frame's image.
func (f *Frame) Close() error { return f.Mat.Close() }

// Stats counts a source's frames.
type Stats struct {
	Read, Dropped, Reconnects int64
}

// Source is an open frame source.
type Source struct {
	spec string
	kind Kind
	opt  Options

	mu     sync.Mutex
	vc     *gocv.VideoCapture
	images []string // Sequence of files in a folder, or the one Image

	fps        float64
	width      int
	height     int
	frameCount int

	read, dropped, reconnects atomic.Int64
	started                   atomic.Bool
	done                      chan struct{}
	err                       error // why the frame channel closed; set before done closes
}

// ErrNoFrames is returned when a source opens but yields no frame.
var ErrNoFrames = errors.New("source yields no frames")

// ErrTruncated is returned (by Err) when a file ends well before the frame count its
// header announces: the frames before the damage were delivered, but the user must know
// the rest is missing.
var ErrTruncated = errors.New("video ends before its header says it does")

// ErrTooLarge is returned for images and frames larger than MaxSide on a side.
var ErrTooLarge = errors.New("frame too large")

// MaxSide bounds the width and height of every frame (config.MaxImageSide): a
// 16000x12000 image takes 576 MB as BGR, and a kiosk has no use for more than 8K.
const MaxSide = 8192

// MinReconnect is the shortest wait between attempts to reopen a camera or stream
// (config.MinReconnect): a nanosecond busy-loops and floods the log.
const MinReconnect = 100 * time.Millisecond

func tooLarge(spec string, w, h int) error {
	return fmt.Errorf("capture: %s: %w: %dx%d, at most %d on a side (scale it down first, e.g. ffmpeg -i in -vf scale=1920:-2 out.mp4)", spec, ErrTooLarge, w, h, MaxSide)
}

// Classify tells what kind of source spec names.
func Classify(spec string) Kind {
	switch {
	case spec == "":
		return File
	case isInt(spec):
		return Camera
	case strings.HasPrefix(spec, "/dev/video"):
		return Device
	case strings.Contains(spec, "://") || strings.Contains(spec, " ! "):
		return Stream
	case strings.Contains(spec, "%"):
		return Sequence
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		return Sequence
	}
	switch strings.ToLower(filepath.Ext(spec)) {
	case ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff":
		return Image
	}
	return File
}

func isInt(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// Open opens the source named by spec (see Kind) without reading from it yet.
func Open(spec string, opt Options) (*Source, error) {
	if opt.Buffer <= 0 {
		opt.Buffer = 4
	}
	if opt.Reconnect > 0 && opt.Reconnect < MinReconnect {
		opt.Reconnect = MinReconnect
	}
	s := &Source{spec: spec, kind: Classify(spec), opt: opt, done: make(chan struct{})}
	if spec == "" {
		return nil, errors.New("capture: no source given: set capture.source or --input (a camera index, /dev/videoN, a video file, an rtsp:// URL or an image)")
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Source) open() error {
	switch s.kind {
	case File, Image:
		if _, err := os.Stat(s.spec); err != nil {
			return fmt.Errorf("capture: %s: %w", s.spec, err)
		}
	case Device:
		if _, err := os.Stat(s.spec); err != nil {
			return fmt.Errorf("capture: camera %s: %w (is it plugged in, and may this user read it? see `ls -l /dev/video*`)", s.spec, err)
		}
	}
	if s.kind == Image {
		// Read the size from the header before decoding anything large.
		if w, h, ok := headerSize(s.spec); ok && (w > MaxSide || h > MaxSide) {
			return tooLarge(s.spec, w, h)
		}
		m := gocv.IMRead(s.spec, gocv.IMReadColor)
		if m.Empty() {
			m.Close()
			return fmt.Errorf("capture: %s is not an image OpenCV can decode", s.spec)
		}
		s.width, s.height = m.Cols(), m.Rows()
		m.Close()
		if s.width > MaxSide || s.height > MaxSide {
			return tooLarge(s.spec, s.width, s.height)
		}
		s.images = []string{s.spec}
		s.frameCount = 1
		return nil
	}
	if s.kind == Sequence && !strings.Contains(s.spec, "%") {
		imgs, err := listImages(s.spec)
		if err != nil {
			return err
		}
		s.images = imgs
		s.frameCount = len(imgs)
		return nil
	}
	vc, err := s.openCapture()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.vc = vc
	s.mu.Unlock()
	s.fps = vc.Get(gocv.VideoCaptureFPS)
	s.width = int(vc.Get(gocv.VideoCaptureFrameWidth))
	s.height = int(vc.Get(gocv.VideoCaptureFrameHeight))
	s.frameCount = int(vc.Get(gocv.VideoCaptureFrameCount))
	if s.width > MaxSide || s.height > MaxSide {
		s.Close()
		return tooLarge(s.spec, s.width, s.height)
	}
	return nil
}

// headerSize reads an image's size from its header (the formats Go's image package
// knows: JPEG, PNG, GIF); ok is false for other formats, which OpenCV then decodes.
func headerSize(path string) (w, h int, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	c, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0, false
	}
	return c.Width, c.Height, true
}

func (s *Source) openCapture() (*gocv.VideoCapture, error) {
	var (
		vc  *gocv.VideoCapture
		err error
	)
	switch s.kind {
	case Camera:
		n, _ := strconv.Atoi(s.spec)
		vc, err = gocv.VideoCaptureDevice(n)
	case Stream:
		if strings.Contains(s.spec, " ! ") {
			vc, err = gocv.VideoCaptureFileWithAPI(s.spec, gocv.VideoCaptureGstreamer)
		} else {
			vc, err = gocv.VideoCaptureFile(s.spec)
		}
	case Sequence:
		vc, err = gocv.VideoCaptureFileWithAPI(s.spec, gocv.VideoCaptureImages)
	default:
		vc, err = gocv.VideoCaptureFile(s.spec)
	}
	if err == nil && !vc.IsOpened() {
		vc.Close()
		err = errors.New("OpenCV could not open it")
	}
	if err != nil {
		hint := ""
		switch s.kind {
		case Camera:
			hint = " (no camera at that index? list them with `ls /dev/video*`)"
		case File:
			hint = " (is it a video file OpenCV's FFmpeg backend can decode?)"
		case Stream:
			hint = " (is the stream reachable, and the URL or pipeline right?)"
		}
		return nil, fmt.Errorf("capture: opening %s %s: %v%s", s.kind, s.spec, err, hint)
	}
	if s.kind == Camera || s.kind == Device {
		if s.opt.Width > 0 && s.opt.Height > 0 {
			vc.Set(gocv.VideoCaptureFrameWidth, float64(s.opt.Width))
			vc.Set(gocv.VideoCaptureFrameHeight, float64(s.opt.Height))
		}
		if s.opt.FPS > 0 {
			vc.Set(gocv.VideoCaptureFPS, s.opt.FPS)
		}
	}
	return vc, nil
}

func listImages(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	var out []string
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff":
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("capture: folder %s holds no images (.jpg, .png, ...)", dir)
	}
	return out, nil
}

// Kind reports what the source is.
func (s *Source) Kind() Kind { return s.kind }

// Spec is the source as given.
func (s *Source) Spec() string { return s.spec }

// Size is the frame size the source reports (0x0 when unknown before the first frame).
func (s *Source) Size() (w, h int) { return s.width, s.height }

// FPS is the source's own frame rate, 0 when unknown.
func (s *Source) FPS() float64 { return s.fps }

// FrameCount is the number of frames in a file or sequence; 0 for live sources or
// when the container does not say.
func (s *Source) FrameCount() int { return s.frameCount }

// Stats returns the counters so far.
func (s *Source) Stats() Stats {
	return Stats{Read: s.read.Load(), Dropped: s.dropped.Load(), Reconnects: s.reconnects.Load()}
}

// Start reads frames in a goroutine until the source ends, ctx is cancelled or
// MaxFrames is reached, then closes the channel. Err reports why it ended. Start may be
// called once.
func (s *Source) Start(ctx context.Context) (<-chan Frame, error) {
	if !s.started.CompareAndSwap(false, true) {
		return nil, errors.New("capture: Start called twice")
	}
	ch := make(chan Frame, s.opt.Buffer)
	go s.loop(ctx, ch)
	return ch, nil
}

// Err is the reason the frame channel closed: nil at the end of a file or when the
// context was cancelled, else what went wrong. Valid after the channel is closed.
func (s *Source) Err() error {
	<-s.done
	return s.err
}

func (s *Source) loop(ctx context.Context, ch chan Frame) {
	defer close(s.done)
	defer close(ch)
	start := time.Now()
	var seq int64
	pace := s.opt.FPS
	if pace == 0 && s.opt.Realtime {
		pace = s.fps
	}
	isLive := s.kind == Camera || s.kind == Device || s.kind == Stream
	for {
		if ctx.Err() != nil {
			return
		}
		if s.opt.MaxFrames > 0 && seq >= int64(s.opt.MaxFrames) {
			return
		}
		m, pts, ok, err := s.next(seq, start)
		if err != nil {
			s.err = err
			return
		}
		if !ok {
			if isLive && s.opt.Reconnect > 0 {
				if !s.reconnect(ctx) {
					return
				}
				continue
			}
			if s.opt.Loop && !isLive && seq > 0 {
				if err := s.rewind(); err != nil {
					s.err = err
					return
				}
				continue
			}
			if seq == 0 {
				s.err = fmt.Errorf("capture: %s: %w", s.spec, ErrNoFrames)
			} else if s.kind == File && s.frameCount > 0 && float64(seq) < 0.9*float64(s.frameCount) {
				s.err = fmt.Errorf("capture: %s: %w: it ended after %d of the %d frames it announces (truncated or damaged); the frames before were used",
					s.spec, ErrTruncated, seq, s.frameCount)
			}
			return
		}
		if pace > 0 && !isLive {
			due := start.Add(time.Duration(float64(seq) / pace * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					m.Close()
					return
				case <-time.After(d):
				}
			}
		}
		f := Frame{Seq: seq, PTS: pts, Wall: time.Now(), Mat: m}
		seq++
		s.read.Add(1)
		s.push(ctx, ch, f, isLive || pace > 0)
	}
}

// push hands f to the consumer. Live (and paced) sources drop the oldest waiting frame
// when the buffer is full; files read as fast as the consumer goes wait instead, so an
// offline job sees every frame.
func (s *Source) push(ctx context.Context, ch chan Frame, f Frame, dropOldest bool) {
	if !dropOldest {
		select {
		case ch <- f:
		case <-ctx.Done():
			f.Close()
		}
		return
	}
	for {
		select {
		case ch <- f:
			return
		default:
		}
		select {
		case old := <-ch:
			old.Close()
			s.dropped.Add(1)
		default:
		}
	}
}

// next reads one frame; ok is false at the end of the source or on a read failure.
func (s *Source) next(seq int64, start time.Time) (gocv.Mat, time.Duration, bool, error) {
	if s.images != nil {
		i := int(seq) % len(s.images)
		if !s.opt.Loop && int(seq) >= len(s.images) {
			return gocv.Mat{}, 0, false, nil
		}
		if w, h, ok := headerSize(s.images[i]); ok && (w > MaxSide || h > MaxSide) {
			return gocv.Mat{}, 0, false, tooLarge(s.images[i], w, h)
		}
		m := gocv.IMRead(s.images[i], gocv.IMReadColor)
		if m.Empty() {
			m.Close()
			return gocv.Mat{}, 0, false, fmt.Errorf("capture: %s is not an image OpenCV can decode", s.images[i])
		}
		pts := time.Duration(seq) * time.Second / 30
		if s.opt.FPS > 0 {
			pts = time.Duration(float64(seq) / s.opt.FPS * float64(time.Second))
		}
		return m, pts, true, nil
	}
	s.mu.Lock()
	vc := s.vc
	s.mu.Unlock()
	if vc == nil {
		return gocv.Mat{}, 0, false, nil
	}
	m := gocv.NewMat()
	if !vc.Read(&m) || m.Empty() {
		m.Close()
		return gocv.Mat{}, 0, false, nil
	}
	var pts time.Duration
	switch s.kind {
	case File, Sequence:
		pts = time.Duration(vc.Get(gocv.VideoCapturePosMsec) * float64(time.Millisecond))
		if pts == 0 && seq > 0 && s.fps > 0 {
			pts = time.Duration(float64(seq) / s.fps * float64(time.Second))
		}
	default:
		pts = time.Since(start)
	}
	if s.width == 0 {
		s.width, s.height = m.Cols(), m.Rows()
	}
	if m.Cols() > MaxSide || m.Rows() > MaxSide {
		w, h := m.Cols(), m.Rows()
		m.Close()
		return gocv.Mat{}, 0, false, tooLarge(s.spec, w, h)
	}
	return m, pts, true, nil
}

func (s *Source) rewind() error {
	if s.images != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vc != nil {
		s.vc.Close()
		s.vc = nil
	}
	vc, err := s.openCapture()
	if err != nil {
		return err
	}
	s.vc = vc
	return nil
}

func (s *Source) reconnect(ctx context.Context) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(s.opt.Reconnect):
		}
		s.reconnects.Add(1)
		if err := s.rewind(); err == nil {
			return true
		}
	}
}

// Close releases the source. Call it after the frame channel has closed or the
// context given to Start was cancelled.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vc != nil {
		err := s.vc.Close()
		s.vc = nil
		return err
	}
	return nil
}
