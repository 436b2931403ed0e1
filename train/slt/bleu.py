"""Corpus BLEU-1..4 on whitespace tokens (Papineni et al.; brevity penalty over the corpus).

For monitoring training only; the project's reported scores come from `scope eval slt`.
Phoenix's .de files are already tokenised, so no further tokenisation is applied.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import List, Sequence


def corpus_bleu(hyps: Sequence[str], refs: Sequence[str], max_n: int = 4) -> List[float]:
    """[BLEU-1, ..., BLEU-max_n] in percent."""
    if len(hyps) != len(refs):
        raise ValueError(f"bleu: {len(hyps)} hypotheses for {len(refs)} references")
    match = [0] * max_n
    total = [0] * max_n
    hl = rl = 0
    for h, r in zip(hyps, refs):
        ht, rt = h.split(), r.split()
        hl += len(ht)
        rl += len(rt)
        for n in range(1, max_n + 1):
            hc = Counter(tuple(ht[i:i + n]) for i in range(len(ht) - n + 1))
            rc = Counter(tuple(rt[i:i + n]) for i in range(len(rt) - n + 1))
            match[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[n - 1] += max(len(ht) - n + 1, 0)
    if hl == 0:
        return [0.0] * max_n
    bp = 1.0 if hl > rl else math.exp(1 - rl / hl)
    out = []
    for n in range(1, max_n + 1):
        ps = [match[k] / total[k] if total[k] else 0.0 for k in range(n)]
        out.append(100 * bp * math.exp(sum(math.log(p) for p in ps) / n) if min(ps) > 0 else 0.0)
    return out
