package modelset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"gocv.io/x/gocv"

	"scope/internal/release"
	"scope/models/bundle"
	"scope/models/pose"
	"scope/models/slr"
	"scope/models/slt"
)

// ExpectedName is the golden file's path inside a bundle.
const ExpectedName = "golden/expected.json"

// DefaultLandmarkTolerance is how far (as a fraction of the image diagonal) a part's
// landmarks may move on average before a user would see the skeleton in another place.
const DefaultLandmarkTolerance = 0.02

// Expected is the golden file: inputs (files of the bundle with role golden) and what a
// user saw for each when the bundle was built.
type Expected struct {
	Scope      string `json:"scope"`       // release that recorded it
	RecordedOn string `json:"recorded_on"` // GOOS/GOARCH, for people
	// LandmarkTolerance is the largest mean distance, as a fraction of the image
	// diagonal, between a part's recorded and checked landmarks.
	LandmarkTolerance float64    `json:"landmark_tolerance"`
	Pose              []PoseCase `json:"pose,omitempty"`
	SLR               []SLRCase  `json:"slr,omitempty"`
	SLT               []SLTCase  `json:"slt,omitempty"`
}

// PoseCase is one image through the Holistic pipeline (each image alone, no tracking).
type PoseCase struct {
	Input   string  `json:"input"`
	Width   int     `json:"width"`
	Height  int     `json:"height"`
	Present [4]bool `json:"present"` // pose, face, left hand, right hand
	// Points are the 543 landmarks' x and y as fractions of the width and height.
	Points [][2]float32 `json:"points"`
}

// SLRCase is one signed sentence (a .pose file) with the dialogue before it.
type SLRCase struct {
	Input   string   `json:"input"`
	Context []string `json:"context"`
	Meant   []string `json:"meant,omitempty"` // the reference glosses (informational)
	// Top1 is the best hypothesis's glosses for each precision of the recogniser.
	Top1 map[string][]string `json:"top1"`
	// Margin is the log-probability lead of the best over the second hypothesis when it
	// was recorded (informational: cases are chosen where it is large).
	Margin map[string]float64 `json:"margin,omitempty"`
}

// SLTCase is one translation: fixed hypotheses and context, the domain's adapter, and the
// text that was shown.
type SLTCase struct {
	Domain     string       `json:"domain"`
	Context    []string     `json:"context"`
	Hypotheses []Hypothesis `json:"hypotheses"`
	Text       string       `json:"text"`
}

// Hypothesis is a translator input: glosses as text and their score in [0, 1].
type Hypothesis struct {
	Glosses string  `json:"glosses"`
	Score   float64 `json:"score"`
}

// ErrGolden is wrapped when a bundle's outputs differ from its golden outputs, or are not
// finite numbers.
var ErrGolden = errors.New("golden check failed")

// ReadExpected reads the golden file of a loaded bundle.
func ReadExpected(m *bundle.Manifest) (*Expected, error) {
	if m.Golden == nil {
		return nil, fmt.Errorf("bundle %s has no golden section: rebuild it with `scope bundle build`", m.Dir())
	}
	p := filepath.Join(m.Dir(), filepath.FromSlash(m.Golden.Expected))
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("golden file: %w", err)
	}
	var e Expected
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("golden file %s: %w", p, err)
	}
	if !(e.LandmarkTolerance > 0 && e.LandmarkTolerance < 1) {
		e.LandmarkTolerance = DefaultLandmarkTolerance
	}
	return &e, nil
}

// Result is one golden case's outcome.
type Result struct {
	Case   string `json:"case"` // "pose golden/pose-1.jpg", "slr int8 golden/slr-1.pose", "slt reception #1"
	OK     bool   `json:"ok"`
	Detail string `json:"detail"` // what was seen (and expected, when it differs)
}

// Report is a golden check's outcome.
type Report struct {
	Results []Result `json:"results"`
}

// Failed lists the failed cases.
func (r *Report) Failed() []Result {
	var out []Result
	for _, x := range r.Results {
		if !x.OK {
			out = append(out, x)
		}
	}
	return out
}

