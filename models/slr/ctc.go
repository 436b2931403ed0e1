package slr

import (
	"math"
	"sort"
)

// Hypothesis is one recognised gloss sequence with its score: the log-probability of the
// sequence under the CTC model (summed over the alignments the beam kept).
type Hypothesis struct {
	Glosses []string
	Score   float64
}

// IDHypothesis is a Hypothesis before the glosses are looked up.
type IDHypothesis struct {
	IDs   []int
	Score float64
}

// BeamSearch runs a CTC prefix beam search over log-probabilities logp [steps][vocab]
// (row-major) and returns up to topK label sequences, best first. blank is the blank id;
// beam is how many prefixes survive each step (>= topK is sensible). Steps whose row holds
// NaN are treated as all-blank.
func BeamSearch(logp []float32, steps, vocab, blank, beam, topK int) []IDHypothesis {
	if beam < 1 {
		beam = 1
	}
	if topK < 1 {
		topK = 1
	}
	type entry struct {
		pb, pnb float64 // log-probability of the prefix ending in blank / in its last label
	}
	negInf := math.Inf(-1)
	key := func(ids []int) string {
		b := make([]byte, 0, 2*len(ids))
		for _, x := range ids {
			b = append(b, byte(x>>8), byte(x))
		}
		return string(b)
	}
	type prefix struct {
		ids []int
		e   entry
	}
	beams := map[string]*prefix{"": {ids: nil, e: entry{0, negInf}}}
	var cand []int
	for t := 0; t < steps; t++ {
		row := logp[t*vocab : (t+1)*vocab]
		next := make(map[string]*prefix, 2*len(beams))
		get := func(ids []int) *prefix {
			k := key(ids)
			p, ok := next[k]
			if !ok {
				p = &prefix{ids: ids, e: entry{negInf, negInf}}
				next[k] = p
			}
			return p
		}
		cands := topLabels(row, blank, beam, cand[:0])
		cand = cands
		bl := float64(row[blank])
		if math.IsNaN(bl) {
			bl = 0
		}
		for _, p := range beams {
			total := logAdd(p.e.pb, p.e.pnb)
			// blank: the prefix stays, now ending in blank
			n := get(p.ids)
			n.e.pb = logAdd(n.e.pb, total+bl)
			last := -1
			if len(p.ids) > 0 {
				last = p.ids[len(p.ids)-1]
				// the last label again, without a blank between: the prefix stays
				if lp := float64(row[last]); !math.IsNaN(lp) {
					n.e.pnb = logAdd(n.e.pnb, p.e.pnb+lp)
				}
			}
			for _, c := range cands {
				lp := float64(row[c])
				ext := get(appendCopy(p.ids, c))
				if c == last {
					// a repeated label needs a blank between the two
					ext.e.pnb = logAdd(ext.e.pnb, p.e.pb+lp)
				} else {
					ext.e.pnb = logAdd(ext.e.pnb, total+lp)
				}
			}
		}
		list := make([]*prefix, 0, len(next))
		for _, p := range next {
			list = append(list, p)
		}
		sort.Slice(list, func(i, j int) bool {
			a, b := logAdd(list[i].e.pb, list[i].e.pnb), logAdd(list[j].e.pb, list[j].e.pnb)
			if a != b {
				return a > b
			}
			return key(list[i].ids) < key(list[j].ids)
		})
		if len(list) > beam {
			list = list[:beam]
		}
		beams = make(map[string]*prefix, len(list))
		for _, p := range list {
			beams[key(p.ids)] = p
		}
	}
	out := make([]IDHypothesis, 0, len(beams))
	for _, p := range beams {
		out = append(out, IDHypothesis{IDs: p.ids, Score: logAdd(p.e.pb, p.e.pnb)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return key(out[i].IDs) < key(out[j].IDs)
	})
	if len(out) > topK {
		out = out[:topK]
	}
	return out
}

// topLabels returns the non-blank labels worth extending a prefix with at one step: the
// k most likely ones, dropping those more than 12 nats (a factor 1.6e5) below the step's
// best label, blank included. This is the usual pruning of CTC decoders; with k >= vocab
// and no label that far below, the search is exact.
func topLabels(row []float32, blank, k int, out []int) []int {
	best := float32(math.Inf(-1))
	for _, v := range row {
		if v > best {
			best = v
		}
	}
	for c, v := range row {
		if c == blank || math.IsNaN(float64(v)) || v < best-12 {
			continue
		}
		if len(out) < k {
			out = append(out, c)
		} else {
			// replace the smallest kept label if this one is larger
			mi := 0
			for i := 1; i < len(out); i++ {
				if row[out[i]] < row[out[mi]] {
					mi = i
				}
			}
			if v <= row[out[mi]] {
				continue
			}
			out[mi] = c
		}
	}
	return out
}

// Greedy is best-path decoding: the most likely label per step, repeats merged, blanks dropped.
func Greedy(logp []float32, steps, vocab, blank int) []int {
	var out []int
	last := blank
	for t := 0; t < steps; t++ {
		row := logp[t*vocab : (t+1)*vocab]
		bi := 0
		for c := 1; c < vocab; c++ {
			if row[c] > row[bi] {
				bi = c
			}
		}
		if bi != last && bi != blank {
			out = append(out, bi)
		}
		last = bi
	}
	return out
}

func appendCopy(ids []int, c int) []int {
	out := make([]int, len(ids)+1)
	copy(out, ids)
	out[len(ids)] = c
	return out
}

func logAdd(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}
