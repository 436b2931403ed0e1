// Package refcheck holds SCOPE's Holistic pipeline (models/pose) against MediaPipe's own
// Holistic solution (run by tools/mpref in headless Chromium) on the same images: how
// often each side finds each part, and how far apart the landmarks are.
package refcheck

import (
	"context"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"gocv.io/x/gocv"

	"scope/models/pose"
	"scope/tools/mpref/mpref"
)

// PartNames name the four parts in Frame.Present order.
var PartNames = [4]string{"pose", "face", "left hand", "right hand"}

// Part compares one part over a run.
type Part struct {
	Name            string
	Frames          int // frames compared
	Ours, Ref, Both int // frames where we, MediaPipe, both found the part
	Points          int // landmark pairs compared
	// Mean and P95 landmark distance in % of the image's larger side, over every pair of
	// landmarks on frames where both found the part (pose: only points MediaPipe marks
	// visible, >= 0.5).
	Mean, P95 float64
}

// Agreement is the fraction of frames on which both sides agree whether the part is there.
func (p Part) Agreement() float64 {
	if p.Frames == 0 {
		return 0
	}
	return float64(p.Frames-p.Ours-p.Ref+2*p.Both) / float64(p.Frames)
}

func (p Part) String() string {
	return fmt.Sprintf("%-10s frames %3d  ours %3d  mediapipe %3d  both %3d  agree %5.1f%%  points %6d  mean %.3f%%  p95 %.3f%%",
		p.Name, p.Frames, p.Ours, p.Ref, p.Both, 100*p.Agreement(), p.Points, p.Mean, p.P95)
}

// Compare lines up our frames with MediaPipe's, frame by frame.
func Compare(ours []pose.Frame, ref []mpref.HolisticFrame) ([4]Part, error) {
	var parts [4]Part
	if len(ours) != len(ref) {
		return parts, fmt.Errorf("%d frames of ours but %d of MediaPipe's", len(ours), len(ref))
	}
	var errs [4][]float64
	for i := range parts {
		parts[i].Name = PartNames[i]
		parts[i].Frames = len(ours)
	}
	for t := range ours {
		o, r := ours[t], ref[t]
		if o.Width != r.Width || o.Height != r.Height {
			return parts, fmt.Errorf("frame %d: ours %dx%d, MediaPipe's %dx%d", t, o.Width, o.Height, r.Width, r.Height)
		}
		side := math.Max(float64(r.Width), float64(r.Height))
		refPts := [4][][]float64{}
		for _, q := range r.Pose {
			refPts[pose.PartPose] = append(refPts[pose.PartPose], q[:])
		}
		for _, q := range r.Face {
			refPts[pose.PartFace] = append(refPts[pose.PartFace], q[:])
		}
		for _, q := range r.LeftHand {
			refPts[pose.PartLeftHand] = append(refPts[pose.PartLeftHand], q[:])
		}
		for _, q := range r.RightHand {
			refPts[pose.PartRightHand] = append(refPts[pose.PartRightHand], q[:])
		}
		offsets := [4]int{pose.PoseOffset, pose.FaceOffset, pose.LeftHandOffset, pose.RightHandOffset}
		for part := range parts {
			has := refPts[part] != nil
			if o.Present[part] {
				parts[part].Ours++
			}
			if has {
				parts[part].Ref++
			}
			if !o.Present[part] || !has {
				continue
			}
			parts[part].Both++
			for i, q := range refPts[part] {
				if part == pose.PartFace && i >= pose.NumFacePoints {
					break // irises of a refined face mesh
				}
				if part == pose.PartPose && q[3] < 0.5 {
					continue
				}
				p := o.Points[offsets[part]+i]
				dx := float64(p[0]) - q[0]*float64(r.Width)
				dy := float64(p[1]) - q[1]*float64(r.Height)
				errs[part] = append(errs[part], 100*math.Hypot(dx, dy)/side)
			}
		}
	}
	for i := range parts {
		e := errs[i]
		parts[i].Points = len(e)
		if len(e) == 0 {
			continue
		}
		sort.Float64s(e)
		s := 0.0
		for _, v := range e {
			s += v
		}
		parts[i].Mean = s / float64(len(e))
		parts[i].P95 = e[int(math.Ceil(0.95*float64(len(e))))-1]
	}
	return parts, nil
}

