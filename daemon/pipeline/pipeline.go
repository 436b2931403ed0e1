// Package pipeline is SCOPE's interpretation graph after the keypoints: a stream of
// keypoint frames is cut into sentences (slr.Segmenter), each sentence is recognised
// with the dialogue so far as context (slr.Recognizer, top-k gloss sequences), the top
// three are translated (slt.Translator, streamed), a confidence gate decides whether the
// sentence is shown or goes to the signer's confirm step, and the result is stored as a
// turn (dialogue.Store), which becomes context for the next sentence.
//
// Each stage is a goroutine joined to the next by a bounded channel, so segmentation
// keeps up with the camera while a sentence is being translated. Every stage's latency
// is a metric. Everything that happens is reported as an events.Event the moment it
// happens, errors included: a failed sentence is an Error event and the stream goes on.
//
// The pipeline also keeps the conversation: one opens by itself when signing starts (or
// a reply arrives) and none is open, ends after an idle timeout or when asked, and
// carries its domain, which selects the translator's LoRA adapter for its sentences.
// The open conversation's turns are kept in memory as the context, and written through
// to the store; when the store refuses a write (a full disk), interpretation goes on
// from memory and a Store event says that nothing is being stored.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"scope/daemon/events"
	"scope/dialogue"
	"scope/metrics"
	"scope/models/slr"
	"scope/models/slt"
)

// Models are what one sentence runs on. The engine swaps them between sentences.
type Models struct {
	Recognizer *slr.Recognizer
	// Translator may be nil: the sentence is then the best gloss sequence.
	Translator *slt.Translator
	// Gate may be nil: ShowAll.
	Gate Gate
	// Bundle names the models; every signer turn records it.
	Bundle dialogue.BundleRef
	// LoRAScale is the adapter scale for the conversation's domain (1 = as trained).
	LoRAScale float32
}

// Static returns a Models source that always gives m.
func Static(m *Models) func() (*Models, func()) {
	return func() (*Models, func()) { return m, func() {} }
}

// Store is what the pipeline needs of the dialogue store (*dialogue.Store has it).
type Store interface {
	StartConversation(ctx context.Context, device, domain string) (dialogue.Conversation, error)
	EndConversation(ctx context.Context, id dialogue.ConversationID, reason string) (dialogue.Conversation, error)
	AppendTurn(ctx context.Context, t dialogue.Turn) (dialogue.Turn, error)
	UpdateTurn(ctx context.Context, t dialogue.Turn) error
}

// Config wires the stages.
type Config struct {
	FPS       float64
	Segmenter slr.SegmenterConfig // zero: slr.DefaultSegmenterConfig(FPS)
	// Models gives the models for one sentence and a function to call when the
	// sentence is done with them.
	Models func() (*Models, func())
	// Store keeps the dialogue; nil keeps it in memory only.
	Store Store
	// Device names this kiosk in stored conversations; Domain is the domain of
	// conversations that open by themselves.
	Device, Domain string
	// ContextTurns and ContextTokens bound the context the recogniser reads
	// (dialogue.context_turns, dialogue.context_tokens; defaults 6 and 256).
	ContextTurns, ContextTokens int
	// TranslatorContextTokens bounds the context put into the translator's prompt
	// (slt.context_tokens); 0 gives it none, negative the same as the recogniser.
	TranslatorContextTokens int
	// IdleTimeout ends a conversation after this long without signing or replies;
	// 0 never ends one by itself.
	IdleTimeout time.Duration
	// Queue is how many sentences may wait for recognition; a further one is dropped
	// and counted (default 2).
	Queue   int
	Metrics *metrics.Registry // nil: a private registry
	Log     *slog.Logger
	// OnEvent receives every event, from the pipeline's goroutines, one at a time. It
	// must not block (events.Bus.Publish does not).
	OnEvent func(events.Event)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Conversation is the open conversation as the pipeline sees it.
type Conversation struct {
	ID      dialogue.ConversationID // 0 when the store could not record it
	Domain  string
	Started time.Time
	Stored  bool // the store has it
	Paused  bool // a human interpreter was asked for: machine interpretation waits
}

// Pipeline runs sentences through the stages.
type Pipeline struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	eventMu sync.Mutex

	convMu   sync.Mutex
	conv     *Conversation // nil: none open
	turns    []memTurn     // the open conversation's turns, oldest first
	lastSeen time.Time     // last signing or reply in the open conversation
	storeOK  bool          // the last store write succeeded

	sentences atomic.Int64
	domainMu  sync.Mutex
	domains   map[*slt.Translator]string // the domain each translator was last set to

	segments     *metrics.Counter
	segmentDrops *metrics.Counter
	errors       *metrics.CounterVec
	slrLatency   *metrics.Histogram
	firstToken   *metrics.Histogram
	sltLatency   *metrics.Histogram
	sentenceLat  *metrics.Histogram
	unsure       *metrics.Counter
	shown        *metrics.Counter
}

