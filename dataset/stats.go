package dataset

import (
	"encoding/json"
	"fmt"
	"io"

	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Stats summarises a dataset (or some of its splits).
type Stats struct {
	Splits       []string // the splits counted; empty means all
	Dialogues    int
	Turns        int
	SignerTurns  int
	HearingTurns int
	Signers      map[string]int // per split
	Tokens       int
	Ambiguous    int
	Vocabulary   int            // distinct glosses
	Singletons   int            // glosses seen once
	Counts       map[string]int // per gloss
	GroupCounts  map[string]int // ambiguous tokens per group name (when the manifest names groups)

	GlossesPerTurn Summary // glosses per signer turn
	TurnSeconds    Summary // signer-turn length, from frames (or start/end) and fps
	SignSeconds    Summary // per gloss, from spans
	Seconds        float64 // total signing time

	// Against a model's vocabulary (when given).
	ModelVocabulary int
	OOVTokens       int
	OOVTypes        []string // sorted by count, most frequent first
}

// Summary is the distribution of one quantity.
type Summary struct {
	N                        int
	Mean, Min, P50, P90, Max float64
}

func summarise(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Summary{N: len(s), Mean: sum / float64(len(s)), Min: s[0], P50: s[len(s)/2], P90: s[len(s)*9/10], Max: s[len(s)-1]}
}

// AmbiguousShare is the share of tokens in context-dependent groups.
func (s *Stats) AmbiguousShare() float64 {
	if s.Tokens == 0 {
		return 0
	}
	return float64(s.Ambiguous) / float64(s.Tokens)
}

// OOVRate is the share of tokens missing from the model's vocabulary.
func (s *Stats) OOVRate() float64 {
	if s.Tokens == 0 {
		return 0
	}
	return float64(s.OOVTokens) / float64(s.Tokens)
}

// ComputeStats counts the entries of the given splits (all when splits is empty).
// modelVocab, when not nil, is the model's gloss vocabulary for the out-of-vocabulary
// rate. Turn lengths come from the manifest (frames, start/end) and info.json's fps;
// turns without them are left out of TurnSeconds.
func ComputeStats(d *Dataset, splits map[string]bool, modelVocab []string) (*Stats, error) {
	st := &Stats{Signers: map[string]int{}, Counts: map[string]int{}, GroupCounts: map[string]int{}}
	for s := range splits {
		st.Splits = append(st.Splits, s)
	}
	sort.Strings(st.Splits)
	es := d.Select(splits)
	signers := map[string]string{}
	dialogues := map[string]bool{}
	var perTurn, turnSec, signSec []float64
	fps := d.Info.FPS
	for _, e := range es {
		st.Turns++
		dialogues[e.DialogueID] = true
		signers[e.SignerID] = e.Split
		if !e.IsSigner() {
			st.HearingTurns++
			continue
		}
		st.SignerTurns++
		st.Tokens += len(e.Glosses)
		st.Ambiguous += len(e.Ambiguous)
		perTurn = append(perTurn, float64(len(e.Glosses)))
		for _, g := range e.Glosses {
			st.Counts[g]++
		}
		for _, g := range e.Groups {
			st.GroupCounts[g]++
		}
		switch {
		case e.End > 0:
			turnSec = append(turnSec, e.End-e.Start)
		case e.Frames > 0 && fps > 0:
			turnSec = append(turnSec, float64(e.Frames)/fps)
		}
		if fps > 0 {
			for _, sp := range e.Spans {
				signSec = append(signSec, float64(sp[1]-sp[0])/fps)
			}
		}
	}
	st.Dialogues = len(dialogues)
	for _, split := range signers {
		st.Signers[split]++
	}
	st.Vocabulary = len(st.Counts)
	for _, c := range st.Counts {
		if c == 1 {
			st.Singletons++
		}
	}
	st.GlossesPerTurn = summarise(perTurn)
	st.TurnSeconds = summarise(turnSec)
	st.SignSeconds = summarise(signSec)
	st.Seconds = st.TurnSeconds.Mean * float64(st.TurnSeconds.N)
	if modelVocab != nil {
		known := map[string]bool{}
		for _, g := range modelVocab {
			known[g] = true
		}
		st.ModelVocabulary = len(known)
		for g, c := range st.Counts {
			if !known[g] {
				st.OOVTokens += c
				st.OOVTypes = append(st.OOVTypes, g)
			}
		}
		sort.Slice(st.OOVTypes, func(i, j int) bool {
			a, b := st.OOVTypes[i], st.OOVTypes[j]
			if st.Counts[a] != st.Counts[b] {
				return st.Counts[a] > st.Counts[b]
			}
			return a < b
		})
	}
	return st, nil
}

// TopGlosses returns the n most frequent glosses.
func (s *Stats) TopGlosses(n int) []string {
	gs := make([]string, 0, len(s.Counts))
	for g := range s.Counts {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool {
		if s.Counts[gs[i]] != s.Counts[gs[j]] {
			return s.Counts[gs[i]] > s.Counts[gs[j]]
		}
		return gs[i] < gs[j]
	})
	if len(gs) > n {
		gs = gs[:n]
	}
	return gs
}

// Print writes the statistics as a short report. label ("synthetic" or "") is printed
// with every figure's heading so that synthetic results are never mistaken for real ones.
func (s *Stats) Print(w io.Writer, name, label string) {
	tag := ""
	if label != "" {
		tag = " (" + label + ")"
	}
	splits := "all splits"
	if len(s.Splits) > 0 {
		splits = "split " + strings.Join(s.Splits, ",")
	}
	fmt.Fprintf(w, "dataset %s%s, %s\n", name, tag, splits)
	var sig []string
	for _, sp := range Splits {
		if n := s.Signers[sp]; n > 0 {
			sig = append(sig, fmt.Sprintf("%s %d", sp, n))
		}
	}
	fmt.Fprintf(w, "  dialogues %d, turns %d (signer %d, hearing %d), signers: %s\n", s.Dialogues, s.Turns, s.SignerTurns, s.HearingTurns, strings.Join(sig, ", "))
	fmt.Fprintf(w, "  tokens %d, vocabulary %d glosses (%d seen once)\n", s.Tokens, s.Vocabulary, s.Singletons)
	g := s.GlossesPerTurn
	fmt.Fprintf(w, "  glosses per signer turn: mean %.2f, min %.0f, median %.0f, max %.0f\n", g.Mean, g.Min, g.P50, g.Max)
	if t := s.TurnSeconds; t.N > 0 {
		fmt.Fprintf(w, "  signer turn duration: mean %.2f s, min %.2f, median %.2f, p90 %.2f, max %.2f; %.1f min in all\n", t.Mean, t.Min, t.P50, t.P90, t.Max, s.Seconds/60)
	}
	if t := s.SignSeconds; t.N > 0 {
		fmt.Fprintf(w, "  sign duration: mean %.2f s, min %.2f, median %.2f, p90 %.2f, max %.2f\n", t.Mean, t.Min, t.P50, t.P90, t.Max)
	}
	fmt.Fprintf(w, "  ambiguous (context-dependent) tokens: %d = %.1f%% in %d groups\n", s.Ambiguous, 100*s.AmbiguousShare(), len(s.GroupCounts))
	if s.ModelVocabulary > 0 {
		top := s.OOVTypes
		if len(top) > 10 {
			top = top[:10]
		}
		fmt.Fprintf(w, "  out of vocabulary against the model's %d glosses: %.2f%% of tokens, %d of %d glosses %v\n",
			s.ModelVocabulary, 100*s.OOVRate(), len(s.OOVTypes), s.Vocabulary, top)
	}
	top := s.TopGlosses(10)
	var parts []string
	for _, gl := range top {
		parts = append(parts, fmt.Sprintf("%s %d", gl, s.Counts[gl]))
	}
	fmt.Fprintf(w, "  most frequent: %s\n", strings.Join(parts, ", "))
}

// ReadVocabulary reads a model's gloss vocabulary: a text file with one gloss per line
// (blank lines and lines starting with '#' skipped), or a JSON file that is a list of
// strings or an object with a "vocabulary", "glosses" or "vocab" list (info.json, a
// bundle manifest).
func ReadVocabulary(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the vocabulary: %w", err)
	}
	if strings.EqualFold(filepath.Ext(file), ".json") {
		var list []string
		if json.Unmarshal(b, &list) == nil {
			return list, nil
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, key := range []string{"vocabulary", "glosses", "vocab"} {
			if raw, ok := obj[key]; ok {
				if err := json.Unmarshal(raw, &list); err != nil {
					return nil, fmt.Errorf("%s: key %q is not a list of strings: %w", file, key, err)
				}
				return list, nil
			}
		}
		return nil, fmt.Errorf("%s: no \"vocabulary\", \"glosses\" or \"vocab\" list in it", file)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no glosses: write one per line", file)
	}
	return out, nil
}
