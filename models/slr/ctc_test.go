package slr

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

// exactCTC enumerates every alignment of a tiny output and sums, per label sequence, the
// probability of the alignments that collapse to it.
func exactCTC(logp []float32, steps, vocab, blank int) map[string]float64 {
	out := map[string]float64{}
	path := make([]int, steps)
	var rec func(t int, lp float64)
	rec = func(t int, lp float64) {
		if t == steps {
			var ids []int
			last := blank
			for _, c := range path {
				if c != last && c != blank {
					ids = append(ids, c)
				}
				last = c
			}
			k := key(ids)
			out[k] = logAdd(orNegInf(out, k), lp)
			return
		}
		for c := 0; c < vocab; c++ {
			path[t] = c
			rec(t+1, lp+float64(logp[t*vocab+c]))
		}
	}
	rec(0, 0)
	return out
}

func orNegInf(m map[string]float64, k string) float64 {
	if v, ok := m[k]; ok {
		return v
	}
	return math.Inf(-1)
}

func key(ids []int) string {
	b := make([]byte, len(ids))
	for i, x := range ids {
		b[i] = byte('a' + x)
	}
	return string(b)
}

func randomLogProbs(r *rand.Rand, steps, vocab int) []float32 {
	lp := make([]float32, steps*vocab)
	for t := 0; t < steps; t++ {
		var sum float64
		row := make([]float64, vocab)
		for c := range row {
			row[c] = math.Exp(3 * r.NormFloat64())
			sum += row[c]
		}
		for c := range row {
			lp[t*vocab+c] = float32(math.Log(row[c] / sum))
		}
	}
	return lp
}

// With a beam wide enough to keep every prefix, prefix beam search is exact: its top-k
// must be the k most probable label sequences with their exact probabilities.
func TestBeamSearchIsExactWithAWideBeam(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for trial := 0; trial < 20; trial++ {
		steps, vocab := 2+r.Intn(4), 2+r.Intn(3)
		lp := randomLogProbs(r, steps, vocab)
		exact := exactCTC(lp, steps, vocab, 0)
		type kv struct {
			k string
			v float64
		}
		var want []kv
		for k, v := range exact {
			want = append(want, kv{k, v})
		}
		sort.Slice(want, func(i, j int) bool { return want[i].v > want[j].v })
		got := BeamSearch(lp, steps, vocab, 0, 10000, 3)
		for i := 0; i < len(got) && i < len(want); i++ {
			if math.Abs(got[i].Score-want[i].v) > 1e-4 {
				t.Fatalf("trial %d rank %d: beam %v score %.5f, exact %q %.5f", trial, i, got[i].IDs, got[i].Score, want[i].k, want[i].v)
			}
			if key(got[i].IDs) != want[i].k && math.Abs(want[i].v-exact[key(got[i].IDs)]) > 1e-4 {
				t.Fatalf("trial %d rank %d: beam %v, exact %q", trial, i, got[i].IDs, want[i].k)
			}
		}
	}
}

// The best sequence can differ from best-path (greedy) decoding: many alignments of "a"
// outweigh the single most likely path.
func TestBeamSearchBeatsGreedyWhenAlignmentsAddUp(t *testing.T) {
	p := func(b, a float64) []float32 {
		return []float32{float32(math.Log(b)), float32(math.Log(a)), float32(math.Log(1 - a - b))}
	}
	var lp []float32
	lp = append(lp, p(0.6, 0.4)...)
	lp = append(lp, p(0.6, 0.4)...)
	g := Greedy(lp, 2, 3, 0)
	if len(g) != 0 {
		t.Fatalf("greedy: %v, want empty", g)
	}
	h := BeamSearch(lp, 2, 3, 0, 4, 2)
	// P("")=0.36, P("a")=0.4*0.4+0.6*0.4*2=0.64
	if len(h) == 0 || len(h[0].IDs) != 1 || h[0].IDs[0] != 1 {
		t.Fatalf("beam search top: %+v, want [1]", h)
	}
	if math.Abs(math.Exp(h[0].Score)-0.64) > 1e-4 {
		t.Errorf("P(a) = %g, want 0.64", math.Exp(h[0].Score))
	}
}

func TestBeamSearchTopKAndWidth(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	lp := randomLogProbs(r, 40, 12)
	for _, beam := range []int{1, 4, 16} {
		h := BeamSearch(lp, 40, 12, 0, beam, 3)
		if len(h) == 0 || len(h) > min(3, beam) {
			t.Fatalf("beam %d: %d hypotheses", beam, len(h))
		}
		seen := map[string]bool{}
		for i, x := range h {
			if i > 0 && x.Score > h[i-1].Score {
				t.Errorf("beam %d: not sorted: %v", beam, h)
			}
			if seen[key(x.IDs)] {
				t.Errorf("beam %d: duplicate hypothesis %v", beam, x.IDs)
			}
			seen[key(x.IDs)] = true
		}
	}
	if h := BeamSearch(nil, 0, 5, 0, 4, 3); len(h) != 1 || len(h[0].IDs) != 0 || h[0].Score != 0 {
		t.Errorf("no steps: %+v, want one empty hypothesis with log-probability 0", h)
	}
}

func BenchmarkBeamSearch(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	lp := randomLogProbs(r, 75, 300)
	for i := 0; i < b.N; i++ {
		BeamSearch(lp, 75, 300, 0, 8, 3)
	}
}
