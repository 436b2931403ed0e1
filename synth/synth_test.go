package synth

import (
	"bytes"
	"context"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"scope/dataset"
	"scope/internal/shareddata"
	"scope/models/poseformat"
)

func writeCorpus(t testing.TB, cfg Config) string {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := g.Write(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readTree returns every file under dir by relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSameSeedSameBytes(t *testing.T) {
	a := readTree(t, writeCorpus(t, Config{Dialogues: 4, Seed: 11, Workers: 1}))
	b := readTree(t, writeCorpus(t, Config{Dialogues: 4, Seed: 11, Workers: 3}))
	if len(a) != len(b) || len(a) < 6 {
		t.Fatalf("%d files vs %d files", len(a), len(b))
	}
	for name, x := range a {
		if !bytes.Equal(x, b[name]) {
			t.Errorf("%s differs between two runs with seed 11 (1 vs 3 workers)", name)
		}
	}
	c := readTree(t, writeCorpus(t, Config{Dialogues: 4, Seed: 12, Workers: 2}))
	if bytes.Equal(a[dataset.ManifestName], c[dataset.ManifestName]) {
		t.Error("seeds 11 and 12 wrote the same manifest")
	}
}

func TestCorpusReadsBack(t *testing.T) {
	dir := writeCorpus(t, Config{Dialogues: 6, Seed: 5})
	ds, err := dataset.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ds.Info.Synthetic || ds.Info.FPS != 30 || ds.Info.Width != 640 || len(ds.Info.Vocabulary) < 300 {
		t.Errorf("info.json: synthetic %v fps %g width %d vocabulary %d", ds.Info.Synthetic, ds.Info.FPS, ds.Info.Width, len(ds.Info.Vocabulary))
	}
	vocab := map[string]bool{}
	for _, g := range ds.Info.Vocabulary {
		vocab[g] = true
	}
	splitOfSigner := map[string]string{}
	splits := map[string]bool{}
	allSeen, allTotal := 0, 0
	for _, e := range ds.Entries {
		splits[e.Split] = true
		if s, ok := splitOfSigner[e.SignerID]; ok && s != e.Split {
			t.Errorf("signer %s in %s and %s", e.SignerID, s, e.Split)
		}
		splitOfSigner[e.SignerID] = e.Split
		if !e.IsSigner() {
			continue
		}
		if n := len(e.Glosses); n < 3 || n > 8 {
			t.Errorf("%s: %d glosses, want 3..8", e.ID, n)
		}
		for _, g := range e.Glosses {
			if !vocab[g] {
				t.Errorf("%s: gloss %s not in info.json's vocabulary", e.ID, g)
			}
		}
		f, err := poseformat.ReadFile(ds.PosePath(&e))
		if err != nil {
			t.Fatal(err)
		}
		if f.FPS != 30 || f.Dimensions.Width != 640 || f.Dimensions.Height != 480 {
			t.Errorf("%s: %g fps %dx%d", e.Pose, f.FPS, f.Dimensions.Width, f.Dimensions.Height)
		}
		frames, conf, present, unmapped, err := f.Holistic(0)
		if err != nil || len(unmapped) > 0 {
			t.Fatalf("%s: %v, unmapped %v", e.Pose, err, unmapped)
		}
		last := e.Spans[len(e.Spans)-1][1]
		if last > len(frames) {
			t.Errorf("%s: spans reach frame %d of %d", e.ID, last, len(frames))
		}
		for _, s := range e.Spans {
			sec := float64(s[1]-s[0]) / 30
			if sec < 0.2 || sec > 1.6 {
				t.Errorf("%s: a sign lasts %.2f s", e.ID, sec)
			}
		}
		// The face and pose are always there; the dominant hand is seen in most sign frames.
		seen, total := 0, 0
		for _, s := range e.Spans {
			for i := s[0]; i < s[1]; i++ {
				total++
				if present[i][poseformat.PartLeftHand] || present[i][poseformat.PartRightHand] {
					seen++
				}
				if !present[i][poseformat.PartFace] || conf[i][0] < 0.5 {
					t.Fatalf("%s frame %d: face or nose missing", e.ID, i)
				}
			}
		}
		if float64(seen) < 0.5*float64(total) {
			t.Errorf("%s: a hand is seen in %d of %d sign frames", e.ID, seen, total)
		}
		allSeen += seen
		allTotal += total
		for i := range frames {
			for p, q := range frames[i] {
				if math.IsNaN(float64(q[0])) || math.IsNaN(float64(q[1])) || math.IsNaN(float64(q[2])) {
					t.Fatalf("%s frame %d point %d is NaN", e.ID, i, p)
				}
			}
		}
	}
	if len(splits) != 3 {
		t.Errorf("splits %v, want train, dev and test", splits)
	}
	if float64(allSeen) < 0.85*float64(allTotal) {
		t.Errorf("a hand is seen in %d of %d sign frames; MediaPipe loses hands less often", allSeen, allTotal)
	}
}

// TestContextShiftsOdds checks part 2 of the design on the words alone (no rendering):
// about a fifth of signer tokens are group members, the topic's member is about four
// times as likely as each other member, and every member also occurs in every topic.
func TestContextShiftsOdds(t *testing.T) {
	g, err := NewGenerator(Config{Dialogues: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tokens, amb, favoured := 0, 0, 0
	expected := 0.0
	inTopic := map[string]map[string]bool{} // topic -> members seen
	for i := 0; i < 4000; i++ {
		d := g.dialogue(g.rng(i), i)
		for _, tn := range d.Turns {
			tokens += len(tn.Glosses)
			for k, at := range tn.Ambiguous {
				amb++
				gr := g.lx.groups[tn.Groups[k]]
				gl := tn.Glosses[at]
				for _, mb := range gr.members {
					for _, tp := range mb.topics {
						if gr.domain+"/"+tp == d.Topic && mb.gloss == gl {
							favoured++
						}
					}
				}
				expected += 4 / (4 + float64(len(gr.members)-1))
				if inTopic[d.Topic] == nil {
					inTopic[d.Topic] = map[string]bool{}
				}
				inTopic[d.Topic][gl] = true
			}
		}
	}
	share := float64(amb) / float64(tokens)
	if share < 0.17 || share > 0.23 {
		t.Errorf("%.3f of signer tokens are group members, want about 0.20", share)
	}
	if got, want := float64(favoured)/float64(amb), expected/float64(amb); math.Abs(got-want) > 0.03 {
		t.Errorf("the topic's member is taken %.3f of the time, want %.3f (4:1 odds)", got, want)
	}
	// Non-favoured members occur in every topic too: context never gives the answer away.
	for _, gr := range g.lx.groups {
		for _, tp := range domainTopics(gr.domain) {
			for _, mb := range gr.members {
				if !inTopic[tp][mb.gloss] {
					t.Errorf("group %s: %s never occurs in topic %s", gr.name, mb.gloss, tp)
				}
			}
		}
	}
	t.Logf("synthetic: %d tokens, %.3f ambiguous, favoured member %.3f", tokens, share, float64(favoured)/float64(amb))
}

func domainTopics(name string) []string {
	for _, d := range domains {
		if d.name == name {
			var out []string
			for _, t := range d.topics {
				out = append(out, t.name)
			}
			return out
		}
	}
	return nil
}

func TestLexicon(t *testing.T) {
	lx, err := NewLexicon()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lx.Glosses()); n < 300 {
		t.Errorf("%d glosses, want at least 300", n)
	}
	for _, gl := range lx.Glosses() {
		s := lx.signs[gl]
		if handshapeByName(s.shape) == nil || handshapeByName(s.endShape) == nil {
			t.Errorf("%s: unknown handshape %s/%s", gl, s.shape, s.endShape)
		}
		if _, ok := locations[s.loc]; !ok {
			t.Errorf("%s: unknown location %s", gl, s.loc)
		}
		if lx.Describe(gl) == "" {
			t.Errorf("%s has no description", gl)
		}
	}
	// Group members differ from each other in exactly their contrast; every other pair
	// of signs differs in at least two features.
	close := 0
	for i, a := range lx.glosses {
		for _, b := range lx.glosses[i+1:] {
			sa, sb := lx.signs[a], lx.signs[b]
			d := distance(sa, sb)
			switch {
			case sa.group != "" && sa.group == sb.group:
				if d != 1 {
					t.Errorf("group %s: %s and %s differ in %d features, want 1", sa.group, a, b, d)
				}
			case d < 2:
				close++
				t.Logf("%s and %s differ in %d feature: %s / %s", a, b, d, lx.Describe(a), lx.Describe(b))
			}
		}
	}
	if close > 0 {
		t.Errorf("%d pairs of signs outside groups are near-identical", close)
	}
}

// TestHandsMatchRealHands compares the kinematic hand's bone proportions with real
// MediaPipe hands from the shared pose samples (measuring data; skipped without it).
func TestHandsMatchRealHands(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	bones := [][2]int{{0, 5}, {0, 17}, {0, 1}, {5, 17}, {1, 2}, {2, 3}, {3, 4}, {5, 6}, {6, 7}, {7, 8}, {9, 10}, {10, 11}, {11, 12}, {13, 14}, {17, 18}}
	ratios := func(p [21]vec) []float64 {
		ref := p[9].sub(p[0]).norm()
		out := make([]float64, len(bones))
		for i, b := range bones {
			out[i] = p[b[1]].sub(p[b[0]]).norm() / ref
		}
		return out
	}
	real := make([][]float64, len(bones))
	// The 2D bone lengths of real hands shrink when a bone points at the camera, so
	// take the 75th percentile over frames as the bone's length.
	for _, name := range []string{"0ff215ef4f1f111e217e2cefee0adc77.pose", "7bd6dd48722def3cf84258b96371cb1e.pose", "mediapipe.pose", "mediapipe_long.pose"} {
		f, err := poseformat.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		frames, _, present, _, err := f.Holistic(0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range frames {
			for part, off := range map[int]int{poseformat.PartLeftHand: poseformat.LeftHandOffset, poseformat.PartRightHand: poseformat.RightHandOffset} {
				if !present[i][part] {
					continue
				}
				var p [21]vec
				for j := range p {
					q := frames[i][off+j]
					p[j] = vec{float64(q[0]), float64(q[1]), 0}
				}
				for k, r := range ratios(p) {
					real[k] = append(real[k], r)
				}
			}
		}
	}
	open := handshapeByName("5").angles
	model := ratios(handPoints(&open, 1))
	for k, b := range bones {
		xs := real[k]
		sort.Float64s(xs)
		p75 := xs[len(xs)*3/4]
		if math.Abs(model[k]-p75)/p75 > 0.2 {
			t.Errorf("bone %v: model %.3f of the palm length, real hands %.3f (75th percentile of %d)", b, model[k], p75, len(xs))
		}
	}
	// Joint angles: the finger flexions the handshapes use stay within what the real
	// hands show between neighbouring bones.
	maxReal := 0.0
	for _, name := range []string{"0ff215ef4f1f111e217e2cefee0adc77.pose", "mediapipe.pose"} {
		f, _ := poseformat.ReadFile(filepath.Join(dir, name))
		frames, _, present, _, _ := f.Holistic(0)
		for i := range frames {
			if !present[i][poseformat.PartRightHand] {
				continue
			}
			q := func(j int) vec {
				v := frames[i][poseformat.RightHandOffset+j]
				return vec{float64(v[0]), float64(v[1]), float64(v[2]) * float64(f.Dimensions.Width)}
			}
			a, b := q(10).sub(q(9)).unit(), q(11).sub(q(10)).unit()
			maxReal = math.Max(maxReal, math.Acos(math.Max(-1, math.Min(1, a.dot(b))))*180/math.Pi)
		}
	}
	for _, h := range handshapes {
		for f := 0; f < 4; f++ {
			if pip := h.angles[4*f+1]; pip > maxReal {
				t.Errorf("handshape %s: PIP flexion %g° beyond the %0.f° real hands reach", h.name, pip, maxReal)
			}
		}
	}
}

// TestRealSamplesLoadLikeSynthetic reads the real pose samples through the same reader
// the corpus uses.
func TestRealSamplesLoadLikeSynthetic(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pose"))
	for _, file := range files {
		f, err := poseformat.ReadFile(file)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(file), err)
			continue
		}
		if _, _, _, _, err := f.Holistic(0); err != nil {
			t.Errorf("%s: %v", filepath.Base(file), err)
		}
	}
}

func BenchmarkDialogue(b *testing.B) {
	g, err := NewGenerator(Config{Dialogues: 1, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	frames := 0
	for i := 0; i < b.N; i++ {
		_, clips := g.Dialogue(i)
		for _, c := range clips {
			if c != nil {
				frames += len(c.Points)
			}
		}
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}

// TestMotionIsContinuous: hands move smoothly between and within signs (no jumps), and
// the dominant hand of left-handed signers is the left one.
func TestMotionIsContinuous(t *testing.T) {
	g, err := NewGenerator(Config{Dialogues: 1, Seed: 21, Signers: 12})
	if err != nil {
		t.Fatal(err)
	}
	sawLeft, sawRight := false, false
	var lefty, righty [2]float64 // wrist paths of left, right hands
	for i := 0; i < 40 && !(sawLeft && sawRight); i++ {
		d, clips := g.Dialogue(i)
		for _, c := range clips {
			if c == nil {
				continue
			}
			var path [2]float64 // left, right wrist path length in sign frames
			for h, off := range []int{leftOff, rightOff} {
				for f := 1; f < len(c.Points); f++ {
					a, b := c.Points[f-1][off], c.Points[f][off]
					if c.Conf[f-1][off] == 0 || c.Conf[f][off] == 0 {
						continue
					}
					jump := math.Hypot(float64(a[0]-b[0]), float64(a[1]-b[1]))
					if jump > 80 { // a sixth of the image height in 1/30 s: a teleport, not a movement
						t.Errorf("dialogue %d: hand %d jumps %.0f px between frames %d and %d", i, h, jump, f-1, f)
					}
					path[h] += jump
				}
			}
			if d.Signer.LeftHanded {
				sawLeft = true
				lefty[0] += path[0]
				lefty[1] += path[1]
			} else {
				sawRight = true
				righty[0] += path[0]
				righty[1] += path[1]
			}
		}
	}
	if lefty[0] < lefty[1] || righty[1] < righty[0] {
		t.Errorf("left-handed signers moved left/right hands %.0f/%.0f px, right-handed ones %.0f/%.0f", lefty[0], lefty[1], righty[0], righty[1])
	}
	if !sawLeft || !sawRight {
		t.Errorf("saw left-handed %v, right-handed %v signers", sawLeft, sawRight)
	}
}

// TestAmbiguityProbeRuns runs the context probe of `scope dataset stats --ambiguity`
// on a small corpus (its numbers mean little at this size; see the package README for
// a full-size run).
func TestAmbiguityProbeRuns(t *testing.T) {
	dir := writeCorpus(t, Config{Dialogues: 30, Seed: 2})
	ds, err := dataset.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := dataset.EvaluateAmbiguity(context.Background(), ds, map[string]bool{"train": true}, map[string]bool{"dev": true, "test": true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Groups == 0 || res.TestTokens == 0 {
		t.Fatalf("probe saw %d groups, %d test tokens", res.Groups, res.TestTokens)
	}
	for _, x := range []float64{res.NoContext, res.WithContext, res.ContextOnly, res.Chance} {
		if x < 0 || x > 1 {
			t.Errorf("confusion rate %g outside [0,1]", x)
		}
	}
}

// wristSpeeds returns per-frame wrist speeds in shoulder widths per second, and the
// share of frames (per hand) in which a hand is present.
func wristSpeeds(fr [][numPoints][3]float32, conf [][numPoints]float32, fps float64) (speeds []float64, present float64) {
	n := 0
	for i := range fr {
		l, r := fr[i][11], fr[i][12]
		sw := math.Max(1, math.Hypot(float64(l[0]-r[0]), float64(l[1]-r[1])))
		for _, off := range []int{leftOff, rightOff} {
			if conf[i][off] == 0 {
				continue
			}
			n++
			if i > 0 && conf[i-1][off] > 0 {
				a, b := fr[i][off], fr[i-1][off]
				speeds = append(speeds, math.Hypot(float64(a[0]-b[0]), float64(a[1]-b[1]))/sw*fps)
			}
		}
	}
	return speeds, float64(n) / float64(2*len(fr))
}

func quantile(xs []float64, q float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1))]
}

// TestMovesLikeRealSigners compares hand speeds and hand presence with the real signing
// in the shared pose samples: the synthetic signer's pooled median and 90th-percentile
// wrist speeds, and its share of frames with hands, lie within the real clips' range.
func TestMovesLikeRealSigners(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for _, name := range []string{"0ff215ef4f1f111e217e2cefee0adc77.pose", "7bd6dd48722def3cf84258b96371cb1e.pose", "84322c38ff23406f222641da30d0a49b.pose", "mediapipe.pose", "mediapipe_long.pose"} {
		f, err := poseformat.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		fr, conf, _, _, err := f.Holistic(0)
		if err != nil {
			t.Fatal(err)
		}
		sp, pr := wristSpeeds(fr, conf, float64(f.FPS))
		for k, v := range [3]float64{quantile(sp, 0.5), quantile(sp, 0.9), pr} {
			lo[k], hi[k] = math.Min(lo[k], v), math.Max(hi[k], v)
		}
	}
	g, err := NewGenerator(Config{Dialogues: 1, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	var all []float64
	frames, present := 0, 0.0
	for i := 0; i < 6; i++ {
		_, clips := g.Dialogue(i)
		for _, c := range clips {
			if c != nil {
				sp, pr := wristSpeeds(c.Points, c.Conf, 30)
				all = append(all, sp...)
				present += pr * float64(len(c.Points))
				frames += len(c.Points)
			}
		}
	}
	got := [3]float64{quantile(all, 0.5), quantile(all, 0.9), present / float64(frames)}
	for k, name := range []string{"median wrist speed", "90th percentile wrist speed", "share of frames with a hand"} {
		if got[k] < lo[k] || got[k] > hi[k] {
			t.Errorf("%s: synthetic %.2f, real clips %.2f..%.2f", name, got[k], lo[k], hi[k])
		}
	}
	t.Logf("synthetic vs real: median speed %.2f (%.2f..%.2f), p90 %.2f (%.2f..%.2f) shoulder widths/s, hands present %.2f (%.2f..%.2f)",
		got[0], lo[0], hi[0], got[1], lo[1], hi[1], got[2], lo[2], hi[2])
}

// BenchmarkWrite measures the whole corpus writer (rendering, .pose encoding, disk) in
// dialogues per second on all cores; 2,000 dialogues take 2000/rate seconds.
func BenchmarkWrite(b *testing.B) {
	g, err := NewGenerator(Config{Dialogues: 20, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		if err := g.Write(context.Background(), dir, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(20*b.N)/b.Elapsed().Seconds(), "dialogues/s")
}
