package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"scope/capture"
	"scope/daemon/keypoints"
	"scope/dataset"
	"scope/models/pose"
	"scope/models/poseformat"
)

func datasetSubcommands() []subcommand {
	return []subcommand{
		{"stats", "vocabulary, durations, OOV rate against a model's vocabulary, ambiguous share (`--ambiguity`: context probe)", cmdDatasetStats},
		{"check", "read every manifest entry and its keypoints; report what is wrong", cmdDatasetCheck},
		{"import", "turn recordings (videos through the pose pipeline, or .pose files) + CSV/stm annotations into a dataset", cmdDatasetImport},
	}
}

func cmdDataset(ctx context.Context, a *app, args []string) error {
	return dispatch(ctx, a, "dataset", "Inspect and build keypoint dialogue datasets (manifest.jsonl + .pose files; see dataset/README.md).", datasetSubcommands(), args)
}

// datasetArg parses flags that may come before or after the one positional DIR.
func datasetArg(a *app, name, usage, desc string, args []string, define func(fs *flag.FlagSet)) (string, error) {
	fs := newFlags(a, "dataset "+name, usage, desc)
	define(fs)
	var pos []string
	for {
		if err := parseFlags(a, fs, args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("scope dataset %s needs one dataset directory, got %d arguments: %w", name, len(pos), errUsage)
	}
	return pos[0], nil
}

func label(d *dataset.Dataset) string {
	if d.Info.Synthetic {
		return "synthetic"
	}
	return ""
}

func cmdDatasetStats(ctx context.Context, a *app, args []string) error {
	var split, vocab, trainSplit, testSplit *string
	var amb *bool
	dir, err := datasetArg(a, "stats", "DIR [--split S] [--vocab FILE] [--ambiguity]",
		"Summarise a dataset: dialogues, turns, signers per split, vocabulary, glosses per turn, turn and sign durations, the share of context-dependent (ambiguous) tokens and, with --vocab, the out-of-vocabulary rate against a model's gloss vocabulary. --ambiguity trains two classifiers on the ambiguous tokens of --train-split and reports how often each confuses group members on --test-split: one sees only the sign's keypoints, the other also the previous turns' words.",
		args, func(fs *flag.FlagSet) {
			split = fs.String("split", "all", "splits to count: train, dev, test, a comma list, or all")
			vocab = fs.String("vocab", "", "model vocabulary for the OOV rate: one gloss per line, or JSON with a \"vocabulary\"/\"glosses\" list")
			amb = fs.Bool("ambiguity", false, "run the context probe on ambiguous tokens (reads their .pose files)")
			trainSplit = fs.String("train-split", "train", "splits the probe trains on")
			testSplit = fs.String("test-split", "test", "splits the probe is scored on")
		})
	if err != nil {
		return err
	}
	d, err := dataset.Open(dir)
	if err != nil {
		return err
	}
	splits, err := dataset.ParseSplits(*split)
	if err != nil {
		return err
	}
	var mv []string
	if *vocab != "" {
		if mv, err = dataset.ReadVocabulary(*vocab); err != nil {
			return err
		}
	}
	st, err := dataset.ComputeStats(d, splits, mv)
	if err != nil {
		return err
	}
	st.Print(a.stdout, dir, label(d))
	if !*amb {
		return nil
	}
	tr, err := dataset.ParseSplits(*trainSplit)
	if err != nil {
		return err
	}
	te, err := dataset.ParseSplits(*testSplit)
	if err != nil {
		return err
	}
	for s := range tr {
		if te[s] {
			return fmt.Errorf("--train-split %s and --test-split %s share %s: the probe must be scored on unseen signers", *trainSplit, *testSplit, s)
		}
	}
	if len(tr) == 0 || len(te) == 0 {
		return fmt.Errorf("--train-split and --test-split must each name splits, not all: %w", errUsage)
	}
	bar := newProgressBar(a.stderr, "signer turns read")
	res, err := dataset.EvaluateAmbiguity(ctx, d, tr, te, bar.update)
	bar.finish()
	if err != nil {
		return err
	}
	res.Print(a.stdout, label(d))
	return nil
}

func cmdDatasetCheck(ctx context.Context, a *app, args []string) error {
	dir, err := datasetArg(a, "check", "DIR", "Read the manifest and every signer turn's keypoints; fail on the first entry that cannot be read.", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	d, err := dataset.Open(dir)
	if err != nil {
		return err
	}
	bar := newProgressBar(a.stderr, "signer turns")
	var turns []*dataset.Entry
	for i := range d.Entries {
		if d.Entries[i].IsSigner() {
			turns = append(turns, &d.Entries[i])
		}
	}
	frames := 0
	for i, e := range turns {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := d.LoadTurn(e)
		if err != nil {
			bar.finish()
			return err
		}
		frames += len(t.Points)
		bar.update(i+1, len(turns))
	}
	bar.finish()
	fmt.Fprintf(a.stdout, "%s: %d entries, %d signer turns, %d frames: all readable\n", dir, len(d.Entries), len(turns), frames)
	return nil
}

func cmdDatasetImport(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "dataset import", "--annotations FILE --out DIR [--media DIR] [--text FILE]",
		"Import recordings and annotations into the dataset format. Annotations: CSV with the columns video,start,end,glosses,text,dialogue_id,turn,signer_id (optional split), or Phoenix-style .stm (then --text names the text stm). Recordings are found in --media by name; a .pose file of the same name is used as is, any other file (a video) goes through the Holistic pose pipeline once. Signers without a split are spread over train/dev/test.")
	ann := fs.String("annotations", "", "CSV or .stm annotation file")
	text := fs.String("text", "", "stm only: the text stm with the same ids")
	media := fs.String("media", "", "folder of the recordings (default: the annotations' folder)")
	out := fs.String("out", "", "dataset directory to write (must be empty unless --force)")
	dev := fs.Float64("dev-share", 0.15, "share of signers for dev when the annotations do not say")
	test := fs.Float64("test-share", 0.15, "share of signers for test when the annotations do not say")
	seed := fs.Uint64("split-seed", 1, "seed for assigning signers to splits")
	force := fs.Bool("force", false, "replace a dataset in --out")
	complexity := fs.String("complexity", "lite", "pose landmark model for videos: lite, full or heavy")
	threads := fs.Int("threads", pose.DefaultThreads(), "CPU threads for the pose models (at most the CPUs)")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *ann == "" || *out == "" {
		return fmt.Errorf("--annotations and --out are required: %w", errUsage)
	}
	if *dev < 0 || *test < 0 || *dev+*test >= 1 {
		return fmt.Errorf("--dev-share %g and --test-share %g must be >= 0 and leave signers for train: %w", *dev, *test, errUsage)
	}
	if err := prepareOut(*out, *force); err != nil {
		return err
	}
	ex := &videoExtractor{a: a, opt: pose.Options{Complexity: *complexity, Threads: *threads}}
	defer ex.Close()
	es, err := dataset.Import(ctx, dataset.ImportOptions{Annotations: *ann, Text: *text, Media: *media, Out: *out,
		DevShare: *dev, TestShare: *test, SplitSeed: *seed, Extract: ex.extract})
	if err != nil {
		return err
	}
	d, err := dataset.Open(*out)
	if err != nil {
		return fmt.Errorf("reading back the imported dataset: %w", err)
	}
	st, err := dataset.ComputeStats(d, nil, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "imported %d turns into %s\n", len(es), *out)
	st.Print(a.stdout, *out, label(d))
	return nil
}

// videoExtractor runs the Holistic pipeline over a video for the importer. The models
// load on the first video and serve every later one.
type videoExtractor struct {
	a   *app
	opt pose.Options
	p   *pose.Pipeline
}

func (v *videoExtractor) extract(ctx context.Context, video string) (*poseformat.File, error) {
	if v.p == nil {
		p, err := pose.New(v.opt)
		if err != nil {
			return nil, fmt.Errorf("starting the pose pipeline: %w", err)
		}
		v.p = p
	}
	v.p.Reset() // a new video is a new stream: no tracking across files
	src, err := capture.Open(video, capture.Options{})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	frames, err := src.Start(sctx)
	if err != nil {
		return nil, err
	}
	defer keypoints.Discard(frames)
	defer cancel() // runs before Discard: the source stops, then its frames are released
	fps := src.FPS()
	if fps <= 0 {
		fps = 30
	}
	var (
		points        [][pose.NumPoints][3]float32
		conf          [][pose.NumPoints]float32
		width, height int
	)
	err = keypoints.Run(sctx, frames, v.p, keypoints.Options{}, func(r keypoints.Result) error {
		f, err := r.Frame, r.Err
		if errors.Is(err, pose.ErrEmptyImage) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("frame %d: %w", r.Seq, err)
		}
		if width == 0 {
			width, height = f.Width, f.Height
		}
		if f.Width != width || f.Height != height {
			return fmt.Errorf("frame %d is %dx%d, earlier frames %dx%d", r.Seq, f.Width, f.Height, width, height)
		}
		points = append(points, f.Points)
		conf = append(conf, f.Visibility)
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	if err := src.Err(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(points) == 0 {
		return nil, fmt.Errorf("no frames could be read")
	}
	v.a.log.Info("keypoints extracted", "video", video, "frames", len(points))
	return poseformat.NewHolistic(width, height, float32(fps), points, conf, nil)
}

func (v *videoExtractor) Close() error {
	if v.p == nil {
		return nil
	}
	return v.p.Close()
}
