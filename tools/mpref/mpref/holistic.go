package mpref

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Mode says how HolisticRequest's images relate to each other.
type Mode string

const (
	// Static treats every image alone: the graph is reset before each one and smoothing
	// is off (the JS API has no static_image_mode; this is its equivalent).
	Static Mode = "static"
	// Video treats the images as consecutive frames, fed with fixed timestamps
	// FrameInterval apart (first frame at one interval), with tracking and MediaPipe's
	// default smoothing.
	Video Mode = "video"
)

// HolisticRequest asks for MediaPipe's Holistic solution on Images (or on every
// .png/.jpg/.jpeg/.bmp/.webp in FramesDir, sorted by name with numbers compared as
// numbers). Zero values take MediaPipe's defaults.
type HolisticRequest struct {
	Mode            Mode
	ModelComplexity int // 0 lite, 1 full, 2 heavy
	Images          []string
	FramesDir       string
	// NoSmoothing turns smoothing off in Video mode (it is always off in Static mode).
	NoSmoothing            bool
	RefineFaceLandmarks    bool    // 478 face points (with irises) instead of 468
	MinDetectionConfidence float64 // default 0.5
	MinTrackingConfidence  float64 // default 0.5
	FrameInterval          time.Duration
}

// HolisticFrame is one image's landmarks as the JS API returns them: x and y normalised
// to the image's width and height, z on roughly the scale of x. A nil slice means not
// detected. LeftHand and RightHand are the JS API's leftHandLandmarks and
// rightHandLandmarks: the person's left hand (wrist at pose landmark 15, LEFT_WRIST) and
// right hand (16).
type HolisticFrame struct {
	Image       string
	TimestampUS int64
	Width       int
	Height      int
	Time        time.Duration // wall time of the solution on this frame (reset included in Static mode)
	Pose        [][4]float64  // 33 x, y, z, visibility
	Face        [][3]float64  // 468 (478 refined) x, y, z
	LeftHand    [][3]float64  // 21 x, y, z
	RightHand   [][3]float64  // 21 x, y, z
}

// HolisticTiming sums up speed. FPS is over all frames; FPSAfterFirst leaves out the
// first, which carries one-off start-up work.
type HolisticTiming struct {
	Init          time.Duration // loading the WASM and the graph
	Frames        int
	Mean, Median  time.Duration
	FPS           float64
	FPSAfterFirst float64 // 0 with a single frame
}

// HolisticResult is the whole run.
type HolisticResult struct {
	Mode            Mode
	ModelComplexity int
	Smoothing       bool
	Frames          []HolisticFrame
	Timing          HolisticTiming
}

// RunHolistic runs MediaPipe's Holistic solution (CPU inference) in one Chromium.
func RunHolistic(ctx context.Context, req HolisticRequest) (HolisticResult, error) {
	env, err := Locate()
	if err != nil {
		return HolisticResult{}, err
	}
	return env.RunHolistic(ctx, req)
}

type holisticJSON struct {
	Mode                   Mode     `json:"mode"`
	ModelComplexity        int      `json:"model_complexity"`
	Images                 []string `json:"images,omitempty"`
	FramesDir              string   `json:"frames_dir,omitempty"`
	Out                    string   `json:"out"`
	SmoothLandmarks        *bool    `json:"smooth_landmarks,omitempty"`
	RefineFaceLandmarks    bool     `json:"refine_face_landmarks"`
	MinDetectionConfidence float64  `json:"min_detection_confidence,omitempty"`
	MinTrackingConfidence  float64  `json:"min_tracking_confidence,omitempty"`
	FrameIntervalUS        int64    `json:"frame_interval_us,omitempty"`
}

