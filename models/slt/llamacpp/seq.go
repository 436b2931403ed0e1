package llamacpp

/*
#include "llama.h"

static void scope_batch_set_seq(struct llama_batch *b, int i, llama_token tok, llama_pos pos, llama_seq_id seq) {
	b->token[i] = tok;
	b->pos[i] = pos;
	b->n_seq_id[i] = 1;
	b->seq_id[i][0] = seq;
	b->logits[i] = 1;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
)

// Several sequences in one Context (ContextParams.Sequences > 1) let a caller keep several
// continuations of one prompt at once, as beam search does: the prompt is decoded once into
// sequence 0, CopySeq shares its cached positions with other sequences (in the unified cache
// this tags cells, it copies no tensors), and DecodeSeqs extends each sequence by one token
// in a single batch.

// Sequences returns how many sequences the context holds.
func (c *Context) Sequences() int {
	if c.p == nil {
		return 0
	}
	return int(C.llama_n_seq_max(c.p))
}

func (c *Context) checkSeq(seq int) error {
	if n := c.Sequences(); seq < 0 || seq >= n {
		return fmt.Errorf("sequence %d out of range (the context holds %d; set ContextParams.Sequences)", seq, n)
	}
	return nil
}

// CopySeq makes sequence dst hold the cached positions of src (dst's own are removed first).
func (c *Context) CopySeq(src, dst int) error {
	if c.p == nil {
		return errors.New("copy sequence: context is closed")
	}
	if err := c.checkSeq(src); err != nil {
		return err
	}
	if err := c.checkSeq(dst); err != nil {
		return err
	}
	if src == dst {
		return nil
	}
	mem := C.llama_get_memory(c.p)
	C.llama_memory_seq_rm(mem, C.llama_seq_id(dst), -1, -1)
	C.llama_memory_seq_cp(mem, C.llama_seq_id(src), C.llama_seq_id(dst), -1, -1)
	return nil
}

// DropSeq removes every cached position of sequence seq.
func (c *Context) DropSeq(seq int) error {
	if c.p == nil {
		return errors.New("drop sequence: context is closed")
	}
	if err := c.checkSeq(seq); err != nil {
		return err
	}
	C.llama_memory_seq_rm(C.llama_get_memory(c.p), C.llama_seq_id(seq), -1, -1)
	return nil
}

// DecodeSeqs runs one batch in which toks[i] sits at position pos[i] of sequence seqs[i];
// every token's logits are kept (Logits(i) reads them in the same order). Each sequence's
// position must follow the last one cached for it.
func (c *Context) DecodeSeqs(ctx context.Context, toks []Token, pos, seqs []int) error {
	if c.p == nil {
		return errors.New("decode: context is closed")
	}
	if len(pos) != len(toks) || len(seqs) != len(toks) {
		return fmt.Errorf("decode: %d tokens, %d positions and %d sequences", len(toks), len(pos), len(seqs))
	}
	if len(toks) == 0 || len(toks) > c.nBatch {
		return fmt.Errorf("decode: %d tokens in one batch (1 to %d)", len(toks), c.nBatch)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	vocab := c.model.VocabSize()
	for i, t := range toks {
		if t < 0 || int(t) >= vocab {
			return fmt.Errorf("decode: token %d out of range (vocabulary has %d)", t, vocab)
		}
		if err := c.checkSeq(seqs[i]); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if pos[i] < 0 || pos[i] >= c.nCtx {
			return fmt.Errorf("%w: position %d of a %d-token context", ErrContextFull, pos[i], c.nCtx)
		}
		C.scope_batch_set_seq(&c.batch, C.int(i), C.llama_token(t), C.llama_pos(pos[i]), C.llama_seq_id(seqs[i]))
	}
	c.batch.n_tokens = C.int32_t(len(toks))
	key := graphKey{tokens: len(toks), outputs: len(toks), emb: c.emb}
	flipped := false
	if c.stale && key == c.last {
		if c.emb {
			return errors.New("decode: adapters changed with embeddings on; decode a prompt with Decode first")
		}
		C.llama_set_embeddings(c.p, true) // a different graph, the same logits (see Decode)
		key.emb, flipped = true, true
	}
	rc := C.llama_decode(c.p, c.batch)
	if flipped {
		C.llama_set_embeddings(c.p, false)
	}
	c.last, c.stale = key, false
	switch {
	case rc == 1:
		c.last = graphKey{}
		return fmt.Errorf("%w: no KV slot for %d tokens", ErrContextFull, len(toks))
	case rc != 0:
		c.last = graphKey{}
		return withLog(fmt.Errorf("llama_decode failed with code %d", int(rc)))
	}
	return nil
}
