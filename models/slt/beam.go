package slt

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"scope/models/slt/llamacpp"
)

// Beam search (Config.Beam > 1) keeps the Beam best partial sentences at every step instead
// of the single most likely token, and ends with the finished sentence of the best
// length-normalised log-probability (sum of token log-probabilities divided by the number of
// tokens, EOS included). On Phoenix-2014T it gains a little BLEU over greedy decoding for a
// few times the decoding time (train/slt/README.md has the figures); greedy stays the default,
// and the sentence is passed to emit whole, at the end, rather than token by token.
//
// The prompt is decoded once into sequence 0 of the KV cache. Live beams sit in one half of
// the context's 2*Beam sequences; each step decodes their newest tokens in one batch, and
// each surviving continuation gets a fresh sequence in the other half that shares its parent's
// cached positions (CopySeq), so no beam's cache is ever recomputed.

// MaxBeam is the widest beam Config.Beam may ask for.
const MaxBeam = 16

type beamHyp struct {
	toks  []llamacpp.Token
	raw   []byte // the pieces' bytes so far (a UTF-8 sequence may still be split)
	logp  float64
	slot  int // sequence holding the cache up to (not including) the last token
	ended string
}

func (h *beamHyp) norm() float64 { return h.logp / float64(max(len(h.toks), 1)) }

// logSoftmax returns log-probabilities of logits, or an error when any is not finite.
func logSoftmax(logits []float32) ([]float64, error) {
	mx := math.Inf(-1)
	for _, v := range logits {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("slt: the model produced a non-finite logit (%v): the GGUF file is damaged or was converted wrongly", v)
		}
		mx = math.Max(mx, f)
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(sum)
	out := make([]float64, len(logits))
	for i, v := range logits {
		out[i] = float64(v) - lse
	}
	return out, nil
}

// topK returns the indices of the k largest values, largest first.
func topK(lp []float64, k int) []int {
	idx := make([]int, 0, k+1)
	for i, v := range lp {
		if len(idx) < k || v > lp[idx[len(idx)-1]] {
			j := sort.Search(len(idx), func(j int) bool { return lp[idx[j]] < v })
			idx = append(idx, 0)
			copy(idx[j+1:], idx[j:])
			idx[j] = i
			if len(idx) > k {
				idx = idx[:k]
			}
		}
	}
	return idx
}

// translateBeam is Translate with beam search; t.mu is held and the memory is fresh.
func (t *Translator) translateBeam(ctx context.Context, toks []llamacpp.Token, res Result, start time.Time,
	emit func(string) error) (Result, error) {
	best, first, err := t.beamSearch(ctx, toks, t.cfg.Beam)
	res.PromptSeconds = first.prompt.Seconds()
	res.FirstToken = first.token
	if err != nil {
		return res, err
	}
	res.StoppedBy = "max_tokens"
	if best != nil {
		if best.ended != "" {
			res.StoppedBy = best.ended
		}
		res.Tokens = len(best.toks)
		if best.ended == "eos" {
			res.Tokens--
		}
		text, _ := appendValid(nil, best.raw)
		res.Text = string(bytes.TrimSpace(text))
	}
	if res.Text != "" && emit != nil {
		if err := emit(res.Text); err != nil {
			return res, err
		}
	}
	res.Duration = time.Since(start)
	if res.Tokens > 1 && res.Duration > first.token {
		res.TokensPerSec = float64(res.Tokens-1) / (res.Duration - first.token).Seconds()
	}
	return res, nil
}

type beamTimes struct{ prompt, token time.Duration }

