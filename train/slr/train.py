"""Train a recogniser on a dataset directory.

  /usr/bin/python3 -m train.slr.train --data DIR --out OUT [--no-context] [--minutes 20]

Writes OUT/checkpoint.pt (best dev WER) and OUT/train.log. Export with train.slr.export.
The context model reads the previous turns' text (as ids of its own tokenizer) and is trained
with CTC plus SCOPE's embedding alignment; --no-context trains the separate baseline (CTC only,
no context input).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from dataclasses import dataclass, asdict, field
from typing import List

import numpy as np
import torch
import torch.nn.functional as F

from . import data, features, model as M
from .tokenizer import Tokenizer


@dataclass
class TrainConfig:
    data: str = ""
    out: str = ""
    context: bool = True
    minutes: float = 20.0
    max_steps: int = 0          # 0: until minutes run out
    batch: int = 16
    lr: float = 1e-3
    warmup: int = 200
    align_weight: float = 0.3
    seed: int = 1
    threads: int = 2
    d_model: int = 128
    layers: int = 3
    heads: int = 4
    ff: int = 256
    context_layers: int = 1
    dropout: float = 0.1
    context_len: int = 64
    eval_every: int = 300
    limit: int = 0              # read only the first N training turns (0: all)
    dev_limit: int = 300        # dev turns scored during training (0: all)
    augment: bool = True
    resume: bool = False        # continue from OUT/resume.pt (written at every dev evaluation)
    mirror: float = 0.5         # share of training views mirrored (left- and right-handed signing)
    feature_version: int = features.VERSION   # 1: body only; 2: also each hand's shape
    cache: str = ""             # folder for the read turns (see data.load)
    context_embeddings: str = ""  # .jsonl of sentence embeddings (tools/embedtexts): the context is
                                  # the previous turns' embeddings instead of their words
    context_turns: int = 8      # with context_embeddings: the last N turns


def set_seed(s):
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = d[j]
            d[j] = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev = cur
    return d[-1]


def greedy(logp: torch.Tensor, n: int) -> List[int]:
    ids = logp[:n].argmax(-1).tolist()
    out, last = [], 0
    for i in ids:
        if i != last and i != 0:
            out.append(i)
        last = i
    return out


class Batcher:
    def __init__(self, samples, vocab, tok, norm, cfg: TrainConfig, rng, emb=None):
        self.s, self.vocab, self.tok, self.norm, self.cfg, self.rng = samples, vocab, tok, norm, cfg, rng
        self.emb = emb   # text -> sentence embedding (np.ndarray), for the embedding context

    def embed(self, texts):
        try:
            return [self.emb[t] for t in texts]
        except KeyError as e:
            raise ValueError(f"no sentence embedding for the text {e.args[0]!r}: embed this corpus "
                             f"with tools/embedtexts") from None

    def features(self, s: data.Sample, train: bool):
        v = self.cfg.feature_version
        if train and self.cfg.augment:
            pts, valid, sh, shv = data.augment(s, data.Augment(mirror=self.cfg.mirror), self.rng)
            x = features.compute_selected(pts, valid, sh, shv, s.fps, v)
        else:
            x = s.raw_features(v)
        return features.standardise(x, self.norm.mean, self.norm.std)

    def make(self, batch: List[data.Sample], train: bool):
        xs = [self.features(s, train) for s in batch]
        lens = torch.tensor([len(x) for x in xs])
        X = torch.zeros(len(xs), int(lens.max()), xs[0].shape[1])
        for i, x in enumerate(xs):
            X[i, :len(x)] = torch.from_numpy(x)
        tg = [self.vocab.encode(s.glosses) for s in batch]
        ctx = text = None
        if self.emb is not None:
            dim = len(next(iter(self.emb.values())))
            cs = [self.embed(s.context[-self.cfg.context_turns:]) for s in batch]
            ctx = torch.zeros(len(cs), max(1, max(map(len, cs))), dim)
            for i, c in enumerate(cs):
                if c:
                    ctx[i, :len(c)] = torch.from_numpy(np.stack(c))
            text = torch.from_numpy(np.stack([self.embed([s.text])[0] for s in batch]))[:, None, :]
        elif self.tok is not None:
            cs = [self.tok.encode_context(s.context) for s in batch]
            ctx = torch.zeros(len(cs), max(map(len, cs)), dtype=torch.long)
            for i, c in enumerate(cs):
                ctx[i, :len(c)] = torch.tensor(c)
            ts = [[2] + self.tok.encode_text(s.text)[: self.cfg.context_len - 1] for s in batch]
            text = torch.zeros(len(ts), max(map(len, ts)), dtype=torch.long)
            for i, c in enumerate(ts):
                text[i, :len(c)] = torch.tensor(c)
        return X, lens, tg, ctx, text

    def epoch(self):
        idx = list(range(len(self.s)))
        self.rng.shuffle(idx)
        # bucket by length so batches waste little padding
        chunks = [idx[i:i + self.cfg.batch * 20] for i in range(0, len(idx), self.cfg.batch * 20)]
        out = []
        for c in chunks:
            c.sort(key=lambda i: len(self.s[i].pts))
            out += [c[i:i + self.cfg.batch] for i in range(0, len(c), self.cfg.batch)]
        self.rng.shuffle(out)
        return [[self.s[i] for i in b] for b in out]


def evaluate(net, batcher: Batcher, samples, bs=32):
    net.eval()
    errs = n = 0
    with torch.no_grad():
        for i in range(0, len(samples), bs):
            b = samples[i:i + bs]
            X, lens, tg, ctx, _ = batcher.make(b, False)
            logp, _ = net(X, ctx, lens)
            ol = M.out_lengths(lens)
            for j in range(len(b)):
                errs += edit_distance(greedy(logp[j], int(ol[j])), tg[j])
                n += len(tg[j])
    net.train()
    return errs / max(1, n)


def train(cfg: TrainConfig, train_s, dev_s, log=print, tok=None):
    set_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    vocab = data.GlossVocab([g for s in train_s for g in s.glosses])
    if cfg.context and tok is None:
        tok = Tokenizer.build([t for s in train_s for t in s.context + [s.text]], max_len=cfg.context_len)
    if not cfg.context:
        tok = None
    emb = None
    if cfg.context and cfg.context_embeddings:
        emb = read_embeddings(cfg.context_embeddings)
        tok = None
    norm = data.Norm.fit(train_s, cfg.feature_version)
    mc = M.ModelConfig(feature_dim=features.feature_dim(cfg.feature_version), vocab_size=len(vocab.items),
                       context_vocab=tok.size() if tok else 0, d_model=cfg.d_model, layers=cfg.layers,
                       heads=cfg.heads, ff=cfg.ff, context_layers=cfg.context_layers, dropout=cfg.dropout,
                       max_context=cfg.context_len if emb is None else cfg.context_turns,
                       context_embed_dim=len(next(iter(emb.values()))) if emb else 0)
    net = M.Recognizer(mc)
    log(f"model: {sum(p.numel() for p in net.parameters())} parameters, {len(vocab.items)} glosses, "
        f"context vocab {tok.size() if tok else 0}, {len(train_s)} train / {len(dev_s)} dev sentences")
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.01)
    b = Batcher(train_s, vocab, tok, norm, cfg, rng, emb)
    start = time.time()
    budget = cfg.minutes * 60
    step, best, losses = 0, float("inf"), []
    best_state = None
    done = False
    resume = os.path.join(cfg.out, "resume.pt") if cfg.out else ""
    if cfg.resume and resume and os.path.exists(resume):
        st = torch.load(resume, map_location="cpu")
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        step, best, losses, best_state = st["step"], st["best"], st["losses"], st["best_state"]
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
        start -= st["elapsed"]
        log(f"resumed from {resume} at step {step} (best dev WER so far {100 * best:.2f}%); "
            "a resumed run draws its batches in another order than an uninterrupted one")
    while not done:
        for batch in b.epoch():
            frac = step / cfg.max_steps if cfg.max_steps else (time.time() - start) / budget
            if frac >= 1:
                done = True
                break
            lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * frac))
            for g in opt.param_groups:
                g["lr"] = lr
            X, lens, tg, ctx, text = b.make(batch, True)
            logp, pooled = net(X, ctx, lens)
            ol = M.out_lengths(lens)
            flat = torch.tensor([i for t in tg for i in t], dtype=torch.long)
            tl = torch.tensor([len(t) for t in tg])
            ctc = F.ctc_loss(logp.transpose(0, 1), flat, ol, tl, blank=0, zero_infinity=True)
            loss = ctc
            al = torch.zeros(())
            if (tok is not None or emb is not None) and cfg.align_weight > 0 and len(batch) > 1:
                al = M.alignment_loss(net, pooled, text)
                loss = loss + cfg.align_weight * al
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            losses.append(float(ctc))
            step += 1
            if step % 50 == 0:
                log(f"step {step} ctc {np.mean(losses[-50:]):.3f} align {float(al):.3f} lr {lr:.2e} "
                    f"{time.time() - start:.0f}s")
            if dev_s and step % cfg.eval_every == 0:
                w = evaluate(net, b, dev_s)
                log(f"step {step} dev WER {100 * w:.2f}% (synthetic)")
                if w < best:
                    best, best_state = w, {k: v.clone() for k, v in net.state_dict().items()}
                if resume:
                    torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step, "best": best,
                                "losses": losses, "best_state": best_state, "rng": rng.bit_generator.state,
                                "torch_rng": torch.get_rng_state(), "elapsed": time.time() - start}, resume + ".tmp")
                    os.replace(resume + ".tmp", resume)
    if dev_s:
        w = evaluate(net, b, dev_s)
        log(f"final dev WER {100 * w:.2f}% (synthetic), best {100 * min(w, best):.2f}%")
        if w <= best:
            best, best_state = w, None
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return {"model": net, "config": mc, "vocab": vocab, "tokenizer": tok, "norm": norm,
            "losses": losses, "steps": step, "train_config": cfg, "dev_wer": best}


def read_embeddings(path):
    """text -> embedding from a tools/embedtexts .jsonl file."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out[r["text"]] = np.asarray(r["embedding"], np.float32)
    if not out:
        raise ValueError(f"{path}: no embeddings")
    return out


