package eval

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// Worked examples and expected scores from sacreBLEU's own test suite (test/test_bleu.py,
// test/test_sentence_bleu.py, test/test_chrf.py).

var readmeRefs = [][]string{
	{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
	{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
}

var readmeHyps = []string{
	"The dog bit the man.",
	"It wasn't surprising.",
	"The man had just bitten him.",
}

func near(a, b, eps float64) bool { return math.Abs(a-b) < eps }

func TestCorpusBLEU(t *testing.T) {
	cases := []struct {
		name string
		hyps []string
		o    BLEUOptions
		want float64
	}{
		{"defaults", readmeHyps, BLEUOptions{}, 48.530827},
		{"empty hypotheses are kept", []string{"", "", ""}, BLEUOptions{}, 0},
		{"tokenize none", readmeHyps, BLEUOptions{Tokenize: TokNone}, 49.1919566},
		{"tokenize 13a", readmeHyps, BLEUOptions{Tokenize: Tok13a}, 48.530827},
		{"smooth none", readmeHyps, BLEUOptions{Smooth: SmoothNone}, 48.530827},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := CorpusBLEU(c.hyps, readmeRefs, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if !near(s.Score, c.want, 1e-6) {
				t.Errorf("BLEU %.8f, sacreBLEU %.8f (%s)", s.Score, c.want, s)
			}
		})
	}
}

// BLEU-1..6 of the README example, as sacreBLEU's max_ngram_order test prints them.
func TestBLEUMaxOrderAndCumulative(t *testing.T) {
	want := []string{"77.65", "60.50", "53.93", "48.53", "46.14", "43.28"}
	for n := 1; n <= 6; n++ {
		s, err := CorpusBLEU(readmeHyps, readmeRefs, BLEUOptions{MaxOrder: n})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%.2f", s.Score); got != want[n-1] {
			t.Errorf("max order %d: BLEU %s, sacreBLEU %s", n, got, want[n-1])
		}
	}
	st, err := CollectBLEU(readmeHyps, readmeRefs, BLEUOptions{MaxOrder: 6})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range st.Cumulative(BLEUOptions{MaxOrder: 6}) {
		got = append(got, fmt.Sprintf("%.2f", v))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Cumulative %v, want %v", got, want)
	}
}

// sacreBLEU's raw_corpus_bleu: no tokenisation, floor smoothing, effective order.
func raw(floor float64) BLEUOptions {
	return BLEUOptions{Tokenize: TokNone, Smooth: SmoothFloor, SmoothValue: floor, EffectiveOrder: true}
}

func TestRawCorpusBLEU(t *testing.T) {
	cases := []struct {
		hyps  []string
		refs  [][]string
		floor float64
		want  float64 // 0..1, as the sacreBLEU test compares
	}{
		{[]string{"this is a test", "another test"}, [][]string{{"ref1", "ref2"}}, .01, 0},
		{[]string{"this is a test"}, [][]string{{"this is a test"}}, .01, 1},
		{[]string{"this is a fest"}, [][]string{{"this is a test"}}, .01, 0.223606797749979},
		// effective order
		{[]string{"test"}, [][]string{{"a test"}}, .01, 0.3678794411714425},
		{[]string{"a test"}, [][]string{{"a test"}}, .01, 1},
		{[]string{"a little test"}, [][]string{{"a test"}}, .01, 0.03218297948685433},
		// offset
		{[]string{"am I am a character sequence"}, [][]string{{"I am a symbol string sequence a a"}}, 0, 0},
		{[]string{"am I am a character sequence"}, [][]string{{"I am a symbol string sequence a a"}}, DefaultFloor, 0.1555722182},
	}
	for _, c := range cases {
		s, err := CorpusBLEU(c.hyps, c.refs, raw(c.floor))
		if err != nil {
			t.Fatal(err)
		}
		if !near(s.Score/100, c.want, 1e-8) {
			t.Errorf("%q vs %q floor %g: %.10f, sacreBLEU %.10f", c.hyps, c.refs, c.floor, s.Score/100, c.want)
		}
	}
}

func TestBLEUStatistics(t *testing.T) {
	st, err := CollectBLEU([]string{"am I am a character sequence"}, [][]string{{"I am a symbol string sequence a a"}}, raw(.01))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Correct, []int{4, 2, 1, 0}) || !slices.Equal(st.Total, []int{6, 5, 4, 3}) {
		t.Errorf("counts %v totals %v, sacreBLEU [4 2 1 0] [6 5 4 3]", st.Correct, st.Total)
	}
}

