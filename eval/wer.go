package eval

import "fmt"

// OpKind is one step of an alignment.
type OpKind byte

const (
	Correct OpKind = 'C'
	Sub     OpKind = 'S'
	Del     OpKind = 'D' // a reference token the hypothesis lacks
	Ins     OpKind = 'I' // a hypothesis token the reference lacks
)

func (k OpKind) String() string { return string(k) }

// Op pairs a reference token with a hypothesis token. Ref or Hyp is -1 where the step has
// none (Ins has no Ref, Del has no Hyp).
type Op struct {
	Kind     OpKind
	Ref, Hyp int
}

// Costs weigh the edits when aligning. Errors are counted one per edit whatever the weights;
// the weights only choose which alignment is counted.
type Costs struct {
	Sub, Ins, Del int
}

// SCLITE are the weights of NIST sclite, used by the Phoenix-2014T evaluation scripts and the
// sign language translation code base; they prefer a substitution (4) to an insertion plus
// a deletion (6).
var SCLITE = Costs{Sub: 4, Ins: 3, Del: 3}

// Levenshtein weighs every edit 1: the alignment with the fewest errors.
var Levenshtein = Costs{Sub: 1, Ins: 1, Del: 1}

// Align aligns a hypothesis to a reference with the SCLITE weights.
func Align(ref, hyp []string) []Op { return AlignCosts(ref, hyp, SCLITE) }

// AlignCosts aligns with the given weights. Among equally cheap alignments it prefers, from
// the end backwards, a match, then a substitution, then an insertion, then a deletion, as
// the sign language translation code base does.
func AlignCosts(ref, hyp []string, c Costs) []Op {
	n, m := len(ref), len(hyp)
	w := m + 1
	d := make([]int, (n+1)*w)
	for j := 0; j <= m; j++ {
		d[j] = j * c.Ins
	}
	for i := 1; i <= n; i++ {
		d[i*w] = i * c.Del
		for j := 1; j <= m; j++ {
			if ref[i-1] == hyp[j-1] {
				d[i*w+j] = d[(i-1)*w+j-1]
				continue
			}
			d[i*w+j] = min(d[(i-1)*w+j-1]+c.Sub, d[i*w+j-1]+c.Ins, d[(i-1)*w+j]+c.Del)
		}
	}
	ops := make([]Op, 0, max(n, m))
	i, j := n, m
	for i > 0 || j > 0 {
		switch {
		case i > 0 && j > 0 && ref[i-1] == hyp[j-1] && d[i*w+j] == d[(i-1)*w+j-1]:
			i, j = i-1, j-1
			ops = append(ops, Op{Correct, i, j})
		case i > 0 && j > 0 && d[i*w+j] == d[(i-1)*w+j-1]+c.Sub:
			i, j = i-1, j-1
			ops = append(ops, Op{Sub, i, j})
		case j > 0 && d[i*w+j] == d[i*w+j-1]+c.Ins:
			j--
			ops = append(ops, Op{Ins, -1, j})
		default:
			i--
			ops = append(ops, Op{Del, i, -1})
		}
	}
	for a, b := 0, len(ops)-1; a < b; a, b = a+1, b-1 {
		ops[a], ops[b] = ops[b], ops[a]
	}
	return ops
}

// Counts are the error counts of one or more aligned sentences.
type Counts struct {
	Sub, Del, Ins, Correct int
	// RefLen is the number of reference tokens (Sub + Del + Correct).
	RefLen int
}

// Errors is Sub + Del + Ins.
func (c Counts) Errors() int { return c.Sub + c.Del + c.Ins }

// Rate is the word error rate in percent: 100 * errors / reference tokens (0 when there are
// no reference tokens).
func (c Counts) Rate() float64 { return percent(c.Errors(), c.RefLen) }

// SubRate, DelRate and InsRate split Rate, as papers list them.
func (c Counts) SubRate() float64 { return percent(c.Sub, c.RefLen) }
func (c Counts) DelRate() float64 { return percent(c.Del, c.RefLen) }
func (c Counts) InsRate() float64 { return percent(c.Ins, c.RefLen) }

func percent(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// Add counts the steps of an alignment for which keep returns true (all when keep is nil).
// Splitting errors by token class is a keep that looks at op.Ref (and op.Hyp for insertions).
func (c *Counts) Add(ops []Op, keep func(Op) bool) {
	for _, op := range ops {
		if keep != nil && !keep(op) {
			continue
		}
		switch op.Kind {
		case Correct:
			c.Correct++
			c.RefLen++
		case Sub:
			c.Sub++
			c.RefLen++
		case Del:
			c.Del++
			c.RefLen++
		case Ins:
			c.Ins++
		}
	}
}

// Plus returns the sum of two counts.
func (c Counts) Plus(o Counts) Counts {
	return Counts{c.Sub + o.Sub, c.Del + o.Del, c.Ins + o.Ins, c.Correct + o.Correct, c.RefLen + o.RefLen}
}

func (c Counts) String() string {
	return fmt.Sprintf("WER %.2f (sub %.2f, del %.2f, ins %.2f; %d errors / %d reference tokens)",
		c.Rate(), c.SubRate(), c.DelRate(), c.InsRate(), c.Errors(), c.RefLen)
}

// WER aligns each hypothesis with its reference (SCLITE weights) and sums the counts.
func WER(refs, hyps [][]string) (Counts, error) {
	if len(refs) != len(hyps) {
		return Counts{}, fmt.Errorf("WER: %d references but %d hypotheses; they must be line-aligned", len(refs), len(hyps))
	}
	var c Counts
	for i := range refs {
		c.Add(Align(refs[i], hyps[i]), nil)
	}
	return c, nil
}

// Tokens splits a sentence at whitespace, as the scoring scripts (Python's str.split) do
// for glosses.
func Tokens(s string) []string { return pyFields(s) }

// TokenLines splits every line with Tokens.
func TokenLines(lines []string) [][]string {
	out := make([][]string, len(lines))
	for i, l := range lines {
		out[i] = Tokens(l)
	}
	return out
}