// memTurn is a turn of the open conversation with the sentence number that produced it
// (0 for replies), by which the confirm step names it.
type memTurn struct {
	turn     dialogue.Turn
	sentence int
	stored   bool
}

// New checks the configuration and registers the metrics.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Models == nil {
		return nil, errors.New("pipeline: no models")
	}
	if cfg.FPS <= 0 || math.IsNaN(cfg.FPS) || math.IsInf(cfg.FPS, 0) {
		return nil, fmt.Errorf("pipeline: frame rate %g must be positive", cfg.FPS)
	}
	if cfg.Segmenter == (slr.SegmenterConfig{}) {
		cfg.Segmenter = slr.DefaultSegmenterConfig(cfg.FPS)
	}
	if cfg.ContextTurns == 0 {
		cfg.ContextTurns = 6
	}
	if cfg.ContextTokens == 0 {
		cfg.ContextTokens = 256
	}
	if cfg.TranslatorContextTokens < 0 {
		cfg.TranslatorContextTokens = cfg.ContextTokens
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 2
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := cfg.Metrics
	p := &Pipeline{
		cfg:          cfg,
		log:          cfg.Log,
		now:          cfg.Now,
		storeOK:      true,
		domains:      map[*slt.Translator]string{},
		segments:     r.Counter("scope_slr_segments_total", "Sentences cut from the keypoint stream."),
		segmentDrops: r.Counter("scope_slr_segments_dropped_total", "Sentences dropped because recognition fell behind."),
		errors:       r.CounterVec("scope_errors_total", "Errors by stage (capture, pose, recognise, translate, store).", "stage"),
		slrLatency:   r.Histogram("scope_slr_latency_seconds", "Recognition of one sentence: features, network and beam search.", nil),
		firstToken:   r.Histogram("scope_slt_first_token_seconds", "From the end of signing to the first translated token.", nil),
		sltLatency:   r.Histogram("scope_slt_latency_seconds", "Translation of one sentence.", nil),
		sentenceLat:  r.Histogram("scope_pipeline_sentence_latency_seconds", "From the end of signing to the sentence ready to show.", nil),
		shown:        r.Counter("scope_sentences_shown_total", "Sentences the confidence gate let through."),
		unsure:       r.Counter("scope_sentences_unsure_total", "Sentences the confidence gate sent to the confirm step."),
	}
	// Every stage's error counter exists from the start at 0, so that /metrics shows
	// them and a rate over them is defined before the first error.
	for _, stage := range ErrorStages {
		p.errors.With(stage)
	}
	return p, nil
}

// ErrorStages are the stages scope_errors_total counts.
var ErrorStages = []string{"capture", "pose", "recognise", "translate", "store"}

// CountError counts an error of a stage that runs outside the pipeline (capture, pose)
// in scope_errors_total; the pipeline counts its own.
func (p *Pipeline) CountError(stage string) { p.errors.With(stage).Inc() }

// Sentences is how many sentences have been cut so far (the last sentence number).
func (p *Pipeline) Sentences() int { return int(p.sentences.Load()) }

// Metrics is the registry the pipeline reports to.
func (p *Pipeline) Metrics() *metrics.Registry { return p.cfg.Metrics }

func (p *Pipeline) emit(e events.Event) {
	if p.cfg.OnEvent == nil {
		return
	}
	p.eventMu.Lock()
	defer p.eventMu.Unlock()
	p.cfg.OnEvent(e)
}

