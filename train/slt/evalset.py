"""Evaluation inputs and scores outside the Go runtime (for cross-checks and monitoring).

    # the prompts' inputs, one JSON object a line: {"context": [...], "hyps": [{"glosses", "score"}]}
    python -m train.slt.evalset items --phoenix DIR --split dev [--glosses DIR/dev.stmc.gloss] --context 1 --out items.jsonl
    # PyTorch greedy translations of those items
    python -m train.slt.evalset translate --model RUN/model --items items.jsonl --out hyp.txt
    # corpus BLEU-1..4 against references (whitespace tokens)
    python -m train.slt.evalset score --hyp hyp.txt --ref DIR/dev.de
    # how much the previous sentence could add (content words it shares with the sentence)
    python -m train.slt.evalset overlap --phoenix DIR --split dev [--hyp-no-context hyp.txt]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List, Optional

import torch

from .bleu import corpus_bleu
from .data import PhoenixContext, load_phoenix, read_lines
from .export import load_model
from .prompt import Hypothesis
from .trainer import translate


def phoenix_items(phoenix: str, split: str, glosses: str, context: int) -> List[dict]:
    p = lambda n: os.path.join(phoenix, n)
    pairs = [(p(f"{s}.ids"), p(f"{s}.de")) for s in ("train", "dev", "test") if os.path.exists(p(f"{s}.ids"))]
    turns = load_phoenix(glosses or p(f"{split}.gloss"), p(f"{split}.de"), p(f"{split}.ids"),
                         PhoenixContext(pairs), context)
    return [{"context": t.context, "hyps": [{"glosses": t.glosses, "score": 1.0}]} for t in turns]


def content_words(text: str) -> List[str]:
    """Tokens of at least 4 letters: a stop-word-free proxy for content words in German."""
    return [w for w in text.split() if len(w) >= 4 and w.isalpha()]


def context_overlap(phoenix: str, split: str, hyp_noctx: str = "") -> dict:
    """How much the previous sentence could tell the translator: for each sentence of split
    with an earlier sentence in its broadcast, the share of its content words that occur in
    that previous sentence, the share of those not already suggested by its own glosses (the
    gloss, lower-cased, is a prefix of the word), and, given the no-context translations, the
    share of the words they miss that the previous sentence holds."""
    p = lambda n: os.path.join(phoenix, n)
    pairs = [(p(f"{s}.ids"), p(f"{s}.de")) for s in ("train", "dev", "test") if os.path.exists(p(f"{s}.ids"))]
    turns = load_phoenix(p(f"{split}.gloss"), p(f"{split}.de"), p(f"{split}.ids"), PhoenixContext(pairs), 1)
    hyps = read_lines(hyp_noctx) if hyp_noctx else []
    n = with_ctx = words = in_prev = in_prev_new = missed = missed_in_prev = 0
    for i, t in enumerate(turns):
        n += 1
        if not t.context:
            continue
        with_ctx += 1
        prev = set(t.context[-1].split())
        glosses = [g.lower() for g in t.glosses.split()]
        hyp = set(hyps[i].split()) if hyps else set()
        for w in content_words(t.text):
            words += 1
            hinted = any(w.startswith(g[:4]) for g in glosses if len(g) >= 4)
            if w in prev:
                in_prev += 1
                in_prev_new += not hinted
            if hyps and w not in hyp:
                missed += 1
                missed_in_prev += w in prev
    pct = lambda a, b: round(100.0 * a / b, 1) if b else 0.0
    out = {"sentences": n, "with_previous": with_ctx, "content_words": words,
           "in_previous_pct": pct(in_prev, words), "in_previous_not_in_glosses_pct": pct(in_prev_new, words)}
    if hyps:
        out.update({"missed_by_no_context_pct": pct(missed, words),
                    "missed_and_in_previous_pct_of_words": pct(missed_in_prev, words)})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.slt.evalset", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="verb", required=True)
    a = sub.add_parser("items")
    a.add_argument("--phoenix", required=True)
    a.add_argument("--split", default="dev")
    a.add_argument("--glosses", default="", help="gloss file instead of SPLIT.gloss (e.g. dev.stmc.gloss)")
    a.add_argument("--context", type=int, default=1)
    a.add_argument("--out", required=True)
    t = sub.add_parser("translate")
    t.add_argument("--model", required=True)
    t.add_argument("--items", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--threads", type=int, default=2)
    s = sub.add_parser("score")
    s.add_argument("--hyp", required=True)
    s.add_argument("--ref", required=True)
    s.add_argument("--label", default="")
    o = sub.add_parser("overlap", help="how much the previous sentence could add (see context_overlap)")
    o.add_argument("--phoenix", required=True)
    o.add_argument("--split", default="dev")
    o.add_argument("--hyp-no-context", default="", help="no-context translations of the split, one per line")
    args = ap.parse_args(argv)
    try:
        if args.verb == "items":
            items = phoenix_items(args.phoenix, args.split, args.glosses, args.context)
            with open(args.out, "w", encoding="utf-8") as f:
                for it in items:
                    f.write(json.dumps(it, ensure_ascii=False) + "\n")
            print(f"wrote {len(items)} items to {args.out}")
        elif args.verb == "translate":
            torch.set_num_threads(args.threads)
            model, tok = load_model(args.model)
            model.eval()
            items = [json.loads(l) for l in read_lines(args.items) if l.strip()]
            t0 = time.time()
            outs = translate(model, tok, [(it["context"], [Hypothesis(h["glosses"], h["score"]) for h in it["hyps"]])
                                          for it in items])
            with open(args.out, "w", encoding="utf-8") as f:
                f.write("".join(o + "\n" for o in outs))
            print(f"translated {len(outs)} in {time.time() - t0:.1f}s")
        elif args.verb == "overlap":
            print(json.dumps(context_overlap(args.phoenix, args.split, args.hyp_no_context)))
        else:
            hyp, ref = read_lines(args.hyp), read_lines(args.ref)
            b = corpus_bleu(hyp, ref[: len(hyp)] if len(hyp) < len(ref) else ref)
            print(f"{args.label} BLEU-1 {b[0]:.2f} BLEU-2 {b[1]:.2f} BLEU-3 {b[2]:.2f} BLEU-4 {b[3]:.2f} "
                  f"({len(hyp)} sentences)".strip())
    except (ValueError, FileNotFoundError) as e:
        print(f"evalset: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
