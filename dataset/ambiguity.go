package dataset

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"unicode"

	"scope/models/poseformat"
)

// The ambiguity probe: how often do the members of a group of near-identical signs get
// confused by a classifier that sees only the sign's keypoints, against one that also
// sees the dialogue context (the words of the previous turns)? It needs tokens with
// spans (synthetic corpora have them) and group names (the manifest's "groups").
//
// Per group, the keypoint classifier is a multinomial logistic regression over
// SignFeatures; the context model a tempered naive Bayes over the previous turns' words;
// the classifier with context adds their log-probabilities, the context's weighted by
// a factor chosen, like the regression's penalty, on held-out training signers. All are trained on one set
// of splits and scored on another, so test signers are never seen in training.

// AmbiguityResult is the probe's outcome.
type AmbiguityResult struct {
	Groups      int
	TrainTokens int
	TestTokens  int
	// Confusion rates on the test tokens: the share assigned to another member.
	NoContext   float64 // keypoint features only
	WithContext float64 // keypoint features + previous turns' words
	ContextOnly float64 // previous turns' words only
	Chance      float64 // always answering the most frequent member of the group
	PerGroup    []GroupResult
}

// GroupResult is one group's share of the probe.
type GroupResult struct {
	Name                                string
	Members                             int
	Train, Test                         int
	NoContext, WithContext, ContextOnly float64
}

type ambToken struct {
	signer   string
	group    string
	label    string
	features []float64
	context  []string // words of the previous turns
}

// EvaluateAmbiguity trains on train splits and scores on test splits. progress, when
// not nil, is told how many signer turns are read.
func EvaluateAmbiguity(ctx context.Context, d *Dataset, train, test map[string]bool, progress func(done, total int)) (*AmbiguityResult, error) {
	var trainT, testT []ambToken
	type job struct {
		e       *Entry
		context []string
		isTest  bool
	}
	var jobs []job
	for _, dlg := range Dialogues(d.Entries) {
		var words []string
		for i := range dlg {
			e := &dlg[i]
			inTrain, inTest := train[e.Split], test[e.Split]
			if e.IsSigner() && len(e.Ambiguous) > 0 && (inTrain || inTest) {
				if len(e.Spans) != len(e.Glosses) {
					return nil, fmt.Errorf("entry %q has no spans: the ambiguity probe needs each gloss's frames (synthetic corpora have them)", e.ID)
				}
				if len(e.Groups) != len(e.Ambiguous) {
					return nil, fmt.Errorf("entry %q names no groups for its ambiguous tokens", e.ID)
				}
				jobs = append(jobs, job{e: e, context: append([]string(nil), words...), isTest: inTest})
			}
			words = append(words, Words(e.Text)...)
		}
	}
	for k, j := range jobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := d.LoadTurn(j.e)
		if err != nil {
			return nil, err
		}
		for n, at := range j.e.Ambiguous {
			tok := ambToken{signer: j.e.SignerID, group: j.e.Groups[n], label: j.e.Glosses[at], context: j.context,
				features: SignFeatures(t, j.e.Spans[at][0], j.e.Spans[at][1])}
			if j.isTest {
				testT = append(testT, tok)
			} else {
				trainT = append(trainT, tok)
			}
		}
		if progress != nil {
			progress(k+1, len(jobs))
		}
	}
	if len(trainT) == 0 || len(testT) == 0 {
		return nil, fmt.Errorf("the ambiguity probe found %d training and %d test tokens; it needs both (check --split and that the corpus has ambiguous tokens)", len(trainT), len(testT))
	}
	return probe(trainT, testT), nil
}

