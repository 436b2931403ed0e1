package dataset

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"scope/models/poseformat"
)

// Importers turn a folder of recordings plus annotations into a dataset directory, so
// that real corpora (Phoenix, CSL-Daily, a hospital's own recordings) drop in where the
// synthetic one was.
//
// Annotations are either CSV with the header
//
//	video,start,end,glosses,text,dialogue_id,turn,signer_id
//
// (start/end in seconds and may be empty; glosses space-separated; a row with no video
// is a hearing turn, text only; an optional "split" column fixes the split of the row's
// signer), or Phoenix-style stm lines "<id> <channel> <signer> <start> <end> <words>"
// with the sentence text from a second stm file of the same ids.
//
// Recordings are looked up in the media folder by the annotation's name. A .pose file
// of the same base name is used as is; other files (videos) need a PoseExtractor, the
// pose pipeline, which writes their keypoints.

// PoseExtractor turns a video file into keypoints.
type PoseExtractor func(ctx context.Context, video string) (*poseformat.File, error)

// ImportOptions configures an import.
type ImportOptions struct {
	Annotations string // CSV or .stm file
	Text        string // stm: the text stm with the same ids (optional)
	Media       string // folder of the recordings; default: the annotations' folder
	Out         string // dataset directory to write
	// DevShare and TestShare are the shares of signers put into dev and test when the
	// annotations do not say (0.15 each by default); SplitSeed shuffles the signers.
	DevShare, TestShare float64
	SplitSeed           uint64
	Extract             PoseExtractor // nil: only .pose recordings are accepted
}

// ErrNoPipeline is returned for a video when no PoseExtractor is configured.
var ErrNoPipeline = errors.New("videos need the pose pipeline")

// row is one annotated turn before splits are assigned.
type row struct {
	line       int
	video      string
	start, end float64
	glosses    []string
	text       string
	dialogue   string
	turn       int
	hasTurn    bool
	signer     string
	split      string
}

