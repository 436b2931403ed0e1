"""The recogniser's own context tokenizer: a word vocabulary built from training text.

It ships in the bundle manifest ("context_tokenizer"), so the recogniser does not depend on
any translator's tokenizer. Rules (models/slr/tokenizer.go repeats them):
- lower-case the text (per character), then take maximal runs of characters whose Unicode
  category is a letter (L*) or a decimal digit (Nd); everything else separates words;
- ids: 0 pad, 1 unknown word, 2 begin, 3 end of a turn, 4.. the vocabulary in order;
- a context is [begin] + for each previous turn (oldest first) its words + [end of turn],
  keeping only the last max_len - 1 ids after [begin] when it is longer.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, List, Sequence

PAD, UNK, BOS, SEP = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<bos>", "<sep>"]


def words(text: str) -> List[str]:
    out, cur = [], []
    for ch in text:
        for lc in ch.lower():
            cat = unicodedata.category(lc)
            if cat[0] == "L" or cat == "Nd":
                cur.append(lc)
            elif cur:
                out.append("".join(cur))
                cur = []
    if cur:
        out.append("".join(cur))
    return out


@dataclass
class Tokenizer:
    vocab: List[str] = field(default_factory=list)
    max_len: int = 64

    def __post_init__(self):
        self._index = {w: i + len(SPECIALS) for i, w in enumerate(self.vocab)}

    @classmethod
    def build(cls, texts: Iterable[str], max_len: int = 64, min_count: int = 1, max_words: int = 4000):
        c = Counter(w for t in texts for w in words(t))
        vocab = sorted([w for w, n in c.items() if n >= min_count], key=lambda w: (-c[w], w))[:max_words]
        return cls(sorted(vocab), max_len)

    def size(self) -> int:
        return len(SPECIALS) + len(self.vocab)

    def encode_text(self, text: str) -> List[int]:
        return [self._index.get(w, UNK) for w in words(text)]

    def encode_context(self, turns: Sequence[str]) -> List[int]:
        ids: List[int] = []
        for t in turns:
            ids += self.encode_text(t) + [SEP]
        ids = ids[-(self.max_len - 1):] if self.max_len > 1 else []
        return [BOS] + ids

    def to_manifest(self) -> dict:
        return {"type": "words-v1", "lowercase": True, "specials": SPECIALS,
                "max_len": self.max_len, "vocab": self.vocab}
