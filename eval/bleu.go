package eval

import (
	"fmt"
	"math"
	"strings"
)

// Smoothing names how BLEU treats an n-gram order without any match.
type Smoothing int

const (
	// SmoothExp is sacreBLEU's default (mteval-v13a's NIST smoothing): the k-th order
	// without matches counts as 1/2^k matches.
	SmoothExp Smoothing = iota
	// SmoothNone leaves such a precision 0, which makes the score 0.
	SmoothNone
	// SmoothFloor uses SmoothValue matches instead of 0 (sacreBLEU's default value is 0.1;
	// the sign language translation code base uses 0).
	SmoothFloor
	// SmoothAddK adds SmoothValue to the matches and totals of orders 2 and up (sacreBLEU's
	// default value is 1).
	SmoothAddK
)

func (s Smoothing) String() string {
	return [...]string{"exp", "none", "floor", "add-k"}[s]
}

// sacreBLEU's default smoothing values.
const (
	DefaultFloor = 0.1
	DefaultAddK  = 1.0
)

// BLEUOptions are sacreBLEU's BLEU settings. The zero value is sacreBLEU's corpus_bleu
// default: 13a tokenisation, exp smoothing, orders up to 4, mixed case.
type BLEUOptions struct {
	Tokenize Tokenizer
	Smooth   Smoothing
	// SmoothValue is the value of SmoothFloor and SmoothAddK, used as given (see
	// DefaultFloor, DefaultAddK).
	SmoothValue float64
	// MaxOrder is the highest n-gram order; 0 means 4.
	MaxOrder int
	// EffectiveOrder averages only over the orders the hypotheses have n-grams of (for
	// sentence-level BLEU).
	EffectiveOrder bool
	Lowercase      bool
}

// SignJoeyBLEU are the settings of the sign language translation code base (sacreBLEU's
// raw_corpus_bleu as Camgoz et al. 2020 and the papers after them call it): text already
// tokenised, floor smoothing with 0. Their BLEU-1..4 are BLEUStats.Cumulative with these.
var SignJoeyBLEU = BLEUOptions{Tokenize: TokNone, Smooth: SmoothFloor, SmoothValue: 0}

func (o BLEUOptions) order() int {
	if o.MaxOrder <= 0 {
		return 4
	}
	return o.MaxOrder
}

// Signature describes the settings as sacreBLEU's signature does, for printing beside a
// score.
func (o BLEUOptions) Signature() string {
	smooth := o.Smooth.String()
	if o.Smooth == SmoothFloor || o.Smooth == SmoothAddK {
		smooth += fmt.Sprintf("[%.2f]", o.SmoothValue)
	}
	c := "mixed"
	if o.Lowercase {
		c = "lc"
	}
	e := "no"
	if o.EffectiveOrder {
		e = "yes"
	}
	return fmt.Sprintf("case:%s|eff:%s|tok:%s|smooth:%s|order:%d", c, e, o.Tokenize, smooth, o.order())
}

// BLEUStats are the corpus statistics BLEU is computed from: per order n (index n-1) the
// clipped hypothesis n-grams found in the references and all hypothesis n-grams, and the
// hypothesis length and closest reference length summed over sentences.
type BLEUStats struct {
	Correct, Total []int
	SysLen, RefLen int
}

// BLEUScore is a BLEU score with the numbers sacreBLEU prints beside it.
type BLEUScore struct {
	Score      float64 // 0..100
	Precisions []float64
	BP         float64
	BLEUStats
}

