package modelset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"scope/daemon/pipeline"
	"scope/internal/assets"
	"scope/internal/release"
	"scope/models/bundle"
	"scope/models/convert"
	"scope/models/pose"
	"scope/models/poseformat"
	"scope/models/slr"
	"scope/synth"
)

// BuildOptions say what goes into a bundle. Empty model fields mean the demo models that
// ship with scope.
type BuildOptions struct {
	Out             string // the bundle folder to write; must not exist or be empty
	Name            string // default "scope-demo" for the demo models, else "scope-bundle"
	Version         string // default: the recogniser bundle's version
	MinScopeVersion string // default: this release

	// Pose models: Complexity and HandModel as pose.Options; ModelDir holds converted .onnx
	// files (default the cache's onnx folder; missing ones are converted from MediaPipe's
	// .tflite in the cache). NoPose leaves them out (a device fed keypoints runs none).
	NoPose           bool
	PoseComplexity   string
	PoseHandModel    string
	PoseModelDir     string
	PoseGoldenImages []string // default: messi5.jpg of Debian's opencv-doc

	SLRBundle   string            // recogniser bundle folder (default models/demo/slr)
	SLTModel    string            // translator GGUF (default models/demo/slt)
	SLTAdapters map[string]string // domain -> LoRA GGUF (with SLTModel)
	SLTFormat   string
	NoSLT       bool

	GoldenSeed      uint64 // synthetic dialogues the golden sentences come from (default 2027)
	GoldenSentences int    // how many golden sentences (default 3, one per domain where it can)
	// MinMargin is the least log-probability lead of the best hypothesis over the second
	// for a sentence to become golden (default 2).
	MinMargin float64

	Progress io.Writer // one line per step (nil: quiet)
}

// DefaultGoldenImage is the golden image for the pose models: a real photograph with a
// person whose face and both hands the Holistic models find (Debian's opencv-doc).
const DefaultGoldenImage = "/usr/share/doc/opencv-doc/examples/data/messi5.jpg"

