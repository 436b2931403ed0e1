"""The recogniser's real top-k hypotheses for a dataset's turns, for training the translator
on what it will meet (as SCOPE does), not only on random corruption of the reference.

  /usr/bin/python3 -m train.slr.hypotheses --checkpoint CK --data DIR --out hyps.jsonl \\
      [--split train] [--passes 3] [--beam 8] [--top 3]

Pass 0 recognises each turn as recorded; further passes recognise a training-style
augmented view of it (rotation, scale, speed, dropped hands, mirror), so that the turns of
the training signers, which the recogniser has learnt, also show the errors it makes on
signers it has not seen. Each output line is one turn and pass:

  {"id": "d000003-t01", "pass": 0, "hypotheses": [{"glosses": ["IX-1", "NEED", ...], "score": -0.42}, ...]}

with scores the CTC log-probabilities of the prefix beam search (models/slr/ctc.go does the
same search), best first.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from typing import Dict, List, Tuple

import numpy as np
import torch

from . import data, features
from .train import load_checkpoint

NEG_INF = float("-inf")


def _logadd(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a < b:
        a, b = b, a
    return a + math.log1p(math.exp(b - a))


def beam_search(logp: np.ndarray, beam: int = 8, top: int = 3, blank: int = 0) -> List[Tuple[List[int], float]]:
    """CTC prefix beam search over log-probabilities [steps, vocab]: up to `top` label
    sequences with their log-probabilities, best first. Each step extends prefixes with the
    `beam` most likely labels within 12 nats of the step's best (as models/slr does)."""
    beams: Dict[Tuple[int, ...], Tuple[float, float]] = {(): (0.0, NEG_INF)}   # prefix -> (p_blank, p_label)
    for row in logp:
        best = float(row.max())
        order = np.argsort(-row)
        cand = [int(c) for c in order if c != blank and row[c] >= best - 12][:beam]
        bl = float(row[blank])
        nxt: Dict[Tuple[int, ...], List[float]] = {}

        def add(k, pb, pnb):
            v = nxt.setdefault(k, [NEG_INF, NEG_INF])
            v[0], v[1] = _logadd(v[0], pb), _logadd(v[1], pnb)

        for prefix, (pb, pnb) in beams.items():
            total = _logadd(pb, pnb)
            add(prefix, total + bl, NEG_INF)
            if prefix:
                add(prefix, NEG_INF, pnb + float(row[prefix[-1]]))
            for c in cand:
                lp = float(row[c])
                ext = prefix + (c,)
                if prefix and c == prefix[-1]:
                    add(ext, NEG_INF, pb + lp)
                else:
                    add(ext, NEG_INF, total + lp)
        ranked = sorted(nxt.items(), key=lambda kv: (-_logadd(*kv[1]), kv[0]))[:beam]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    ranked = sorted(beams.items(), key=lambda kv: (-_logadd(*kv[1]), kv[0]))[:top]
    return [(list(k), _logadd(*v)) for k, v in ranked]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="recogniser checkpoint.pt (train.slr.train)")
    p.add_argument("--data", required=True, help="dataset directory")
    p.add_argument("--out", required=True, help="output .jsonl")
    p.add_argument("--split", default="train", help="comma list of splits")
    p.add_argument("--passes", type=int, default=3, help="1 plain + N-1 augmented views per turn")
    p.add_argument("--beam", type=int, default=8)
    p.add_argument("--top", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cache", default="", help="folder of cached turns (see train.slr.data.load)")
    p.add_argument("--limit", type=int, default=0)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    net, ck, tok = load_checkpoint(a.checkpoint)
    version = ck["train_config"].get("feature_version", 1)
    glosses = ck["glosses"]
    mean, std = np.array(ck["mean"]), np.array(ck["std"])
    samples = data.load(a.data, a.split.split(","), a.limit, print, a.cache)
    rng = np.random.default_rng(a.seed)
    aug = data.Augment(mirror=0.5)
    t0 = time.time()
    n = 0
    with open(a.out, "w", encoding="utf-8") as f, torch.no_grad():
        for i, s in enumerate(samples):
            for k in range(a.passes):
                if k == 0:
                    x = s.raw_features(version)
                else:
                    pts, valid, sh, shv = data.augment(s, aug, rng)
                    x = features.compute_selected(pts, valid, sh, shv, s.fps, version)
                x = torch.from_numpy(features.standardise(x, mean, std))[None]
                ctx = torch.tensor([tok.encode_context(s.context)]) if tok is not None else None
                logp = net(x, ctx)[0][0].numpy()
                hyps = beam_search(logp, a.beam, a.top)
                f.write(json.dumps({"id": s.id, "pass": k, "hypotheses": [
                    {"glosses": [glosses[j] for j in ids], "score": round(sc, 4)} for ids, sc in hyps]}) + "\n")
                n += 1
            if (i + 1) % 500 == 0:
                print(f"{i + 1}/{len(samples)} turns, {time.time() - t0:.0f}s", flush=True)
    print(f"wrote {n} recognitions of {len(samples)} turns to {a.out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
