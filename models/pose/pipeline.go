package pose

import (
	"context"
	"errors"
	"fmt"
	"math"
	goruntime "runtime"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"scope/internal/assets"
	"scope/models/convert"
	"scope/models/poseformat"
	"scope/models/runtime"
)

// Layout of Frame's 543 points (MediaPipe Holistic's, as poseformat writes it).
const (
	NumPoints       = poseformat.NumPoints
	NumPosePoints   = poseformat.NumPosePoints
	NumFacePoints   = poseformat.NumFacePoints
	NumHandPoints   = poseformat.NumHandPoints
	PoseOffset      = poseformat.PoseOffset
	FaceOffset      = poseformat.FaceOffset
	LeftHandOffset  = poseformat.LeftHandOffset
	RightHandOffset = poseformat.RightHandOffset
)

// Parts, indexes of Frame.Present.
const (
	PartPose      = poseformat.PartPose
	PartFace      = poseformat.PartFace
	PartLeftHand  = poseformat.PartLeftHand
	PartRightHand = poseformat.PartRightHand
)

// Scale sources recorded in Frame.ScaleFrom.
const (
	ScaleEyes      = "eyes"
	ScaleShoulders = "shoulders"
)

// Frame is one video frame's keypoints in MediaPipe Holistic's 543-point layout.
type Frame struct {
	PTS           time.Duration
	Width, Height int
	// Points: x and y in pixels, z as MediaPipe gives it (depth on the scale of the
	// image width, relative to the hips for pose, the wrist for hands, the face centre for
	// the face). Points of absent parts are 0.
	Points [NumPoints][3]float32
	// Visibility: MediaPipe's visibility for pose points, 1 for face and hand points that
	// were found, 0 for absent ones.
	Visibility [NumPoints]float32
	Present    [4]bool // PartPose, PartFace, PartLeftHand, PartRightHand
	// World: the pose in metres around the hips (MediaPipe's world landmarks).
	World [NumPosePoints][3]float32
	// Scale is the person's size in the image: the distance between the eye centres, or
	// the shoulder width without a face (pixels; 0 when the pose is absent). The
	// recogniser normalises its own features (by the shoulders for the body, by each
	// hand's size for its shape), so no normalised copy of the points is kept.
	Scale     float32
	ScaleFrom string // ScaleEyes, ScaleShoulders, or "" when the pose is absent
	// Handedness is the hand model's own handedness output (the score of MediaPipe's
	// "Left" label) for the left and right hand slots, 0 when absent. Holistic does not use
	// it: the slots come from the pose, which is more reliable (on messi5.jpg the model
	// gives 0.65 for the person's left hand and 0.27 for the right, on hands clasping a
	// ball it is near 0 or 1 for both).
	Handedness [2]float32
	Timing     Timing
}

// Timing is where one frame's time went. Hands and face run at the same time when the
// pipeline has more than one thread, so their times overlap.
type Timing struct {
	Detect    time.Duration // pose detection; 0 on frames that tracked the previous pose
	Pose      time.Duration // pose landmarks and smoothing
	LeftHand  time.Duration // re-crop and hand landmarks
	RightHand time.Duration
	Face      time.Duration // face detection in the pose's face box and face landmarks
	Total     time.Duration
}

// Options configure a Pipeline. The zero value is MediaPipe Holistic's defaults with the
// lite pose model and two threads.
type Options struct {
	// Complexity names the pose landmark model: "lite" (default), "full" or "heavy", as
	// MediaPipe's modelComplexity 0, 1, 2.
	Complexity string
	// HandModel is "full" (default, as Holistic) or "lite".
	HandModel string
	// Threads is how many models may run at once (default DefaultThreads; at most the
	// CPUs, or 3; each model runs on one thread): with more than one, the two hands and the
	// face run side by side, and Stream overlaps consecutive frames.
	Threads int
	// Static treats every frame alone (images): detection on each, no tracking, no
	// smoothing.
	Static bool
	// Smoothing filters the pose over time: SmoothOneEuro (default, MediaPipe's settings)
	// or SmoothNone. As in MediaPipe, the two hidden points that place the next frame's
	// crop are smoothed either way.
	Smoothing Smoother
	// HandFaceSmoothing filters hand and face landmarks: SmoothNone (default: Holistic does
	// not smooth them), SmoothVelocity (MediaPipe's hand and face mesh solutions' filter) or
	// SmoothOneEuro.
	HandFaceSmoothing Smoother
	// MinDetection is the pose detector's score threshold, MinTracking the pose landmark
	// model's presence threshold (MediaPipe's min_detection_confidence and
	// min_tracking_confidence, both 0.5 by default).
	MinDetection, MinTracking float64
	// ModelDir holds the converted .onnx models (default $SCOPE_CACHE/onnx); missing ones
	// are converted from MediaPipe's .tflite files in the cache.
	ModelDir string
	// ORTLibrary is libonnxruntime's path (default: the cached one).
	ORTLibrary string
}