func probe(trainT, testT []ambToken) *AmbiguityResult {
	byGroup := func(ts []ambToken) map[string][]*ambToken {
		m := map[string][]*ambToken{}
		for i := range ts {
			m[ts[i].group] = append(m[ts[i].group], &ts[i])
		}
		return m
	}
	tr, te := byGroup(trainT), byGroup(testT)
	res := &AmbiguityResult{TrainTokens: len(trainT), TestTokens: len(testT)}
	var errNo, errWith, errCtx, errChance float64
	names := make([]string, 0, len(te))
	for g := range te {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		test, train := te[g], tr[g]
		labels := map[string]int{}
		for _, t := range train {
			if _, ok := labels[t.label]; !ok {
				labels[t.label] = len(labels)
			}
		}
		gr := GroupResult{Name: g, Members: len(labels), Train: len(train), Test: len(test)}
		res.Groups++
		if len(labels) < 2 {
			// Too few training tokens to tell members apart: every test token of another
			// member than the one seen counts as confused.
			for _, t := range test {
				if _, ok := labels[t.label]; !ok {
					errNo++
					errWith++
					errCtx++
					errChance++
				}
			}
			res.PerGroup = append(res.PerGroup, gr)
			continue
		}
		y := make([]int, len(train))
		counts := make([]int, len(labels))
		for i, t := range train {
			y[i] = labels[t.label]
			counts[y[i]]++
		}
		major := 0
		for k, c := range counts {
			if c > counts[major] {
				major = k
			}
		}
		kpTrain := make([][]float64, len(train))
		for i, t := range train {
			kpTrain[i] = t.features
		}
		l2, beta := tuneByHeldOutSigners(train, kpTrain, y, len(labels))
		kp := trainLogistic(kpTrain, y, len(labels), l2)
		ctx := trainContext(train, y, len(labels))
		var no, with, cx, chance float64
		for _, t := range test {
			want, ok := labels[t.label]
			if !ok {
				want = -1
			}
			lk := kp.logProbs(t.features)
			lc := ctx.logLikelihood(t.context)
			both := make([]float64, len(lk))
			alone := make([]float64, len(lk))
			for k := range lk {
				both[k] = lk[k] + beta*lc[k]
				alone[k] = ctx.logPrior[k] + lc[k]
			}
			if argmax(lk) != want {
				no++
			}
			if argmax(both) != want {
				with++
			}
			if argmax(alone) != want {
				cx++
			}
			if major != want {
				chance++
			}
		}
		n := float64(len(test))
		gr.NoContext, gr.WithContext, gr.ContextOnly = no/n, with/n, cx/n
		errNo += no
		errWith += with
		errCtx += cx
		errChance += chance
		res.PerGroup = append(res.PerGroup, gr)
	}
	n := float64(len(testT))
	res.NoContext, res.WithContext, res.ContextOnly, res.Chance = errNo/n, errWith/n, errCtx/n, errChance/n
	return res
}

