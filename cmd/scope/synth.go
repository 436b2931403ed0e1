package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"scope/dataset"
	"scope/synth"
)

const synthDescription = `
Write a synthetic corpus of kiosk dialogues (hospital reception, pharmacy, service
counter): signer turns as MediaPipe Holistic keypoints (.pose) with glosses and their
English translation, hearing-person turns as text, in the dataset format of
dataset/README.md (manifest.jsonl + pose/). The same seed writes the same files, byte
for byte, whatever --workers is. Results measured on it must be labelled synthetic.`

func cmdSynth(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "synth", "--out DIR [--dialogues N] [--seed S] [flags]", synthDescription)
	def := synth.DefaultConfig()
	out := fs.String("out", "", "directory to write (created; must be empty unless --force)")
	n := fs.Int("dialogues", def.Dialogues, "number of dialogues")
	seed := fs.Uint64("seed", def.Seed, "random seed")
	signers := fs.Int("signers", def.Signers, "signer pool, split 70/15/15 into train/dev/test signers")
	turns := fs.Int("turns", def.Turns, "about this many turns per dialogue (±1)")
	minG := fs.Int("min-glosses", def.MinGlosses, "glosses per signer turn, at least")
	maxG := fs.Int("max-glosses", def.MaxGlosses, "glosses per signer turn, at most")
	fps := fs.Float64("fps", def.FPS, "frames per second")
	width := fs.Int("width", def.Width, "frame width in pixels")
	height := fs.Int("height", def.Height, "frame height in pixels")
	share := fs.Float64("ambiguous-share", def.AmbiguousShare, "share of signer tokens from groups of near-identical signs")
	bias := fs.Float64("bias", def.Bias, "odds of the member the topic favours against each other member")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "dialogues rendered in parallel (does not change the output)")
	force := fs.Bool("force", false, "replace an existing corpus in --out")
	lexicon := fs.Bool("lexicon", false, "print every gloss's sign (hands, handshape, location, orientation, movement) and its group, then exit")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *lexicon {
		lx, err := synth.NewLexicon()
		if err != nil {
			return err
		}
		groupOf := map[string]string{}
		for name, members := range lx.Groups() {
			for _, m := range members {
				groupOf[m] = name
			}
		}
		for _, g := range lx.Glosses() {
			line := fmt.Sprintf("%-20s %s", g, lx.Describe(g))
			if grp := groupOf[g]; grp != "" {
				line += "  [group " + grp + "]"
			}
			fmt.Fprintln(a.stdout, line)
		}
		return nil
	}
	if *out == "" {
		return fmt.Errorf("--out is required: the directory to write the corpus to: %w", errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v: %w", fs.Args(), errUsage)
	}
	if err := prepareOut(*out, *force); err != nil {
		return err
	}
	g, err := synth.NewGenerator(synth.Config{
		Dialogues: *n, Seed: *seed, Signers: *signers, Turns: *turns, MinGlosses: *minG, MaxGlosses: *maxG,
		FPS: *fps, Width: *width, Height: *height, AmbiguousShare: *share, Bias: *bias, Workers: *workers,
	})
	if err != nil {
		return err
	}
	a.log.Info("writing synthetic corpus", "out", *out, "dialogues", *n, "seed", *seed, "workers", *workers)
	bar := newProgressBar(a.stderr, "dialogues")
	start := time.Now()
	if err := g.Write(ctx, *out, bar.update); err != nil {
		bar.finish()
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	bar.finish()
	ds, err := dataset.Open(*out)
	if err != nil {
		return fmt.Errorf("reading back what was written: %w", err)
	}
	st, err := dataset.ComputeStats(ds, nil, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "wrote %s (synthetic): %d dialogues, %d turns, %d signer turns, %d glosses in %.1f s\n",
		*out, *n, st.Turns, st.SignerTurns, st.Tokens, time.Since(start).Seconds())
	fmt.Fprintf(a.stdout, "vocabulary %d glosses; %.1f%% of tokens in context-dependent groups; %.1f s of signing\n",
		st.Vocabulary, 100*st.AmbiguousShare(), st.Seconds)
	return nil
}

// prepareOut makes sure dir can take a new corpus.
func prepareOut(dir string, force bool) error {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		return nil
	}
	if !force {
		return fmt.Errorf("%s is not empty: pass --force to replace the corpus in it, or choose another --out", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, dataset.ManifestName)); err != nil {
		return fmt.Errorf("%s is not empty and holds no %s: refusing to delete what is not a corpus", dir, dataset.ManifestName)
	}
	for _, name := range []string{dataset.ManifestName, dataset.InfoName, "pose"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// progressBar draws "[#####.....]  512/2000 dialogues  12 s, 40 s left" on one line of a
// terminal. Written to a file or a pipe (a log, CI), where carriage returns would pile up
// into one long line, it prints a plain line at most every 10 s and at the end instead.
type progressBar struct {
	w     io.Writer
	what  string
	start time.Time
	last  time.Time
	drawn bool
	lines bool // not a terminal: one line per update
}

func newProgressBar(w io.Writer, what string) *progressBar {
	return &progressBar{w: w, what: what, start: time.Now(), lines: !isTerminal(w)}
}

// isTerminal reports whether w is a character device (a terminal), not a file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progressBar) update(done, total int) {
	now := time.Now()
	every := 200 * time.Millisecond
	if p.lines {
		every = 10 * time.Second
	}
	if done < total && now.Sub(p.last) < every {
		return
	}
	if p.lines && done < total && p.last.IsZero() {
		p.last = now // the first line comes after 10 s, not at once
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	left := ""
	if done > 0 && done < total {
		left = fmt.Sprintf(", %.0f s left", el*float64(total-done)/float64(done))
	}
	if p.lines {
		fmt.Fprintf(p.w, "%d/%d %s  %.0f s%s\n", done, total, p.what, el, left)
		return
	}
	const width = 30
	k := width * done / max(total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s  %.0f s%s   ", strings.Repeat("#", k), strings.Repeat(".", width-k), done, total, p.what, el, left)
	p.drawn = true
}

func (p *progressBar) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
