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
	// candidates per step: labels whose probability could matter
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
		// prune labels: keep those within a margin of the best one at this step
		best := negInf
		for _, v := range row {
			if float64(v) > best {
				best = float64(v)
			}
		}
		if math.IsNaN(best) {
			best = 0
		}
		for _, p := range beams {
			total := logAdd(p.e.pb, p.e.pnb)
			// blank: prefix unchanged
			bl := float64(row[blank])
			if math.IsNaN(bl) {
				bl = 0
			}
			n := get(p.ids)
			n.e.pb = logAdd(n.e.pb, total+bl)
			last := -1
			if len(p.ids) > 0 {
				last = p.ids[len(p.ids)-1]
			}
			for c := 0; c < vocab; c++ {
				if c == blank {
					continue
				}
				lp := float64(row[c])
				if math.IsNaN(lp) || lp < best-12 {
					continue
				}
				if c == last {
					// repeated label without blank collapses into the same prefix
					n.e.pnb = logAdd(n.e.pnb, p.e.pnb+lp)
					ext := get(appendCopy(p.ids, c))
					ext.e.pnb = logAdd(ext.e.pnb, p.e.pb+lp)
				} else {
					ext := get(appendCopy(p.ids, c))
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