// DefaultThreads is Options.Threads' default: 2 (one per core), 1 on a one-CPU machine.
func DefaultThreads() int { return min(2, goruntime.NumCPU()) }

func (o *Options) setDefaults() error {
	if o.Complexity == "" {
		o.Complexity = "lite"
	}
	switch o.Complexity {
	case "lite", "full", "heavy":
	default:
		return fmt.Errorf("pose complexity %q: want lite, full or heavy", o.Complexity)
	}
	if o.HandModel == "" {
		o.HandModel = "full"
	}
	if o.HandModel != "full" && o.HandModel != "lite" {
		return fmt.Errorf("hand model %q: want full or lite", o.HandModel)
	}
	if o.Threads <= 0 {
		o.Threads = DefaultThreads()
	}
	// The stages run at most 3 models at once (pose and face, then both hands), so up to
	// 3 costs nothing even on fewer CPUs; more than that and the CPUs is a mistake.
	if n := goruntime.NumCPU(); o.Threads > max(n, 3) {
		return fmt.Errorf("pose: %d threads (models at once): this machine has %d CPUs; use 1 to %d", o.Threads, n, max(n, 3))
	}
	if o.Smoothing == "" {
		o.Smoothing = SmoothOneEuro
	}
	if o.HandFaceSmoothing == "" {
		o.HandFaceSmoothing = SmoothNone
	}
	for _, s := range []Smoother{o.Smoothing, o.HandFaceSmoothing} {
		if s != SmoothNone && s != SmoothOneEuro && s != SmoothVelocity {
			return fmt.Errorf("smoothing %q: want none, one-euro or velocity", s)
		}
	}
	if o.MinDetection == 0 {
		o.MinDetection = 0.5
	}
	if o.MinTracking == 0 {
		o.MinTracking = 0.5
	}
	if o.MinDetection < 0 || o.MinDetection >= 1 || o.MinTracking < 0 || o.MinTracking >= 1 {
		return fmt.Errorf("confidence thresholds %g, %g: want values in [0, 1)", o.MinDetection, o.MinTracking)
	}
	if o.ModelDir == "" {
		o.ModelDir = convert.DefaultDir(assets.CacheDir())
	}
	return nil
}

// ErrEmptyImage is returned by Process for an empty or zero-size frame.
var ErrEmptyImage = errors.New("empty image (zero size or no pixels)")

// Pipeline runs MediaPipe Holistic's graph on the frames of one stream, in order: each
// frame's pose places the next frame's crop. It is not safe for concurrent use: call
// Process from one goroutine, or hand the frames to Stream; Close only after Process has
// returned or Stream's output has closed.
type Pipeline struct {
	opt Options

	detector, poseLM *model
	recrop, handLM   [2]*model
	faceDet, faceLM  *model
	cloned           []*model

	detCrop, poseCrop        *cropper
	recropCrop, handCrop     [2]*cropper
	faceDetCrop, faceCrop    *cropper
	poseDecoder, faceDecoder decoder
	dets                     []detection

	// Tracking state.
	poseROI     *Rect
	visFilter   []lowPass
	auxVis      []lowPass
	poseFilter  landmarkFilter
	auxFilter   landmarkFilter
	worldFilter landmarkFilter
	hands       [2]handState
	face        faceState
}

type handState struct {
	prev   []point // previous frame's landmarks, nil when absent
	filter landmarkFilter
}

type faceState struct {
	prev   []point
	filter landmarkFilter
}

// ModelNames lists the models (file names without .onnx) that New opens for a pose
// complexity and hand model, so that a model bundle can carry exactly those.
func ModelNames(complexity, handModel string) []string {
	return []string{"pose_detection", "pose_landmark_" + complexity, "hand_recrop", "hand_landmark_" + handModel,
		"face_detection_short_range", "face_landmark"}
}