// Import reads the annotations, copies or extracts the keypoints into Out/pose and
// writes Out/manifest.jsonl and Out/info.json. It returns the entries written.
func Import(ctx context.Context, opt ImportOptions) ([]Entry, error) {
	if opt.Media == "" {
		opt.Media = filepath.Dir(opt.Annotations)
	}
	if opt.DevShare == 0 && opt.TestShare == 0 {
		opt.DevShare, opt.TestShare = 0.15, 0.15
	}
	var rows []row
	var err error
	switch strings.ToLower(filepath.Ext(opt.Annotations)) {
	case ".csv":
		rows, err = readCSV(opt.Annotations)
	case ".stm":
		rows, err = readSTM(opt.Annotations, opt.Text)
	default:
		return nil, fmt.Errorf("annotations %s: use a .csv file (video,start,end,glosses,text,dialogue_id,turn,signer_id) or a Phoenix-style .stm file", opt.Annotations)
	}
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s holds no annotated turns", opt.Annotations)
	}
	splits, err := assignSplits(rows, opt)
	if err != nil {
		return nil, err
	}
	// Order turns within dialogues; rows without a turn number keep file order.
	order := map[string]int{}
	for i := range rows {
		r := &rows[i]
		if !r.hasTurn {
			r.turn = order[r.dialogue]
		}
		order[r.dialogue] = max(order[r.dialogue], r.turn+1)
	}
	// Keep dialogues in order of first appearance, each sorted by turn.
	first := map[string]int{}
	for i, r := range rows {
		if _, ok := first[r.dialogue]; !ok {
			first[r.dialogue] = i
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := first[rows[i].dialogue], first[rows[j].dialogue]
		if a != b {
			return a < b
		}
		return rows[i].turn < rows[j].turn
	})
	// Everything is read and checked before anything is written, so that a bad row
	// leaves no half-written dataset behind.
	written := map[string]string{} // recording -> relative pose path
	frames := map[string]*poseformat.File{}
	var order2 []string // recordings in the order they are written
	var out []Entry
	vocab := map[string]bool{}
	for _, r := range rows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := Entry{
			ID:         fmt.Sprintf("%s-t%02d", r.dialogue, r.turn),
			DialogueID: r.dialogue,
			Turn:       r.turn,
			Speaker:    SpeakerHearing,
			SignerID:   r.signer,
			Split:      splits[r.signer],
			Text:       r.text,
		}
		if r.video != "" {
			e.Speaker = SpeakerSigner
			e.Glosses = r.glosses
			e.Ambiguous = []int{}
			e.Start, e.End = r.start, r.end
			for _, g := range r.glosses {
				vocab[g] = true
			}
			rel, ok := written[r.video]
			if !ok {
				f, err := loadRecording(ctx, opt, r)
				if err != nil {
					return nil, err
				}
				if err := checkRecording(f); err != nil {
					return nil, fmt.Errorf("%s:%d: recording %s: %w", opt.Annotations, r.line, r.video, err)
				}
				rel = "pose/" + safeName(strings.TrimSuffix(r.video, filepath.Ext(r.video))) + ".pose"
				written[r.video] = rel
				frames[r.video] = f
				order2 = append(order2, r.video)
			}
			e.Pose = rel
			f := frames[r.video]
			e.Frames = f.Frames
			if e.End > 0 || e.Start > 0 {
				e.Frames = 0 // the cut's length depends on rounding; readers count it
				length := float64(f.Frames) / float64(f.FPS)
				if e.Start*float64(f.FPS) >= float64(f.Frames) {
					return nil, fmt.Errorf("%s:%d: start %.2f s is past the end of %s (%.2f s)", opt.Annotations, r.line, e.Start, r.video, length)
				}
				// Half a frame of slack for rounding in the annotation tool.
				if e.End > length+0.5/float64(f.FPS) {
					return nil, fmt.Errorf("%s:%d: end %.2f s is past the end of %s (%.2f s, %d frames at %g fps)", opt.Annotations, r.line, e.End, r.video, length, f.Frames, f.FPS)
				}
			}
		}
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", opt.Annotations, r.line, err)
		}
		out = append(out, e)
	}
	if err := CheckEntries(out); err != nil {
		return nil, fmt.Errorf("%s: %w", opt.Annotations, err)
	}
	if err := os.MkdirAll(filepath.Join(opt.Out, "pose"), 0o755); err != nil {
		return nil, err
	}
	for _, v := range order2 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := frames[v].WriteFile(filepath.Join(opt.Out, filepath.FromSlash(written[v]))); err != nil {
			return nil, err
		}
	}
	// The manifest goes last and whole (a rename): a dataset without one is visibly
	// unfinished, never "all readable" with half its turns.
	if err := writeManifestFile(filepath.Join(opt.Out, ManifestName), out); err != nil {
		return nil, err
	}
	info := &Info{Name: filepath.Base(opt.Out), Generator: "scope dataset import " + filepath.Base(opt.Annotations), Signers: map[string][]string{}}
	for g := range vocab {
		info.Vocabulary = append(info.Vocabulary, g)
	}
	sort.Strings(info.Vocabulary)
	for s, sp := range splits {
		info.Signers[sp] = append(info.Signers[sp], s)
	}
	for _, v := range info.Signers {
		sort.Strings(v)
	}
	for _, f := range frames {
		info.FPS, info.Width, info.Height = float64(f.FPS), int(f.Dimensions.Width), int(f.Dimensions.Height)
		break
	}
	return out, WriteInfo(opt.Out, info)
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// loadRecording finds a row's recording: <name>.pose beside the video name, or the
// video through the pose pipeline.
func loadRecording(ctx context.Context, opt ImportOptions, r row) (*poseformat.File, error) {
	path := filepath.Join(opt.Media, filepath.FromSlash(r.video))
	stem := strings.TrimSuffix(path, filepath.Ext(path))
	for _, p := range []string{path, stem + ".pose"} {
		if strings.EqualFold(filepath.Ext(p), ".pose") {
			if _, err := os.Stat(p); err == nil {
				f, err := poseformat.ReadFile(p)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", opt.Annotations, r.line, err)
				}
				if _, _, _, _, err := f.Holistic(0); err != nil {
					return nil, fmt.Errorf("%s:%d: %s: %w", opt.Annotations, r.line, p, err)
				}
				return f, nil
			}
		}
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s:%d: recording %q: neither %s nor %s.pose exists (set --media to the recordings' folder)", opt.Annotations, r.line, r.video, path, stem)
	}
	if opt.Extract == nil {
		return nil, fmt.Errorf("%s:%d: %s: %w; write its keypoints to %s.pose first", opt.Annotations, r.line, path, ErrNoPipeline, stem)
	}
	f, err := opt.Extract(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: extracting keypoints from %s: %w", opt.Annotations, r.line, path, err)
	}
	return f, nil
}

