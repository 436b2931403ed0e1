"""The gloss-to-word lexicon (lexicon.json, format scope-lexicon/1; models/lexicon in Go has
the same rules) as the translator's training needs it: which training views a faithful
translator can reach. A view is reachable when one of its hypotheses supports the target
sentence: every content word of the sentence (a word that is not a function word) is a word
of that hypothesis's glosses, at most as often as they give it. Views that are not reachable
would teach the model to write words that no hypothesis supports, which the runtime forbids.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Dict, Iterable, List, Sequence


def words(text: str) -> List[str]:
    """Lower-cased runs of letters and digits (Go: lexicon.Words)."""
    out, cur = [], []
    for ch in text:
        if ch.isalpha() or ch.isdigit():
            cur.append(ch.lower())
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


class Lexicon:
    def __init__(self, doc: dict):
        if doc.get("format") != "scope-lexicon/1":
            raise ValueError(f"lexicon format {doc.get('format')!r}, want 'scope-lexicon/1'")
        self.function = set(doc.get("function_words") or [])
        self.forms: Dict[str, List[List[str]]] = {g: e.get("forms") or [] for g, e in doc["glosses"].items()}

    @classmethod
    def load(cls, path: str) -> "Lexicon":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def gloss_forms(self, gloss: str) -> List[List[str]]:
        if gloss in self.forms:
            return self.forms[gloss]
        return [words(gloss[3:] if gloss.startswith("fs-") else gloss)]

    def support(self, glosses: Iterable[str]) -> Counter:
        out: Counter = Counter()
        for g in glosses:
            most: Counter = Counter()
            for f in self.gloss_forms(g):
                for w, n in Counter(w for w in f if w not in self.function).items():
                    most[w] = max(most[w], n)
            out.update(most)
        return out

    def unsupported(self, text: str, glosses: Sequence[str]) -> List[str]:
        have = self.support(glosses)
        out = []
        for w in words(text):
            if w in self.function:
                continue
            if have[w] > 0:
                have[w] -= 1
            else:
                out.append(w)
        return out

    def reachable(self, text: str, hyps: Sequence[str]) -> bool:
        """Whether one of the hypotheses (space-separated glosses) supports text."""
        return any(not self.unsupported(text, h.split()) for h in hyps)