// New loads the models. Close releases them.
func New(opt Options) (*Pipeline, error) {
	if err := opt.setDefaults(); err != nil {
		return nil, err
	}
	// An empty ORTLibrary keeps the library already loaded (from the configuration).
	if err := runtime.Init(opt.ORTLibrary); err != nil {
		return nil, err
	}
	p := &Pipeline{opt: opt}
	var err error
	open := func(name string, threads int) *model {
		if err != nil {
			return nil
		}
		var m *model
		m, err = openModel(opt.ModelDir, name, threads)
		return m
	}
	// One ONNX Runtime thread per session: its worker threads spin while waiting, which
	// costs more than it gains on two shared cores; the pipeline runs models side by side
	// instead.
	names := ModelNames(opt.Complexity, opt.HandModel)
	p.detector = open(names[0], 1)
	p.poseLM = open(names[1], 1)
	p.recrop[0] = open(names[2], 1)
	p.handLM[0] = open(names[3], 1)
	p.faceDet = open(names[4], 1)
	p.faceLM = open(names[5], 1)
	if err == nil {
		p.recrop[1], err = p.recrop[0].clone()
		if err == nil {
			p.cloned = append(p.cloned, p.recrop[1])
			p.handLM[1], err = p.handLM[0].clone()
			if err == nil {
				p.cloned = append(p.cloned, p.handLM[1])
			}
		}
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	p.detCrop = newCropper(224, 224, -1, 1, true, true)
	p.poseCrop = newCropper(256, 256, 0, 1, true, false)
	for i := range p.handCrop {
		p.recropCrop[i] = newCropper(256, 256, 0, 1, true, false)
		p.handCrop[i] = newCropper(224, 224, 0, 1, true, false)
	}
	p.faceDetCrop = newCropper(128, 128, -1, 1, true, true)
	p.faceCrop = newCropper(192, 192, 0, 1, false, false)
	p.poseDecoder = decoder{
		anchors: anchorSpec{inputW: 224, inputH: 224, strides: []int{8, 16, 32, 32, 32}}.anchors(),
		coords:  12, keypoints: 4, scale: 224, minScore: opt.MinDetection,
	}
	p.faceDecoder = decoder{
		anchors: anchorSpec{inputW: 128, inputH: 128, strides: []int{8, 16, 16, 16}}.anchors(),
		coords:  16, keypoints: 6, scale: 128, minScore: 0.5,
	}
	if n := len(p.poseDecoder.anchors); n*12 != len(p.detector.output(0)) {
		p.Close()
		return nil, fmt.Errorf("pose_detection: %d anchors but %d box values", n, len(p.detector.output(0)))
	}
	p.poseFilter = landmarkFilter{kind: opt.Smoothing, minCutoff: 0.05, beta: 80, dCutoff: 1}
	p.auxFilter = landmarkFilter{kind: SmoothOneEuro, minCutoff: 0.01, beta: 10, dCutoff: 1}
	p.worldFilter = landmarkFilter{kind: opt.Smoothing, minCutoff: 0.1, beta: 40, dCutoff: 1, noValueScale: true}
	hf := landmarkFilter{kind: opt.HandFaceSmoothing, minCutoff: 0.05, beta: 80, dCutoff: 1, windowSize: 5, velocityScale: 10}
	p.hands[0].filter, p.hands[1].filter, p.face.filter = hf, hf, hf
	return p, nil
}

// Options returns the options in effect (defaults filled in).
func (p *Pipeline) Options() Options { return p.opt }

// Close releases the models.
func (p *Pipeline) Close() error {
	for _, m := range p.cloned {
		m.closeTensors()
	}
	for _, m := range []*model{p.detector, p.poseLM, p.recrop[0], p.handLM[0], p.faceDet, p.faceLM} {
		if m != nil {
			m.Close()
		}
	}
	for _, c := range []*cropper{p.detCrop, p.poseCrop, p.recropCrop[0], p.recropCrop[1], p.handCrop[0], p.handCrop[1], p.faceDetCrop, p.faceCrop} {
		if c != nil {
			c.Close()
		}
	}
	*p = Pipeline{opt: p.opt}
	return nil
}

// Reset forgets the tracked person and the filters' history, as at the start of a new
// video.
func (p *Pipeline) Reset() {
	p.resetPose()
	p.resetFace()
	p.resetHands()
}

// The pose, the face and the hands each have their own reset because Stream runs them on
// different goroutines, each touching only its own state.
func (p *Pipeline) resetPose() {
	p.poseROI = nil
	p.visFilter, p.auxVis = nil, nil
	p.poseFilter.reset()
	p.auxFilter.reset()
	p.worldFilter.reset()
}

func (p *Pipeline) resetFace() {
	p.face.prev = nil
	p.face.filter.reset()
}

func (p *Pipeline) resetHands() {
	for i := range p.hands {
		p.hands[i].prev = nil
		p.hands[i].filter.reset()
	}
}

// Process finds the keypoints in one BGR frame (8-bit, 1, 3 or 4 channels) with
// presentation time pts. A frame without a person gives a Frame with nothing present
// and no error; an empty image gives ErrEmptyImage. img stays the caller's.
func (p *Pipeline) Process(ctx context.Context, img gocv.Mat, pts time.Duration) (Frame, error) {
	j, err := p.posePart(ctx, img, pts)
	defer j.release()
	if err != nil {
		p.resetFace()
		p.resetHands()
		return j.frame, err
	}
	if p.opt.Threads > 1 && j.pose != nil {
		// The face and both hands at once.
		done := make(chan struct{})
		go func() { defer close(done); p.facePart(j) }()
		err = p.handsPart(j, true, done)
	} else {
		p.facePart(j)
		err = p.handsPart(j, false, nil)
	}
	return j.frame, err
}

// job carries one frame through the graph's parts.
type job struct {
	frame   Frame
	start   time.Time
	img     gocv.Mat // BGR
	owned   bool     // img was converted here and must be closed
	pose    []point  // nil when no pose: nothing else to do
	face    []point
	faceErr error
}

func (j *job) release() {
	if j.owned {
		j.img.Close()
		j.owned = false
	}
}

// posePart checks the frame and finds the pose (detector or tracking, landmarks,
// smoothing). It touches only the pose's state.
func (p *Pipeline) posePart(ctx context.Context, img gocv.Mat, pts time.Duration) (*job, error) {
	j := &job{start: time.Now(), frame: Frame{PTS: pts}}
	if p.poseLM == nil {
		return j, errors.New("pose pipeline is closed")
	}
	if err := ctx.Err(); err != nil {
		return j, err
	}
	if img.Empty() || img.Cols() <= 0 || img.Rows() <= 0 {
		return j, ErrEmptyImage
	}
	f := &j.frame
	f.Width, f.Height = img.Cols(), img.Rows()
	var err error
	if j.img, j.owned, err = toBGR(img); err != nil {
		return j, err
	}
	if p.opt.Static {
		p.resetPose()
	}
	pose, world, ok, err := p.runPose(j.img, pts, &f.Timing)
	if err != nil || !ok {
		f.Timing.Total = time.Since(j.start)
		return j, err
	}
	j.pose = pose
	f.Present[PartPose] = true
	for i := 0; i < NumPosePoints; i++ {
		f.Points[PoseOffset+i] = pixels(pose[i], f.Width, f.Height)
		f.Visibility[PoseOffset+i] = float32(pose[i].Visibility)
		f.World[i] = [3]float32{float32(world[i][0]), float32(world[i][1]), float32(world[i][2])}
	}
	return j, nil
}

// facePart finds the face from the job's pose. It touches only the face's state.
func (p *Pipeline) facePart(j *job) {
	if p.opt.Static || j.pose == nil {
		p.resetFace()
	}
	if j.pose == nil {
		return
	}
	t := time.Now()
	j.face, j.faceErr = p.runFace(j.img, j.pose, j.frame.PTS)
	j.frame.Timing.Face = time.Since(t)
}

// handsPart finds both hands from the job's pose (at the same time when concurrent),
// waits for faceDone (closed when facePart has finished, nil if it has) and completes
// the frame. It touches only the hands' state.
func (p *Pipeline) handsPart(j *job, concurrent bool, faceDone <-chan struct{}) error {
	f := &j.frame
	if p.opt.Static || j.pose == nil {
		p.resetHands()
	}
	var handErr [2]error
	var hands [2][]point
	if j.pose != nil {
		runHand := func(side int) {
			t := time.Now()
			hands[side], f.Handedness[side], handErr[side] = p.runHand(j.img, side, j.pose, f.PTS)
			if side == 0 {
				f.Timing.LeftHand = time.Since(t)
			} else {
				f.Timing.RightHand = time.Since(t)
			}
		}
		if concurrent {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); runHand(0) }()
			runHand(1)
			wg.Wait()
		} else {
			runHand(0)
			runHand(1)
		}
	}
	if faceDone != nil {
		<-faceDone
	}
	if err := errors.Join(handErr[0], handErr[1], j.faceErr); err != nil {
		f.Timing.Total = time.Since(j.start)
		return err
	}
	put := func(part, offset int, pts []point) {
		if pts == nil {
			return
		}
		f.Present[part] = true
		for i, q := range pts {
			f.Points[offset+i] = pixels(q, f.Width, f.Height)
			f.Visibility[offset+i] = 1
		}
	}
	put(PartFace, FaceOffset, j.face)
	put(PartLeftHand, LeftHandOffset, hands[0])
	put(PartRightHand, RightHandOffset, hands[1])
	normalize(f)
	f.Timing.Total = time.Since(j.start)
	return nil
}