// tuneByHeldOutSigners picks the keypoint model's L2 penalty and the weight of the
// context model in the combination by 3-fold cross-validation over the training
// signers, so that both are set for signers the models have not seen, as the test
// signers are. Without at least two training signers it returns defaults.
func tuneByHeldOutSigners(train []*ambToken, kp [][]float64, y []int, classes int) (l2, beta float64) {
	l2, beta = 0.1, 1
	fold := map[string]int{}
	for _, t := range train {
		if _, ok := fold[t.signer]; !ok {
			fold[t.signer] = len(fold) % 3
		}
	}
	if len(fold) < 2 {
		return
	}
	type split struct {
		tr, te []int
	}
	var splits []split
	for f := 0; f < min(3, len(fold)); f++ {
		var sp split
		for i, t := range train {
			if fold[t.signer] == f {
				sp.te = append(sp.te, i)
			} else {
				sp.tr = append(sp.tr, i)
			}
		}
		if len(sp.tr) > 0 && len(sp.te) > 0 {
			splits = append(splits, sp)
		}
	}
	pickRows := func(idx []int) ([][]float64, []int, []*ambToken) {
		xs, ys, ts := make([][]float64, len(idx)), make([]int, len(idx)), make([]*ambToken, len(idx))
		for k, i := range idx {
			xs[k], ys[k], ts[k] = kp[i], y[i], train[i]
		}
		return xs, ys, ts
	}
	betas := []float64{0, 0.25, 0.5, 1, 2, 4, 8, 16}
	bestL2, bestRight := l2, -1
	right := make(map[[2]float64]int)
	for _, lam := range []float64{0.01, 0.1, 1, 10} {
		for _, sp := range splits {
			xs, ys, ts := pickRows(sp.tr)
			m := trainLogistic(xs, ys, classes, lam)
			c := trainContext(ts, ys, classes)
			for _, i := range sp.te {
				lk := m.logProbs(kp[i])
				lc := c.logLikelihood(train[i].context)
				for _, b := range betas {
					both := make([]float64, len(lk))
					for k := range lk {
						both[k] = lk[k] + b*lc[k]
					}
					if argmax(both) == y[i] {
						right[[2]float64{lam, b}]++
					}
				}
			}
		}
		if r := right[[2]float64{lam, 0}]; r > bestRight {
			bestL2, bestRight = lam, r
		}
	}
	bestBeta, bestRight := 0.0, -1
	for _, b := range betas {
		if r := right[[2]float64{bestL2, b}]; r > bestRight {
			bestBeta, bestRight = b, r
		}
	}
	return bestL2, bestBeta
}

func argmax(xs []float64) int {
	best := 0
	for k := range xs {
		if xs[k] > xs[best] {
			best = k
		}
	}
	return best
}

// contextModel is a Bernoulli naive Bayes over the words of the previous turns, its
// log-likelihoods tempered by alpha (the words of one sentence are far from
// independent, which makes plain naive Bayes overconfident). alpha is chosen by
// 3-fold cross-validation on the training tokens.
type contextModel struct {
	vocab    map[string]int
	logP     [][]float64 // [class][word] log P(word present | class)
	logQ     [][]float64 // log P(word absent | class)
	logPrior []float64
	alpha    float64
}

func trainContext(train []*ambToken, y []int, classes int) *contextModel {
	fit := func(idx []int, alpha float64) *contextModel {
		m := &contextModel{vocab: map[string]int{}, alpha: alpha}
		df := map[string]int{}
		for _, i := range idx {
			for w := range set(train[i].context) {
				df[w]++
			}
		}
		words := make([]string, 0, len(df))
		for w, n := range df {
			if n >= 2 {
				words = append(words, w)
			}
		}
		sort.Strings(words)
		for i, w := range words {
			m.vocab[w] = i
		}
		count := make([][]float64, classes)
		total := make([]float64, classes)
		for k := range count {
			count[k] = make([]float64, len(words))
		}
		for _, i := range idx {
			total[y[i]]++
			for w := range set(train[i].context) {
				if j, ok := m.vocab[w]; ok {
					count[y[i]][j]++
				}
			}
		}
		m.logP, m.logQ, m.logPrior = make([][]float64, classes), make([][]float64, classes), make([]float64, classes)
		for k := range count {
			m.logPrior[k] = math.Log((total[k] + 1) / (float64(len(idx)) + float64(classes)))
			m.logP[k], m.logQ[k] = make([]float64, len(words)), make([]float64, len(words))
			for j := range words {
				p := (count[k][j] + 0.5) / (total[k] + 1)
				m.logP[k][j], m.logQ[k][j] = math.Log(p), math.Log(1-p)
			}
		}
		return m
	}
	all := make([]int, len(train))
	for i := range all {
		all[i] = i
	}
	best, bestRight := 1.0, -1
	for _, alpha := range []float64{0.02, 0.05, 0.1, 0.2, 0.4, 1} {
		right := 0
		for fold := 0; fold < 3; fold++ {
			var in []int
			for i := range train {
				if i%3 != fold {
					in = append(in, i)
				}
			}
			m := fit(in, alpha)
			for i := fold; i < len(train); i += 3 {
				ll := m.logLikelihood(train[i].context)
				for k := range ll {
					ll[k] += m.logPrior[k]
				}
				if argmax(ll) == y[i] {
					right++
				}
			}
		}
		if right > bestRight {
			best, bestRight = alpha, right
		}
	}
	return fit(all, best)
}

