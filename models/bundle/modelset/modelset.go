// Package modelset opens every model of a bundle (models/bundle), builds bundles from a
// configuration's models, and records and checks a bundle's golden outputs.
//
// Golden checks compare what a user sees, not raw numbers: the same top-1 glosses from the
// recogniser, the same translation text, and landmarks within a fraction of the image. A
// device may be arm64 or run a GPU, so its floating-point results differ in the last
// digits from the publisher's CPU; golden cases are therefore chosen where the decision is
// clear (the recogniser's best hypothesis well ahead of the second), and the translator's
// case feeds the recorded hypotheses, so a rounding difference upstream cannot change its
// prompt.
package modelset

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"scope/models/bundle"
	"scope/models/pose"
	"scope/models/slr"
	"scope/models/slt"
)

// Options choose what Open loads and how.
type Options struct {
	// Precision picks the recogniser: "fp32", "int8", or "" for fp32 when the bundle has it.
	Precision string
	// AllPrecisions opens every recogniser of the bundle (golden checks), in Recognizers.
	AllPrecisions bool
	// NoPose and NoTranslator leave those models closed even when the bundle has them.
	NoPose, NoTranslator bool
	// Threads per model (0 = 1): an update is checked beside the running interpreter, so
	// it stays small by default.
	Threads int
	// BeamWidth and TopK of the recogniser's beam search (0 = its defaults).
	BeamWidth, TopK int
	// MaxTokens of a translation (0 = the translator's default).
	MaxTokens int
	// SkipVerify skips hashing the files (the caller has just verified them).
	SkipVerify bool
	Log        *slog.Logger
}

// Set is a bundle's models, opened. Fields are nil for roles the bundle lacks or the
// options left closed.
type Set struct {
	Manifest    *bundle.Manifest
	Pose        *pose.Pipeline
	Recognizer  *slr.Recognizer            // the one Options.Precision picked
	Recognizers map[string]*slr.Recognizer // by precision (all of them with AllPrecisions)
	Translator  *slt.Translator
}

// ErrLoad is wrapped by every error about a model that does not load.
var ErrLoad = errors.New("bundle model does not load")

// Open loads the bundle in dir: it checks the manifest (format, versions, this scope's
// release against min_scope_version), verifies every file's sha256 and opens each model.
// Errors name the file.
func Open(dir string, o Options) (_ *Set, err error) {
	m, err := bundle.Load(dir)
	if err != nil {
		return nil, err
	}
	if !o.SkipVerify {
		if err := m.Verify(); err != nil {
			return nil, err
		}
	}
	s := &Set{Manifest: m, Recognizers: map[string]*slr.Recognizer{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	threads := max(o.Threads, 1)
	if m.Pose != nil && !o.NoPose {
		pdir, p, err := m.PoseDir()
		if err != nil {
			return nil, err
		}
		// Every model must be in the bundle: the pipeline would otherwise convert a missing
		// one from the cache into the bundle's folder.
		for _, name := range pose.ModelNames(p.Complexity, p.HandModel) {
			f := filepath.Join(pdir, name+".onnx")
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("%w: pose model %s: %v", ErrLoad, f, err)
			}
		}
		if s.Pose, err = pose.New(pose.Options{Complexity: p.Complexity, HandModel: p.HandModel, ModelDir: pdir,
			Threads: threads, Static: true}); err != nil {
			return nil, fmt.Errorf("%w: pose models in %s: %v", ErrLoad, pdir, err)
		}
	}
	if m.SLR != nil {
		precs := []string{o.Precision}
		if o.Precision == "" {
			precs[0] = "fp32"
			if _, err := m.FileFor(bundle.RoleSLR, "fp32"); err != nil {
				precs[0] = ""
			}
		}
		if o.AllPrecisions {
			precs = precs[:0]
			for _, f := range m.Files {
				if f.Role == bundle.RoleSLR {
					precs = append(precs, f.Precision)
				}
			}
		}
		for _, prec := range precs {
			r, err := slr.Open(m.Dir(), slr.Options{Precision: prec, Threads: threads, BeamWidth: o.BeamWidth, TopK: o.TopK, SkipVerify: true})
			if err != nil {
				return nil, fmt.Errorf("%w: recogniser (%s) of %s: %v", ErrLoad, precOr(prec), dir, err)
			}
			s.Recognizers[r.File().Precision] = r
			if s.Recognizer == nil || r.File().Precision == o.Precision || (o.Precision == "" && r.File().Precision == "fp32") {
				s.Recognizer = r
			}
		}
	}
	if m.HasRole(bundle.RoleSLT) && !o.NoTranslator {
		model, adapters, err := m.TranslatorFiles()
		if err != nil {
			return nil, err
		}
		var format slt.Format
		if m.SLT != nil {
			format = slt.Format(m.SLT.Format)
		}
		if s.Translator, err = slt.Open(slt.Config{Model: model, Adapters: adapters, MaxTokens: o.MaxTokens, Threads: threads,
			Format: format, Log: o.Log}); err != nil {
			return nil, fmt.Errorf("%w: translator %s: %v", ErrLoad, model, err)
		}
	}
	return s, nil
}

func precOr(p string) string {
	if p == "" {
		return "first listed"
	}
	return p
}

// Close releases every model. Safe to call more than once.
func (s *Set) Close() error {
	if s.Translator != nil {
		s.Translator.Close()
		s.Translator = nil
	}
	for k, r := range s.Recognizers {
		r.Close()
		delete(s.Recognizers, k)
	}
	s.Recognizer = nil
	if s.Pose != nil {
		s.Pose.Close()
		s.Pose = nil
	}
	return nil
}
