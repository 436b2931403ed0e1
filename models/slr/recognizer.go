package slr

import (
	"context"
	"fmt"
	"math"

	ort "github.com/yalue/onnxruntime_go"

	"scope/models/bundle"
	"scope/models/runtime"
)

// Options configure a Recognizer.
type Options struct {
	// Precision picks the bundle's model file: "fp32" or "int8" ("" = the first listed).
	Precision string
	// Threads is ONNX Runtime's intra-op thread count (0 = 1).
	Threads int
	// BeamWidth is the CTC prefix beam width (0 = 8).
	BeamWidth int
	// TopK is how many hypotheses Recognize returns (0 = 3).
	TopK int
	// SkipVerify skips hashing the model file against the manifest at open.
	SkipVerify bool
}

// Recognizer runs a bundle's recogniser. It is not safe for concurrent use; Close it when done.
type Recognizer struct {
	man  *bundle.Manifest
	slr  *bundle.SLR
	file *bundle.File
	sess *runtime.Session
	tok  *Tokenizer
	opt  Options
}

// Open loads the recogniser of the bundle in dir (a folder with manifest.json). It loads
// ONNX Runtime from the project's cache (`make setup`) when it is not loaded yet.
func Open(dir string, opt Options) (*Recognizer, error) {
	man, err := bundle.Load(dir)
	if err != nil {
		return nil, err
	}
	if man.SLR == nil {
		return nil, fmt.Errorf("bundle %s has no \"slr\" section: it is not a recogniser bundle", dir)
	}
	f, err := man.FileFor("slr", opt.Precision)
	if err != nil {
		return nil, err
	}
	if !opt.SkipVerify {
		if err := man.VerifyFile(f); err != nil {
			return nil, err
		}
	}
	// Init("") keeps a library the caller loaded from the configuration.
	if err := runtime.Init(""); err != nil {
		return nil, err
	}
	sess, err := runtime.NewSession(man.Path(f), runtime.SessionOptions{IntraOpThreads: opt.Threads})
	if err != nil {
		return nil, err
	}
	r := &Recognizer{man: man, slr: man.SLR, file: f, sess: sess, opt: opt}
	want := 1
	if man.SLR.Context {
		want = 2
		if r.tok, err = NewTokenizer(man.SLR.ContextTokenizer); err != nil {
			sess.Close()
			return nil, fmt.Errorf("bundle %s: %w", dir, err)
		}
	}
	if n, o := len(sess.Inputs()), len(sess.Outputs()); n != want || o < 1 || o > 2 {
		sess.Close()
		return nil, fmt.Errorf("model %s has %d inputs and %d outputs; the manifest (context=%v) needs %d and 1 or 2 (log_probs, embedding)",
			man.Path(f), n, o, man.SLR.Context, want)
	}
	if err := checkIO(man, f, sess); err != nil {
		sess.Close()
		return nil, err
	}
	if r.opt.BeamWidth <= 0 {
		r.opt.BeamWidth = 8
	}
	if r.opt.TopK <= 0 {
		r.opt.TopK = 3
	}
	return r, nil
}

// Manifest returns the bundle's manifest.
func (r *Recognizer) Manifest() *bundle.Manifest { return r.man }

// File returns the model file in use.
func (r *Recognizer) File() *bundle.File { return r.file }

// UsesContext reports whether the model reads the dialogue context.
func (r *Recognizer) UsesContext() bool { return r.slr.Context }

// Close releases the ONNX Runtime session.
func (r *Recognizer) Close() error {
	if r.sess == nil {
		return nil
	}
	err := r.sess.Close()
	r.sess = nil
	return err
}

// Output is the model's output for one segment.
type Output struct {
	LogProbs []float32 // [Steps][Vocab], row-major
	Steps    int
	Vocab    int
	// Embedding is the encoder's output averaged over time, when the model has that second
	// output (bundles exported since feature version 2); nil otherwise.
	Embedding []float32
}