// fail reports an error of a stage the moment it happens.
func (p *Pipeline) fail(stage string, sentence int, conv dialogue.ConversationID, err error) {
	p.errors.With(stage).Inc()
	p.log.Warn("stage failed", "stage", stage, "sentence", sentence, "err", err)
	p.emit(events.Event{Kind: events.Error, Stage: stage, Sentence: sentence, Conversation: uint64(conv), Error: err.Error()})
}

type segment struct {
	n      int
	fps    float64
	seg    slr.Segment
	conv   Conversation
	closed time.Time // wall time the segmenter closed it: the end of signing
}

// Run consumes keypoint frames (each with its capture time in PTS), recorded at fps
// (0: Config.FPS), until the channel closes or ctx ends, and returns when every sentence it cut has been handled. Sentences
// are handled in order; while one is being recognised and translated, up to Queue more
// may wait, and a further one is dropped (and counted) so that the display never lags
// far behind the signer. A sentence that fails is reported as an Error event at once and
// the stream goes on; Run's error is only ctx's.
func (p *Pipeline) Run(ctx context.Context, fps float64, frames <-chan slr.Frame) error {
	if !(fps > 0) || math.IsInf(fps, 0) {
		fps = p.cfg.FPS
	}
	segs := make(chan segment, p.cfg.Queue)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range segs {
			if ctx.Err() != nil {
				continue // drain
			}
			p.sentence(ctx, s)
		}
	}()
	scfg := p.cfg.Segmenter
	if fps != p.cfg.FPS {
		scfg = slr.DefaultSegmenterConfig(fps)
	}
	seg := slr.NewSegmenter(scfg)
	hands := handTracker{need: max(1, int(math.Round(0.3*fps)))}
	var idle <-chan time.Time
	if p.cfg.IdleTimeout > 0 {
		t := time.NewTicker(min(time.Second, p.cfg.IdleTimeout/4+time.Millisecond))
		defer t.Stop()
		idle = t.C
	}
	send := func(s slr.Segment) {
		n := int(p.sentences.Add(1))
		start, end := s.Times()
		conv := p.ensureConversation(ctx)
		p.segments.Inc()
		p.emit(events.Event{Kind: events.SegmentEnd, Sentence: n, Conversation: uint64(conv.ID),
			Start: start.Seconds(), End: end.Seconds(), Frames: len(s.Frames)})
		if conv.Paused {
			return // a human interpreter was asked for
		}
		select {
		case segs <- segment{n: n, fps: fps, seg: s, conv: conv, closed: p.now()}:
		default:
			p.segmentDrops.Inc()
			p.log.Warn("recognition is behind; dropping a sentence", "sentence", n)
			p.emit(events.Event{Kind: events.Error, Stage: "recognise", Sentence: n, Conversation: uint64(conv.ID),
				Error: "recognition is behind: this sentence was dropped"})
		}
	}
	wasOpen := false
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-idle:
			p.endIfIdle(ctx)
		case f, ok := <-frames:
			if !ok {
				break loop
			}
			if on, changed := hands.push(&f); changed {
				p.emit(events.Event{Kind: events.Hands, Hands: on, Start: f.PTS.Seconds()})
			}
			s, done := seg.Push(f)
			if open := seg.Open(); open && !wasOpen {
				conv := p.ensureConversation(ctx)
				p.emit(events.Event{Kind: events.SegmentStart, Conversation: uint64(conv.ID), Start: f.PTS.Seconds()})
			}
			wasOpen = seg.Open()
			if wasOpen {
				p.touch()
			}
			if done {
				send(s)
			}
		}
	}
	if ctx.Err() == nil {
		if s, ok := seg.Flush(); ok {
			send(s)
		}
	}
	close(segs)
	<-done
	return ctx.Err()
}

// handTracker reports when the hands come into view or leave it, after need frames.
type handTracker struct {
	need, run int
	on        bool
}

func (h *handTracker) push(f *slr.Frame) (on, changed bool) {
	seen := f.Conf[501] > 0 || f.Conf[522] > 0 // the hand models' wrists
	if seen == h.on {
		h.run = 0
		return h.on, false
	}
	h.run++
	if h.run < h.need {
		return h.on, false
	}
	h.on, h.run = seen, 0
	return h.on, true
}