type holisticOut struct {
	Mode            Mode `json:"mode"`
	ModelComplexity int  `json:"model_complexity"`
	SmoothLandmarks bool `json:"smooth_landmarks"`
	Timing          struct {
		InitMS        float64  `json:"init_ms"`
		Frames        int      `json:"frames"`
		MeanMS        float64  `json:"mean_ms"`
		MedianMS      float64  `json:"median_ms"`
		FPS           float64  `json:"fps"`
		FPSAfterFirst *float64 `json:"fps_after_first"`
	} `json:"timing"`
	Frames []struct {
		Image       string       `json:"image"`
		TimestampUS int64        `json:"timestamp_us"`
		Width       int          `json:"width"`
		Height      int          `json:"height"`
		MS          float64      `json:"ms"`
		Pose        [][4]float64 `json:"pose"`
		Face        [][3]float64 `json:"face"`
		LeftHand    [][3]float64 `json:"left_hand"`
		RightHand   [][3]float64 `json:"right_hand"`
	} `json:"frames"`
}

// RunHolistic is the package-level RunHolistic with this Env.
func (e Env) RunHolistic(ctx context.Context, req HolisticRequest) (HolisticResult, error) {
	var res HolisticResult
	mode := req.Mode
	if mode == "" {
		mode = Static
	}
	if mode != Static && mode != Video {
		return res, fmt.Errorf("HolisticRequest.Mode %q: want %q or %q", req.Mode, Static, Video)
	}
	if req.ModelComplexity < 0 || req.ModelComplexity > 2 {
		return res, fmt.Errorf("HolisticRequest.ModelComplexity %d: want 0, 1 or 2", req.ModelComplexity)
	}
	if (len(req.Images) == 0) == (req.FramesDir == "") {
		return res, fmt.Errorf("HolisticRequest: give either Images or FramesDir")
	}
	if req.FrameInterval < 0 || (req.FrameInterval > 0 && req.FrameInterval < time.Microsecond) {
		return res, fmt.Errorf("HolisticRequest.FrameInterval %v: want at least 1µs", req.FrameInterval)
	}
	dir, err := os.MkdirTemp("", "mpref-holistic-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	j := holisticJSON{
		Mode:                   mode,
		ModelComplexity:        req.ModelComplexity,
		Out:                    filepath.Join(dir, "result.json"),
		RefineFaceLandmarks:    req.RefineFaceLandmarks,
		MinDetectionConfidence: req.MinDetectionConfidence,
		MinTrackingConfidence:  req.MinTrackingConfidence,
		FrameIntervalUS:        req.FrameInterval.Microseconds(),
	}
	for _, im := range req.Images {
		p, err := filepath.Abs(im)
		if err != nil {
			return res, err
		}
		j.Images = append(j.Images, p)
	}
	if req.FramesDir != "" {
		if j.FramesDir, err = filepath.Abs(req.FramesDir); err != nil {
			return res, err
		}
	}
	if mode == Video && req.NoSmoothing {
		off := false
		j.SmoothLandmarks = &off
	}
	reqFile := filepath.Join(dir, "request.json")
	if err := writeJSON(reqFile, j); err != nil {
		return res, err
	}
	if _, err := e.run(ctx, "holistic.mjs", reqFile); err != nil {
		return res, err
	}
	b, err := os.ReadFile(j.Out)
	if err != nil {
		return res, err
	}
	var out holisticOut
	if err := json.Unmarshal(b, &out); err != nil {
		return res, fmt.Errorf("holistic.mjs result: %w", err)
	}
	res = HolisticResult{
		Mode:            out.Mode,
		ModelComplexity: out.ModelComplexity,
		Smoothing:       out.SmoothLandmarks,
		Timing: HolisticTiming{
			Init:   ms(out.Timing.InitMS),
			Frames: out.Timing.Frames,
			Mean:   ms(out.Timing.MeanMS),
			Median: ms(out.Timing.MedianMS),
			FPS:    out.Timing.FPS,
		},
	}
	if out.Timing.FPSAfterFirst != nil {
		res.Timing.FPSAfterFirst = *out.Timing.FPSAfterFirst
	}
	for _, f := range out.Frames {
		res.Frames = append(res.Frames, HolisticFrame{
			Image:       f.Image,
			TimestampUS: f.TimestampUS,
			Width:       f.Width,
			Height:      f.Height,
			Time:        ms(f.MS),
			Pose:        f.Pose,
			Face:        f.Face,
			LeftHand:    f.LeftHand,
			RightHand:   f.RightHand,
		})
	}
	return res, nil
}
