// Package llamacpp is SCOPE's thin cgo binding over llama.cpp's C API (llama.h).
//
// llama.cpp itself is compiled by github.com/ollama/ollama/llama, imported here only so that
// its objects are linked in; this package calls llama.h directly so that it owns every
// resource it creates. The types map one to one onto llama.cpp's:
//
//	Model    a loaded GGUF (weights, vocabulary, metadata, chat template); Close frees it
//	Adapter  a LoRA adapter loaded once for a Model; Close frees it
//	Context  a KV cache and compute buffers for one Model; adapters are set and cleared per
//	         Context; Decode runs a batch, Logits/Embedding read its outputs; Close frees it
//	Sampler  a sampler chain (greedy, or temperature/top-k/top-p); Close frees it
//
// Every file is checked by package gguf before llama.cpp opens it, because ggml aborts the
// process on some malformed files. llama.cpp's log goes to a *slog.Logger at debug level
// (SetLogger); the last error line it logged is added to the Go error of a failed call.
//
// Nothing here is safe for concurrent use of one Context; distinct Contexts of one Model may
// be used from different goroutines.
package llamacpp

/*
#include <stdlib.h>
#include <string.h>
#include "llama.h"

extern int LLAMA_BUILD_NUMBER;
extern char const *LLAMA_COMMIT;

extern void scopeLlamaLog(enum ggml_log_level level, char *text, void *user_data);

static void scope_set_log(void) {
	llama_log_set((ggml_log_callback)scopeLlamaLog, NULL);
}

static void scope_batch_set(struct llama_batch *b, int i, llama_token tok, llama_pos pos, int logits) {
	b->token[i] = tok;
	b->pos[i] = pos;
	b->n_seq_id[i] = 1;
	b->seq_id[i][0] = 0;
	b->logits[i] = (int8_t)logits;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	_ "github.com/ollama/ollama/llama" // compiles and links llama.cpp and ggml

	"scope/models/slt/gguf"
)

// Token is a vocabulary id.
type Token int32

var (
	logger    atomic.Pointer[slog.Logger]
	lastError atomic.Pointer[string]
	logLine   strings.Builder // guarded by logMu
	logMu     sync.Mutex
	initOnce  sync.Once
)

// SetLogger routes llama.cpp's and ggml's log to l, at debug level. A nil l means
// slog.Default(). The C library keeps one log callback per process, hence one logger.
func SetLogger(l *slog.Logger) {
	logger.Store(l)
}

func backendInit() {
	initOnce.Do(func() {
		C.scope_set_log()
		C.llama_backend_init()
	})
}

//export scopeLlamaLog
func scopeLlamaLog(level C.enum_ggml_log_level, text *C.char, _ unsafe.Pointer) {
	s := C.GoString(text)
	logMu.Lock()
	defer logMu.Unlock()
	if level != C.GGML_LOG_LEVEL_CONT && logLine.Len() > 0 {
		flushLog(C.GGML_LOG_LEVEL_INFO)
	}
	logLine.WriteString(s)
	if strings.HasSuffix(s, "\n") {
		flushLog(level)
	}
	if level == C.GGML_LOG_LEVEL_ERROR {
		msg := strings.TrimSpace(s)
		lastError.Store(&msg)
	}
}

func flushLog(level C.enum_ggml_log_level) {
	msg := strings.TrimSpace(logLine.String())
	logLine.Reset()
	if msg == "" || msg == "." {
		return
	}
	l := logger.Load()
	if l == nil {
		l = slog.Default()
	}
	l.Debug(msg, "from", "llama.cpp", "level", int(level))
}

// takeLastError returns and forgets the last error line llama.cpp logged.
func takeLastError() string {
	p := lastError.Swap(nil)
	if p == nil {
		return ""
	}
	return *p
}

func withLog(err error) error {
	if msg := takeLastError(); msg != "" {
		return fmt.Errorf("%w (llama.cpp: %s)", err, msg)
	}
	return err
}

// BuildInfo describes the linked llama.cpp: its commit, build number and the CPU features
// ggml was compiled with (llama_print_system_info).
func BuildInfo() string {
	backendInit()
	return fmt.Sprintf("llama.cpp %s (build %d); %s", C.GoString(C.LLAMA_COMMIT), int(C.LLAMA_BUILD_NUMBER),
		strings.TrimSpace(C.GoString(C.llama_print_system_info())))
}

// ModelParams controls how a model is loaded.
type ModelParams struct {
	VocabOnly bool // load only the vocabulary and metadata (tokenizing, chat templates)
	NoMmap    bool // read the weights into memory instead of mapping the file
}

// Model is a loaded GGUF model. Close frees it; its Contexts and Adapters must be closed first.
type Model struct {
	Path  string
	p     *C.struct_llama_model
	vocab *C.struct_llama_vocab
}

// LoadModel checks the GGUF at path and loads it.
func LoadModel(path string, mp ModelParams) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading model: %w", err)
	}
	if err := f.CheckModel(); err != nil {
		return nil, fmt.Errorf("loading model: %w", err)
	}
	if !mp.VocabOnly {
		if err := checkData(f); err != nil {
			return nil, fmt.Errorf("loading model: %w", err)
		}
	}
	backendInit()
	params := C.llama_model_default_params()
	params.n_gpu_layers = 0
	params.vocab_only = C.bool(mp.VocabOnly)
	params.use_mmap = C.bool(!mp.NoMmap)
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	takeLastError()
	p := C.llama_model_load_from_file(cpath, params)
	if p == nil {
		return nil, withLog(fmt.Errorf("llama.cpp could not load model %s", path))
	}
	return &Model{Path: path, p: p, vocab: C.llama_model_get_vocab(p)}, nil
}

// checkData reads f's weights and refuses NaN and Inf (gguf.File.CheckData).
func checkData(f *gguf.File) error {
	fh, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer fh.Close()
	return f.CheckData(fh)
}

// Close frees the model. It is safe to call more than once.
func (m *Model) Close() {
	if m == nil || m.p == nil {
		return
	}
	C.llama_model_free(m.p)
	m.p = nil
	m.vocab = nil
}

func cString(buf []byte, n C.int32_t) string {
	if n < 0 {
		return ""
	}
	return string(buf[:min(int(n), len(buf)-1)])
}

// Meta returns the metadata value of key rendered as a string (arrays are not supported by
// llama.cpp's accessor), and whether the key exists.
func (m *Model) Meta(key string) (string, bool) {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	buf := make([]byte, 256)
	for {
		n := C.llama_model_meta_val_str(m.p, ckey, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
		if n < 0 {
			return "", false
		}
		if int(n) < len(buf) {
			return cString(buf, n), true
		}
		buf = make([]byte, int(n)+1)
	}
}

// MetaKeys lists the metadata keys llama.cpp read.
func (m *Model) MetaKeys() []string {
	n := int(C.llama_model_meta_count(m.p))
	keys := make([]string, 0, n)
	buf := make([]byte, 512)
	for i := 0; i < n; i++ {
		k := C.llama_model_meta_key_by_index(m.p, C.int32_t(i), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
		keys = append(keys, cString(buf, k))
	}
	return keys
}

// Desc is llama.cpp's one-line description of the model (architecture, size, type).
func (m *Model) Desc() string {
	buf := make([]byte, 256)
	n := C.llama_model_desc(m.p, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return cString(buf, n)
}

// headDim is the width of one attention head's keys and values (the smaller if they differ).
func (m *Model) headDim() int {
	arch, _ := m.Meta("general.architecture")
	hd := 0
	for _, k := range []string{".attention.key_length", ".attention.value_length"} {
		if v, ok := m.Meta(arch + k); ok {
			if n, err := strconv.Atoi(v); err == nil && (hd == 0 || n < hd) {
				hd = n
			}
		}
	}
	if hd == 0 && C.llama_model_n_head(m.p) > 0 {
		hd = int(C.llama_model_n_embd(m.p) / C.llama_model_n_head(m.p))
	}
	return hd
}

// Size is the total size of the weights in bytes.
func (m *Model) Size() uint64 { return uint64(C.llama_model_size(m.p)) }

// Params is the number of parameters.
func (m *Model) Params() uint64 { return uint64(C.llama_model_n_params(m.p)) }

// EmbeddingSize is the width of the hidden state.
func (m *Model) EmbeddingSize() int { return int(C.llama_model_n_embd(m.p)) }

// TrainContext is the context length the model was trained with.
func (m *Model) TrainContext() int { return int(C.llama_model_n_ctx_train(m.p)) }

// VocabSize is the number of tokens.
func (m *Model) VocabSize() int { return int(C.llama_vocab_n_tokens(m.vocab)) }

// BOS is the beginning-of-sequence token (-1 when there is none).
func (m *Model) BOS() Token { return Token(C.llama_vocab_bos(m.vocab)) }

// EOS is the end-of-sequence token (-1 when there is none).
func (m *Model) EOS() Token { return Token(C.llama_vocab_eos(m.vocab)) }

// IsEOG reports whether t ends generation (end of sequence, end of turn, ...).
func (m *Model) IsEOG(t Token) bool { return bool(C.llama_vocab_is_eog(m.vocab, C.llama_token(t))) }

// Tokenize turns text into tokens. addSpecial adds BOS/EOS as the model asks; parseSpecial
// turns the text of control tokens (such as a chat template's markers) into those tokens.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]Token, error) {
	if len(text) > 1<<30 {
		return nil, errors.New("tokenize: text longer than 1 GiB")
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	n := len(text) + 8
	for {
		toks := make([]Token, n)
		got := C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)), (*C.llama_token)(unsafe.Pointer(&toks[0])),
			C.int32_t(n), C.bool(addSpecial), C.bool(parseSpecial))
		switch {
		case got == C.INT32_MIN:
			return nil, errors.New("tokenize: too many tokens")
		case got < 0:
			n = int(-got)
			continue
		}
		return toks[:got], nil
	}
}

// Piece returns the bytes of token t; special renders control tokens as their text. A piece
// may be part of a UTF-8 sequence that the following tokens complete.
func (m *Model) Piece(t Token, special bool) []byte {
	buf := make([]byte, 64)
	for {
		n := C.llama_token_to_piece(m.vocab, C.llama_token(t), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, C.bool(special))
		if n < 0 {
			buf = make([]byte, -int(n))
			continue
		}
		return buf[:n]
	}
}

// Detokenize turns tokens back into text, leaving out BOS/EOS and control tokens.
func (m *Model) Detokenize(toks []Token) string {
	if len(toks) == 0 {
		return ""
	}
	n := len(toks)*8 + 16
	for {
		buf := make([]byte, n)
		got := C.llama_detokenize(m.vocab, (*C.llama_token)(unsafe.Pointer(&toks[0])), C.int32_t(len(toks)),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(n), true, false)
		if got < 0 {
			n = int(-got)
			continue
		}
		return string(buf[:got])
	}
}

// ChatTemplate returns the model's default chat template, or "" when it has none.
func (m *Model) ChatTemplate() string {
	p := C.llama_model_chat_template(m.p, nil)
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// ChatMessage is one message of a conversation.
type ChatMessage struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// ErrTemplateUnsupported is returned when llama.cpp does not recognise a chat template
// (it matches known template families rather than running Jinja).
var ErrTemplateUnsupported = errors.New("chat template not supported by llama.cpp")

// ApplyChatTemplate formats msgs with tmpl (a template text or a built-in name such as
// "chatml"); addAssistant ends the prompt with the start of the assistant's turn.
func ApplyChatTemplate(tmpl string, msgs []ChatMessage, addAssistant bool) (string, error) {
	if tmpl == "" {
		return "", fmt.Errorf("%w: empty template", ErrTemplateUnsupported)
	}
	backendInit()
	ctmpl := C.CString(tmpl)
	defer C.free(unsafe.Pointer(ctmpl))
	cm := (*[1 << 20]C.struct_llama_chat_message)(C.malloc(C.size_t(len(msgs)+1) * C.size_t(unsafe.Sizeof(C.struct_llama_chat_message{}))))[: len(msgs)+1 : len(msgs)+1]
	defer C.free(unsafe.Pointer(&cm[0]))
	total := 0
	for i, msg := range msgs {
		cm[i].role = C.CString(msg.Role)
		cm[i].content = C.CString(msg.Content)
		total += len(msg.Role) + len(msg.Content)
	}
	defer func() {
		for i := range msgs {
			C.free(unsafe.Pointer(cm[i].role))
			C.free(unsafe.Pointer(cm[i].content))
		}
	}()
	n := 2*total + 256
	for {
		buf := make([]byte, n)
		got := C.llama_chat_apply_template(ctmpl, &cm[0], C.size_t(len(msgs)), C.bool(addAssistant), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(n))
		if got < 0 {
			return "", ErrTemplateUnsupported
		}
		if int(got) > n {
			n = int(got)
			continue
		}
		return string(buf[:got]), nil
	}
}

// Adapter is a LoRA adapter loaded for one model. Set it on a Context with SetAdapter.
type Adapter struct {
	Path string
	p    *C.struct_llama_adapter_lora
}

// LoadAdapter checks and loads the GGUF LoRA adapter at path for m.
func (m *Model) LoadAdapter(path string) (*Adapter, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading LoRA adapter: %w", err)
	}
	base, err := gguf.Open(m.Path)
	if err != nil {
		return nil, fmt.Errorf("loading LoRA adapter %s: its model: %w", path, err)
	}
	if err := f.CheckAdapter(base); err != nil {
		return nil, fmt.Errorf("loading LoRA adapter: %w", err)
	}
	if err := checkData(f); err != nil {
		return nil, fmt.Errorf("loading LoRA adapter: %w", err)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	takeLastError()
	p := C.llama_adapter_lora_init(m.p, cpath)
	if p == nil {
		return nil, withLog(fmt.Errorf("llama.cpp could not load LoRA adapter %s for model %s", path, m.Path))
	}
	return &Adapter{Path: path, p: p}, nil
}

// Close frees the adapter; remove it from every Context first. Safe to call more than once.
func (a *Adapter) Close() {
	if a == nil || a.p == nil {
		return
	}
	C.llama_adapter_lora_free(a.p)
	a.p = nil
}

// KVType is the element type of the KV cache.
type KVType int

const (
	KVF16 KVType = iota
	KVQ8_0
	KVQ4_0
	KVF32 // for reference comparisons
)

// ContextParams controls a Context.
type ContextParams struct {
	Context      int // tokens of KV cache; 0 means 2048 capped at the model's training length
	Batch        int // largest batch Decode takes; 0 means Context
	Threads      int // threads for generating one token; 0 means 1
	BatchThreads int // threads for prompt batches; 0 means Threads
	Embeddings   bool
	KV           KVType
	// FlashAttention: 0 lets llama.cpp choose, 1 forces it on, -1 off (quantised KV needs it).
	FlashAttention int
	// Sequences the KV cache holds at once (0 or 1: one; beam search needs two per beam).
	// With more than one the cache is unified, so sequences share their common prefix.
	Sequences int
}

// Context is a KV cache and compute state for one model.
type Context struct {
	model    *Model
	p        *C.struct_llama_context
	batch    C.struct_llama_batch
	nBatch   int
	nCtx     int
	adapters map[*Adapter]float32
	emb      bool     // embeddings switched on
	last     graphKey // shape of the last decoded batch
	stale    bool     // adapters changed since the last decode
}

// graphKey is what llama.cpp compares to reuse the previous compute graph. It compares the
// adapter set by address only, so after SetAdapter/RemoveAdapter/ClearAdapters it would
// reuse a graph built with the old adapters and scales; Decode makes the next batch differ.
type graphKey struct {
	tokens, outputs int
	emb             bool
}

// NewContext creates a Context for m.
func NewContext(m *Model, cp ContextParams) (*Context, error) {
	if m == nil || m.p == nil {
		return nil, errors.New("new context: model is closed")
	}
	if cp.KV == KVQ8_0 || cp.KV == KVQ4_0 {
		// ggml asserts (aborting the process) when a quantised cache row is not whole blocks.
		if hd := m.headDim(); hd%32 != 0 {
			return nil, fmt.Errorf("new context: %s has attention heads of %d values; a quantised KV cache needs multiples of 32 (use F16)", m.Path, hd)
		}
	}
	p := C.llama_context_default_params()
	nctx := cp.Context
	if nctx <= 0 {
		nctx = min(2048, max(m.TrainContext(), 64))
	}
	nb := cp.Batch
	if nb <= 0 || nb > nctx {
		nb = nctx
	}
	th := max(cp.Threads, 1)
	tb := cp.BatchThreads
	if tb <= 0 {
		tb = th
	}
	// ggml starts every thread it is given and its threads spin: more than the CPUs
	// (SCOPE_SLT_THREADS=100000 made thousands) only stalls the machine.
	if n := runtime.NumCPU(); th > n || tb > n {
		return nil, fmt.Errorf("new context for %s: %d generation and %d batch threads, but this machine has %d CPUs; use 1 to %d (slt.threads)", m.Path, th, tb, n, n)
	}
	p.n_ctx = C.uint32_t(nctx)
	p.n_batch = C.uint32_t(nb)
	p.n_ubatch = C.uint32_t(nb)
	p.n_seq_max = C.uint32_t(max(cp.Sequences, 1))
	if cp.Sequences > 1 {
		p.kv_unified = true
	}
	p.n_threads = C.int32_t(th)
	p.n_threads_batch = C.int32_t(tb)
	p.embeddings = C.bool(cp.Embeddings)
	p.pooling_type = C.LLAMA_POOLING_TYPE_NONE
	p.no_perf = true
	switch cp.KV {
	case KVQ8_0:
		p.type_k, p.type_v = C.GGML_TYPE_Q8_0, C.GGML_TYPE_Q8_0
	case KVQ4_0:
		p.type_k, p.type_v = C.GGML_TYPE_Q4_0, C.GGML_TYPE_Q4_0
	case KVF32:
		p.type_k, p.type_v = C.GGML_TYPE_F32, C.GGML_TYPE_F32
		p.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED // its CPU kernel rounds Q to F16
	}
	switch cp.FlashAttention {
	case 1:
		p.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_ENABLED
	case -1:
		p.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
	}
	if cp.KV == KVQ8_0 || cp.KV == KVQ4_0 {
		p.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_ENABLED // quantised V needs flash attention
	}
	takeLastError()
	cp2 := C.llama_init_from_model(m.p, p)
	if cp2 == nil {
		return nil, withLog(fmt.Errorf("llama.cpp could not create a context of %d tokens for %s", nctx, m.Path))
	}
	return &Context{model: m, p: cp2, batch: C.llama_batch_init(C.int32_t(nb), 0, 1), nBatch: nb, nCtx: int(C.llama_n_ctx(cp2)), adapters: map[*Adapter]float32{}, emb: cp.Embeddings}, nil
}

// Close frees the context. Safe to call more than once.
func (c *Context) Close() {
	if c == nil || c.p == nil {
		return
	}
	C.llama_batch_free(c.batch)
	C.llama_free(c.p)
	c.p = nil
}

// Model returns the model of c.
func (c *Context) Model() *Model { return c.model }

// Size is the number of tokens the KV cache holds.
func (c *Context) Size() int { return c.nCtx }

// BatchSize is the largest number of tokens one Decode call takes.
func (c *Context) BatchSize() int { return c.nBatch }

// SetThreads changes the thread counts for generation and for prompt batches.
// Both are held to 1..the CPUs this process may use.
func (c *Context) SetThreads(gen, batch int) {
	n := runtime.NumCPU()
	C.llama_set_n_threads(c.p, C.int32_t(min(max(gen, 1), n)), C.int32_t(min(max(batch, 1), n)))
}

// SetAdapter applies a with the given scale (1 = as trained); it replaces a's earlier scale.
func (c *Context) SetAdapter(a *Adapter, scale float32) error {
	if a == nil || a.p == nil {
		return errors.New("set adapter: adapter is closed")
	}
	if C.llama_set_adapter_lora(c.p, a.p, C.float(scale)) != 0 {
		return withLog(fmt.Errorf("llama.cpp could not apply LoRA adapter %s", a.Path))
	}
	c.adapters[a] = scale
	c.stale = true
	return nil
}

// RemoveAdapter removes a from c.
func (c *Context) RemoveAdapter(a *Adapter) {
	if a == nil || a.p == nil {
		return
	}
	C.llama_rm_adapter_lora(c.p, a.p)
	delete(c.adapters, a)
	c.stale = true
}

// ClearAdapters removes every adapter from c.
func (c *Context) ClearAdapters() {
	C.llama_clear_adapter_lora(c.p)
	clear(c.adapters)
	c.stale = true
}

// Adapters returns the adapters set on c with their scales.
func (c *Context) Adapters() map[*Adapter]float32 {
	out := make(map[*Adapter]float32, len(c.adapters))
	for a, s := range c.adapters {
		out[a] = s
	}
	return out
}

// ClearMemory empties the KV cache.
func (c *Context) ClearMemory() {
	C.llama_memory_clear(C.llama_get_memory(c.p), true)
}

// TruncateMemory drops the cached positions from pos on.
func (c *Context) TruncateMemory(pos int) {
	C.llama_memory_seq_rm(C.llama_get_memory(c.p), 0, C.llama_pos(pos), -1)
}

// SetEmbeddings switches the output of per-token embeddings on or off.
func (c *Context) SetEmbeddings(on bool) {
	C.llama_set_embeddings(c.p, C.bool(on))
	c.emb = on
}

// ErrContextFull is returned when a batch does not fit in the KV cache.
var ErrContextFull = errors.New("context is full")

// Decode runs toks at positions pos, pos+1, ... of sequence 0, in slices of BatchSize. When
// allOutputs is set, every token's logits (and embeddings) are kept, indexed from 0 within the
// last slice; otherwise only the last token's. It stops between slices when ctx is done.
func (c *Context) Decode(ctx context.Context, toks []Token, pos int, allOutputs bool) error {
	if c.p == nil {
		return errors.New("decode: context is closed")
	}
	if pos+len(toks) > c.nCtx {
		return fmt.Errorf("%w: %d tokens at position %d exceed the %d-token context", ErrContextFull, len(toks), pos, c.nCtx)
	}
	if allOutputs && len(toks) > c.nBatch {
		return fmt.Errorf("decode: %d tokens with all outputs exceed the batch size %d", len(toks), c.nBatch)
	}
	vocab := c.model.VocabSize()
	for start := 0; start < len(toks); start += c.nBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+c.nBatch, len(toks))
		for i := start; i < end; i++ {
			if toks[i] < 0 || int(toks[i]) >= vocab {
				return fmt.Errorf("decode: token %d out of range (vocabulary has %d)", toks[i], vocab)
			}
			out := allOutputs || i == len(toks)-1
			C.scope_batch_set(&c.batch, C.int(i-start), C.llama_token(toks[i]), C.llama_pos(pos+i), boolInt(out))
		}
		c.batch.n_tokens = C.int32_t(end - start)
		key := graphKey{tokens: end - start, outputs: 1, emb: c.emb}
		if allOutputs {
			key.outputs = end - start
		}
		flipped := false
		if c.stale && key == c.last {
			if !c.emb {
				// Ask for embeddings too: a different graph, the same logits.
				C.llama_set_embeddings(c.p, true)
				key.emb, flipped = true, true
			} else if err := c.rebuild(toks[start], pos+start); err != nil {
				return err
			}
		}
		rc := C.llama_decode(c.p, c.batch)
		if flipped {
			C.llama_set_embeddings(c.p, false)
		}
		c.last, c.stale = key, false
		switch {
		case rc == 1:
			c.last = graphKey{}
			return fmt.Errorf("%w: no KV slot for %d tokens", ErrContextFull, end-start)
		case rc != 0:
			c.last = graphKey{}
			return withLog(fmt.Errorf("llama_decode failed with code %d", int(rc)))
		}
	}
	return nil
}

// rebuild decodes tok alone at pos without embeddings (a graph unlike the one that follows)
// and removes it from the cache again, so that llama.cpp builds the next graph afresh.
func (c *Context) rebuild(tok Token, pos int) error {
	one := C.llama_batch_init(1, 0, 1)
	defer C.llama_batch_free(one)
	C.scope_batch_set(&one, 0, C.llama_token(tok), C.llama_pos(pos), 1)
	one.n_tokens = 1
	C.llama_set_embeddings(c.p, false)
	rc := C.llama_decode(c.p, one)
	C.llama_set_embeddings(c.p, C.bool(c.emb))
	C.llama_memory_seq_rm(C.llama_get_memory(c.p), 0, C.llama_pos(pos), -1)
	if rc != 0 {
		return withLog(fmt.Errorf("llama_decode failed with code %d", int(rc)))
	}
	return nil
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Logits returns a copy of the logits of output i of the last Decode (-1: the last one).
func (c *Context) Logits(i int) []float32 {
	p := C.llama_get_logits_ith(c.p, C.int32_t(i))
	if p == nil {
		takeLastError()
		return nil
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), c.model.VocabSize())...)
}

// Embedding returns a copy of the final hidden state of output i of the last Decode (-1: the
// last one). The context must have embeddings switched on.
func (c *Context) Embedding(i int) []float32 {
	p := C.llama_get_embeddings_ith(c.p, C.int32_t(i))
	if p == nil {
		takeLastError()
		return nil
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), c.model.EmbeddingSize())...)
}

// SamplerParams chooses the sampler; a Temperature of 0 means greedy decoding.
type SamplerParams struct {
	Temperature float32
	TopK        int
	TopP        float32
	Seed        uint32
}

// Sampler picks the next token from a Context's logits.
type Sampler struct{ p *C.struct_llama_sampler }

// NewSampler builds a sampler chain.
func NewSampler(sp SamplerParams) *Sampler {
	backendInit()
	cp := C.llama_sampler_chain_default_params()
	cp.no_perf = true
	ch := C.llama_sampler_chain_init(cp)
	if sp.Temperature <= 0 {
		C.llama_sampler_chain_add(ch, C.llama_sampler_init_greedy())
		return &Sampler{ch}
	}
	if sp.TopK > 0 {
		C.llama_sampler_chain_add(ch, C.llama_sampler_init_top_k(C.int32_t(sp.TopK)))
	}
	if sp.TopP > 0 && sp.TopP < 1 {
		C.llama_sampler_chain_add(ch, C.llama_sampler_init_top_p(C.float(sp.TopP), 1))
	}
	C.llama_sampler_chain_add(ch, C.llama_sampler_init_temp(C.float(sp.Temperature)))
	C.llama_sampler_chain_add(ch, C.llama_sampler_init_dist(C.uint32_t(sp.Seed)))
	return &Sampler{ch}
}

// Sample picks a token from output i of c's last Decode (-1: the last) and accepts it.
func (s *Sampler) Sample(c *Context, i int) Token {
	return Token(C.llama_sampler_sample(s.p, c.p, C.int32_t(i)))
}

// Reset forgets the tokens the sampler has seen.
func (s *Sampler) Reset() { C.llama_sampler_reset(s.p) }

// Close frees the sampler. Safe to call more than once.
func (s *Sampler) Close() {
	if s == nil || s.p == nil {
		return
	}
	C.llama_sampler_free(s.p)
	s.p = nil
}