// sentence recognises, translates and gates one segment and stores the turn. Failures
// are reported as they happen.
func (p *Pipeline) sentence(ctx context.Context, s segment) {
	m, release := p.cfg.Models()
	defer release()
	conv := uint64(s.conv.ID)
	turns := p.context(s.conv.ID)
	texts := make([]string, len(turns))
	for i, t := range turns {
		texts[i] = t.Text
	}
	start, end := s.seg.Times()
	t0 := time.Now()
	out, err := m.Recognizer.Run(ctx, s.seg.Frames, s.fps, texts)
	if err != nil {
		if ctx.Err() == nil {
			p.fail("recognise", s.n, s.conv.ID, fmt.Errorf("recognising sentence %d: %w", s.n, err))
		}
		return
	}
	hyps := m.Recognizer.Decode(out)
	tm := events.Timing{RecognizeMS: ms(time.Since(t0))}
	p.slrLatency.Observe(time.Since(t0).Seconds())
	// The event gets its own copy: subscribers (the API's WebSocket) encode it while tm
	// gets the translator's times below.
	hypTiming := tm
	p.emit(events.Event{Kind: events.Hypotheses, Sentence: s.n, Conversation: conv, Start: start.Seconds(), End: end.Seconds(),
		Hypotheses: eventHypotheses(hyps), Timing: &hypTiming})

	var glosses []string
	if len(hyps) > 0 {
		glosses = hyps[0].Glosses
	}
	text := strings.Join(glosses, " ")
	var logProbs []float32
	var stoppedBy string
	var rejected int
	if m.Translator != nil && len(glosses) > 0 {
		if err := p.setDomain(m, s.conv.Domain); err != nil {
			p.fail("translate", s.n, s.conv.ID, err)
		}
		t1 := time.Now()
		first := true
		var b strings.Builder
		res, err := m.Translator.Translate(ctx, p.translatorContext(texts), TranslatorHypotheses(hyps), func(piece string) error {
			if first {
				first = false
				d := p.now().Sub(s.closed)
				tm.FirstTokenMS = ms(d)
				p.firstToken.Observe(d.Seconds())
			}
			b.WriteString(piece)
			p.emit(events.Event{Kind: events.Token, Sentence: s.n, Conversation: conv, Text: piece})
			return nil
		})
		if err != nil {
			if ctx.Err() == nil {
				p.fail("translate", s.n, s.conv.ID, fmt.Errorf("translating sentence %d: %w", s.n, err))
			}
			return
		}
		tm.TranslateMS = ms(time.Since(t1))
		p.sltLatency.Observe(time.Since(t1).Seconds())
		text = strings.TrimSpace(b.String())
		logProbs, stoppedBy, rejected = res.TokenLogProbs, res.StoppedBy, res.Rejected
		if text == "" {
			p.fail("translate", s.n, s.conv.ID, fmt.Errorf("sentence %d: the translator wrote nothing for %q", s.n, strings.Join(glosses, " ")))
			return
		}
	}
	gate := m.Gate
	if gate == nil {
		gate = ShowAll{}
	}
	var v Verdict
	if len(glosses) == 0 {
		// Motion the recogniser found no sign in: nothing to show; ask to sign again.
		v = Verdict{Reason: "no sign was recognised"}
	} else {
		v = gate.Decide(GateInput{Hypotheses: hyps, Posteriors: posteriors(out), Translation: text, TokenLogProbs: logProbs,
			Embedding: out.Embedding, StoppedBy: stoppedBy, Rejected: rejected})
	}
	if len(v.Alternatives) > 3 {
		v.Alternatives = v.Alternatives[:3]
	}
	bundle := m.Bundle
	turn := dialogue.Turn{
		Conversation: s.conv.ID,
		Speaker:      dialogue.SpeakerSigner,
		Text:         text,
		Bundle:       &bundle,
		Confidence:   v.Confidence,
		Gate:         gate.Name(),
		Unsure:       !v.Show,
		Alternatives: v.Alternatives,
	}
	for _, h := range hyps {
		turn.Hypotheses = append(turn.Hypotheses, dialogue.Hypothesis{Glosses: h.Glosses, Score: h.Score})
	}
	turn, stored := p.addTurn(ctx, s.conv, turn, s.n)
	d := p.now().Sub(s.closed)
	tm.TotalMS = ms(d)
	p.sentenceLat.Observe(d.Seconds())
	kind := events.Sentence
	if v.Show {
		p.shown.Inc()
	} else {
		kind = events.Unsure
		p.unsure.Inc()
	}
	p.emit(events.Event{Kind: kind, Sentence: s.n, Conversation: conv, Domain: s.conv.Domain, Turn: turn.Seq, Start: start.Seconds(), End: end.Seconds(),
		Hypotheses: eventHypotheses(hyps), Glosses: glosses, Text: text, Speaker: string(dialogue.SpeakerSigner),
		Confidence: v.Confidence, Reason: v.Reason, Alternatives: v.Alternatives, Gate: gate.Name(), Stored: stored,
		Bundle: &events.BundleRef{Version: bundle.Version, Hash: bundle.Hash}, Timing: &tm})
}