// Recognize returns the top-k gloss sequences for a segment of frames recorded at fps,
// given the text of the dialogue's previous turns (oldest first; ignored by a model
// without context).
func (r *Recognizer) Recognize(ctx context.Context, frames []Frame, fps float64, turns []string) ([]Hypothesis, error) {
	out, err := r.Run(ctx, frames, fps, turns)
	if err != nil {
		return nil, err
	}
	return r.Decode(out), nil
}

// Run computes features and runs the model.
func (r *Recognizer) Run(ctx context.Context, frames []Frame, fps float64, turns []string) (*Output, error) {
	if len(frames) == 0 {
		return nil, fmt.Errorf("recognising: the segment has no frames")
	}
	feats, err := Features(frames, fps, &r.slr.Features)
	if err != nil {
		return nil, err
	}
	var ids []int64
	if r.slr.Context {
		ids = r.tok.Encode(turns)
	}
	return r.RunFeatures(ctx, feats, len(frames), ids)
}

// RunFeatures runs the model on standardised features [frames][dim] and context ids.
func (r *Recognizer) RunFeatures(ctx context.Context, feats []float32, frames int, contextIDs []int64) (*Output, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.sess == nil {
		return nil, fmt.Errorf("recogniser is closed")
	}
	d := r.slr.Features.Dim
	if frames <= 0 || len(feats) != frames*d {
		return nil, fmt.Errorf("features: have %d values for %d frames of dim %d", len(feats), frames, d)
	}
	in, err := ort.NewTensor(ort.NewShape(1, int64(frames), int64(d)), feats)
	if err != nil {
		return nil, fmt.Errorf("features tensor: %w", err)
	}
	defer in.Destroy()
	inputs := []ort.Value{in}
	if r.slr.Context {
		if len(contextIDs) == 0 {
			contextIDs = []int64{tokBegin}
		}
		c, err := ort.NewTensor(ort.NewShape(1, int64(len(contextIDs))), contextIDs)
		if err != nil {
			return nil, fmt.Errorf("context tensor: %w", err)
		}
		defer c.Destroy()
		inputs = append(inputs, c)
	}
	outs := make([]ort.Value, len(r.sess.Outputs()))
	if err := r.sess.Run(inputs, outs); err != nil {
		return nil, err
	}
	for _, o := range outs {
		defer o.Destroy()
	}
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("model %s: output is not a float32 tensor", r.sess.Name())
	}
	sh := t.GetShape()
	if len(sh) != 3 || sh[0] != 1 || int(sh[2]) != len(r.slr.Glosses) {
		return nil, fmt.Errorf("model %s: output shape %v, want [1 steps %d]", r.sess.Name(), sh, len(r.slr.Glosses))
	}
	o := &Output{LogProbs: append([]float32(nil), t.GetData()...), Steps: int(sh[1]), Vocab: int(sh[2])}
	if len(outs) > 1 {
		e, ok := outs[1].(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("model %s: embedding output is not a float32 tensor", r.sess.Name())
		}
		o.Embedding = append([]float32(nil), e.GetData()...)
	}
	for _, v := range o.LogProbs {
		if math.IsNaN(float64(v)) {
			return nil, fmt.Errorf("model %s produced NaN log-probabilities", r.sess.Name())
		}
	}
	return o, nil
}

// Decode runs the beam search on a model output and names the glosses.
func (r *Recognizer) Decode(o *Output) []Hypothesis {
	hs := BeamSearch(o.LogProbs, o.Steps, o.Vocab, r.slr.Blank, r.opt.BeamWidth, r.opt.TopK)
	out := make([]Hypothesis, len(hs))
	for i, h := range hs {
		g := make([]string, len(h.IDs))
		for j, id := range h.IDs {
			g[j] = r.slr.Glosses[id]
		}
		out[i] = Hypothesis{Glosses: g, Score: h.Score}
	}
	return out
}