// logLikelihood returns alpha * log P(context | class) for each class.
func (m *contextModel) logLikelihood(context []string) []float64 {
	present := make([]bool, len(m.vocab))
	for _, w := range context {
		if j, ok := m.vocab[w]; ok {
			present[j] = true
		}
	}
	out := make([]float64, len(m.logP))
	for k := range out {
		s := 0.0
		for j, p := range present {
			if p {
				s += m.logP[k][j]
			} else {
				s += m.logQ[k][j]
			}
		}
		out[k] = m.alpha * s
	}
	return out
}

func set(ws []string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// Words splits text into lower-case word tokens.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

// Print writes the probe's result; label is "synthetic" for synthetic corpora.
func (r *AmbiguityResult) Print(w io.Writer, label string) {
	tag := ""
	if label != "" {
		tag = " (" + label + ")"
	}
	fmt.Fprintf(w, "ambiguity probe%s: %d groups, %d training and %d test tokens (test signers unseen in training)\n", tag, r.Groups, r.TrainTokens, r.TestTokens)
	fmt.Fprintf(w, "  confusion within groups, keypoints only:          %5.1f%%\n", 100*r.NoContext)
	fmt.Fprintf(w, "  confusion within groups, keypoints + context:     %5.1f%%\n", 100*r.WithContext)
	fmt.Fprintf(w, "  confusion within groups, context words only:      %5.1f%%\n", 100*r.ContextOnly)
	fmt.Fprintf(w, "  confusion within groups, most frequent member:    %5.1f%%\n", 100*r.Chance)
	for _, g := range r.PerGroup {
		fmt.Fprintf(w, "    %-26s %d members, %4d train %4d test: %5.1f%% -> %5.1f%% (context only %5.1f%%)\n",
			g.Name, g.Members, g.Train, g.Test, 100*g.NoContext, 100*g.WithContext, 100*g.ContextOnly)
	}
}

// SignFeatures describes the sign in frames [a, b) of a turn for the probe: where the
// active hand is relative to the shoulders and face, its shape (distances between
// joints over the palm's size), its orientation and its movement (extent and number of
// back-and-forth strokes). The active hand is the one that moves more; positions are
// mirrored for a left active hand so that features do not depend on handedness.
func SignFeatures(t *Turn, a, b int) []float64 {
	a, b = max(a, 0), min(b, len(t.Points))
	if b <= a {
		return make([]float64, numSignFeatures)
	}
	type hand struct {
		off, part int
		energy    float64
		seen      int
	}
	hs := []hand{{off: poseformat.LeftHandOffset, part: poseformat.PartLeftHand}, {off: poseformat.RightHandOffset, part: poseformat.PartRightHand}}
	for i := range hs {
		var prev *[3]float32
		for f := a; f < b; f++ {
			if !t.Present[f][hs[i].part] {
				continue
			}
			hs[i].seen++
			w := &t.Points[f][hs[i].off]
			if prev != nil {
				hs[i].energy += math.Hypot(float64(w[0]-prev[0]), float64(w[1]-prev[1]))
			}
			prev = w
		}
	}
	act := &hs[1]
	if hs[0].seen > 0 && (hs[1].seen == 0 || hs[0].energy > hs[1].energy*1.1) {
		act = &hs[0]
	}
	mirror := 1.0
	if act.part == poseformat.PartLeftHand {
		mirror = -1
	}
	// Body frame per frame: origin between the shoulders, unit = shoulder width.
	body := func(f int) (ox, oy, s float64) {
		l, r := t.Points[f][11], t.Points[f][12]
		ox, oy = float64(l[0]+r[0])/2, float64(l[1]+r[1])/2
		s = math.Hypot(float64(l[0]-r[0]), float64(l[1]-r[1]))
		if s < 1 {
			s = 1
		}
		return
	}
	var xs, ys []float64
	var shape [numShapeFeatures]float64
	var normal [3]float64
	var faceDist []float64
	nShape := 0
	for f := a; f < b; f++ {
		if !t.Present[f][act.part] {
			continue
		}
		ox, oy, s := body(f)
		p := t.Points[f][act.off : act.off+21]
		xs = append(xs, mirror*(float64(p[0][0])-ox)/s)
		ys = append(ys, (float64(p[0][1])-oy)/s)
		nose := t.Points[f][0]
		faceDist = append(faceDist, math.Hypot(float64(p[9][0]-nose[0]), float64(p[9][1]-nose[1]))/s)
		if f < a+(b-a)/5 || f >= b-(b-a)/5 { // shape and orientation from the sign's middle
			continue
		}
		sh, n := handShape(p, float64(t.Width), mirror)
		for i := range shape {
			shape[i] += sh[i]
		}
		for i := range normal {
			normal[i] += n[i]
		}
		nShape++
	}
	out := make([]float64, 0, numSignFeatures)
	if len(xs) == 0 {
		return make([]float64, numSignFeatures)
	}
	at := func(v []float64, q float64) float64 { return v[min(len(v)-1, int(q*float64(len(v))))] }
	out = append(out, mean(xs), mean(ys), at(xs, 0.15), at(ys, 0.15), at(xs, 0.5), at(ys, 0.5), at(xs, 0.85), at(ys, 0.85))
	out = append(out, std(xs), std(ys), pathLength(xs, ys), float64(reversals(xs)), float64(reversals(ys)))
	out = append(out, mean(faceDist), minOf(faceDist))
	if nShape > 0 {
		for i := range shape {
			shape[i] /= float64(nShape)
		}
		nn := math.Sqrt(normal[0]*normal[0] + normal[1]*normal[1] + normal[2]*normal[2])
		if nn > 0 {
			for i := range normal {
				normal[i] /= nn
			}
		}
	}
	out = append(out, shape[:]...)
	out = append(out, normal[:]...)
	other := &hs[0]
	if act == &hs[0] {
		other = &hs[1]
	}
	out = append(out, float64(other.seen)/float64(b-a), other.energy/float64(b-a)/100)
	return out
}

const (
	numShapeFeatures = 15
	numSignFeatures  = 8 + 5 + 2 + numShapeFeatures + 3 + 2
)

// handShape returns distances between hand joints over the palm length, and the palm's
// normal (z from MediaPipe's relative depth, scaled like x).
func handShape(p [][3]float32, width, mirror float64) ([numShapeFeatures]float64, [3]float64) {
	v := func(i int) [3]float64 {
		return [3]float64{float64(p[i][0]) * mirror, float64(p[i][1]), float64(p[i][2]) * width}
	}
	d := func(i, j int) float64 {
		a, b := v(i), v(j)
		return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
	}
	palm := d(0, 9)
	if palm < 1e-6 {
		palm = 1e-6
	}
	pairs := [numShapeFeatures][2]int{{0, 4}, {0, 8}, {0, 12}, {0, 16}, {0, 20}, {4, 8}, {8, 12}, {12, 16}, {16, 20}, {0, 6}, {0, 10}, {0, 14}, {0, 18}, {4, 5}, {4, 17}}
	var out [numShapeFeatures]float64
	for i, pr := range pairs {
		out[i] = d(pr[0], pr[1]) / palm
	}
	w, ix, pk := v(0), v(5), v(17)
	a := [3]float64{ix[0] - w[0], ix[1] - w[1], ix[2] - w[2]}
	b := [3]float64{pk[0] - w[0], pk[1] - w[1], pk[2] - w[2]}
	n := [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
	return out, n
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func std(xs []float64) float64 {
	m := mean(xs)
	s := 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)))
}

