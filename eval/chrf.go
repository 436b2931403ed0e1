package eval

import (
	"fmt"
	"strings"
)

// ChrFOptions are sacreBLEU's chrF settings. The zero value means sacreBLEU's defaults:
// character n-grams up to 6, no word n-grams, beta 2, whitespace removed.
type ChrFOptions struct {
	CharOrder int // 0 means 6
	// WordOrder adds word n-grams up to this order (2 gives chrF++).
	WordOrder int
	Beta      int // 0 means 2
	// Whitespace keeps spaces inside character n-grams.
	Whitespace bool
	// EpsSmoothing averages per-order F scores, each at least 1e-16, as chrF++.py and
	// sacreBLEU's eps_smoothing do, instead of scoring the averaged precision and recall.
	EpsSmoothing bool
	Lowercase    bool
}

func (o ChrFOptions) withDefaults() ChrFOptions {
	if o.CharOrder <= 0 {
		o.CharOrder = 6
	}
	if o.Beta <= 0 {
		o.Beta = 2
	}
	return o
}

// Signature describes the settings as sacreBLEU's chrF signature does.
func (o ChrFOptions) Signature() string {
	o = o.withDefaults()
	pick := func(b bool, yes, no string) string {
		if b {
			return yes
		}
		return no
	}
	return fmt.Sprintf("case:%s|eff:%s|nc:%d|nw:%d|space:%s|beta:%d", pick(o.Lowercase, "lc", "mixed"),
		pick(o.EpsSmoothing, "no", "yes"), o.CharOrder, o.WordOrder, pick(o.Whitespace, "yes", "no"), o.Beta)
}

// chrfPunct is the ASCII punctuation chrF++ splits off word edges.
const chrfPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// chrfWords splits off one punctuation character at the end, or else at the start, of each
// word of two or more characters.
func chrfWords(s string) []string {
	var out []string
	for _, w := range pyFields(s) {
		r := []rune(w)
		switch {
		case len(r) == 1:
			out = append(out, w)
		case strings.ContainsRune(chrfPunct, r[len(r)-1]):
			out = append(out, string(r[:len(r)-1]), string(r[len(r)-1]))
		case strings.ContainsRune(chrfPunct, r[0]):
			out = append(out, string(r[0]), string(r[1:]))
		default:
			out = append(out, w)
		}
	}
	return out
}

// chrfNgrams returns one counter per order: characters 1..CharOrder, then words 1..WordOrder.
func (o ChrFOptions) ngrams(s string) []map[string]int {
	line := s
	if !o.Whitespace {
		line = strings.Join(pyFields(s), "")
	}
	r := []rune(line)
	out := make([]map[string]int, 0, o.CharOrder+o.WordOrder)
	for n := 1; n <= o.CharOrder; n++ {
		m := make(map[string]int)
		for i := 0; i+n <= len(r); i++ {
			m[string(r[i:i+n])]++
		}
		out = append(out, m)
	}
	if o.WordOrder > 0 {
		words := chrfWords(s)
		for n := 1; n <= o.WordOrder; n++ {
			m := make(map[string]int)
			for i := 0; i+n <= len(words); i++ {
				m[strings.Join(words[i:i+n], " ")]++
			}
			out = append(out, m)
		}
	}
	return out
}

// fScore is sacreBLEU's chrF from [hyp, ref, match] counts per order.
func (o ChrFOptions) fScore(st []int) float64 {
	const eps = 1e-16
	factor := float64(o.Beta * o.Beta)
	order := len(st) / 3
	score, avgP, avgR, eff := 0.0, 0.0, 0.0, 0
	for i := range order {
		nHyp, nRef, nMatch := float64(st[3*i]), float64(st[3*i+1]), float64(st[3*i+2])
		prec, rec := eps, eps
		if nHyp > 0 {
			prec = nMatch / nHyp
		}
		if nRef > 0 {
			rec = nMatch / nRef
		}
		if denom := factor*prec + rec; denom > 0 {
			score += (1 + factor) * prec * rec / denom
		} else {
			score += eps
		}
		if nHyp > 0 && nRef > 0 {
			avgP += prec
			avgR += rec
			eff++
		}
	}
	if o.EpsSmoothing {
		return 100 * score / float64(order)
	}
	if eff == 0 {
		avgP, avgR = 0, 0
	} else {
		avgP /= float64(eff)
		avgR /= float64(eff)
	}
	if avgP+avgR == 0 {
		return 0
	}
	return 100 * (1 + factor) * avgP * avgR / (factor*avgP + avgR)
}

// CorpusChrF is sacreBLEU's corpus chrF of hypotheses against reference streams: per
// sentence the statistics of the best-scoring reference, summed over the corpus, scored once.
func CorpusChrF(hyps []string, refs [][]string, o ChrFOptions) (float64, error) {
	if err := checkRefs("chrF", hyps, refs); err != nil {
		return 0, err
	}
	o = o.withDefaults()
	norm := func(s string) string {
		if o.Lowercase {
			return strings.ToLower(s)
		}
		return s
	}
	orders := o.CharOrder + o.WordOrder
	sum := make([]int, 3*orders)
	for i, h := range hyps {
		hg := o.ngrams(norm(h))
		var best []int
		bestF := -1.0
		for k := range refs {
			rg := o.ngrams(norm(refs[k][i]))
			st := make([]int, 0, 3*orders)
			for n := range orders {
				hypCount, refCount, match := 0, 0, 0
				for g, c := range hg[n] {
					hypCount += c
					match += min(c, rg[n][g])
				}
				for _, c := range rg[n] {
					refCount += c
				}
				if len(rg[n]) == 0 {
					hypCount = 0 // sacreBLEU counts no hypothesis n-grams where the reference has none
				}
				st = append(st, hypCount, refCount, match)
			}
			if f := o.fScore(st); f > bestF {
				best, bestF = st, f
			}
		}
		for j := range sum {
			sum[j] += best[j]
		}
	}
	return o.fScore(sum), nil
}

// SentenceChrF scores one hypothesis against its references.
func SentenceChrF(hyp string, refs []string, o ChrFOptions) float64 {
	streams := make([][]string, len(refs))
	for k, r := range refs {
		streams[k] = []string{r}
	}
	if len(refs) == 0 {
		streams = [][]string{{""}}
	}
	s, _ := CorpusChrF([]string{hyp}, streams, o)
	return s
}