func (r *Report) add(name string, ok bool, format string, args ...any) {
	r.Results = append(r.Results, Result{Case: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// Err is nil when every case passed, else an ErrGolden naming the failures.
func (r *Report) Err() error {
	f := r.Failed()
	if len(f) == 0 {
		return nil
	}
	var parts []string
	for _, x := range f {
		parts = append(parts, x.Case+": "+x.Detail)
	}
	return fmt.Errorf("%w: %d of %d cases differ: %s", ErrGolden, len(f), len(r.Results), strings.Join(parts, "; "))
}

// Check runs the golden inputs through the opened models of s (which should be opened
// with AllPrecisions, so every recogniser is checked) and compares what a user would see.
// It checks only the roles that s has open, and fails a bundle without a golden file.
func (s *Set) Check(ctx context.Context) (*Report, error) {
	e, err := ReadExpected(s.Manifest)
	if err != nil {
		return nil, err
	}
	r := &Report{}
	dir := s.Manifest.Dir()
	if s.Pose != nil {
		if len(e.Pose) == 0 {
			r.add("pose", false, "the bundle has pose models but no golden image")
		}
		for _, c := range e.Pose {
			f, err := runPose(ctx, s.Pose, filepath.Join(dir, filepath.FromSlash(c.Input)))
			name := "pose " + c.Input
			if err != nil {
				r.add(name, false, "%v", err)
				continue
			}
			ok, detail := comparePose(c, f, e.LandmarkTolerance)
			r.add(name, ok, "%s", detail)
		}
	}
	if len(s.Recognizers) > 0 && len(e.SLR) == 0 {
		r.add("slr", false, "the bundle has a recogniser but no golden sentence")
	}
	precs := make([]string, 0, len(s.Recognizers))
	for p := range s.Recognizers {
		precs = append(precs, p)
	}
	sort.Strings(precs)
	for _, prec := range precs {
		rec := s.Recognizers[prec]
		for _, c := range e.SLR {
			name := "slr " + prec + " " + c.Input
			want, ok := c.Top1[prec]
			if !ok {
				r.add(name, false, "no recorded output for precision %s", prec)
				continue
			}
			hyps, err := recognise(ctx, rec, filepath.Join(dir, filepath.FromSlash(c.Input)), c.Context)
			if err != nil {
				r.add(name, false, "%v", err)
				continue
			}
			got := []string{}
			if len(hyps) > 0 {
				got = hyps[0].Glosses
			}
			if strings.Join(got, " ") == strings.Join(want, " ") {
				r.add(name, true, "top-1 %s", glossText(got))
			} else {
				r.add(name, false, "top-1 %s, recorded %s", glossText(got), glossText(want))
			}
		}
	}
	if s.Translator != nil {
		if len(e.SLT) == 0 {
			r.add("slt", false, "the bundle has a translator but no golden translation")
		}
		for i, c := range e.SLT {
			name := fmt.Sprintf("slt %s #%d", domainOr(c.Domain), i+1)
			got, err := translate(ctx, s.Translator, c)
			if err != nil {
				r.add(name, false, "%v", err)
				continue
			}
			if sameText(got, c.Text) {
				r.add(name, true, "%q", got)
			} else {
				r.add(name, false, "%q, recorded %q", got, c.Text)
			}
		}
	}
	return r, nil
}

// CheckDir opens the bundle in dir with every recogniser precision, runs its golden
// check, and closes it. The error wraps ErrLoad when a model does not load and ErrGolden
// when an output differs.
func CheckDir(ctx context.Context, dir string, o Options) (*Report, error) {
	o.AllPrecisions = true
	s, err := Open(dir, o)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rep, err := s.Check(ctx)
	if err != nil {
		return nil, err
	}
	return rep, rep.Err()
}

func domainOr(d string) string {
	if d == "" {
		return "(no adapter)"
	}
	return d
}

func glossText(g []string) string {
	if len(g) == 0 {
		return "(nothing)"
	}
	return strings.Join(g, " ")
}

// sameText compares two sentences as a reader would: whitespace runs are one space.
func sameText(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}

func runPose(ctx context.Context, p *pose.Pipeline, path string) (pose.Frame, error) {
	img := gocv.IMRead(path, gocv.IMReadColor)
	if img.Empty() {
		img.Close()
		return pose.Frame{}, fmt.Errorf("golden image %s does not read", path)
	}
	defer img.Close()
	f, err := p.Process(ctx, img, 0)
	if err != nil {
		return f, fmt.Errorf("pose on %s: %w", path, err)
	}
	for i := range f.Points {
		for _, v := range f.Points[i] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return f, fmt.Errorf("%w: pose landmark %d of %s is not a finite number", ErrGolden, i, path)
			}
		}
	}
	return f, nil
}

var partNames = [4]string{"pose", "face", "left hand", "right hand"}

// partRange is each part's slice of the 543 points.
var partRange = [4][2]int{
	{pose.PoseOffset, pose.PoseOffset + pose.NumPosePoints},
	{pose.FaceOffset, pose.FaceOffset + pose.NumFacePoints},
	{pose.LeftHandOffset, pose.LeftHandOffset + pose.NumHandPoints},
	{pose.RightHandOffset, pose.RightHandOffset + pose.NumHandPoints},
}

func comparePose(c PoseCase, f pose.Frame, tol float64) (bool, string) {
	if f.Width != c.Width || f.Height != c.Height {
		return false, fmt.Sprintf("image is %dx%d, recorded %dx%d", f.Width, f.Height, c.Width, c.Height)
	}
	if len(c.Points) != pose.NumPoints {
		return false, fmt.Sprintf("recorded %d points, want %d", len(c.Points), pose.NumPoints)
	}
	diag := math.Hypot(float64(c.Width), float64(c.Height))
	var notes []string
	ok := true
	for part := range partNames {
		if f.Present[part] != c.Present[part] {
			ok = false
			notes = append(notes, fmt.Sprintf("%s found %v, recorded %v", partNames[part], f.Present[part], c.Present[part]))
			continue
		}
		if !c.Present[part] {
			continue
		}
		var sum float64
		a, b := partRange[part][0], partRange[part][1]
		for i := a; i < b; i++ {
			dx := float64(f.Points[i][0]) - float64(c.Points[i][0])*float64(c.Width)
			dy := float64(f.Points[i][1]) - float64(c.Points[i][1])*float64(c.Height)
			sum += math.Hypot(dx, dy)
		}
		mean := sum / float64(b-a) / diag
		if mean > tol {
			ok = false
			notes = append(notes, fmt.Sprintf("%s landmarks moved %.2f%% of the diagonal on average (at most %.2f%%)", partNames[part], 100*mean, 100*tol))
		} else {
			notes = append(notes, fmt.Sprintf("%s within %.3f%%", partNames[part], 100*mean))
		}
	}
	return ok, strings.Join(notes, ", ")
}

func poseCase(input string, f pose.Frame) PoseCase {
	c := PoseCase{Input: input, Width: f.Width, Height: f.Height, Present: f.Present, Points: make([][2]float32, pose.NumPoints)}
	for i := range f.Points {
		c.Points[i] = [2]float32{f.Points[i][0] / float32(f.Width), f.Points[i][1] / float32(f.Height)}
	}
	return c
}

// recognise runs one .pose file through a recogniser and refuses outputs that are not
// finite numbers.
func recognise(ctx context.Context, r *slr.Recognizer, path string, context []string) ([]slr.Hypothesis, error) {
	frames, fps, err := slr.ReadPose(path, 0, 0)
	if err != nil {
		return nil, err
	}
	out, err := r.Run(ctx, frames, fps, context)
	if err != nil {
		return nil, err
	}
	if i := nonFinite(out.LogProbs); i >= 0 {
		return nil, fmt.Errorf("%w: the recogniser's output %d on %s is %g", ErrGolden, i, path, out.LogProbs[i])
	}
	return r.Decode(out), nil
}

// nonFinite returns the index of the first NaN or infinity in v, or -1.
func nonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}

func translate(ctx context.Context, t *slt.Translator, c SLTCase) (string, error) {
	if err := t.SetDomain(c.Domain, 1); err != nil {
		return "", err
	}
	hyps := make([]slt.Hypothesis, len(c.Hypotheses))
	for i, h := range c.Hypotheses {
		hyps[i] = slt.Hypothesis{Glosses: h.Glosses, Score: h.Score}
	}
	res, err := t.Translate(ctx, c.Context, hyps, nil)
	if err != nil && !errors.Is(err, slt.ErrEmpty) { // a blank sentence compares as ""
		return "", err
	}
	return res.Text, nil
}

func recordedOn() string { return runtime.GOOS + "/" + runtime.GOARCH }

func newExpected() *Expected {
	return &Expected{Scope: release.Version, RecordedOn: recordedOn(), LandmarkTolerance: DefaultLandmarkTolerance}
}

var _ = bundle.RoleGolden
