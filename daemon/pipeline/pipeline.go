// Package pipeline is SCOPE's interpretation graph after the keypoints: a stream of
// keypoint frames is cut into sentences (slr.Segmenter), each sentence is recognised
// with the dialogue so far as context (slr.Recognizer, top-k gloss sequences), the top
// three are translated (slt.Translator, streamed), and the result is stored as a turn
// (dialogue.Store), which becomes context for the next sentence.
//
// Each stage is a goroutine joined to the next by a bounded channel, so segmentation
// keeps up with the camera while a sentence is being translated. Every stage's latency
// is a metric. Events report progress to a display (the CLI, the kiosk page).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"scope/dialogue"
	"scope/metrics"
	"scope/models/slr"
	"scope/models/slt"
)

// Keypoints is one frame of the keypoint stream.
type Keypoints struct {
	PTS   time.Duration // capture timestamp
	Frame slr.Frame
}

// EventKind says what an Event reports.
type EventKind int

const (
	SegmentClosed EventKind = iota // a sentence ended: Frames, Start, End
	Recognized                     // Hypotheses are ready
	Token                          // Text holds the next piece of the translation
	TurnDone                       // Turn is stored
	HearingTurn                    // the hearing person's Turn is stored
)

// Event reports pipeline progress.
type Event struct {
	Kind       EventKind
	Sentence   int // 1, 2, ... in stream order
	Start, End time.Duration
	Frames     int
	Hypotheses []slr.Hypothesis
	Text       string
	Turn       dialogue.Turn
	Timing     Timing
}

// Timing is one sentence's latencies.
type Timing struct {
	Recognize  time.Duration // features + network + beam search
	FirstToken time.Duration // from the end of signing to the first translated token
	Translate  time.Duration // the whole translation
	Total      time.Duration // from the end of signing to the stored turn
}

// Config wires the stages.
type Config struct {
	FPS        float64
	Segmenter  slr.SegmenterConfig // zero: slr.DefaultSegmenterConfig(FPS)
	Recognizer *slr.Recognizer
	// Translator may be nil: the turn's text is then the best gloss sequence.
	Translator *slt.Translator
	// Store and Conversation keep the dialogue; with a nil Store the context lives in
	// memory for this run only.
	Store         *dialogue.Store
	Conversation  dialogue.ConversationID
	ContextTurns  int // previous turns given to the stages (default 6)
	ContextTokens int // and their token budget (default 256)
	ModelVersion  string
	Metrics       *metrics.Registry // nil: a private registry
	Log           *slog.Logger
	OnEvent       func(Event) // called from the pipeline's goroutines, one at a time
}

// Pipeline runs sentences through the stages.
type Pipeline struct {
	cfg     Config
	log     *slog.Logger
	eventMu sync.Mutex

	ctxMu  sync.Mutex
	memory []dialogue.Turn // the context when there is no store

	segments     *metrics.Counter
	slrLatency   *metrics.Histogram
	firstToken   *metrics.Histogram
	sltLatency   *metrics.Histogram
	sentenceLat  *metrics.Histogram
	segmentDrops *metrics.Counter
}

// New checks the configuration and registers the metrics.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Recognizer == nil {
		return nil, errors.New("pipeline: no recogniser")
	}
	if cfg.FPS <= 0 {
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
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := cfg.Metrics
	return &Pipeline{
		cfg:          cfg,
		log:          cfg.Log,
		segments:     r.Counter("scope_slr_segments_total", "Sentences cut from the keypoint stream."),
		segmentDrops: r.Counter("scope_slr_segments_dropped_total", "Sentences dropped because recognition fell behind."),
		slrLatency:   r.Histogram("scope_slr_latency_seconds", "Recognition of one sentence: features, network and beam search.", nil),
		firstToken:   r.Histogram("scope_slt_first_token_seconds", "From the end of signing to the first translated token.", nil),
		sltLatency:   r.Histogram("scope_slt_latency_seconds", "Translation of one sentence.", nil),
		sentenceLat:  r.Histogram("scope_pipeline_sentence_latency_seconds", "From the end of signing to the stored turn.", nil),
	}, nil
}

// Metrics is the registry the pipeline reports to.
func (p *Pipeline) Metrics() *metrics.Registry { return p.cfg.Metrics }

func (p *Pipeline) emit(e Event) {
	if p.cfg.OnEvent == nil {
		return
	}
	p.eventMu.Lock()
	defer p.eventMu.Unlock()
	p.cfg.OnEvent(e)
}

type segment struct {
	n      int
	seg    slr.Segment
	start  time.Duration
	end    time.Duration
	closed time.Time // wall time the segmenter closed it: the end of signing
}