def save(res, path):
    tok = res["tokenizer"]
    torch.save({"state": res["model"].state_dict(), "config": res["config"].to_dict(),
                "glosses": res["vocab"].items, "tokenizer": tok.to_manifest() if tok else None,
                "mean": res["norm"].mean.tolist(), "std": res["norm"].std.tolist(),
                "train_config": asdict(res["train_config"]), "dev_wer": res["dev_wer"],
                "steps": res["steps"]}, path)


def load_checkpoint(path):
    ck = torch.load(path, map_location="cpu")
    net = M.Recognizer(M.ModelConfig(**ck["config"]))
    net.load_state_dict(ck["state"])
    net.eval()
    tok = None
    if ck["tokenizer"]:
        tok = Tokenizer(ck["tokenizer"]["vocab"], ck["tokenizer"]["max_len"])
    return net, ck, tok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig()
    p.add_argument("--data", required=True, help="dataset directory (manifest.jsonl + .pose files)")
    p.add_argument("--out", required=True, help="output folder for checkpoint.pt and train.log")
    p.add_argument("--no-context", action="store_true", help="train the baseline without the context input")
    for k in ("minutes", "max_steps", "batch", "lr", "align_weight", "seed", "threads", "d_model", "layers",
              "heads", "ff", "context_layers", "dropout", "eval_every", "limit", "dev_limit", "context_len",
              "warmup", "mirror", "feature_version", "cache", "context_embeddings", "context_turns"):
        p.add_argument("--" + k.replace("_", "-"), type=type(getattr(d, k)), default=getattr(d, k))
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from OUT/resume.pt (saved at every --eval-every)")
    a = p.parse_args(argv)
    cfg = TrainConfig(**{k: getattr(a, k) for k in asdict(d) if hasattr(a, k)})
    cfg.context, cfg.augment, cfg.resume = not a.no_context, not a.no_augment, a.resume
    os.makedirs(cfg.out, exist_ok=True)
    logf = open(os.path.join(cfg.out, "train.log"), "a")

    def log(msg):
        line = time.strftime("%H:%M:%S ") + msg
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    log(f"config {asdict(cfg)}")
    tr = data.load(cfg.data, ["train"], cfg.limit, log, cfg.cache)
    dv = data.load(cfg.data, ["dev"], cfg.dev_limit, log, cfg.cache)
    res = train(cfg, tr, dv, log)
    save(res, os.path.join(cfg.out, "checkpoint.pt"))
    log(f"saved {os.path.join(cfg.out, 'checkpoint.pt')}")


if __name__ == "__main__":
    main()