func (s BLEUScore) String() string {
	p := make([]string, len(s.Precisions))
	for i, v := range s.Precisions {
		p[i] = fmt.Sprintf("%.1f", v)
	}
	ratio := 0.0
	if s.RefLen > 0 {
		ratio = float64(s.SysLen) / float64(s.RefLen)
	}
	return fmt.Sprintf("BLEU = %.2f %s (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		s.Score, strings.Join(p, "/"), s.BP, ratio, s.SysLen, s.RefLen)
}

// preprocess is sacreBLEU's BLEU preprocessing of a segment.
func (o BLEUOptions) preprocess(s string) []string {
	if o.Lowercase {
		s = strings.ToLower(s)
	}
	return o.Tokenize.tokenize(strings.TrimRightFunc(s, pyIsSpace))
}

func ngramCounts(tokens []string, maxOrder int) map[string]int {
	m := make(map[string]int)
	for n := 1; n <= maxOrder; n++ {
		for i := 0; i+n <= len(tokens); i++ {
			m[strings.Join(tokens[i:i+n], " ")]++
		}
	}
	return m
}

// checkRefs checks that every reference stream is line-aligned with the hypotheses.
func checkRefs(metric string, hyps []string, refs [][]string) error {
	if len(refs) == 0 {
		return fmt.Errorf("%s: no reference stream given", metric)
	}
	for k, r := range refs {
		if len(r) != len(hyps) {
			return fmt.Errorf("%s: reference stream %d has %d lines but there are %d hypotheses; they must be line-aligned", metric, k+1, len(r), len(hyps))
		}
	}
	return nil
}

// CollectBLEU gathers the corpus statistics of hypotheses against one or more reference
// streams (refs[k][i] is the k-th reference of hyps[i]), as sacreBLEU does.
func CollectBLEU(hyps []string, refs [][]string, o BLEUOptions) (BLEUStats, error) {
	if err := checkRefs("BLEU", hyps, refs); err != nil {
		return BLEUStats{}, err
	}
	maxOrder := o.order()
	st := BLEUStats{Correct: make([]int, maxOrder), Total: make([]int, maxOrder)}
	for i, h := range hyps {
		refNgrams := map[string]int{}
		var refLens []int
		for k := range refs {
			toks := o.preprocess(refs[k][i])
			refLens = append(refLens, len(toks))
			for g, c := range ngramCounts(toks, maxOrder) {
				refNgrams[g] = max(refNgrams[g], c)
			}
		}
		toks := o.preprocess(h)
		st.SysLen += len(toks)
		st.RefLen += closestRefLen(len(toks), refLens)
		for g, c := range ngramCounts(toks, maxOrder) {
			n := strings.Count(g, " ")
			st.Total[n] += c
			st.Correct[n] += min(c, refNgrams[g])
		}
	}
	return st, nil
}

// closestRefLen picks the reference length closest to the hypothesis length, the shorter
// one on a tie.
func closestRefLen(hypLen int, refLens []int) int {
	best, bestDiff := -1, -1
	for _, r := range refLens {
		diff := hypLen - r
		if diff < 0 {
			diff = -diff
		}
		if bestDiff == -1 || diff < bestDiff || (diff == bestDiff && r < best) {
			best, bestDiff = r, diff
		}
	}
	return best
}

// myLog is sacreBLEU's floored logarithm.
func myLog(x float64) float64 {
	if x == 0 {
		return -9999999999
	}
	return math.Log(x)
}

// Score computes BLEU over the orders 1..o.MaxOrder from the statistics (which must hold
// at least that many orders), as sacreBLEU's compute_bleu.
func (st BLEUStats) Score(o BLEUOptions) BLEUScore {
	maxOrder := min(o.order(), len(st.Correct))
	correct := make([]float64, maxOrder)
	total := make([]float64, maxOrder)
	for i := range maxOrder {
		correct[i], total[i] = float64(st.Correct[i]), float64(st.Total[i])
	}
	res := BLEUScore{BP: 1, Precisions: make([]float64, maxOrder), BLEUStats: BLEUStats{
		Correct: st.Correct[:maxOrder], Total: st.Total[:maxOrder], SysLen: st.SysLen, RefLen: st.RefLen}}
	if st.SysLen < st.RefLen {
		res.BP = 0
		if st.SysLen > 0 {
			res.BP = math.Exp(1 - float64(st.RefLen)/float64(st.SysLen))
		}
	}
	anyMatch := false
	for _, c := range correct {
		anyMatch = anyMatch || c != 0
	}
	if !anyMatch {
		return res
	}
	smoothMteval := 1.0
	effOrder := maxOrder
	for n := 1; n <= maxOrder; n++ {
		if o.Smooth == SmoothAddK && n > 1 {
			correct[n-1] += o.SmoothValue
			total[n-1] += o.SmoothValue
		}
		if total[n-1] == 0 {
			break
		}
		if o.EffectiveOrder {
			effOrder = n
		}
		switch {
		case correct[n-1] != 0:
			res.Precisions[n-1] = 100 * correct[n-1] / total[n-1]
		case o.Smooth == SmoothExp:
			smoothMteval *= 2
			res.Precisions[n-1] = 100 / (smoothMteval * total[n-1])
		case o.Smooth == SmoothFloor:
			res.Precisions[n-1] = 100 * o.SmoothValue / total[n-1]
		}
	}
	sum := 0.0
	for _, p := range res.Precisions[:effOrder] {
		sum += myLog(p)
	}
	res.Score = res.BP * math.Exp(sum/float64(effOrder))
	return res
}

// Cumulative returns BLEU-1 .. BLEU-N (N = o.MaxOrder): BLEU-n is BLEU with uniform weights
// over the orders 1..n, as sign language translation papers report BLEU-1..4 (and as
// sacreBLEU computes with max_ngram_order=n).
func (st BLEUStats) Cumulative(o BLEUOptions) []float64 {
	out := make([]float64, min(o.order(), len(st.Correct)))
	for n := range out {
		on := o
		on.MaxOrder = n + 1
		out[n] = st.Score(on).Score
	}
	return out
}

// CorpusBLEU is sacreBLEU's corpus BLEU of hypotheses against reference streams.
func CorpusBLEU(hyps []string, refs [][]string, o BLEUOptions) (BLEUScore, error) {
	st, err := CollectBLEU(hyps, refs, o)
	if err != nil {
		return BLEUScore{}, err
	}
	return st.Score(o), nil
}

// SentenceBLEU scores one hypothesis against its references, as sacreBLEU's sentence_score
// (use EffectiveOrder, as sacreBLEU recommends).
func SentenceBLEU(hyp string, refs []string, o BLEUOptions) BLEUScore {
	streams := make([][]string, len(refs))
	for k, r := range refs {
		streams[k] = []string{r}
	}
	if len(refs) == 0 {
		streams = [][]string{{""}}
	}
	st, _ := CollectBLEU([]string{hyp}, streams, o)
	return st.Score(o)
}
