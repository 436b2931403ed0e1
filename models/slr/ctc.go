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
// beam is how many prefixes survive each step (>= topK is sensible). NaN entries count as
// impossible (a NaN blank as certain).
//
// Prefixes live in a trie, so extending one is a child lookup, not a copy.
func BeamSearch(logp []float32, steps, vocab, blank, beam, topK int) []IDHypothesis {
	if beam < 1 {
		beam = 1
	}
	if topK < 1 {
		topK = 1
	}
	negInf := math.Inf(-1)
	root := &prefixNode{label: -1, pb: 0, pnb: negInf}
	beams := []*prefixNode{root}
	var touched []*prefixNode
	var cand []int
	touch := func(n *prefixNode, step int) *prefixNode {
		if n.step != step {
			n.step, n.npb, n.npnb = step, negInf, negInf
			touched = append(touched, n)
		}
		return n
	}
	for t := 0; t < steps; t++ {
		row := logp[t*vocab : (t+1)*vocab]
		cand = topLabels(row, blank, beam, cand[:0])
		bl := float64(row[blank])
		if math.IsNaN(bl) {
			bl = 0
		}
		touched = touched[:0]
		step := t + 1
		for _, p := range beams {
			total := logAdd(p.pb, p.pnb)
			n := touch(p, step)
			// blank: the prefix stays, now ending in blank
			n.npb = logAdd(n.npb, total+bl)
			if p.label >= 0 {
				// the last label again, without a blank between: the prefix stays
				if lp := float64(row[p.label]); !math.IsNaN(lp) {
					n.npnb = logAdd(n.npnb, p.pnb+lp)
				}
			}
			for _, c := range cand {
				lp := float64(row[c])
				ext := touch(p.child(c), step)
				if c == p.label {
					// a repeated label needs a blank between the two
					ext.npnb = logAdd(ext.npnb, p.pb+lp)
				} else {
					ext.npnb = logAdd(ext.npnb, total+lp)
				}
			}
		}
		for _, n := range touched {
			n.pb, n.pnb = n.npb, n.npnb
			n.score = logAdd(n.pb, n.pnb)
		}
		sort.Slice(touched, func(i, j int) bool { return touched[i].before(touched[j]) })
		keep := min(beam, len(touched))
		// prefixes that fall out of the beam keep no probability for later steps
		for _, n := range touched[keep:] {
			n.pb, n.pnb = negInf, negInf
		}
		beams = append(beams[:0], touched[:keep]...)
	}
	out := make([]IDHypothesis, 0, min(topK, len(beams)))
	for _, n := range beams[:min(topK, len(beams))] {
		out = append(out, IDHypothesis{IDs: n.labels(), Score: logAdd(n.pb, n.pnb)})
	}
	return out
}

// prefixNode is one label prefix in the search's trie.
type prefixNode struct {
	parent   *prefixNode
	label    int // last label, -1 at the root
	depth    int
	children map[int]*prefixNode
	pb, pnb  float64 // log-probability of the prefix ending in blank / in its last label
	npb      float64 // the same for the step being computed
	npnb     float64
	score    float64
	step     int
}

func (n *prefixNode) child(c int) *prefixNode {
	if ch, ok := n.children[c]; ok {
		return ch
	}
	if n.children == nil {
		n.children = map[int]*prefixNode{}
	}
	ch := &prefixNode{parent: n, label: c, depth: n.depth + 1, pb: math.Inf(-1), pnb: math.Inf(-1)}
	n.children[c] = ch
	return ch
}

func (n *prefixNode) labels() []int {
	ids := make([]int, n.depth)
	for k := n; k.parent != nil; k = k.parent {
		ids[k.depth-1] = k.label
	}
	return ids
}

// before orders by score, then by labels, so that ties come out the same on every run.
func (n *prefixNode) before(o *prefixNode) bool {
	if n.score != o.score {
		return n.score > o.score
	}
	a, b := n.labels(), o.labels()
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
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
