package slt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"scope/models/lexicon"
	"scope/models/slt/llamacpp"
)

// Format selects how prompts are built.
type Format string

const (
	FormatAuto  Format = ""      // chat template when the model has one, else plain
	FormatPlain Format = "plain" // train/slt's format (PlainPrompt)
	FormatChat  Format = "chat"  // the model's chat template; an error when it has none
)

// Config configures a Translator.
type Config struct {
	Model        string            // GGUF path
	Adapters     map[string]string // domain name -> GGUF LoRA adapter path, loaded at Open
	Context      int               // KV cache tokens (default 1024)
	MaxTokens    int               // longest answer in tokens (default 64)
	Threads      int               // threads per generated token (default 1: ggml threads busy-wait)
	BatchThreads int               // threads for the prompt (default Threads)
	KV           llamacpp.KVType
	Format       Format
	Instruction  string // system message for chat models (default DefaultInstruction)
	Beam         int    // >1: beam search of this width (see beam.go); 0 or 1: greedy. Ignored with a Lexicon
	Log          *slog.Logger
	// Lexicon, when set, makes every translation faithful to the hypotheses (faithful.go):
	// only words the glosses of one hypothesis support, no loops, no malformed words.
	Lexicon *lexicon.Lexicon
}

// ContextParams are the llama.cpp context settings of cfg. Flash attention stays off unless the
// KV cache is quantised (which needs it): on CPU it made short prompts slower (measured: 18 ms
// against 30 ms for 150 tokens of a 3-layer model).
func ContextParams(cfg Config) llamacpp.ContextParams {
	fa := -1
	if cfg.KV == llamacpp.KVQ8_0 || cfg.KV == llamacpp.KVQ4_0 {
		fa = 1
	}
	seqs := 1
	if cfg.Beam > 1 {
		seqs = 2 * cfg.Beam // live beams and their successors (beam.go)
	}
	return llamacpp.ContextParams{Context: cfg.Context, Threads: cfg.Threads, BatchThreads: cfg.BatchThreads, KV: cfg.KV,
		FlashAttention: fa, Sequences: seqs}
}

// Translator turns gloss hypotheses into text. See the package documentation.
type Translator struct {
	cfg      Config
	log      *slog.Logger
	mu       sync.Mutex
	model    *llamacpp.Model
	ctx      *llamacpp.Context
	sampler  *llamacpp.Sampler
	adapters map[string]*llamacpp.Adapter
	domain   string
	scale    float32
	chat     string // chat template in use, "" for the plain format
}

// Open loads the model, its adapters and a context.
func Open(cfg Config) (_ *Translator, err error) {
	if cfg.Context <= 0 {
		cfg.Context = 1024
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 64
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.Instruction == "" {
		cfg.Instruction = DefaultInstruction
	}
	t := &Translator{cfg: cfg, log: cfg.Log, adapters: map[string]*llamacpp.Adapter{}}
	if t.log == nil {
		t.log = slog.Default()
	}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if t.model, err = llamacpp.LoadModel(cfg.Model, llamacpp.ModelParams{}); err != nil {
		return nil, err
	}
	switch cfg.Format {
	case FormatAuto, FormatChat:
		tmpl := t.model.ChatTemplate()
		if tmpl != "" {
			if _, err := llamacpp.ApplyChatTemplate(tmpl, []llamacpp.ChatMessage{{Role: "user", Content: "x"}}, true); err == nil {
				t.chat = tmpl
			} else if cfg.Format == FormatChat {
				return nil, fmt.Errorf("%s: llama.cpp does not know the model's chat template: %w", cfg.Model, err)
			} else {
				t.log.Warn("the model's chat template is not one llama.cpp knows; using the plain prompt format", "model", cfg.Model)
			}
		} else if cfg.Format == FormatChat {
			return nil, fmt.Errorf("%s has no chat template (tokenizer.chat_template); use the plain format", cfg.Model)
		}
	case FormatPlain:
	default:
		return nil, fmt.Errorf("slt: unknown prompt format %q (want plain, chat or empty for auto)", cfg.Format)
	}
	if cfg.Beam < 0 || cfg.Beam > MaxBeam {
		return nil, fmt.Errorf("slt: beam width %d out of range (0 or 1 for greedy, up to %d)", cfg.Beam, MaxBeam)
	}
	if cfg.MaxTokens*max(cfg.Beam, 1) >= cfg.Context/2 {
		return nil, fmt.Errorf("slt: max tokens %d x beam %d leaves too little of the %d-token context for the prompt", cfg.MaxTokens, max(cfg.Beam, 1), cfg.Context)
	}
	if cfg.MaxTokens >= cfg.Context/2 {
		return nil, fmt.Errorf("slt: max tokens %d leaves too little of the %d-token context for the prompt", cfg.MaxTokens, cfg.Context)
	}
	if t.ctx, err = llamacpp.NewContext(t.model, ContextParams(cfg)); err != nil {
		return nil, err
	}
	t.sampler = llamacpp.NewSampler(llamacpp.SamplerParams{})
	for domain, path := range cfg.Adapters {
		if err := t.LoadAdapter(domain, path); err != nil {
			return nil, err
		}
	}
	t.log.Debug("translator ready", "model", cfg.Model, "desc", t.model.Desc(), "chat_template", t.chat != "", "context", t.ctx.Size())
	return t, nil
}

// Close frees the context, the adapters and the model. Safe to call more than once.
func (t *Translator) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sampler.Close()
	if t.ctx != nil {
		t.ctx.ClearAdapters()
		t.ctx.Close()
		t.ctx = nil
	}
	for d, a := range t.adapters {
		a.Close()
		delete(t.adapters, d)
	}
	t.model.Close()
	return nil
}

