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
	Threads   int
	Log       io.Writer // progress, may be nil
}

// Result of a Run.
type Result struct {
	Static, Video, Pan [4]Part
	StaticFrames       []pose.Frame
	VideoFrames        []pose.Frame
	Ref                []mpref.HolisticFrame
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
	return res, nil
}