var csvColumns = []string{"video", "start", "end", "glosses", "text", "dialogue_id", "turn", "signer_id"}

func readCSV(file string) ([]row, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", file, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.ToLower(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, c := range csvColumns {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s: the header has no %q column; it needs %s", file, c, strings.Join(csvColumns, ","))
		}
	}
	var rows []row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		get := func(c string) string {
			i, ok := col[c]
			if !ok || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		r := row{line: line, video: get("video"), glosses: strings.Fields(get("glosses")), text: get("text"),
			dialogue: get("dialogue_id"), signer: get("signer_id"), split: get("split")}
		if r.start, err = optFloat(get("start")); err != nil {
			return nil, fmt.Errorf("%s:%d: start: %w", file, line, err)
		}
		if r.end, err = optFloat(get("end")); err != nil {
			return nil, fmt.Errorf("%s:%d: end: %w", file, line, err)
		}
		if t := get("turn"); t != "" {
			if r.turn, err = strconv.Atoi(t); err != nil || r.turn < 0 {
				return nil, fmt.Errorf("%s:%d: turn %q is not a number from 0", file, line, t)
			}
			r.hasTurn = true
		}
		switch {
		case r.signer == "":
			return nil, fmt.Errorf("%s:%d: signer_id is empty; splits are made by signer, so every row needs one (hearing rows: the dialogue's signer)", file, line)
		case r.video != "" && len(r.glosses) == 0:
			return nil, fmt.Errorf("%s:%d: a signer turn (video %q) with no glosses", file, line, r.video)
		case r.video == "" && r.text == "":
			return nil, fmt.Errorf("%s:%d: neither video nor text: a row is a signer turn (video, glosses) or a hearing turn (text)", file, line)
		}
		if r.dialogue == "" {
			r.dialogue = fmt.Sprintf("row%05d", line)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func optFloat(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) { // NaN fails v >= 0
		return 0, fmt.Errorf("%q is not a number of seconds (want a finite number from 0)", s)
	}
	return v, nil
}

// checkRecording refuses keypoints no recording has: a frame rate that is not a positive
// finite number, no frames, and NaN or infinite coordinates or confidences.
func checkRecording(f *poseformat.File) error {
	if fps := float64(f.FPS); !(fps > 0 && fps <= 1000) {
		return fmt.Errorf("frame rate %g: want a positive number of frames per second (at most 1000)", fps)
	}
	if f.Frames <= 0 {
		return fmt.Errorf("it has no frames")
	}
	for _, part := range []struct {
		name string
		v    []float32
	}{{"coordinate", f.Data}, {"confidence", f.Confidence}} {
		for i, x := range part.v {
			if x-x != 0 {
				return fmt.Errorf("%s %d is %v: keypoints must be finite numbers (MediaPipe writes 0 for a point it did not find)", part.name, i, x)
			}
		}
	}
	return nil
}

// writeManifestFile writes entries to path through a temporary file and a rename.
func writeManifestFile(path string, entries []Entry) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	w := NewManifestWriter(tmp)
	for _, e := range entries {
		if err = w.Write(e); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// readSTM reads Phoenix-style stm: "<id> <channel> <signer> <start> <end> <words...>".
// Ids "<prefix>-<n>" are turn n of dialogue <prefix> (a Phoenix broadcast); the
// recording is <id>.pose in the media folder. textFile, if given, holds the sentences
// for the same ids.
func readSTM(file, textFile string) ([]row, error) {
	type stmLine struct {
		line       int
		id, signer string
		start, end float64
		words      []string
	}
	parse := func(file string) ([]stmLine, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var out []stmLine
		for i, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) == 0 || strings.HasPrefix(f[0], ";;") {
				continue
			}
			if len(f) < 5 {
				return nil, fmt.Errorf("%s:%d: an stm line needs <id> <channel> <signer> <start> <end> <words>", file, i+1)
			}
			s := stmLine{line: i + 1, id: f[0], signer: f[2], words: f[5:]}
			var err1, err2 error
			s.start, err1 = strconv.ParseFloat(f[3], 64)
			s.end, err2 = strconv.ParseFloat(f[4], 64)
			// stm writes 1.79769e+308 for "to the end"; NaN and infinities are no times.
			if err1 != nil || err2 != nil || !(s.start >= 0 && s.end >= 0) || math.IsInf(s.start, 0) || math.IsInf(s.end, 0) {
				return nil, fmt.Errorf("%s:%d: start/end %q %q are not finite numbers of seconds from 0", file, i+1, f[3], f[4])
			}
			if !utf8.ValidString(l) {
				return nil, fmt.Errorf("%s:%d: the line is not UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)", file, i+1)
			}
			out = append(out, s)
		}
		return out, nil
	}
	gl, err := parse(file)
	if err != nil {
		return nil, err
	}
	text := map[string]string{}
	if textFile != "" {
		tl, err := parse(textFile)
		if err != nil {
			return nil, err
		}
		for _, t := range tl {
			text[t.id] = strings.Join(t.words, " ")
		}
	}
	var rows []row
	for _, s := range gl {
		r := row{line: s.line, video: s.id + ".pose", glosses: s.words, text: text[s.id], signer: s.signer, dialogue: s.id}
		if i := strings.LastIndex(s.id, "-"); i > 0 {
			if n, err := strconv.Atoi(s.id[i+1:]); err == nil && n >= 0 {
				r.dialogue, r.turn, r.hasTurn = s.id[:i], n, true
			}
		}
		// stm marks "the whole recording" with an end of 1.79769e+308.
		if s.end < 1e300 {
			r.start, r.end = s.start, s.end
		}
		if len(r.glosses) == 0 {
			return nil, fmt.Errorf("%s:%d: no glosses for %s", file, s.line, s.id)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// assignSplits gives every signer one split: the annotation's when it names one,
// else dev/test shares of the signers drawn with SplitSeed.
func assignSplits(rows []row, opt ImportOptions) (map[string]string, error) {
	splits := map[string]string{}
	var free []string
	for _, r := range rows {
		if r.split != "" {
			if !validSplit(r.split) {
				return nil, fmt.Errorf("%s:%d: split %q; use train, dev or test", opt.Annotations, r.line, r.split)
			}
			if s, ok := splits[r.signer]; ok && s != r.split {
				return nil, fmt.Errorf("%s:%d: signer %s is given splits %s and %s; splits are by signer", opt.Annotations, r.line, r.signer, s, r.split)
			}
			splits[r.signer] = r.split
		}
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if _, fixed := splits[r.signer]; !fixed && !seen[r.signer] {
			seen[r.signer] = true
			free = append(free, r.signer)
		}
	}
	sort.Strings(free)
	rng := rand.New(rand.NewPCG(opt.SplitSeed, 0x59117))
	rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	nTest := int(float64(len(free))*opt.TestShare + 0.5)
	nDev := int(float64(len(free))*opt.DevShare + 0.5)
	if len(free) >= 3 {
		nTest, nDev = max(nTest, 1), max(nDev, 1)
	}
	for i, s := range free {
		switch {
		case i < nTest:
			splits[s] = SplitTest
		case i < nTest+nDev:
			splits[s] = SplitDev
		default:
			splits[s] = SplitTrain
		}
	}
	return splits, nil
}