// Run consumes keypoint frames until the channel closes or ctx ends, and returns when
// every sentence it cut has been stored. Sentences are handled in order; while one is
// being recognised and translated, up to two more may wait, and a further one is
// dropped (and counted) so that the display never lags far behind the signer.
func (p *Pipeline) Run(ctx context.Context, frames <-chan Keypoints) error {
	segs := make(chan segment, 2)
	errc := make(chan error, 1)
	go func() {
		errc <- p.sentences(ctx, segs)
	}()
	seg := slr.NewSegmenter(p.cfg.Segmenter)
	var pts []time.Duration
	n := 0
	send := func(s slr.Segment) {
		n++
		sg := segment{n: n, seg: s, closed: time.Now()}
		if s.Start < len(pts) {
			sg.start = pts[s.Start]
		}
		if s.End-1 < len(pts) && s.End > 0 {
			sg.end = pts[s.End-1]
		}
		p.segments.Inc()
		p.emit(Event{Kind: SegmentClosed, Sentence: n, Start: sg.start, End: sg.end, Frames: len(s.Frames)})
		select {
		case segs <- sg:
		default:
			p.segmentDrops.Inc()
			p.log.Warn("recognition is behind; dropping a sentence", "sentence", n)
		}
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case kp, ok := <-frames:
			if !ok {
				break loop
			}
			pts = append(pts, kp.PTS)
			if s, done := seg.Push(kp.Frame); done {
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
	err := <-errc
	if err == nil {
		err = ctx.Err()
	}
	return err
}

func (p *Pipeline) sentences(ctx context.Context, segs <-chan segment) error {
	var firstErr error
	for s := range segs {
		if ctx.Err() != nil {
			continue // drain
		}
		if err := p.sentence(ctx, s); err != nil && firstErr == nil {
			if ctx.Err() == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

// Sentence recognises and translates one segment and stores the turn.
func (p *Pipeline) sentence(ctx context.Context, s segment) error {
	turns, err := p.context(ctx)
	if err != nil {
		return err
	}
	texts := make([]string, len(turns))
	for i, t := range turns {
		texts[i] = t.Text
	}
	t0 := time.Now()
	hyps, err := p.cfg.Recognizer.Recognize(ctx, s.seg.Frames, p.cfg.FPS, texts)
	if err != nil {
		return fmt.Errorf("recognising sentence %d: %w", s.n, err)
	}
	tm := Timing{Recognize: time.Since(t0)}
	p.slrLatency.Observe(tm.Recognize.Seconds())
	p.emit(Event{Kind: Recognized, Sentence: s.n, Start: s.start, End: s.end, Hypotheses: hyps, Timing: tm})

	text := ""
	if len(hyps) > 0 {
		text = strings.Join(hyps[0].Glosses, " ")
	}
	if p.cfg.Translator != nil && len(hyps) > 0 && len(hyps[0].Glosses) > 0 {
		t1 := time.Now()
		first := true
		var b strings.Builder
		_, err := p.cfg.Translator.Translate(ctx, texts, TranslatorHypotheses(hyps), func(piece string) error {
			if first {
				first = false
				tm.FirstToken = time.Since(s.closed)
				p.firstToken.Observe(tm.FirstToken.Seconds())
			}
			b.WriteString(piece)
			p.emit(Event{Kind: Token, Sentence: s.n, Text: piece})
			return nil
		})
		if err != nil {
			return fmt.Errorf("translating sentence %d: %w", s.n, err)
		}
		tm.Translate = time.Since(t1)
		p.sltLatency.Observe(tm.Translate.Seconds())
		text = strings.TrimSpace(b.String())
	}
	turn := dialogue.Turn{
		Conversation: p.cfg.Conversation,
		Speaker:      dialogue.SpeakerSigner,
		Text:         text,
		ModelVersion: p.cfg.ModelVersion,
	}
	for _, h := range hyps {
		turn.Hypotheses = append(turn.Hypotheses, dialogue.Hypothesis{Glosses: h.Glosses, Score: h.Score})
	}
	turn, err = p.store(ctx, turn)
	if err != nil {
		return err
	}
	tm.Total = time.Since(s.closed)
	p.sentenceLat.Observe(tm.Total.Seconds())
	p.emit(Event{Kind: TurnDone, Sentence: s.n, Start: s.start, End: s.end, Hypotheses: hyps, Text: text, Turn: turn, Timing: tm})
	return nil
}

// AddHearingTurn stores what the hearing person said (typed or from speech
// recognition), so that it becomes context for the signer's next sentence.
func (p *Pipeline) AddHearingTurn(ctx context.Context, text string) (dialogue.Turn, error) {
	t, err := p.store(ctx, dialogue.Turn{Conversation: p.cfg.Conversation, Speaker: dialogue.SpeakerHearing, Text: text})
	if err == nil {
		p.emit(Event{Kind: HearingTurn, Text: text, Turn: t})
	}
	return t, err
}

func (p *Pipeline) store(ctx context.Context, t dialogue.Turn) (dialogue.Turn, error) {
	if p.cfg.Store != nil {
		out, err := p.cfg.Store.AppendTurn(ctx, t)
		if err != nil {
			return t, fmt.Errorf("storing the turn: %w", err)
		}
		return out, nil
	}
	p.ctxMu.Lock()
	defer p.ctxMu.Unlock()
	t.Seq = uint64(len(p.memory) + 1)
	p.memory = append(p.memory, t)
	return t, nil
}

// context returns the previous turns within the configured window, oldest first.
func (p *Pipeline) context(ctx context.Context) ([]dialogue.Turn, error) {
	if p.cfg.Store != nil {
		ts, err := p.cfg.Store.ContextWindow(ctx, p.cfg.Conversation, p.cfg.ContextTurns, p.cfg.ContextTokens, dialogue.ApproxTokens)
		if err != nil {
			return nil, fmt.Errorf("reading the dialogue context: %w", err)
		}
		return ts, nil
	}
	p.ctxMu.Lock()
	defer p.ctxMu.Unlock()
	var out []dialogue.Turn
	tokens := 0
	for i := len(p.memory) - 1; i >= 0 && len(out) < p.cfg.ContextTurns; i-- {
		tokens += dialogue.ApproxTokens(p.memory[i].Text)
		if tokens > p.cfg.ContextTokens {
			break
		}
		out = append([]dialogue.Turn{p.memory[i]}, out...)
	}
	return out, nil
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
