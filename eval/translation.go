package eval

import (
	"fmt"
	"strings"
)

// TranslationScores are the numbers sign language translation papers list for a system.
type TranslationScores struct {
	Options BLEUOptions
	// BLEU holds BLEU-1 .. BLEU-N (N = Options.MaxOrder, 4 by default), cumulative.
	BLEU []float64
	// Detail is BLEU-N with its precisions, brevity penalty and lengths.
	Detail BLEUScore
	ChrF   float64
	RougeL float64
}

// ScoreTranslation computes BLEU-1..4 (with o), chrF (sacreBLEU's defaults) and ROUGE-L for
// hypotheses against line-aligned reference streams.
func ScoreTranslation(hyps []string, refs [][]string, o BLEUOptions) (TranslationScores, error) {
	st, err := CollectBLEU(hyps, refs, o)
	if err != nil {
		return TranslationScores{}, err
	}
	s := TranslationScores{Options: o, BLEU: st.Cumulative(o), Detail: st.Score(o)}
	if s.ChrF, err = CorpusChrF(hyps, refs, ChrFOptions{}); err != nil {
		return s, err
	}
	if s.RougeL, err = RougeL(hyps, refs); err != nil {
		return s, err
	}
	return s, nil
}

func (s TranslationScores) String() string {
	var b strings.Builder
	for i, v := range s.BLEU {
		fmt.Fprintf(&b, "BLEU-%d %.2f  ", i+1, v)
	}
	fmt.Fprintf(&b, "chrF %.2f  ROUGE-L %.2f  [%s]", s.ChrF, s.RougeL, s.Options.Signature())
	return b.String()
}