func TestBLEUFromStatistics(t *testing.T) {
	s := BLEUStats{Correct: []int{9, 7, 5, 3}, Total: []int{10, 8, 6, 4}, SysLen: 11, RefLen: 11}.Score(BLEUOptions{Smooth: SmoothNone})
	if !near(s.Score/100, 0.8375922397, 1e-8) {
		t.Errorf("%.10f, sacreBLEU 0.8375922397", s.Score/100)
	}
	degenerate := []struct {
		correct, total []int
		sys, ref       int
		floor          float64
	}{
		{[]int{0, 0, 0, 0}, []int{4, 4, 2, 1}, 0, 1, 0},
		{[]int{0, 0, 0, 0}, []int{10, 11, 12, 0}, 14, 10, 0},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 0, 0, 0},
		{[]int{6, 5, 4, 0}, []int{6, 5, 4, 3}, 6, 6, 0},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 0, 0, 0.1},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 1, 5, 0.01},
	}
	for _, d := range degenerate {
		s := BLEUStats{Correct: d.correct, Total: d.total, SysLen: d.sys, RefLen: d.ref}.Score(BLEUOptions{Smooth: SmoothFloor, SmoothValue: d.floor})
		if s.Score != 0 {
			t.Errorf("%+v: %g, sacreBLEU 0", d, s.Score)
		}
	}
}

func TestSentenceBLEU(t *testing.T) {
	const ref = "producţia de zahăr brut se exprimă în zahăr alb;"
	const sys = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
	cases := []struct {
		smooth Smoothing
		value  float64
		tok    Tokenizer
		want   float64
	}{
		{SmoothExp, 0, Tok13a, 8.493},
		{SmoothNone, 0, Tok13a, 0},
		{SmoothFloor, DefaultFloor, Tok13a, 4.51688},
		{SmoothFloor, 0.5, Tok13a, 10.10},
		{SmoothAddK, DefaultAddK, Tok13a, 14.882},
		{SmoothAddK, 2, Tok13a, 21.389},
		{SmoothExp, 0, TokNone, 7.347},
	}
	for _, c := range cases {
		o := BLEUOptions{Smooth: c.smooth, SmoothValue: c.value, Tokenize: c.tok, EffectiveOrder: true}
		if s := SentenceBLEU(sys, []string{ref}, o); !near(s.Score, c.want, 1e-3) {
			t.Errorf("%s: %.5f, sacreBLEU %.5f", o.Signature(), s.Score, c.want)
		}
		if s := SentenceBLEU("this is a cat", []string{"okay thanks"}, o); s.Score != 0 {
			t.Errorf("%s: no match scores %g, want 0", o.Signature(), s.Score)
		}
	}
}