// Model is the loaded model (for its metadata).
func (t *Translator) Model() *llamacpp.Model { return t.model }

// UsesChatTemplate reports whether prompts go through the model's chat template.
func (t *Translator) UsesChatTemplate() bool { return t.chat != "" }

// LoadAdapter loads the LoRA adapter at path for domain (once; a later call for the same
// domain replaces it).
func (t *Translator) LoadAdapter(domain, path string) error {
	if domain == "" {
		return errors.New("slt: an adapter needs a domain name")
	}
	a, err := t.model.LoadAdapter(path)
	if err != nil {
		return fmt.Errorf("adapter for domain %q: %w", domain, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.adapters[domain]; old != nil {
		t.ctx.RemoveAdapter(old)
		old.Close()
		if t.domain == domain {
			if err := t.ctx.SetAdapter(a, t.scale); err != nil {
				return err
			}
		}
	}
	t.adapters[domain] = a
	return nil
}

// Domains lists the domains with a loaded adapter.
func (t *Translator) Domains() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for d := range t.adapters {
		out = append(out, d)
	}
	return out
}

// SetDomain makes domain's adapter the active one with scale (1 = as trained); "" runs the
// base model alone.
func (t *Translator) SetDomain(domain string, scale float32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx == nil {
		return errors.New("slt: translator is closed")
	}
	if domain == "" {
		t.ctx.ClearAdapters()
		t.domain, t.scale = "", 0
		return nil
	}
	a := t.adapters[domain]
	if a == nil {
		return fmt.Errorf("slt: no adapter loaded for domain %q", domain)
	}
	if !(scale >= 0 && scale <= 4) { // also refuses NaN
		return fmt.Errorf("slt: LoRA scale %g for domain %q: want 0 to 4 (slt.lora_scale)", scale, domain)
	}
	t.ctx.ClearAdapters()
	if err := t.ctx.SetAdapter(a, scale); err != nil {
		return err
	}
	t.domain, t.scale = domain, scale
	return nil
}

// Result describes one translation.
type Result struct {
	Text          string
	PromptTokens  int
	Tokens        int           // generated tokens
	DroppedTurns  int           // context turns left out to fit the context window
	FirstToken    time.Duration // from the call to the first generated token
	Duration      time.Duration // whole call
	StoppedBy     string        // "eos", "newline", "max_tokens", "unsupported" (faithful: no allowed token)
	TokensPerSec  float64       // generation speed after the first token
	PromptSeconds float64
	// TokenLogProbs holds the model's own log-probability of each generated token (the end
	// of the sentence included), before any lexicon constraint.
	TokenLogProbs []float32
	// With a lexicon: Hypothesis is the index of the hypothesis the sentence renders (-1 when
	// none, or without a lexicon), Missing its glosses the sentence does not render and
	// MissingCritical the safety-critical ones among them; Rejected counts the steps at which
	// the model's first choice was not allowed.
	Hypothesis      int
	Missing         []string
	MissingCritical []string
	Rejected        int
}

// prompt renders the prompt for context and hyps and tokenises it.
func (t *Translator) prompt(context []string, hyps []Hypothesis) ([]llamacpp.Token, error) {
	var text string
	var err error
	if t.chat == "" {
		if text, err = PlainPrompt(context, hyps); err != nil {
			return nil, err
		}
		return t.model.Tokenize(text, true, false)
	}
	user, err := ChatUserMessage(context, hyps)
	if err != nil {
		return nil, err
	}
	text, err = llamacpp.ApplyChatTemplate(t.chat, []llamacpp.ChatMessage{
		{Role: "system", Content: t.cfg.Instruction}, {Role: "user", Content: user}}, true)
	if err != nil {
		return nil, err
	}
	addBOS := true
	if bos := t.model.BOS(); bos >= 0 && strings.HasPrefix(text, string(t.model.Piece(bos, true))) {
		addBOS = false // the template writes BOS itself
	}
	return t.model.Tokenize(text, addBOS, true)
}

// Prompt returns the prompt tokens for context and hyps after dropping the oldest context
// turns that do not fit, and how many were dropped.
func (t *Translator) Prompt(context []string, hyps []Hypothesis) ([]llamacpp.Token, int, error) {
	budget := t.ctx.Size() - t.cfg.MaxTokens*max(t.cfg.Beam, 1)
	for drop := 0; drop <= len(context); drop++ {
		toks, err := t.prompt(context[drop:], hyps)
		if err != nil {
			return nil, 0, err
		}
		if len(toks) <= budget {
			return toks, drop, nil
		}
	}
	return nil, 0, fmt.Errorf("slt: the gloss hypotheses alone need more than %d tokens of the %d-token context", budget, t.ctx.Size())
}

// Translate writes the sentence for hyps (best first; up to MaxHypotheses are used) given the
// dialogue context (oldest first). Each piece of text is passed to emit as soon as it is
// complete UTF-8; an error from emit, or ctx ending, stops the translation and is returned.
func (t *Translator) Translate(ctx context.Context, context []string, hyps []Hypothesis, emit func(string) error) (Result, error) {
	start := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx == nil {
		return Result{}, errors.New("slt: translator is closed")
	}
	toks, dropped, err := t.Prompt(context, hyps)
	if err != nil {
		return Result{}, err
	}
	res := Result{PromptTokens: len(toks), DroppedTurns: dropped, StoppedBy: "max_tokens", Hypothesis: -1}
	var fa *faithful
	if t.cfg.Lexicon != nil {
		fa = newFaithful(t.cfg.Lexicon, hyps)
	}
	t.ctx.ClearMemory()
	t.sampler.Reset()
	if t.cfg.Beam > 1 && fa == nil {
		return t.translateBeam(ctx, toks, res, start, emit)
	}
	if err := t.ctx.Decode(ctx, toks, 0, false); err != nil {
		return res, fmt.Errorf("slt: prompt: %w", err)
	}
	res.PromptSeconds = time.Since(start).Seconds()
	var out []byte     // generated text: complete UTF-8 only
	var pending []byte // bytes of a UTF-8 sequence that the next token completes
	sent := 0          // bytes of the answer (out without leading whitespace) passed to emit
	pos := len(toks)
	var genStart time.Time
	for res.Tokens < t.cfg.MaxTokens {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		logits := t.ctx.Logits(-1)
		if i := nonFinite(logits); i >= 0 {
			return res, fmt.Errorf("%w: %s gave logit %v for token %d at step %d%s", ErrNonFinite, t.model.Path, logits[i], i, res.Tokens, t.adapterNote())
		}
		var tok llamacpp.Token
		if fa != nil {
			var ok, first bool
			tok, ok, first = t.nextFaithful(fa, logits, string(bytes.TrimLeft(out, " \t\n")))
			if !ok {
				res.StoppedBy = "unsupported"
				break
			}
			if !first {
				res.Rejected++
			}
		} else {
			tok = t.sampler.Sample(t.ctx, -1)
		}
		if logits != nil {
			res.TokenLogProbs = append(res.TokenLogProbs, logSoftmaxAt(logits, int(tok)))
		}
		if res.Tokens == 0 {
			res.FirstToken = time.Since(start)
			genStart = time.Now()
		}
		if t.model.IsEOG(tok) {
			res.StoppedBy = "eos"
			break
		}
		res.Tokens++
		pending = append(pending, t.model.Piece(tok, false)...)
		out, pending = appendValid(out, pending)
		answer := bytes.TrimLeft(out, " \t\n")
		if i := bytes.IndexByte(answer, '\n'); i >= 0 {
			out = answer[:i] // a translation is one line
			res.StoppedBy = "newline"
			break
		}
		if end := len(bytes.TrimRight(answer, " ")); end > sent && emit != nil {
			// Trailing spaces wait: they may end the sentence.
			if err := emit(string(answer[sent:end])); err != nil {
				return res, err
			}
			sent = end
		}
		if res.Tokens == t.cfg.MaxTokens {
			break
		}
		if err := t.ctx.Decode(ctx, []llamacpp.Token{tok}, pos, false); err != nil {
			return res, fmt.Errorf("slt: generating: %w", err)
		}
		pos++
	}
	answer := bytes.TrimSpace(out)
	if len(answer) > sent && emit != nil {
		if err := emit(string(answer[sent:])); err != nil {
			return res, err
		}
	}
	res.Text = string(answer)
	if fa != nil {
		res.Hypothesis, res.Missing, res.MissingCritical = fa.choose(res.Text)
	}
	res.Duration = time.Since(start)
	if res.Tokens > 1 && !genStart.IsZero() {
		res.TokensPerSec = float64(res.Tokens-1) / time.Since(genStart).Seconds()
	}
	// Faithful decoding that finds no supported sentence says so in StoppedBy; any other
	// blank sentence is a fault the user must see, not an empty caption.
	if res.Text == "" && res.StoppedBy != "unsupported" {
		return res, fmt.Errorf("%w (%d tokens, stopped by %s; model %s%s)", ErrEmpty, res.Tokens, res.StoppedBy, t.model.Path, t.adapterNote())
	}
	return res, nil
}

// ErrNonFinite is returned (wrapped) by Translate when the model's logits hold NaN or Inf:
// a damaged model or adapter, or a LoRA scale that is not a number.
var ErrNonFinite = errors.New("slt: the model's logits are not finite numbers (NaN or Inf): the model or its adapter is damaged")

// ErrEmpty is returned (wrapped), with the Result, by Translate when the model wrote no
// text: callers show it as an error or event, never as a blank sentence.
var ErrEmpty = errors.New("slt: the translator wrote no text")

func nonFinite(x []float32) int {
	for i, v := range x {
		if v-v != 0 { // NaN and ±Inf
			return i
		}
	}
	return -1
}

// adapterNote names the active adapter for errors.
func (t *Translator) adapterNote() string {
	if t.domain == "" {
		return ""
	}
	return fmt.Sprintf(", adapter %q at scale %g", t.domain, t.scale)
}

// appendValid moves the complete UTF-8 of pending to out, drops bytes that can never be
// valid (a model can emit any byte token) and returns the incomplete tail.
func appendValid(out, pending []byte) ([]byte, []byte) {
	i := 0
	for i < len(pending) {
		r, size := utf8.DecodeRune(pending[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(pending[i:]) {
				break // wait for the rest
			}
			i++
			continue
		}
		out = append(out, pending[i:i+size]...)
		i += size
	}
	return out, append(pending[:0], pending[i:]...)
}

// Embed returns the mean of the final hidden states of text's tokens (BOS is decoded first
// but left out of the mean). Texts longer than the context are cut to fit.
func (t *Translator) Embed(ctx context.Context, text string) ([]float32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx == nil {
		return nil, errors.New("slt: translator is closed")
	}
	toks, err := t.model.Tokenize(clean(text), true, false)
	if err != nil {
		return nil, err
	}
	skip := 0
	if len(toks) > 0 && toks[0] == t.model.BOS() {
		skip = 1
	}
	if len(toks) > t.ctx.BatchSize() {
		toks = toks[:t.ctx.BatchSize()]
	}
	if len(toks) == skip {
		return nil, fmt.Errorf("slt: nothing to embed in %q", text)
	}
	t.ctx.ClearMemory()
	t.ctx.SetEmbeddings(true)
	defer t.ctx.SetEmbeddings(false)
	if err := t.ctx.Decode(ctx, toks, 0, true); err != nil {
		return nil, fmt.Errorf("slt: embedding: %w", err)
	}
	sum := make([]float64, t.model.EmbeddingSize())
	for i := skip; i < len(toks); i++ {
		e := t.ctx.Embedding(i)
		if e == nil {
			return nil, fmt.Errorf("slt: llama.cpp gave no embedding for token %d", i)
		}
		for j, v := range e {
			sum[j] += float64(v)
		}
	}
	out := make([]float32, len(sum))
	n := float64(len(toks) - skip)
	for j, v := range sum {
		out[j] = float32(v / n)
	}
	t.ctx.ClearMemory()
	return out, nil
}