// setDomain selects the conversation's adapter on m's translator when it differs from
// the last one set there. A domain without an adapter runs the base model.
func (p *Pipeline) setDomain(m *Models, domain string) error {
	p.domainMu.Lock()
	defer p.domainMu.Unlock()
	if d, ok := p.domains[m.Translator]; ok && d == domain {
		return nil
	}
	use := ""
	for _, d := range m.Translator.Domains() {
		if d == domain {
			use = d
		}
	}
	scale := m.LoRAScale
	if scale == 0 {
		scale = 1
	}
	if err := m.Translator.SetDomain(use, scale); err != nil {
		return fmt.Errorf("selecting the translator's adapter for domain %q: %w", domain, err)
	}
	p.domains[m.Translator] = domain
	if use != domain {
		return fmt.Errorf("domain %q has no LoRA adapter (have %v); translating with the base model", domain, m.Translator.Domains())
	}
	return nil
}

// Forget drops what the pipeline remembers of translators that are gone (after a swap).
func (p *Pipeline) Forget(t *slt.Translator) {
	p.domainMu.Lock()
	delete(p.domains, t)
	p.domainMu.Unlock()
}

func posteriors(o *slr.Output) [][]float32 {
	if o == nil || o.Vocab == 0 {
		return nil
	}
	out := make([][]float32, o.Steps)
	for i := range out {
		row := make([]float32, o.Vocab)
		for j, lp := range o.LogProbs[i*o.Vocab : (i+1)*o.Vocab] {
			row[j] = float32(math.Exp(float64(lp)))
		}
		out[i] = row
	}
	return out
}

func eventHypotheses(hs []slr.Hypothesis) []events.Hypothesis {
	out := make([]events.Hypothesis, len(hs))
	for i, h := range hs {
		out[i] = events.Hypothesis{Glosses: h.Glosses, Score: h.Score}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// translatorContext keeps the newest texts that fit TranslatorContextTokens.
func (p *Pipeline) translatorContext(texts []string) []string {
	budget := p.cfg.TranslatorContextTokens
	tokens, i := 0, len(texts)
	for i > 0 {
		tokens += dialogue.ApproxTokens(texts[i-1])
		if tokens > budget {
			break
		}
		i--
	}
	return texts[i:]
}

// TranslatorHypotheses turns the recogniser's top-k (log-probability scores) into the
// translator's input: glosses as text and scores as posteriors over the k, in [0, 1].
func TranslatorHypotheses(hyps []slr.Hypothesis) []slt.Hypothesis {
	if len(hyps) > slt.MaxHypotheses {
		hyps = hyps[:slt.MaxHypotheses]
	}
	out := make([]slt.Hypothesis, 0, len(hyps))
	maxScore := math.Inf(-1)
	for _, h := range hyps {
		maxScore = math.Max(maxScore, h.Score)
	}
	var z float64
	for _, h := range hyps {
		z += math.Exp(h.Score - maxScore)
	}
	for _, h := range hyps {
		if len(h.Glosses) == 0 {
			continue
		}
		out = append(out, slt.Hypothesis{Glosses: strings.Join(h.Glosses, " "), Score: math.Exp(h.Score-maxScore) / z})
	}
	return out
}

// storeStatus names a store error for the page: "full" when the disk is, else "error".
func storeStatus(err error) string {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) {
		return "full"
	}
	return "error"
}