// Input is a frame for Stream. Stream owns Mat from then on and closes it.
type Input struct {
	Seq int64
	PTS time.Duration
	Mat gocv.Mat
}

// Result is Stream's answer for one Input, in input order.
type Result struct {
	Seq   int64
	Frame Frame
	Err   error
}

// Stream processes frames from in as Process would, but overlaps consecutive frames so
// that two cores stay busy (with Threads > 1): the pose and the face of one frame run
// while the hands of the previous frame are found (the two hands also at the same time
// with Threads > 2). Results come out in order; the channel closes after in closes or
// ctx ends. Frame.Timing.Total then includes time spent waiting between the stages.
// The Pipeline must not be used otherwise until the output channel is closed.
func (p *Pipeline) Stream(ctx context.Context, in <-chan Input) <-chan Result {
	out := make(chan Result)
	type work struct {
		j   *job
		in  Input
		err error
	}
	mid := make(chan work) // unbuffered: the first stage runs at most one frame ahead
	go func() {
		defer close(mid)
		for {
			var x Input
			var ok bool
			select {
			case <-ctx.Done():
				return
			case x, ok = <-in:
				if !ok {
					return
				}
			}
			if p.opt.Threads <= 1 {
				// One core: no overlap, just Process.
				f, err := p.Process(ctx, x.Mat, x.PTS)
				x.Mat.Close()
				select {
				case mid <- work{j: &job{frame: f}, in: Input{Seq: x.Seq}, err: err}:
				case <-ctx.Done():
					return
				}
				continue
			}
			j, err := p.posePart(ctx, x.Mat, x.PTS)
			if err != nil {
				p.resetFace()
			} else {
				p.facePart(j)
			}
			select {
			case mid <- work{j: j, in: x, err: err}:
			case <-ctx.Done():
				j.release()
				x.Mat.Close()
				return
			}
		}
	}()
	go func() {
		defer close(out)
		for w := range mid {
			err := w.err
			if p.opt.Threads > 1 {
				if err == nil {
					err = p.handsPart(w.j, p.opt.Threads > 2, nil)
				} else {
					p.resetHands()
				}
				w.j.release()
				w.in.Mat.Close()
			}
			select {
			case out <- Result{Seq: w.in.Seq, Frame: w.j.frame, Err: err}:
			case <-ctx.Done():
			}
		}
	}()
	return out
}

