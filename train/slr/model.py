"""The recogniser: keypoint encoder (temporal convolution + transformer) with a CTC head
over the gloss vocabulary, and, in the context model, a context encoder over the previous
turns' tokens that every encoder layer attends to (cross-attention).

Training adds SCOPE's embedding alignment: the pooled motion embedding is pulled toward the
embedding of the current sentence's text (a contrastive loss over the batch). The text side
of that loss is the context encoder itself, pooled, so nothing beyond the ONNX graph is
needed at run time.

Attention is written with plain MatMul/Softmax so that the ONNX export is simple and the
int8 quantiser sees every weight matrix.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG = -1e4


@dataclass
class ModelConfig:
    feature_dim: int
    vocab_size: int          # glosses + blank (id 0)
    context_vocab: int = 0   # 0: no context input (the baseline)
    d_model: int = 128
    layers: int = 3
    heads: int = 4
    ff: int = 256
    context_layers: int = 1
    dropout: float = 0.1
    max_frames: int = 2048
    max_context: int = 128
    # >0: the context is a sequence of sentence embeddings of this size, one per previous turn
    # (the translator LM's, as the SCOPE paper feeds its recogniser), instead of token ids
    context_embed_dim: int = 0

    def to_dict(self):
        return asdict(self)


class Attention(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.h, self.dk = heads, d // heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mem, bias=None):
        b, t, d = x.shape
        s = mem.shape[1]
        q = self.q(x).view(b, t, self.h, self.dk).transpose(1, 2)
        k = self.k(mem).view(b, s, self.h, self.dk).transpose(1, 2)
        v = self.v(mem).view(b, s, self.h, self.dk).transpose(1, 2)
        a = torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(self.dk))
        if bias is not None:
            a = a + bias
        a = self.drop(torch.softmax(a, -1))
        y = torch.matmul(a, v).transpose(1, 2).reshape(b, t, d)
        return self.o(y)


class Block(nn.Module):
    def __init__(self, d, heads, ff, dropout, cross):
        super().__init__()
        self.n1, self.att = nn.LayerNorm(d), Attention(d, heads, dropout)
        self.cross = cross
        if cross:
            self.nc, self.catt = nn.LayerNorm(d), Attention(d, heads, dropout)
        self.n2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, bias=None, mem=None, mem_bias=None):
        h = self.n1(x)
        x = x + self.drop(self.att(h, h, bias))
        if self.cross:
            x = x + self.drop(self.catt(self.nc(x), mem, mem_bias))
        return x + self.drop(self.ff(self.n2(x)))


class TemporalConv(nn.Module):
    """Convolution over time, kernel 5, stride 2, padding 2, on [B, T, C] -> [B, ceil(T/2), C].

    Written as shifted slices + one Linear rather than nn.Conv1d: Debian's torch with OpenBLAS
    gave sporadic NaN gradients in Conv1d's backward pass, and as a MatMul the weights are
    also covered by the int8 quantiser."""

    def __init__(self, cin, cout, k=5):
        super().__init__()
        self.k = k
        self.lin = nn.Linear(cin * k, cout)

    def forward(self, x):
        p = self.k // 2
        xp = F.pad(x, (0, 0, p, p))
        n = xp[:, self.k - 1::2].shape[1]
        return self.lin(torch.cat([xp[:, i::2][:, :n] for i in range(self.k)], -1))


def out_lengths(lens: torch.Tensor) -> torch.Tensor:
    """Frames after the two stride-2 convolutions: ceil(ceil(T/2)/2)."""
    return ((lens + 1) // 2 + 1) // 2


class Recognizer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.inp = nn.Linear(cfg.feature_dim, d)
        self.conv1 = TemporalConv(d, d)
        self.conv2 = TemporalConv(d, d)
        self.pos = nn.Parameter(torch.randn(cfg.max_frames // 4 + 1, d) * 0.02)
        self.with_context = cfg.context_vocab > 0 or cfg.context_embed_dim > 0
        self.embed_context = cfg.context_embed_dim > 0
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.ff, cfg.dropout, self.with_context)
                                    for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.vocab_size)
        self.motion_proj = nn.Linear(d, d)
        if self.embed_context:
            self.cin = nn.Linear(cfg.context_embed_dim, d)
        if self.with_context:
            if not self.embed_context:
                self.tok = nn.Embedding(cfg.context_vocab, d, padding_idx=0)
            self.cpos = nn.Parameter(torch.randn(cfg.max_context, d) * 0.02)
            self.cblocks = nn.ModuleList(Block(d, cfg.heads, cfg.ff, cfg.dropout, False)
                                         for _ in range(cfg.context_layers))
            self.cnorm = nn.LayerNorm(d)
            self.text_proj = nn.Linear(d, d)
        self.drop = nn.Dropout(cfg.dropout)

    def encode_context(self, ids):
        """Context memory [B, L, d] and its attention bias [B, 1, 1, L] from token ids (0 = pad),
        or, with context_embed_dim, from sentence embeddings [B, L, E] (all-zero rows = pad)."""
        L = ids.shape[1]
        if self.embed_context:
            pad = (ids.abs().sum(-1) == 0).to(torch.float32)
            x = self.drop(self.cin(ids) + self.cpos[:L])
        else:
            pad = (ids == 0).to(torch.float32)
            x = self.drop(self.tok(ids) + self.cpos[:L])
        bias = (pad * NEG)[:, None, None, :]
        for b in self.cblocks:
            x = b(x, bias)
        return self.cnorm(x), bias, 1.0 - pad

    def forward(self, feats, context=None, lengths=None):
        """Log-probabilities [B, T', V] and the pooled motion embedding [B, d]."""
        x = self.drop(self.inp(feats))
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x))
        t = x.shape[1]
        x = x + self.pos[:t]
        bias = None
        keep = None
        if lengths is not None:
            ol = out_lengths(lengths)
            keep = (torch.arange(t, device=x.device)[None, :] < ol[:, None]).to(torch.float32)
            bias = ((1.0 - keep) * NEG)[:, None, None, :]
        mem = mem_bias = None
        if self.with_context:
            mem, mem_bias, _ = self.encode_context(context)
        for b in self.blocks:
            x = b(x, bias, mem, mem_bias)
        x = self.norm(x)
        logp = torch.log_softmax(self.head(x), -1)
        if keep is None:
            pooled = x.mean(1)
        else:
            pooled = (x * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)
        return logp, pooled

    def text_embedding(self, ids):
        """Pooled embedding of a sentence's tokens (training only, for the alignment loss)."""
        mem, _, keep = self.encode_context(ids)
        return (mem * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)


def alignment_loss(model: Recognizer, pooled, text_ids, temperature=0.1):
    """Symmetric InfoNCE between motion and sentence embeddings of the same batch."""
    m = F.normalize(model.motion_proj(pooled), dim=-1)
    s = F.normalize(model.text_proj(model.text_embedding(text_ids)), dim=-1)
    logits = m @ s.t() / temperature
    target = torch.arange(m.shape[0])
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


class Exportable(nn.Module):
    """The inference graph: features [1, T, D] (+ context ids [1, L]) -> log_probs [1, T', V]
    and embedding [1, d], the encoder's output averaged over time (what the confidence gate
    measures the distance to the training data with)."""

    def __init__(self, m: Recognizer):
        super().__init__()
        self.m = m

    def forward(self, feats, context=None):
        return self.m(feats, context)
