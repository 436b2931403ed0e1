package eval

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"scope/internal/shareddata"
)

func kinds(ops []Op) string {
	var b strings.Builder
	for _, op := range ops {
		b.WriteByte(byte(op.Kind))
	}
	return b.String()
}

func TestAlign(t *testing.T) {
	cases := []struct {
		ref, hyp string
		costs    Costs
		want     string
		errors   int
	}{
		{"the cat sat on the mat", "the cat sit on mat", SCLITE, "CCSCDC", 2},
		{"a b c", "a b c", SCLITE, "CCC", 0},
		{"", "a b", SCLITE, "II", 2},
		{"a b", "", SCLITE, "DD", 2},
		{"", "", SCLITE, "", 0},
		// sclite prefers a deletion plus an insertion (3+3) to two substitutions (4+4)...
		{"a b", "b a", SCLITE, "DCI", 2},
		// ...unit costs tie, and the tie goes to substitutions.
		{"a b", "b a", Levenshtein, "SS", 2},
		{"MORGEN REGEN WIND", "MORGEN WIND STARK", SCLITE, "CDCI", 2},
		{"x y z", "p q", SCLITE, "DSS", 3},
	}
	for _, c := range cases {
		ref, hyp := Tokens(c.ref), Tokens(c.hyp)
		ops := AlignCosts(ref, hyp, c.costs)
		if got := kinds(ops); got != c.want {
			t.Errorf("%q vs %q %+v: %s, want %s", c.ref, c.hyp, c.costs, got, c.want)
		}
		var n Counts
		n.Add(ops, nil)
		if n.Errors() != c.errors || n.RefLen != len(ref) {
			t.Errorf("%q vs %q: %d errors over %d reference tokens, want %d over %d", c.ref, c.hyp, n.Errors(), n.RefLen, c.errors, len(ref))
		}
		// Every token appears once, in order.
		var r, h []int
		for _, op := range ops {
			if op.Ref >= 0 {
				r = append(r, op.Ref)
			}
			if op.Hyp >= 0 {
				h = append(h, op.Hyp)
			}
			if (op.Kind == Correct) != (op.Ref >= 0 && op.Hyp >= 0 && ref[op.Ref] == hyp[op.Hyp]) {
				t.Errorf("%q vs %q: step %+v", c.ref, c.hyp, op)
			}
		}
		if len(r) != len(ref) || len(h) != len(hyp) || !slices.IsSorted(r) || !slices.IsSorted(h) {
			t.Errorf("%q vs %q: alignment %+v does not cover both sides in order", c.ref, c.hyp, ops)
		}
	}
}

func TestWERCorpus(t *testing.T) {
	refs := TokenLines([]string{"the cat sat on the mat", "a b", "hello"})
	hyps := TokenLines([]string{"the cat sit on mat", "a b c", "hello"})
	c, err := WER(refs, hyps)
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Sub: 1, Del: 1, Ins: 1, Correct: 7, RefLen: 9}
	if c != want {
		t.Fatalf("counts %+v, want %+v", c, want)
	}
	if !near(c.Rate(), 100*3.0/9, 1e-12) || !near(c.SubRate()+c.DelRate()+c.InsRate(), c.Rate(), 1e-12) {
		t.Errorf("rates: %s", c)
	}
	if _, err := WER(refs, hyps[:2]); err == nil {
		t.Error("misaligned inputs: want an error")
	}
}

// Errors split by token class: here the reference tokens a caller marks as ambiguous.
func TestCountsByClass(t *testing.T) {
	ref := Tokens("HEUTE REGEN IX NORD WIND")
	hyp := Tokens("HEUTE REGEN NORD STURM")
	ambiguous := map[int]bool{2: true, 4: true} // IX and WIND
	ops := Align(ref, hyp)
	var amb, rest Counts
	amb.Add(ops, func(op Op) bool { return op.Ref >= 0 && ambiguous[op.Ref] })
	rest.Add(ops, func(op Op) bool { return op.Ref < 0 || !ambiguous[op.Ref] })
	if amb.RefLen != 2 || amb.Errors() != 2 || rest.RefLen != 3 || rest.Errors() != 0 {
		t.Errorf("ambiguous %+v, rest %+v", amb, rest)
	}
	var all Counts
	all.Add(ops, nil)
	if amb.Plus(rest) != all {
		t.Errorf("classes %+v + %+v do not add up to %+v", amb, rest, all)
	}
}