// Build writes a bundle: it copies the models, writes golden inputs, runs the models on
// them to record what a user sees, writes the manifest, and verifies the result. It writes
// into a temporary folder beside Out and renames it at the end, so Out never holds half a
// bundle.
func Build(ctx context.Context, o BuildOptions) (_ *bundle.Manifest, err error) {
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	if o.Out == "" {
		return nil, errors.New("bundle build: no output folder")
	}
	if ents, err := os.ReadDir(o.Out); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("bundle build: %s exists and is not empty; choose a new folder", o.Out)
	}
	demo := o.SLRBundle == "" && o.SLTModel == ""
	if o.SLRBundle == "" {
		d, err := slr.DefaultBundleDir()
		if err != nil {
			return nil, err
		}
		o.SLRBundle = d
	}
	src, err := bundle.Load(o.SLRBundle)
	if err != nil {
		return nil, fmt.Errorf("recogniser bundle: %w", err)
	}
	if src.SLR == nil {
		return nil, fmt.Errorf("%s has no recogniser (slr section)", o.SLRBundle)
	}
	if err := src.Verify(); err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = "scope-bundle"
		if demo {
			o.Name = "scope-demo"
		}
	}
	if o.Version == "" {
		o.Version = src.Version
	}
	if o.MinScopeVersion == "" {
		o.MinScopeVersion = release.Version
	}
	if o.GoldenSeed == 0 {
		o.GoldenSeed = 2027
	}
	if o.GoldenSentences <= 0 {
		o.GoldenSentences = 3
	}
	if o.MinMargin <= 0 {
		o.MinMargin = 2
	}

	parent := filepath.Dir(filepath.Clean(o.Out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(o.Out)+".building-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	m := &bundle.Manifest{Format: bundle.FormatRevision, Name: o.Name, Version: o.Version, MinScopeVersion: o.MinScopeVersion}
	m.SetDir(tmp)

	// The recogniser: every file and section of its bundle, under slr/.
	say("recogniser: %s %s from %s", src.Name, src.Version, o.SLRBundle)
	for _, f := range src.Files {
		rel := f.Path
		if f.Role == bundle.RoleSLR {
			rel = path.Join("slr", path.Base(f.Path))
		}
		if err := copyFile(src.Path(&f), filepath.Join(tmp, filepath.FromSlash(rel))); err != nil {
			return nil, err
		}
		nf, err := m.AddFile(f.Role, rel, f.Precision)
		if err != nil {
			return nil, err
		}
		nf.Inputs, nf.Outputs = f.Inputs, f.Outputs
	}
	slrSec := *src.SLR
	m.SLR = &slrSec
	for k, v := range src.Other {
		if m.Other == nil {
			m.Other = map[string]json.RawMessage{}
		}
		m.Other[k] = v
	}

	if !o.NoSLT {
		model, adapters := o.SLTModel, o.SLTAdapters
		if model == "" {
			if model, adapters, err = DemoTranslator(); err != nil {
				return nil, err
			}
		}
		say("translator: %s with %d LoRA adapters", model, len(adapters))
		rel := path.Join("slt", filepath.Base(model))
		if err := copyFile(model, filepath.Join(tmp, filepath.FromSlash(rel))); err != nil {
			return nil, err
		}
		if _, err := m.AddFile(bundle.RoleSLT, rel, ggufPrecision(model)); err != nil {
			return nil, err
		}
		m.SLT = &bundle.SLT{Format: o.SLTFormat, Adapters: map[string]string{}}
		for _, d := range sortedKeys(adapters) {
			rel := path.Join("slt", "lora-"+d+".gguf")
			if err := copyFile(adapters[d], filepath.Join(tmp, filepath.FromSlash(rel))); err != nil {
				return nil, err
			}
			if _, err := m.AddFile(bundle.RoleSLTAdapter, rel, ""); err != nil {
				return nil, err
			}
			m.SLT.Adapters[d] = rel
		}
	}

	if !o.NoPose {
		p := bundle.Pose{Dir: "pose", Complexity: o.PoseComplexity, HandModel: o.PoseHandModel}
		if p.Complexity == "" {
			p.Complexity = "lite"
		}
		if p.HandModel == "" {
			p.HandModel = "full"
		}
		dir := o.PoseModelDir
		if dir == "" {
			dir = convert.DefaultDir(assets.CacheDir())
		}
		say("pose: Holistic models (%s pose, %s hands) from %s", p.Complexity, p.HandModel, dir)
		for _, name := range pose.ModelNames(p.Complexity, p.HandModel) {
			srcFile, err := poseModel(dir, name)
			if err != nil {
				return nil, err
			}
			rel := path.Join(p.Dir, name+".onnx")
			if err := copyFile(srcFile, filepath.Join(tmp, filepath.FromSlash(rel))); err != nil {
				return nil, err
			}
			if _, err := m.AddFile(bundle.RolePose, rel, "fp32"); err != nil {
				return nil, err
			}
		}
		m.Pose = &p
	}

	// Golden inputs, then the outputs the bundle's own models give for them.
	if err := m.Write(); err != nil {
		return nil, err
	}
	say("golden: recording what users see (top-1 glosses, translations, landmarks)")
	e, err := record(ctx, tmp, o, m, say)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(e, "", " ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, filepath.FromSlash(ExpectedName)), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if _, err := m.AddFile(bundle.RoleGolden, ExpectedName, ""); err != nil {
		return nil, err
	}
	m.Golden = &bundle.Golden{Expected: ExpectedName}
	if err := m.Write(); err != nil {
		return nil, err
	}
	if err := m.Verify(); err != nil {
		return nil, err
	}
	if err := os.Remove(o.Out); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("bundle build: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, o.Out); err != nil {
		return nil, err
	}
	out, err := bundle.Load(o.Out)
	if err != nil {
		return nil, err
	}
	say("bundle %s %s written to %s (hash %s)", out.Name, out.Version, o.Out, bundle.ShortHash(out.Hash()))
	return out, nil
}

// record writes the golden inputs into dir and runs the bundle's models on them.
func record(ctx context.Context, dir string, o BuildOptions, m *bundle.Manifest, say func(string, ...any)) (*Expected, error) {
	e := newExpected()
	// Golden input files are part of the bundle; add them before opening it.
	var images []string
	if m.Pose != nil {
		imgs := o.PoseGoldenImages
		if len(imgs) == 0 {
			imgs = []string{DefaultGoldenImage}
		}
		for i, src := range imgs {
			rel := fmt.Sprintf("golden/pose-%d%s", i+1, strings.ToLower(filepath.Ext(src)))
			if err := copyFile(src, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
				return nil, fmt.Errorf("golden image: %w (apt-get install opencv-doc, or name images)", err)
			}
			if _, err := m.AddFile(bundle.RoleGolden, rel, ""); err != nil {
				return nil, err
			}
			images = append(images, rel)
		}
	}
	sentences, err := synthSentences(ctx, dir, o, m, say)
	if err != nil {
		return nil, err
	}
	if err := m.Write(); err != nil {
		return nil, err
	}
	s, err := Open(dir, Options{AllPrecisions: true, SkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for _, rel := range images {
		f, err := runPose(ctx, s.Pose, filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		e.Pose = append(e.Pose, poseCase(rel, f))
		say("  %s: pose %v, face %v, hands %v %v", rel, f.Present[0], f.Present[1], f.Present[2], f.Present[3])
	}
	for _, c := range sentences {
		sc := SLRCase{Input: c.input, Context: c.context, Meant: c.meant, Top1: map[string][]string{}, Margin: map[string]float64{}}
		for prec, r := range s.Recognizers {
			hyps, err := recognise(ctx, r, filepath.Join(dir, filepath.FromSlash(c.input)), c.context)
			if err != nil {
				return nil, err
			}
			sc.Top1[prec] = []string{}
			if len(hyps) > 0 {
				sc.Top1[prec] = hyps[0].Glosses
			}
			sc.Margin[prec] = margin(hyps)
		}
		e.SLR = append(e.SLR, sc)
		say("  %s: %s (%s)", c.input, strings.Join(sc.Top1[precKey(s)], " "), c.domain)
		if s.Translator == nil {
			continue
		}
		hyps, err := recognise(ctx, s.Recognizer, filepath.Join(dir, filepath.FromSlash(c.input)), c.context)
		if err != nil {
			return nil, err
		}
		tc := SLTCase{Context: c.context}
		if m.SLT != nil {
			if _, ok := m.SLT.Adapters[c.domain]; ok {
				tc.Domain = c.domain
			}
		}
		for _, h := range pipeline.TranslatorHypotheses(hyps) {
			tc.Hypotheses = append(tc.Hypotheses, Hypothesis{Glosses: h.Glosses, Score: round(h.Score)})
		}
		if tc.Text, err = translate(ctx, s.Translator, tc); err != nil {
			return nil, err
		}
		e.SLT = append(e.SLT, tc)
		say("    -> %q", tc.Text)
	}
	// Every adapter gets a golden translation: an adapter no golden sentence's domain used
	// translates the first sentence's hypotheses.
	if s.Translator != nil && m.SLT != nil && len(e.SLT) > 0 {
		used := map[string]bool{}
		for _, c := range e.SLT {
			used[c.Domain] = true
		}
		for _, d := range sortedKeys(m.SLT.Adapters) {
			if used[d] {
				continue
			}
			tc := SLTCase{Domain: d, Context: e.SLT[0].Context, Hypotheses: e.SLT[0].Hypotheses}
			var err error
			if tc.Text, err = translate(ctx, s.Translator, tc); err != nil {
				return nil, err
			}
			e.SLT = append(e.SLT, tc)
			say("  adapter %s: %q", d, tc.Text)
		}
	}
	return e, nil
}

func precKey(s *Set) string {
	if s.Recognizer != nil {
		return s.Recognizer.File().Precision
	}
	return ""
}

func round(x float64) float64 { return float64(int64(x*1e4+0.5)) / 1e4 }

func margin(h []slr.Hypothesis) float64 {
	switch len(h) {
	case 0:
		return 0
	case 1:
		return 99
	}
	return h[0].Score - h[1].Score
}

type sentence struct {
	input   string
	context []string
	meant   []string
	domain  string
}

// synthSentences picks golden sentences from synthetic dialogues of signers the
// recogniser never saw: sentences every precision recognises correctly with a clear
// margin, one per domain first. It writes each as a .pose file into dir.
func synthSentences(ctx context.Context, dir string, o BuildOptions, m *bundle.Manifest, say func(string, ...any)) ([]sentence, error) {
	// A recogniser-only view of the bundle, to choose the sentences.
	recs := map[string]*slr.Recognizer{}
	defer func() {
		for _, r := range recs {
			r.Close()
		}
	}()
	for _, f := range m.Files {
		if f.Role != bundle.RoleSLR {
			continue
		}
		r, err := slr.Open(dir, slr.Options{Precision: f.Precision, SkipVerify: true})
		if err != nil {
			return nil, fmt.Errorf("%w: recogniser %s: %v", ErrLoad, f.Path, err)
		}
		recs[f.Precision] = r
	}
	gen, err := synth.NewGenerator(synth.Config{Dialogues: 1 << 20, Seed: o.GoldenSeed})
	if err != nil {
		return nil, err
	}
	cfg := gen.Config()
	var out []sentence
	domains := map[string]bool{}
	tried := 0
	for i := 0; i < 400 && len(out) < o.GoldenSentences; i++ {
		d, clips := gen.Dialogue(i)
		if d.Signer.Split != "test" {
			continue
		}
		var context []string
		for t, turn := range d.Turns {
			prev := context
			context = append(append([]string(nil), context...), turn.Text)
			if !turn.Signer || domains[d.Domain] && i < 200 || len(out) >= o.GoldenSentences {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			tried++
			frames := make([]slr.Frame, len(clips[t].Points))
			for k := range frames {
				frames[k] = slr.Frame{Points: clips[t].Points[k], Conf: clips[t].Conf[k]}
			}
			good := true
			for _, r := range recs {
				hyps, err := r.Recognize(ctx, frames, cfg.FPS, prev)
				if err != nil {
					return nil, err
				}
				if len(hyps) == 0 || strings.Join(hyps[0].Glosses, " ") != strings.Join(turn.Glosses, " ") || margin(hyps) < o.MinMargin {
					good = false
					break
				}
			}
			if !good {
				continue
			}
			rel := fmt.Sprintf("golden/slr-%d.pose", len(out)+1)
			pf, err := poseformat.NewHolistic(cfg.Width, cfg.Height, float32(cfg.FPS), clips[t].Points, clips[t].Conf, nil)
			if err != nil {
				return nil, err
			}
			p := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
			if err := pf.WriteFile(p); err != nil {
				return nil, err
			}
			if _, err := m.AddFile(bundle.RoleGolden, rel, ""); err != nil {
				return nil, err
			}
			out = append(out, sentence{input: rel, context: prev, meant: turn.Glosses, domain: d.Domain})
			domains[d.Domain] = true
			break // one sentence per dialogue
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("golden: none of %d synthetic sentences (seed %d) was recognised right with a margin of %.1f by every precision; "+
			"try --golden-seed or a lower --golden-margin", tried, o.GoldenSeed, o.MinMargin)
	}
	say("golden: %d synthetic sentences chosen of %d tried (seed %d, margin >= %.1f)", len(out), tried, o.GoldenSeed, o.MinMargin)
	return out, nil
}

// poseModel returns dir/name.onnx, converting MediaPipe's name.tflite from the cache
// into dir when it is missing (as the pose pipeline does).
func poseModel(dir, name string) (string, error) {
	out := filepath.Join(dir, name+".onnx")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	in, err := assets.MediaPipeModel(name + ".tflite")
	if err != nil {
		return "", fmt.Errorf("pose model %s is missing and so is its source: %w", out, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if _, err := convert.File(in, out, convert.Options{}); err != nil {
		return "", fmt.Errorf("converting %s: %w", in, err)
	}
	return out, nil
}

// DemoTranslator finds the demo translator in models/demo/slt: the one .gguf not named
// lora-*, and lora-<domain>.gguf adapters.
func DemoTranslator() (string, map[string]string, error) {
	dir, err := assets.Find("models/demo/slt")
	if err != nil {
		return "", nil, fmt.Errorf("demo translator: %w; set slt.model to a GGUF file", err)
	}
	all, _ := filepath.Glob(filepath.Join(dir, "*.gguf"))
	var models []string
	adapters := map[string]string{}
	for _, p := range all {
		name := filepath.Base(p)
		if strings.HasPrefix(name, "lora-") {
			adapters[strings.TrimSuffix(strings.TrimPrefix(name, "lora-"), ".gguf")] = p
			continue
		}
		models = append(models, p)
	}
	if len(models) != 1 {
		return "", nil, fmt.Errorf("demo translator: want one base model in %s, found %d (%v)", dir, len(models), models)
	}
	return models[0], adapters, nil
}

func ggufPrecision(p string) string {
	b := strings.ToLower(filepath.Base(p))
	for _, q := range []string{"q4_0", "q4_k", "q8_0", "f16", "f32"} {
		if strings.Contains(b, q) {
			return q
		}
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// copyFile copies src to dst (creating dst's folder), syncing it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
