package synth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"scope/dataset"
	"scope/models/lexicon"
	"scope/models/poseformat"
)

// Progress is told how many dialogues of the total are written.
type Progress func(done, total int)

// Write generates the corpus into dir (created if needed): manifest.jsonl, info.json,
// lexicon.json (the gloss-to-word lexicon, see TranslationLexicon) and pose/<turn id>.pose. Dialogues are made in parallel by cfg.Workers goroutines;
// each has its own random source, so the files are the same whatever the number of
// workers. It stops early, with ctx's error, when ctx is cancelled.
func (g *Generator) Write(ctx context.Context, dir string, progress Progress) error {
	if err := os.MkdirAll(filepath.Join(dir, "pose"), 0o755); err != nil {
		return fmt.Errorf("creating the corpus directory: %w", err)
	}
	n := g.cfg.Dialogues
	entries := make([][]dataset.Entry, n)
	jobs := make(chan int)
	errs := make(chan error, g.cfg.Workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < g.cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				es, err := g.writeDialogue(dir, i)
				if err != nil {
					errs <- err
					cancel()
					return
				}
				entries[i] = es
				if progress != nil {
					mu.Lock()
					done++
					progress(done, n)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := g.writeManifest(dir, entries); err != nil {
		return err
	}
	if err := g.lx.TranslationLexicon().Write(filepath.Join(dir, lexicon.FileName)); err != nil {
		return fmt.Errorf("writing the gloss-to-word lexicon: %w", err)
	}
	return dataset.WriteInfo(dir, g.Info())
}

// writeDialogue renders dialogue i, writes its .pose files and returns its manifest lines.
func (g *Generator) writeDialogue(dir string, i int) ([]dataset.Entry, error) {
	d, clips := g.Dialogue(i)
	var out []dataset.Entry
	for t, tn := range d.Turns {
		e := dataset.Entry{
			ID:         fmt.Sprintf("%s-t%02d", d.ID, t),
			DialogueID: d.ID,
			Turn:       t,
			Speaker:    dataset.SpeakerHearing,
			SignerID:   d.Signer.ID,
			Split:      d.Signer.Split,
			Text:       tn.Text,
			Domain:     d.Domain,
			Topic:      d.Topic,
		}
		if tn.Signer {
			e.Speaker = dataset.SpeakerSigner
			e.Pose = "pose/" + e.ID + ".pose"
			e.Glosses = tn.Glosses
			e.Ambiguous = append([]int{}, tn.Ambiguous...)
			e.Groups = tn.Groups
			c := clips[t]
			e.Spans = c.Spans
			e.Frames = len(c.Points)
			f, err := poseformat.NewHolistic(g.cfg.Width, g.cfg.Height, float32(g.cfg.FPS), c.Points, c.Conf, nil)
			if err != nil {
				return nil, fmt.Errorf("turn %s: %w", e.ID, err)
			}
			if err := f.WriteFile(filepath.Join(dir, filepath.FromSlash(e.Pose))); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func (g *Generator) writeManifest(dir string, entries [][]dataset.Entry) error {
	file := filepath.Join(dir, dataset.ManifestName)
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	w := dataset.NewManifestWriter(f)
	for _, es := range entries {
		for _, e := range es {
			if err := w.Write(e); err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", file, err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", file, err)
	}
	return f.Close()
}

// Info describes the corpus for info.json.
func (g *Generator) Info() *dataset.Info {
	in := &dataset.Info{
		Name:       "scope-synthetic-dialogues",
		Generator:  "scope synth (package scope/synth)",
		Synthetic:  true,
		Seed:       int64(g.cfg.Seed),
		FPS:        g.cfg.FPS,
		Width:      g.cfg.Width,
		Height:     g.cfg.Height,
		Vocabulary: g.lx.Glosses(),
		Groups:     g.lx.Groups(),
		Signers:    map[string][]string{},
		Domains:    map[string][]string{},
	}
	for _, s := range g.signers {
		in.Signers[s.Split] = append(in.Signers[s.Split], s.ID)
	}
	for _, d := range g.lx.domains {
		for _, t := range d.spec.topics {
			in.Domains[d.spec.name] = append(in.Domains[d.spec.name], t.name)
		}
		sort.Strings(in.Domains[d.spec.name])
	}
	return in
}