func minOf(xs []float64) float64 {
	m := math.Inf(1)
	for _, x := range xs {
		m = math.Min(m, x)
	}
	return m
}

func pathLength(xs, ys []float64) float64 {
	l := 0.0
	for i := 1; i < len(xs); i++ {
		l += math.Hypot(xs[i]-xs[i-1], ys[i]-ys[i-1])
	}
	return l
}

// reversals counts direction changes of a smoothed coordinate, ignoring small ones.
func reversals(xs []float64) int {
	if len(xs) < 5 {
		return 0
	}
	sm := make([]float64, len(xs))
	for i := range xs {
		lo, hi := max(0, i-2), min(len(xs), i+3)
		sm[i] = mean(xs[lo:hi])
	}
	n, dir := 0, 0
	last := sm[0]
	for _, x := range sm[1:] {
		if math.Abs(x-last) < 0.02 {
			continue
		}
		d := 1
		if x < last {
			d = -1
		}
		if dir != 0 && d != dir {
			n++
		}
		dir, last = d, x
	}
	return n
}

// logistic is a multinomial logistic regression on standardised features.
type logistic struct {
	mu, sd []float64
	w      [][]float64 // [class][feature+1]
}

func trainLogistic(xs [][]float64, y []int, classes int, l2 float64) *logistic {
	nf := len(xs[0])
	m := &logistic{mu: make([]float64, nf), sd: make([]float64, nf), w: make([][]float64, classes)}
	for j := 0; j < nf; j++ {
		col := make([]float64, len(xs))
		for i := range xs {
			col[i] = xs[i][j]
		}
		m.mu[j], m.sd[j] = mean(col), std(col)
		if m.sd[j] < 1e-9 {
			m.sd[j] = 1
		}
	}
	zs := make([][]float64, len(xs))
	for i, x := range xs {
		zs[i] = m.standardise(x)
	}
	for k := range m.w {
		m.w[k] = make([]float64, nf+1)
	}
	grad := make([][]float64, classes)
	for k := range grad {
		grad[k] = make([]float64, nf+1)
	}
	p := make([]float64, classes)
	const lr = 0.5
	for it := 0; it < 300; it++ {
		for k := range grad {
			for j := range grad[k] {
				grad[k][j] = 0
			}
		}
		for i, z := range zs {
			m.probs(z, p)
			for k := range p {
				g := p[k]
				if y[i] == k {
					g--
				}
				gk := grad[k]
				for j, v := range z {
					gk[j] += g * v
				}
				gk[nf] += g
			}
		}
		n := float64(len(zs))
		for k := range m.w {
			for j := range m.w[k] {
				reg := 0.0
				if j < nf {
					reg = l2 * m.w[k][j]
				}
				m.w[k][j] -= lr * (grad[k][j]/n + reg)
			}
		}
	}
	return m
}

func (m *logistic) standardise(x []float64) []float64 {
	z := make([]float64, len(x))
	for j, v := range x {
		z[j] = (v - m.mu[j]) / m.sd[j]
	}
	return z
}

func (m *logistic) probs(z []float64, p []float64) {
	nf := len(z)
	mx := math.Inf(-1)
	for k, w := range m.w {
		s := w[nf]
		for j, v := range z {
			s += w[j] * v
		}
		p[k] = s
		mx = math.Max(mx, s)
	}
	sum := 0.0
	for k := range p {
		p[k] = math.Exp(p[k] - mx)
		sum += p[k]
	}
	for k := range p {
		p[k] /= sum
	}
}

// logProbs returns log P(class | x).
func (m *logistic) logProbs(x []float64) []float64 {
	p := make([]float64, len(m.w))
	m.probs(m.standardise(x), p)
	for k := range p {
		p[k] = math.Log(math.Max(p[k], 1e-12))
	}
	return p
}