func TestTokenize13a(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Hello, world!", "Hello , world !"},
		{"It wasn't surprising.", "It wasn't surprising ."},
		{"3.14 and 1,000 people", "3.14 and 1,000 people"},
		{"from 1990-2000", "from 1990 - 2000"},
		{"an e-mail (test) for $5 at 50% a/b", "an e-mail ( test ) for $ 5 at 50 % a / b"},
		{"&quot;hi&quot; &amp; bye", `" hi " & bye`},
		{"&amp;lt;", "<"},
		{"a<skipped>b", "ab"},
		{"line-\nbreak\nhere", "linebreak here"},
		{"  spaced \t out  ", "spaced out"},
		{"x{y}z|w~v[u]t^s_r`q", "x { y } z | w ~ v [ u ] t ^ s _ r ` q"},
		{"Straße, süß.", "Straße , süß ."},
	}
	for _, c := range cases {
		if got := Tokenize13a(c.in); got != c.want {
			t.Errorf("Tokenize13a(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBLEURejectsMisalignedInput(t *testing.T) {
	if _, err := CorpusBLEU([]string{"a", "b"}, [][]string{{"a"}}, BLEUOptions{}); err == nil || !strings.Contains(err.Error(), "line-aligned") {
		t.Errorf("error %v, want one saying the streams must be line-aligned", err)
	}
	if _, err := CorpusBLEU([]string{"a"}, nil, BLEUOptions{}); err == nil {
		t.Error("no reference stream: want an error")
	}
}

func TestChrF(t *testing.T) {
	eps := ChrFOptions{Beta: 3, EpsSmoothing: true}
	eff := ChrFOptions{Beta: 3}
	keep := ChrFOptions{Beta: 3, Whitespace: true}
	cases := []struct {
		hyps, refs []string
		o          ChrFOptions
		want       float64
	}{
		{[]string{"abcdefg"}, []string{"hijklmnop"}, eps, 0},
		{[]string{"a"}, []string{"b"}, eps, 0},
		{[]string{""}, []string{"b"}, eps, 0},
		{[]string{""}, []string{"ref"}, eps, 0},
		{[]string{""}, []string{"reference"}, eps, 0},
		{[]string{"aa"}, []string{"ab"}, eps, 8.3333},
		{[]string{"a", "b"}, []string{"a", "c"}, eps, 8.3333},
		{[]string{"a"}, []string{"a"}, eps, 16.6667},
		{[]string{"a b c"}, []string{"a b c"}, eps, 50},
		{[]string{"a b c"}, []string{"abc"}, eps, 50},
		{[]string{" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
			[]string{"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."}, eps, 63.361730},
		{[]string{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
			[]string{"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, eps, 64.1302698},
		{[]string{"Niemand hat die Absicht, eine Mauer zu errichten"}, []string{"Niemand hat die Absicht, eine Mauer zu errichten"}, eps, 100},
		// effective order
		{[]string{"a"}, []string{"a"}, eff, 100},
		{[]string{""}, []string{"reference"}, eff, 0},
		{[]string{"a b c"}, []string{"a b c"}, eff, 100},
		{[]string{"a b c"}, []string{"abc"}, eff, 100},
		{[]string{""}, []string{"c"}, eff, 0},
		{[]string{"a", "b"}, []string{"a", "c"}, eff, 50},
		{[]string{"aa"}, []string{"ab"}, eff, 25},
		// keep whitespace
		{[]string{"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
			[]string{"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, keep, 67.3481606},
		{[]string{"risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
			[]string{"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."}, keep, 65.2414427},
	}
	for _, c := range cases {
		got, err := CorpusChrF(c.hyps, [][]string{c.refs}, c.o)
		if err != nil {
			t.Fatal(err)
		}
		if !near(got, c.want, 1e-4) {
			t.Errorf("%s %q vs %q: %.7f, sacreBLEU %.7f", c.o.Signature(), c.hyps, c.refs, got, c.want)
		}
	}
}

// sacreBLEU's sentence-level chrF with its defaults (beta 2) and eps smoothing.
func TestSentenceChrFDefaults(t *testing.T) {
	cases := []struct {
		hyp, ref string
		want     float64
	}{
		{"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
			"Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.", 39.14078509},
		{"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
			"A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079},
		{"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
			"Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.", 57.15704367},
	}
	for _, c := range cases {
		if got := SentenceChrF(c.hyp, []string{c.ref}, ChrFOptions{EpsSmoothing: true}); !near(got, c.want, 1e-4) {
			t.Errorf("%q: %.8f, sacreBLEU %.8f", c.hyp, got, c.want)
		}
	}
}

func TestChrFPlusPlusWords(t *testing.T) {
	got := chrfWords("Hello, world! (yes) a . x")
	want := []string{"Hello", ",", "world", "!", "(yes", ")", "a", ".", "x"}
	if !slices.Equal(got, want) {
		t.Errorf("chrfWords = %q, want %q", got, want)
	}
	// A perfect match stays 100 with word n-grams.
	if s := SentenceChrF("the cat sat.", []string{"the cat sat."}, ChrFOptions{WordOrder: 2}); !near(s, 100, 1e-9) {
		t.Errorf("chrF++ of identical sentences %g", s)
	}
}

func BenchmarkCorpusBLEU(b *testing.B) {
	hyps := slices.Repeat(readmeHyps, 200)
	refs := [][]string{slices.Repeat(readmeRefs[0], 200), slices.Repeat(readmeRefs[1], 200)}
	for b.Loop() {
		if _, err := CorpusBLEU(hyps, refs, BLEUOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCorpusChrF(b *testing.B) {
	hyps := slices.Repeat(readmeHyps, 200)
	refs := [][]string{slices.Repeat(readmeRefs[0], 200)}
	for b.Loop() {
		if _, err := CorpusChrF(hyps, refs, ChrFOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