func TestRougeL(t *testing.T) {
	cases := []struct {
		hyp, ref string
		want     float64
	}{
		{"a b c d", "a c d e", 0.75},
		{"a b", "a b c d", (1 + 1.44) * 1 * 0.5 / (0.5 + 1.44*1)},
		{"x y", "a b", 0},
		{"a b c", "a b c", 1},
		{"", "", 1}, // both split into one empty token, as the code base's str.split(" ") does
		{"", "a", 0},
	}
	for _, c := range cases {
		if got := SentenceRougeL(c.hyp, []string{c.ref}); !near(got, c.want, 1e-12) {
			t.Errorf("%q vs %q: %.12f, want %.12f", c.hyp, c.ref, got, c.want)
		}
	}
	got, err := RougeL([]string{"a b c d", "a b c"}, [][]string{{"a c d e", "a b c"}})
	if err != nil || !near(got, 100*(0.75+1)/2, 1e-9) {
		t.Errorf("corpus ROUGE-L %g (%v), want %g", got, err, 100*(0.75+1)/2)
	}
	if s := SentenceRougeL("a b", []string{"a x", "y b b b"}); !near(s, (1+1.44)*0.5*0.5/(0.5+1.44*0.5), 1e-12) {
		t.Errorf("two references: %g", s)
	}
}

func readLines(t *testing.T, path string, n int) []string {
	t.Helper()
	lines, err := ReadLines(path)
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 && len(lines) > n {
		lines = lines[:n]
	}
	return lines
}

// On real Phoenix-2014T dev data: a text against itself scores 100 on every metric, and the
// published recogniser's glosses have a WER of about 20 against the references.
func TestPhoenixDev(t *testing.T) {
	dir := shareddata.Dir(t, "phoenix2014t")
	de := readLines(t, filepath.Join(dir, "dev.de"), 100)
	refs := [][]string{de}
	for _, o := range []BLEUOptions{{}, SignJoeyBLEU} {
		st, err := CollectBLEU(de, refs, o)
		if err != nil {
			t.Fatal(err)
		}
		for n, v := range st.Cumulative(o) {
			if !near(v, 100, 1e-9) {
				t.Errorf("%s: BLEU-%d of the text against itself %g", o.Signature(), n+1, v)
			}
		}
	}
	if s, _ := CorpusChrF(de, refs, ChrFOptions{}); !near(s, 100, 1e-9) {
		t.Errorf("chrF of the text against itself %g", s)
	}
	if s, _ := RougeL(de, refs); !near(s, 100, 1e-9) {
		t.Errorf("ROUGE-L of the text against itself %g", s)
	}

	// Dropping every third word costs recall: BLEU, chrF and ROUGE-L fall, in that order
	// of harshness.
	cut := make([]string, len(de))
	for i, l := range de {
		var keep []string
		for j, w := range strings.Fields(l) {
			if j%3 != 2 {
				keep = append(keep, w)
			}
		}
		cut[i] = strings.Join(keep, " ")
	}
	for _, o := range []BLEUOptions{{}, SignJoeyBLEU} {
		s, err := ScoreTranslation(cut, refs, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("every third word dropped: %s; %s", s, s.Detail)
		b := s.BLEU
		// No 3-gram survives, and the sentences are a third shorter.
		if !(b[0] > b[1] && b[1] > b[2] && b[2] >= b[3] && s.Detail.Precisions[2] < 1 && s.Detail.BP < 1 && b[3] < s.ChrF && s.ChrF < 100 && s.RougeL < 100) {
			t.Errorf("want BLEU-1 > BLEU-2 > BLEU-3 >= BLEU-4, 3-gram precision ~ 0, BP < 1, BLEU-4 < chrF < 100, ROUGE-L < 100")
		}
	}

	gloss := TokenLines(readLines(t, filepath.Join(dir, "dev.gloss"), 0))
	stmc := TokenLines(readLines(t, filepath.Join(dir, "dev.stmc.gloss"), 0))
	w, err := WER(gloss, stmc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("STMC dev glosses: %s", w)
	if w.Rate() < 15 || w.Rate() > 25 {
		t.Errorf("STMC dev WER %.2f, the data's README says about 20", w.Rate())
	}
}