func pixels(q point, w, h int) [3]float32 {
	return [3]float32{float32(q.X * float64(w)), float32(q.Y * float64(h)), float32(q.Z)}
}

func toBGR(img gocv.Mat) (gocv.Mat, bool, error) {
	if img.Type()&7 != gocv.MatTypeCV8U {
		return img, false, fmt.Errorf("image type %v: want 8-bit pixels", img.Type())
	}
	switch img.Channels() {
	case 3:
		return img, false, nil
	case 1:
		m := gocv.NewMat()
		gocv.CvtColor(img, &m, gocv.ColorGrayToBGR)
		return m, true, nil
	case 4:
		m := gocv.NewMat()
		gocv.CvtColor(img, &m, gocv.ColorBGRAToBGR)
		return m, true, nil
	}
	return img, false, fmt.Errorf("image has %d channels: want 1, 3 or 4", img.Channels())
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// runPose returns the 33 pose landmarks (normalised, smoothed) and world landmarks, and
// places the next frame's crop.
func (p *Pipeline) runPose(img gocv.Mat, pts time.Duration, tm *Timing) ([]point, [][3]float64, bool, error) {
	w, h := img.Cols(), img.Rows()
	roi := p.poseROI
	if roi == nil {
		t := time.Now()
		r, ok, err := p.detect(img)
		tm.Detect = time.Since(t)
		if err != nil || !ok {
			p.resetPose()
			return nil, nil, false, err
		}
		roi = &r
	}
	t := time.Now()
	defer func() { tm.Pose = time.Since(t) }()
	sampled, err := p.poseCrop.crop(img, *roi, p.poseLM.input())
	if errors.Is(err, errEmptyCrop) {
		p.resetPose()
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if err := p.poseLM.run(); err != nil {
		return nil, nil, false, err
	}
	if float64(p.poseLM.output(1)[0]) < p.opt.MinTracking {
		p.resetPose()
		return nil, nil, false, nil
	}
	raw := p.poseLM.output(0)
	const n = 39
	lm := make([]point, n)
	for i := range lm {
		v := raw[5*i : 5*i+5]
		lm[i] = point{X: float64(v[0]) / 256, Y: float64(v[1]) / 256, Z: float64(v[2]) / 256,
			Visibility: sigmoid(float64(v[3])), Presence: sigmoid(float64(v[4]))}
	}
	refineFromHeatmap(lm, p.poseLM.output(3), 64, 64, n, 7, 0.5)
	for i := range lm {
		lm[i] = sampled.project(lm[i])
	}
	wr := p.poseLM.output(4)
	world := make([][3]float64, NumPosePoints)
	sin, cos := math.Sincos(sampled.Rot)
	for i := range world {
		x, y, z := float64(wr[3*i]), float64(wr[3*i+1]), float64(wr[3*i+2])
		world[i] = [3]float64{cos*x - sin*y, sin*x + cos*y, z}
	}
	pose, aux := lm[:NumPosePoints], lm[NumPosePoints:NumPosePoints+2]

	if !p.opt.Static {
		// The object's size for the filters is the alignment box of the raw aux points.
		box := alignmentRect(aux[0], aux[1], w, h, math.Pi/2)
		scale := (box.W*float64(w) + box.H*float64(h)) / 2
		if p.opt.Smoothing != SmoothNone {
			smoothVisibility(&p.visFilter, pose)
			smoothPoints(&p.poseFilter, pts, scale, pose, w, h)
			p.worldFilter.apply(pts, 1, world)
		}
		// The two auxiliary points that place the next crop are always smoothed, as in
		// MediaPipe (its smooth_landmarks switch leaves them alone): it steadies the crop.
		smoothVisibility(&p.auxVis, aux)
		smoothPoints(&p.auxFilter, pts, scale, aux, w, h)
	}
	next := transform{scaleX: 1.25, scaleY: 1.25, squareLong: true}.apply(alignmentRect(aux[0], aux[1], w, h, math.Pi/2), w, h)
	p.poseROI = &next
	return pose, world, true, nil
}

func smoothVisibility(fs *[]lowPass, pts []point) {
	if len(*fs) != len(pts) {
		*fs = make([]lowPass, len(pts))
	}
	for i := range pts {
		pts[i].Visibility = (*fs)[i].apply(pts[i].Visibility, 0.1)
	}
}

// smoothPoints filters normalised points in pixel units (x*w, y*h, z*w), as MediaPipe.
func smoothPoints(f *landmarkFilter, t time.Duration, scale float64, pts []point, w, h int) {
	if f.kind == SmoothNone {
		return
	}
	fw, fh := float64(w), float64(h)
	px := make([][3]float64, len(pts))
	for i, q := range pts {
		px[i] = [3]float64{q.X * fw, q.Y * fh, q.Z * fw}
	}
	f.apply(t, scale, px)
	for i := range pts {
		pts[i].X, pts[i].Y, pts[i].Z = px[i][0]/fw, px[i][1]/fh, px[i][2]/fw
	}
}

// detect runs the pose detector on the whole frame and returns the first crop.
func (p *Pipeline) detect(img gocv.Mat) (Rect, bool, error) {
	w, h := img.Cols(), img.Rows()
	sampled, err := p.detCrop.crop(img, Rect{XC: 0.5, YC: 0.5, W: 1, H: 1}, p.detector.input())
	if err != nil {
		return Rect{}, false, err
	}
	if err := p.detector.run(); err != nil {
		return Rect{}, false, err
	}
	p.dets = p.poseDecoder.decode(p.detector.output(0), p.detector.output(1), p.dets)
	if len(p.dets) == 0 {
		return Rect{}, false, nil
	}
	best := weightedNMS(p.dets, 0.3)[0]
	hip := sampled.project(best.keypoints[0])
	full := sampled.project(best.keypoints[1])
	r := transform{scaleX: 1.25, scaleY: 1.25, squareLong: true}.apply(alignmentRect(hip, full, w, h, math.Pi/2), w, h)
	return r, true, nil
}

// refineFromHeatmap moves each landmark to the confidence-weighted mean of the heatmap
// cells around it (kernel x kernel), when the heatmap is confident there. Coordinates
// are normalised to the model input; the heatmap is h x w x n (HWC), raw logits.
func refineFromHeatmap(lm []point, hm []float32, w, h, n, kernel int, minConf float64) {
	off := (kernel - 1) / 2
	for i := range lm {
		col, row := int(lm[i].X*float64(w)), int(lm[i].Y*float64(h))
		if lm[i].X < 0 || lm[i].Y < 0 || col >= w || row >= h {
			continue
		}
		var sum, wc, wr, maxc float64
		for r := max(0, row-off); r < min(h, row+off+1); r++ {
			for c := max(0, col-off); c < min(w, col+off+1); c++ {
				conf := sigmoid(float64(hm[(r*w+c)*n+i]))
				sum += conf
				maxc = math.Max(maxc, conf)
				wc += float64(c) * conf
				wr += float64(r) * conf
			}
		}
		if maxc >= minConf && sum > 0 {
			lm[i].X = wc / float64(w) / sum
			lm[i].Y = wr / float64(h) / sum
		}
	}
}

// Pose landmark indexes of each hand's wrist, pinky and index (left, right).
var handFromPose = [2][3]int{{15, 17, 19}, {16, 18, 20}}

// runHand finds one hand (side 0: the person's left) from the pose's wrist, pinky and
// index points: the pose gives a rough crop, hand_recrop refines it, and the previous
// frame's hand replaces it while it stays close.
func (p *Pipeline) runHand(img gocv.Mat, side int, pose []point, pts time.Duration) ([]point, float32, error) {
	st := &p.hands[side]
	w, h := img.Cols(), img.Rows()
	idx := handFromPose[side]
	wrist := pose[idx[0]]
	if !(wrist.Visibility > 0.1) {
		st.prev = nil
		st.filter.reset()
		return nil, 0, nil
	}
	fromPose := transform{scaleX: 2.7, scaleY: 2.7, shiftY: -0.1, squareLong: true}.apply(
		handRectFromPose(wrist, pose[idx[1]], pose[idx[2]], w, h), w, h)
	rc := p.recrop[side]
	sampled, err := p.recropCrop[side].crop(img, fromPose, rc.input())
	if errors.Is(err, errEmptyCrop) {
		st.prev = nil
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if err := rc.run(); err != nil {
		return nil, 0, err
	}
	o := rc.output(0)
	a := sampled.project(point{X: float64(o[0]) / 256, Y: float64(o[1]) / 256})
	b := sampled.project(point{X: float64(o[2]) / 256, Y: float64(o[3]) / 256})
	recrop := transform{scaleX: 1, scaleY: 1, shiftY: -0.1, squareLong: true}.apply(alignmentRect(a, b, w, h, -math.Pi/2), w, h)
	roi := recrop
	if st.prev != nil {
		prevRect := transform{scaleX: 2, scaleY: 2, shiftY: -0.1, squareLong: true}.apply(handRectFromLandmarks(st.prev, w, h), w, h)
		if keepTracking(st.prev, prevRect, recrop, w, h, trackingLimits{rotationDeg: 40, translation: 0.2, scale: 0.4, margin: -0.1}) {
			roi = prevRect
		}
	}
	lmModel := p.handLM[side]
	sampled, err = p.handCrop[side].crop(img, roi, lmModel.input())
	if errors.Is(err, errEmptyCrop) {
		st.prev = nil
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if err := lmModel.run(); err != nil {
		return nil, 0, err
	}
	if lmModel.output(1)[0] < 0.5 {
		st.prev = nil
		st.filter.reset()
		return nil, 0, nil
	}
	raw := lmModel.output(0)
	lm := make([]point, NumHandPoints)
	for i := range lm {
		lm[i] = sampled.project(point{X: float64(raw[3*i]) / 224, Y: float64(raw[3*i+1]) / 224, Z: float64(raw[3*i+2]) / 224 / 0.4})
	}
	st.prev = append([]point(nil), lm...)
	if !p.opt.Static {
		box := boundsRect(lm)
		smoothPoints(&st.filter, pts, (box.W*float64(w)+box.H*float64(h))/2, lm, w, h)
	}
	return lm, lmModel.output(2)[0], nil
}

// HandStep runs the hand stage alone for one hand (side 0: the person's left) on a BGR
// frame, given that frame's pose landmarks (33 x, y, z, visibility) and the hand's
// landmarks on the frame before (21 x, y, z; nil when it was not found), all normalised
// to the image as MediaPipe's API gives them. It returns the 21 hand landmarks, nil when
// no hand is found. It is for reference checks (package refcheck): fed MediaPipe's own
// pose and previous hand, it shows whether the hand stage alone agrees with MediaPipe's,
// apart from the drift that feeding back its own hands adds. It forgets the tracked
// hands; do not call it while Stream runs.
func (p *Pipeline) HandStep(img gocv.Mat, side int, poseLM [][4]float64, prev [][3]float64) ([][3]float64, error) {
	if p.poseLM == nil {
		return nil, errors.New("pose pipeline is closed")
	}
	if side != 0 && side != 1 {
		return nil, fmt.Errorf("hand side %d: want 0 (left) or 1 (right)", side)
	}
	if len(poseLM) != NumPosePoints {
		return nil, fmt.Errorf("%d pose landmarks, want %d", len(poseLM), NumPosePoints)
	}
	if prev != nil && len(prev) != NumHandPoints {
		return nil, fmt.Errorf("%d previous hand landmarks, want %d (or none)", len(prev), NumHandPoints)
	}
	if img.Empty() || img.Cols() <= 0 || img.Rows() <= 0 {
		return nil, ErrEmptyImage
	}
	bgr, owned, err := toBGR(img)
	if err != nil {
		return nil, err
	}
	if owned {
		defer bgr.Close()
	}
	pts := make([]point, NumPosePoints)
	for i, q := range poseLM {
		pts[i] = point{X: q[0], Y: q[1], Z: q[2], Visibility: q[3]}
	}
	p.resetHands()
	defer p.resetHands()
	for _, q := range prev {
		p.hands[side].prev = append(p.hands[side].prev, point{X: q[0], Y: q[1], Z: q[2]})
	}
	lm, _, err := p.runHand(bgr, side, pts, 0)
	if err != nil || lm == nil {
		return nil, err
	}
	out := make([][3]float64, len(lm))
	for i, q := range lm {
		out[i] = [3]float64{q.X, q.Y, q.Z}
	}
	return out, nil
}

// runFace finds the face in the box of the pose's face points: BlazeFace places the crop,
// and the previous frame's face replaces it while it stays close.
func (p *Pipeline) runFace(img gocv.Mat, pose []point, pts time.Duration) ([]point, error) {
	st := &p.face
	w, h := img.Cols(), img.Rows()
	box := boundsRect(pose[:11])
	box.Rot = rotationOf(pose[5], pose[2], w, h, 0)
	fromPose := transform{scaleX: 3, scaleY: 3, squareLong: true}.apply(box, w, h)
	sampled, err := p.faceDetCrop.crop(img, fromPose, p.faceDet.input())
	if errors.Is(err, errEmptyCrop) {
		st.prev = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := p.faceDet.run(); err != nil {
		return nil, err
	}
	dets := p.faceDecoder.decode(p.faceDet.output(0), p.faceDet.output(1), nil)
	if len(dets) == 0 {
		st.prev = nil
		st.filter.reset()
		return nil, nil
	}
	best := weightedNMS(dets, 0.3)[0]
	kp := make([]point, len(best.keypoints))
	for i, q := range best.keypoints {
		kp[i] = sampled.project(q)
	}
	fr := boundsRect(kp)
	fr.Rot = rotationOf(kp[0], kp[1], w, h, 0)
	recrop := transform{scaleX: 2, scaleY: 2, shiftY: -0.1, squareLong: true}.apply(fr, w, h)
	roi := recrop
	if st.prev != nil {
		pr := boundsRect(st.prev)
		pr.Rot = rotationOf(st.prev[33], st.prev[263], w, h, 0)
		prevRect := transform{scaleX: 1.5, scaleY: 1.5, squareLong: true}.apply(pr, w, h)
		if keepTracking(st.prev, prevRect, recrop, w, h, trackingLimits{rotationDeg: 15, translation: 0.1, scale: 0.3, margin: -0.2}) {
			roi = prevRect
		}
	}
	sampled, err = p.faceCrop.crop(img, roi, p.faceLM.input())
	if errors.Is(err, errEmptyCrop) {
		st.prev = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := p.faceLM.run(); err != nil {
		return nil, err
	}
	if sigmoid(float64(p.faceLM.output(1)[0])) < 0.5 {
		st.prev = nil
		st.filter.reset()
		return nil, nil
	}
	raw := p.faceLM.output(0)
	lm := make([]point, NumFacePoints)
	for i := range lm {
		lm[i] = sampled.project(point{X: float64(raw[3*i]) / 192, Y: float64(raw[3*i+1]) / 192, Z: float64(raw[3*i+2]) / 192})
	}
	st.prev = append([]point(nil), lm...)
	if !p.opt.Static {
		b := boundsRect(lm)
		smoothPoints(&st.filter, pts, (b.W*float64(w)+b.H*float64(h))/2, lm, w, h)
	}
	return lm, nil
}
