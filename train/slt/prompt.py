"""The translator's prompt: one format, shared with the Go runtime (models/slt).

    ctx: <previous turn's text>          one line per context turn, oldest first, newest last
    ctx: <...>                           (no ctx lines when there is no context)
    gloss 0.91: GLOSS GLOSS GLOSS        one line per recogniser hypothesis, best first (1 to 3)
    gloss 0.06: GLOSS GLOSS
    text:

Lines end with "\\n"; the prompt ends with "text:" (no newline, no trailing space). Every text
field is whitespace-collapsed (runs of spaces, tabs and newlines become one space, ends trimmed).
Scores print as "%.2f" of a number in [0, 1]. The model reads the prompt after BOS and writes
" <sentence>" then EOS; the runtime strips the leading space of the decoded text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

from .tokenizer import Tokenizer, clean

PROMPT_END = "text:"


@dataclass
class Hypothesis:
    glosses: str  # space-separated glosses
    score: float  # recogniser confidence in [0, 1]


def build_prompt(context: Sequence[str], hyps: Sequence[Hypothesis]) -> str:
    if not hyps:
        raise ValueError("prompt: at least one gloss hypothesis is needed")
    lines = []
    for turn in context:
        turn = clean(turn)
        if turn:
            lines.append(f"ctx: {turn}")
    for h in hyps:
        s = min(max(float(h.score), 0.0), 1.0)
        lines.append(f"gloss {s:.2f}: {clean(h.glosses)}")
    lines.append(PROMPT_END)
    return "\n".join(lines)


def encode_example(tok: Tokenizer, prompt: str, target: str) -> Tuple[List[int], int]:
    """Token ids [BOS] + prompt + " target" + [EOS] and the number of prompt ids (with BOS).

    The prompt is tokenised exactly as the runtime does (BOS + the prompt string), so the
    split point is where generation starts.
    """
    p = tok.encode(prompt)
    full = tok.encode(prompt + " " + clean(target))
    if full[:len(p)] != p:
        raise ValueError(f"prompt tokens are not a prefix of prompt+target tokens for {prompt!r}")
    return [tok.bos_id] + full + [tok.eos_id], 1 + len(p)
