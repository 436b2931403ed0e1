package eval

import "strings"

// RougeBeta weighs recall against precision in ROUGE-L as the sign language translation
// code base (after the MS-COCO caption evaluation) sets it.
const RougeBeta = 1.2

// SentenceRougeL is ROUGE-L of one hypothesis against its references, 0..1: the F measure
// of the longest common subsequence of tokens, from the best precision and the best recall
// over the references. Tokens are split at single spaces, as that code does.
func SentenceRougeL(hyp string, refs []string) float64 {
	c := strings.Split(hyp, " ")
	precMax, recMax := 0.0, 0.0
	for _, ref := range refs {
		r := strings.Split(ref, " ")
		l := float64(lcs(r, c))
		precMax = max(precMax, l/float64(len(c)))
		recMax = max(recMax, l/float64(len(r)))
	}
	if precMax == 0 || recMax == 0 {
		return 0
	}
	b2 := RougeBeta * RougeBeta
	return (1 + b2) * precMax * recMax / (recMax + b2*precMax)
}

// lcs is the length of the longest common subsequence of two token lists.
func lcs(a, b []string) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// RougeL is ROUGE-L of a corpus as sign language translation papers report it: the mean
// over sentences of SentenceRougeL, times 100. refs are reference streams line-aligned with
// hyps (the papers use one).
func RougeL(hyps []string, refs [][]string) (float64, error) {
	if err := checkRefs("ROUGE-L", hyps, refs); err != nil {
		return 0, err
	}
	sum := 0.0
	n := float64(len(hyps))
	r := make([]string, len(refs))
	for i, h := range hyps {
		for k := range refs {
			r[k] = refs[k][i]
		}
		// Divided per sentence, then summed, in the code base's order of operations.
		sum += SentenceRougeL(h, r) / n
	}
	return sum * 100, nil
}