// beamSearch decodes the prompt toks and returns the best finished hypothesis (or, when none
// finished within MaxTokens, the best live one).
func (t *Translator) beamSearch(ctx context.Context, toks []llamacpp.Token, width int) (*beamHyp, beamTimes, error) {
	var tm beamTimes
	start := time.Now()
	if 2*width > t.ctx.Sequences() {
		return nil, tm, fmt.Errorf("slt: beam %d needs %d KV sequences, the context has %d", width, 2*width, t.ctx.Sequences())
	}
	if err := t.ctx.Decode(ctx, toks, 0, false); err != nil {
		return nil, tm, fmt.Errorf("slt: prompt: %w", err)
	}
	tm.prompt = time.Since(start)
	prompt := len(toks)
	halves := [2][]int{make([]int, width), make([]int, width)}
	for i := 0; i < width; i++ {
		halves[0][i], halves[1][i] = i, width+i
	}
	// Step 0 reads the prompt's logits; every later step decodes each live beam's last token.
	var live, done []*beamHyp
	cur := 0
	lp, err := logSoftmax(t.ctx.Logits(-1))
	if err != nil {
		return nil, tm, err
	}
	lps := [][]float64{lp}
	parents := []*beamHyp{{slot: 0}}
	for step := 0; step < t.cfg.MaxTokens; step++ {
		if err := ctx.Err(); err != nil {
			return nil, tm, err
		}
		type cand struct {
			parent *beamHyp
			tok    llamacpp.Token
			logp   float64
		}
		var cands []cand
		for pi, p := range parents {
			for _, id := range topK(lps[pi], width) {
				cands = append(cands, cand{p, llamacpp.Token(id), p.logp + lps[pi][id]})
			}
		}
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].logp > cands[j].logp })
		live = nil
		for _, c := range cands {
			if len(live) == width {
				break
			}
			h := &beamHyp{toks: append(append([]llamacpp.Token(nil), c.parent.toks...), c.tok), logp: c.logp, slot: c.parent.slot}
			h.raw = append([]byte(nil), c.parent.raw...)
			if t.model.IsEOG(c.tok) {
				h.ended = "eos"
				done = append(done, h)
				continue
			}
			h.raw = append(h.raw, t.model.Piece(c.tok, false)...)
			if answer := bytes.TrimLeft(h.raw, " \t\n"); bytes.IndexByte(answer, '\n') >= 0 {
				h.raw = answer[:bytes.IndexByte(answer, '\n')] // a translation is one line
				h.ended = "newline"
				done = append(done, h)
				continue
			}
			live = append(live, h)
		}
		if step == 0 {
			tm.token = time.Since(start)
		}
		// Stop with width finished sentences, or once the best finished one beats what any
		// live beam can still reach (log-probabilities only fall, so a live beam's normalised
		// score is at most its current sum spread over the longest length it may reach).
		if len(done) >= width || len(live) == 0 || step == t.cfg.MaxTokens-1 {
			break
		}
		if best := bestHyp(done); best != nil {
			bound := math.Inf(-1)
			for _, h := range live {
				bound = math.Max(bound, h.logp/float64(t.cfg.MaxTokens))
			}
			if best.norm() >= bound {
				break
			}
		}
		// Give each live beam its own sequence in the other half, sharing its parent's cache.
		next := halves[1-cur]
		pos := make([]int, len(live))
		seqs := make([]int, len(live))
		last := make([]llamacpp.Token, len(live))
		for i, h := range live {
			if err := t.ctx.CopySeq(h.slot, next[i]); err != nil {
				return nil, tm, err
			}
			h.slot = next[i]
			pos[i] = prompt + len(h.toks) - 1
			seqs[i] = h.slot
			last[i] = h.toks[len(h.toks)-1]
		}
		for _, s := range halves[cur] {
			if err := t.ctx.DropSeq(s); err != nil {
				return nil, tm, err
			}
		}
		cur = 1 - cur
		if err := t.ctx.DecodeSeqs(ctx, last, pos, seqs); err != nil {
			return nil, tm, fmt.Errorf("slt: generating: %w", err)
		}
		lps = lps[:0]
		for i := range live {
			lp, err := logSoftmax(t.ctx.Logits(i))
			if err != nil {
				return nil, tm, err
			}
			lps = append(lps, lp)
		}
		parents = live
	}
	if best := bestHyp(done); best != nil {
		return best, tm, nil
	}
	return bestHyp(live), tm, nil
}

func bestHyp(hs []*beamHyp) *beamHyp {
	var best *beamHyp
	for _, h := range hs {
		if best == nil || h.norm() > best.norm() {
			best = h
		}
	}
	return best
}