// ExtractFrames writes n frames of a video, after skipping the first skip, as PNG files
// f00001.png, ... into dir (lossless, so both pipelines see the same pixels) and returns
// their paths.
func ExtractFrames(video string, skip, n int, dir string) ([]string, error) {
	vc, err := gocv.VideoCaptureFile(video)
	if err != nil {
		return nil, fmt.Errorf("opening video %s: %w", video, err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	for i := 0; i < skip; i++ {
		if !vc.Read(&m) || m.Empty() {
			return nil, fmt.Errorf("video %s has only %d frames, cannot skip %d", video, i, skip)
		}
	}
	var out []string
	for len(out) < n && vc.Read(&m) && !m.Empty() {
		p := filepath.Join(dir, fmt.Sprintf("f%05d.png", len(out)+1))
		if !gocv.IMWrite(p, m) {
			return out, fmt.Errorf("writing %s", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("video %s: no frames could be read", video)
	}
	return out, nil
}

// RunOurs runs the pipeline over image files in order, stamping them interval apart
// starting at one interval (as the reference harness does).
func RunOurs(ctx context.Context, p *pose.Pipeline, images []string, interval time.Duration) ([]pose.Frame, error) {
	var out []pose.Frame
	for i, path := range images {
		m := gocv.IMRead(path, gocv.IMReadColor)
		if m.Empty() {
			m.Close()
			return out, fmt.Errorf("reading image %s: not a readable image", path)
		}
		f, err := p.Process(ctx, m, time.Duration(i+1)*interval)
		m.Close()
		if err != nil {
			return out, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// Options of a Run.
type Options struct {
	Complexity string   // lite, full, heavy
	Images     []string // compared each alone (static mode)
	Video      string   // and Frames frames of this video (video mode), after skipping Skip
	Frames     int
	Skip       int
	// Pan, if not empty, is a photo to make PanFrames frames of 640x480 camera pan from
	// (video mode): a person close to the camera, so hands and face are tracked too.
	Pan       string
	PanFrames int
	// Clips are videos compared whole (video mode), each from its first frame: the real
	// signing videos.
	Clips   []Clip
	Threads int
	Log     io.Writer // progress, may be nil
}

// RealSigningVideos are the real signing clips in the shared data's real-video folder
// (see its README): one signer, isolated ASL signs, both hands moving, motion blur.
var RealSigningVideos = []string{"SOUP.mp4", "FOOTBALL.mp4"}

// RealSigning returns RealSigningVideos in dir as whole clips, or an error naming the
// first one missing.
func RealSigning(dir string) ([]Clip, error) {
	var clips []Clip
	for _, n := range RealSigningVideos {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("real signing video %s: %w", p, err)
		}
		clips = append(clips, Clip{Name: n, Path: p})
	}
	return clips, nil
}

// Clip is a video for Options.Clips.
type Clip struct {
	Name   string // short label, e.g. "SOUP.mp4"
	Path   string
	Frames int // at most this many frames; 0: all
}

// ClipResult compares one Clip.
type ClipResult struct {
	Clip
	Width, Height int
	Parts         [4]Part
	Ours          []pose.Frame
	Ref           []mpref.HolisticFrame
	// Step compares the hand stage alone (PartLeftHand and PartRightHand; the pose and
	// face are not run): see HandSteps.
	Step  [4]Part
	Steps []pose.Frame
}

// Result of a Run.
type Result struct {
	Static, Video, Pan [4]Part
	StaticFrames       []pose.Frame
	VideoFrames        []pose.Frame
	Ref                []mpref.HolisticFrame
	Clips              []ClipResult
}

// Pooled compares the frames of every clip together, each frame's errors in % of its own
// image's larger side: the figure over all the real signing.
func Pooled(clips []ClipResult) ([4]Part, error) {
	return pool(clips, func(c ClipResult) []pose.Frame { return c.Ours })
}

// PooledSteps is Pooled for the hand stage alone (ClipResult.Steps).
func PooledSteps(clips []ClipResult) ([4]Part, error) {
	return pool(clips, func(c ClipResult) []pose.Frame { return c.Steps })
}

func pool(clips []ClipResult, ours func(ClipResult) []pose.Frame) ([4]Part, error) {
	var o []pose.Frame
	var ref []mpref.HolisticFrame
	for _, c := range clips {
		o = append(o, ours(c)...)
		ref = append(ref, c.Ref...)
	}
	return Compare(o, ref)
}

// HandSteps runs our hand stage alone on each frame (image files in order), given
// MediaPipe's pose of that frame and MediaPipe's hands of the frame before, and returns
// frames holding only our hands. Compared with ref, it separates the hand stage's own
// agreement with MediaPipe from drift: running freely, each pipeline feeds back its own
// previous hands, so a sub-pixel difference on one frame can tip a track-or-re-crop
// decision and the two follow different crops for a few frames under motion blur.
func HandSteps(ctx context.Context, p *pose.Pipeline, images []string, ref []mpref.HolisticFrame) ([]pose.Frame, error) {
	if len(images) != len(ref) {
		return nil, fmt.Errorf("%d images but %d frames of MediaPipe's", len(images), len(ref))
	}
	var out []pose.Frame
	for i, path := range images {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		m := gocv.IMRead(path, gocv.IMReadColor)
		if m.Empty() {
			m.Close()
			return out, fmt.Errorf("reading image %s: not a readable image", path)
		}
		f := pose.Frame{Width: m.Cols(), Height: m.Rows()}
		r := ref[i]
		for side, part := range []int{pose.PartLeftHand, pose.PartRightHand} {
			if r.Pose == nil {
				break
			}
			var prev [][3]float64
			if i > 0 {
				prev = refHand(ref[i-1], side)
			}
			lm, err := p.HandStep(m, side, r.Pose, prev)
			if err != nil {
				m.Close()
				return out, fmt.Errorf("%s: %w", path, err)
			}
			if lm == nil {
				continue
			}
			f.Present[part] = true
			off := []int{pose.LeftHandOffset, pose.RightHandOffset}[side]
			for k, q := range lm {
				f.Points[off+k] = [3]float32{float32(q[0] * float64(f.Width)), float32(q[1] * float64(f.Height)), float32(q[2])}
			}
		}
		m.Close()
		out = append(out, f)
	}
	return out, nil
}

func refHand(f mpref.HolisticFrame, side int) [][3]float64 {
	if side == 0 {
		return f.LeftHand
	}
	return f.RightHand
}

// PanFrames returns n frames of w x h: a window of the photo with the frames' aspect
// ratio that widens from 80% to 100% of the photo's height and drifts sideways, so the
// person in it moves a few pixels a frame, as with a hand-held camera. The photo is real;
// the camera motion is made up.
func PanFrames(photo string, n, w, h int) ([]gocv.Mat, error) {
	src := gocv.IMRead(photo, gocv.IMReadColor)
	if src.Empty() {
		src.Close()
		return nil, fmt.Errorf("%s: not a readable image", photo)
	}
	defer src.Close()
	sw, sh := float64(src.Cols()), float64(src.Rows())
	aspect := float64(w) / float64(h)
	var out []gocv.Mat
	for i := 0; i < n; i++ {
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		ch := sh * (0.8 + 0.2*t)
		cw := ch * aspect
		if cw > sw {
			cw, ch = sw, sw/aspect
		}
		x0 := (sw - cw) * (0.5 + 0.4*(t-0.5))
		y0 := (sh - ch) / 2
		roi := src.Region(image.Rect(int(x0), int(y0), int(x0+cw), int(y0+ch)))
		m := gocv.NewMat()
		gocv.Resize(roi, &m, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
		roi.Close()
		out = append(out, m)
	}
	return out, nil
}

// compareVideo runs both pipelines over the frames in dir (video mode).
func compareVideo(ctx context.Context, opt Options, frames []string, dir string, mc int, logf func(string, ...any)) ([4]Part, []pose.Frame, []mpref.HolisticFrame, error) {
	var parts [4]Part
	p, err := pose.New(pose.Options{Complexity: opt.Complexity, Threads: opt.Threads})
	if err != nil {
		return parts, nil, nil, err
	}
	ours, err := RunOurs(ctx, p, frames, 33333*time.Microsecond)
	p.Close()
	if err != nil {
		return parts, nil, nil, err
	}
	logf("mediapipe holistic (video, %d frames, complexity %s)...", len(frames), opt.Complexity)
	ref, err := mpref.RunHolistic(ctx, mpref.HolisticRequest{Mode: mpref.Video, ModelComplexity: mc, FramesDir: dir})
	if err != nil {
		return parts, nil, nil, err
	}
	parts, err = Compare(ours, ref.Frames)
	return parts, ours, ref.Frames, err
}

// Run compares both pipelines on Images (static) and on the video's first frames.
func Run(ctx context.Context, opt Options) (Result, error) {
	var res Result
	mc := map[string]int{"lite": 0, "full": 1, "heavy": 2}[opt.Complexity]
	logf := func(format string, a ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format+"\n", a...)
		}
	}
	if len(opt.Images) > 0 {
		p, err := pose.New(pose.Options{Complexity: opt.Complexity, Static: true, Threads: opt.Threads})
		if err != nil {
			return res, err
		}
		ours, err := RunOurs(ctx, p, opt.Images, 33333*time.Microsecond)
		p.Close()
		if err != nil {
			return res, err
		}
		logf("mediapipe holistic (static, %d images, complexity %s)...", len(opt.Images), opt.Complexity)
		ref, err := mpref.RunHolistic(ctx, mpref.HolisticRequest{Mode: mpref.Static, ModelComplexity: mc, Images: opt.Images})
		if err != nil {
			return res, err
		}
		res.StaticFrames = ours
		if res.Static, err = Compare(ours, ref.Frames); err != nil {
			return res, err
		}
	}
	if opt.Video != "" && opt.Frames > 0 {
		dir, err := os.MkdirTemp("", "scope-refcheck-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		frames, err := ExtractFrames(opt.Video, opt.Skip, opt.Frames, dir)
		if err != nil {
			return res, err
		}
		if res.Video, res.VideoFrames, res.Ref, err = compareVideo(ctx, opt, frames, dir, mc, logf); err != nil {
			return res, err
		}
	}
	if opt.Pan != "" && opt.PanFrames > 0 {
		dir, err := os.MkdirTemp("", "scope-refcheck-pan-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		mats, err := PanFrames(opt.Pan, opt.PanFrames, 640, 480)
		if err != nil {
			return res, err
		}
		var frames []string
		for i, m := range mats {
			path := filepath.Join(dir, fmt.Sprintf("f%05d.png", i+1))
			if !gocv.IMWrite(path, m) {
				err = fmt.Errorf("writing %s", path)
			}
			m.Close()
			frames = append(frames, path)
		}
		if err != nil {
			return res, err
		}
		if res.Pan, _, _, err = compareVideo(ctx, opt, frames, dir, mc, logf); err != nil {
			return res, err
		}
	}
	for _, c := range opt.Clips {
		cr, err := compareClip(ctx, opt, c, mc, logf)
		if err != nil {
			return res, err
		}
		res.Clips = append(res.Clips, cr)
	}
	return res, nil
}

// compareClip runs both pipelines over a whole video, decoded once to PNG files so that
// both see the same pixels.
func compareClip(ctx context.Context, opt Options, c Clip, mc int, logf func(string, ...any)) (ClipResult, error) {
	cr := ClipResult{Clip: c}
	dir, err := os.MkdirTemp("", "scope-refcheck-clip-")
	if err != nil {
		return cr, err
	}
	defer os.RemoveAll(dir)
	n := c.Frames
	if n <= 0 {
		n = math.MaxInt
	}
	frames, err := ExtractFrames(c.Path, 0, n, dir)
	if err != nil {
		return cr, err
	}
	logf("%s: %d frames", c.Name, len(frames))
	if cr.Parts, cr.Ours, cr.Ref, err = compareVideo(ctx, opt, frames, dir, mc, logf); err != nil {
		return cr, fmt.Errorf("%s: %w", c.Name, err)
	}
	if len(cr.Ours) > 0 {
		cr.Width, cr.Height = cr.Ours[0].Width, cr.Ours[0].Height
	}
	p, err := pose.New(pose.Options{Complexity: opt.Complexity, Threads: 1})
	if err != nil {
		return cr, err
	}
	defer p.Close()
	if cr.Steps, err = HandSteps(ctx, p, frames, cr.Ref); err != nil {
		return cr, fmt.Errorf("%s: %w", c.Name, err)
	}
	if cr.Step, err = Compare(cr.Steps, cr.Ref); err != nil {
		return cr, fmt.Errorf("%s: %w", c.Name, err)
	}
	return cr, nil
}
