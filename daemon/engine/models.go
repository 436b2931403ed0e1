package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"scope/daemon/pipeline"
	"scope/dialogue"
	"scope/gate"
	"scope/models/bundle"
	"scope/models/bundle/modelset"
	"scope/models/slr"
	"scope/models/slt"
)

// Gate, GateInput and Verdict are the confidence gate's interface (see package
// pipeline, which calls it after each translation). A gate package may implement it
// against either name.
type (
	Gate      = pipeline.Gate
	GateInput = pipeline.GateInput
	Verdict   = pipeline.Verdict
)

// ShowAll is the gate used until a calibrated one is configured: it shows everything
// and its Name says so.
type ShowAll = pipeline.ShowAll

// BundleInfo names the models that run now: every turn records Version and Hash.
type BundleInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Hash is the sha256 of the bundle's manifest.json, which lists every file's sha256;
	// when the translator comes from outside the bundle (slt.model, or the demo
	// translator beside a recogniser-only bundle), the sha256 of that manifest hash
	// followed by the translator's files' hashes.
	Hash string `json:"hash"`
	Dir  string `json:"dir"`
	// Translator is the translator's model file ("" with --no-translate).
	Translator string `json:"translator,omitempty"`
	// Gate is the confidence gate's Name().
	Gate string `json:"gate"`
}

// Ref is the version and hash that turns record.
func (b BundleInfo) Ref() dialogue.BundleRef {
	return dialogue.BundleRef{Version: b.Version, Hash: b.Hash}
}

// modelSet is one bundle's models, shared by the sentences that use it; Swap closes a
// set once its last sentence is done.
type modelSet struct {
	m     pipeline.Models
	info  BundleInfo
	users sync.WaitGroup
	pose  *poseModels // the bundle's pose models, when it has them
}

// poseModels says where a bundle's Holistic ONNX set lives.
type poseModels struct {
	dir, complexity, handModel string
}

func (s *modelSet) close() {
	if s.m.Translator != nil {
		s.m.Translator.Close()
	}
	if s.m.Recognizer != nil {
		s.m.Recognizer.Close()
	}
}

// loadSet opens the models of the bundle in dir: its recogniser, its translator (or
// slt.model when configured and useTranslatorConfig, or the demo translator), and the
// gate. Errors name the file.
func (e *Engine) loadSet(dir string, useTranslatorConfig bool) (_ *modelSet, err error) {
	c := e.settings
	man, err := bundle.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("model bundle %s: %w", dir, err)
	}
	if man.SLR == nil {
		return nil, fmt.Errorf("model bundle %s has no recogniser (\"slr\" section)", dir)
	}
	prec := "fp32"
	if c.SLR.Int8 {
		prec = "int8"
	}
	if _, ferr := man.FileFor(bundle.RoleSLR, prec); ferr != nil {
		if c.SLR.Int8 {
			return nil, fmt.Errorf("slr.int8: bundle %s has no int8 recogniser: %w", dir, ferr)
		}
		prec = "" // the first listed
	}
	s := &modelSet{info: BundleInfo{Name: man.Name, Version: man.Version, Hash: man.Hash(), Dir: man.Dir()}}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	s.m.Recognizer, err = slr.Open(man.Dir(), slr.Options{Precision: prec, Threads: e.budget.SLR, BeamWidth: c.SLR.BeamWidth, TopK: c.SLR.TopK})
	if err != nil {
		return nil, fmt.Errorf("opening the recogniser of %s: %w", dir, err)
	}
	if p, perr := poseOf(man); perr == nil {
		s.pose = p
	}
	s.m.LoRAScale = float32(c.SLT.LoRAScale)
	if !e.cfg.NoTranslate {
		model, adapters, inBundle, err := e.translatorFiles(man, useTranslatorConfig)
		if err != nil {
			return nil, err
		}
		threads := c.SLT.Threads
		if threads == 0 {
			threads = e.budget.LLM
		}
		scfg := slt.Config{Model: model, Adapters: adapters, MaxTokens: c.SLT.MaxTokens, Threads: threads, Log: e.log}
		if inBundle && man.SLT != nil {
			scfg.Format = slt.Format(man.SLT.Format)
		}
		// The bundle's gloss-to-word lexicon keeps the translator faithful (models/slt).
		if scfg.Lexicon, err = gate.Lexicon(man); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", dir, err)
		}
		s.m.Translator, err = slt.Open(scfg)
		if err != nil {
			return nil, fmt.Errorf("opening the translator %s: %w", model, err)
		}
		s.info.Translator = model
		if !inBundle {
			files := []string{model}
			for _, d := range sortedKeys(adapters) {
				files = append(files, adapters[d])
			}
			if s.info.Hash, err = combinedHash(man.Hash(), files); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case e.cfg.NewGate != nil:
		g, err := e.cfg.NewGate(man.Dir())
		if err != nil {
			return nil, fmt.Errorf("confidence gate of bundle %s: %w", dir, err)
		}
		s.m.Gate = g
	case e.cfg.Gate != nil:
		s.m.Gate = e.cfg.Gate
	case !e.cfg.NoGate:
		// The gate calibrated for this bundle ("gate" section), when it has one.
		g, err := gate.FromBundle(man)
		if err != nil {
			return nil, fmt.Errorf("confidence gate of bundle %s: %w", dir, err)
		}
		if g != nil {
			s.m.Gate = bundleGate{g}
		}
	}
	if s.m.Gate == nil {
		s.m.Gate = ShowAll{}
	}
	s.info.Gate = s.m.Gate.Name()
	s.m.Bundle = s.info.Ref()
	return s, nil
}

// translatorFiles picks the translator: slt.model when configured (and allowed), else
// the bundle's own, else the demo translator that ships with scope.
func (e *Engine) translatorFiles(man *bundle.Manifest, useConfig bool) (model string, adapters map[string]string, inBundle bool, err error) {
	c := e.settings
	switch {
	case useConfig && c.SLT.Model != "":
		return c.SLT.Model, c.SLT.Adapters, false, nil
	case man.HasRole(bundle.RoleSLT):
		model, adapters, err = man.TranslatorFiles()
		return model, adapters, true, err
	case c.SLT.Model != "":
		return c.SLT.Model, c.SLT.Adapters, false, nil
	}
	model, adapters, err = modelset.DemoTranslator()
	return model, adapters, false, err
}

func poseOf(man *bundle.Manifest) (*poseModels, error) {
	dir, p, err := man.PoseDir()
	if err != nil {
		return nil, err
	}
	return &poseModels{dir: dir, complexity: p.Complexity, handModel: p.HandModel}, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// combinedHash is the sha256 of the manifest hash followed by each file's base name and
// sha256, one per line.
func combinedHash(manifestHash string, files []string) (string, error) {
	var b strings.Builder
	b.WriteString(manifestHash + "\n")
	for _, f := range files {
		h, err := fileHash(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %s\n", filepath.Base(f), h)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:]), nil
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// bundleGate is a bundle's calibrated gate (package gate) behind the engine's Gate.
type bundleGate struct{ g *gate.Gate }

func (b bundleGate) Name() string { return b.g.Name() }

func (b bundleGate) Decide(in GateInput) Verdict {
	v := b.g.Decide(gate.Input{Hypotheses: in.Hypotheses, Posteriors: in.Posteriors, Translation: in.Translation,
		TokenLogProbs: in.TokenLogProbs, Embedding: in.Embedding, StoppedBy: in.StoppedBy, Rejected: in.Rejected})
	return Verdict{Show: v.Show, Confidence: v.Confidence, Reason: v.Reason, Alternatives: v.Alternatives}
}
