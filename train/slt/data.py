"""Training examples for the translator: Phoenix-2014T files or a `scope synth` manifest.

An Example holds what the runtime has when it translates one signer turn: the dialogue
context (previous turns' text, newest last), the recogniser's hypotheses, and the target.
Training adds variety the runtime will meet: 0..N context turns, and noisy extra (or noisy
only) hypotheses made by random gloss substitution/deletion/insertion, as a recogniser errs.
"""
from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .prompt import Hypothesis
from .tokenizer import clean


@dataclass
class Turn:
    key: str                 # sentence or turn id
    glosses: str             # space-separated; "" for hearing turns
    text: str
    context: List[str]       # previous turns' text, oldest first (up to the loader's limit)
    domain: str = ""
    split: str = ""
    # The recogniser's real outputs for this turn (train.slr.hypotheses): each a list of
    # (space-separated glosses, CTC log-probability), best first.
    recognised: List[List[Tuple[str, float]]] = field(default_factory=list)


def read_lines(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def parse_phoenix_id(sid: str) -> Tuple[str, int]:
    """'<date>_<show>-<n>' -> (broadcast, n)."""
    head, sep, n = sid.rpartition("-")
    if not sep or not n.isdigit():
        raise ValueError(f"sentence id {sid!r} is not of the form <date>_<show>-<n>")
    return head, int(n)


class PhoenixContext:
    """Looks up the reference text of the sentences before an id in its broadcast."""

    def __init__(self, pairs: Sequence[Tuple[str, str]]):
        by: Dict[str, List[Tuple[int, str]]] = {}
        for ids_path, de_path in pairs:
            ids, de = read_lines(ids_path), read_lines(de_path)
            if len(ids) != len(de):
                raise ValueError(f"{ids_path} has {len(ids)} lines but {de_path} has {len(de)}")
            for sid, text in zip(ids, de):
                b, n = parse_phoenix_id(sid)
                by.setdefault(b, []).append((n, text))
        self.by = {b: sorted(v) for b, v in by.items()}

    def before(self, sid: str, k: int) -> List[str]:
        b, n = parse_phoenix_id(sid)
        prev = [t for m, t in self.by.get(b, []) if m < n]
        return prev[-k:] if k > 0 else []


def load_phoenix(gloss_path: str, de_path: str, ids_path: str, ctx: PhoenixContext,
                 max_context: int, split: str = "") -> List[Turn]:
    g, d, i = read_lines(gloss_path), read_lines(de_path), read_lines(ids_path)
    if not (len(g) == len(d) == len(i)):
        raise ValueError(f"{gloss_path}, {de_path}, {ids_path} differ in length ({len(g)}, {len(d)}, {len(i)})")
    return [Turn(key=sid, glosses=clean(gl), text=clean(de), context=ctx.before(sid, max_context), split=split)
            for gl, de, sid in zip(g, d, i)]


def load_manifest(path: str, max_context: int, splits: Optional[Sequence[str]] = None,
                  domain: str = "") -> List[Turn]:
    """Signer turns of a `scope synth` manifest.jsonl (or a dataset directory holding one)."""
    if os.path.isdir(path):
        path = os.path.join(path, "manifest.jsonl")
    rows = []
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{ln}: {e}") from None
    dialogues: Dict[str, List[dict]] = {}
    for r in rows:
        for k in ("dialogue_id", "turn", "speaker", "text"):
            if k not in r:
                raise ValueError(f"{path}: a line (id {r.get('id')!r}) lacks {k!r}")
        dialogues.setdefault(r["dialogue_id"], []).append(r)
    out: List[Turn] = []
    for rs in dialogues.values():
        rs.sort(key=lambda r: r["turn"])
        for j, r in enumerate(rs):
            if r["speaker"] != "signer":
                continue
            if splits and r.get("split", "") not in splits:
                continue
            if domain and r.get("domain", "") != domain:
                continue
            gl = r.get("glosses") or []
            gl = " ".join(gl) if isinstance(gl, list) else str(gl)
            ctx = [clean(p["text"]) for p in rs[:j]][-max_context:] if max_context > 0 else []
            out.append(Turn(key=r.get("id", f"{r['dialogue_id']}-{r['turn']}"), glosses=clean(gl),
                            text=clean(r["text"]), context=ctx, domain=r.get("domain", ""),
                            split=r.get("split", "")))
    if not out:
        raise ValueError(f"{path}: no signer turns for splits={list(splits or [])} domain={domain!r}")
    return out


def corrupt(glosses: List[str], vocab: Sequence[str], rng: random.Random, rate: float) -> List[str]:
    """Random substitutions, deletions and insertions at about `rate` per gloss."""
    out: List[str] = []
    for g in glosses:
        r = rng.random()
        if r < rate / 2:
            out.append(rng.choice(vocab))      # substitution
        elif r < rate * 0.8:
            pass                               # deletion
        else:
            out.append(g)
        if rng.random() < rate * 0.2:
            out.append(rng.choice(vocab))      # insertion
    return out or list(glosses[:1])


@dataclass
class Augment:
    """How training varies the prompt (see module doc)."""
    max_context: int = 2
    p_no_context: float = 0.3     # examples with no context at all
    p_single: float = 0.5         # examples with one hypothesis (what eval from 1-best meets)
    p_noisy_top: float = 0.15     # the (single or first) hypothesis itself is corrupted
    noise_rate: float = 0.2
    p_real: float = 0.0           # a turn with recorded recogniser outputs uses one of them
    lexicon: str = ""             # lexicon.json: only views one hypothesis can say (see sample_prompt)


def recognised_hypotheses(rec: Sequence[Tuple[str, float]]) -> List[Hypothesis]:
    """The recogniser's top-k as the runtime passes them: scores as posteriors over the k
    (models/slt's TranslatorHypotheses does the same), empty sequences dropped."""
    rec = [(g, s) for g, s in rec[:3]]
    m = max(s for _, s in rec)
    z = sum(math.exp(s - m) for _, s in rec)
    return [Hypothesis(g, math.exp(s - m) / z) for g, s in rec if g.strip()]


def sample_prompt(t: Turn, vocab: Sequence[str], rng: random.Random, a: Augment
                  ) -> Tuple[List[str], List[Hypothesis]]:
    """Context and hypotheses for one training view of turn t.

    With a.p_real, a turn that has recorded recogniser outputs uses one of them instead of
    made-up noise. With a.lexicon, a view whose target no hypothesis supports (every
    hypothesis lacks a word of the sentence) is drawn again, and after a few tries the turn
    gets its reference glosses alone: the faithful runtime could not write that target, so
    training on it would teach the model to invent words."""
    lex = _lexicon(a.lexicon) if a.lexicon else None
    for _ in range(8):
        ctx, hyps = _sample_prompt(t, vocab, rng, a)
        if lex is None or lex.reachable(t.text, [h.glosses for h in hyps]):
            return ctx, hyps
    return ctx, [Hypothesis(t.glosses, 1.0)]


_lexicons: Dict[str, object] = {}


def _lexicon(path: str):
    from .lexicon import Lexicon
    if path not in _lexicons:
        _lexicons[path] = Lexicon.load(path)
    return _lexicons[path]


def _sample_prompt(t: Turn, vocab: Sequence[str], rng: random.Random, a: Augment
                   ) -> Tuple[List[str], List[Hypothesis]]:
    ctx = [] if rng.random() < a.p_no_context else t.context[-rng.randint(1, max(1, a.max_context)):]
    if t.recognised and rng.random() < a.p_real:
        hyps = recognised_hypotheses(rng.choice(t.recognised))
        if hyps:
            return ctx, hyps
    ref = t.glosses.split()
    if rng.random() < a.p_single:
        top = corrupt(ref, vocab, rng, a.noise_rate) if rng.random() < a.p_noisy_top else ref
        return ctx, [Hypothesis(" ".join(top), 1.0)]
    n = rng.choice((2, 3))
    variants = [corrupt(ref, vocab, rng, a.noise_rate) for _ in range(n - 1)]
    cands = [ref] + variants
    if rng.random() < a.p_noisy_top:
        k = rng.randrange(1, n)           # the reference is not always the recogniser's best
        cands[0], cands[k] = cands[k], cands[0]
    raw = sorted((rng.random() for _ in range(n)), reverse=True)
    top = 0.5 + 0.45 * rng.random()
    rest = [(1 - top) * x / (sum(raw[1:]) or 1) for x in raw[1:]]
    scores = [top] + sorted(rest, reverse=True)
    return ctx, [Hypothesis(" ".join(c), s) for c, s in zip(cands, scores)]


def gloss_vocab(turns: Sequence[Turn]) -> List[str]:
    return sorted({g for t in turns for g in t.glosses.split()})


def attach_recognised(turns: Sequence[Turn], path: str) -> int:
    """Reads the recogniser's outputs (train.slr.hypotheses .jsonl) into the turns with the
    same id; returns how many turns got at least one."""
    by = {t.key: t for t in turns}
    n = 0
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                hyps = [(" ".join(h["glosses"]), float(h["score"])) for h in r["hypotheses"]]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{path}:{ln}: not a recogniser output line: {e}") from None
            t = by.get(r.get("id"))
            if t is None or not hyps:
                continue
            if not t.recognised:
                n += 1
            t.recognised.append(hyps)
    return n
