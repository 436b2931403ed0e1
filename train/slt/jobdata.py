"""Data options shared by the train_lm and train_lora CLIs: Phoenix files or a synth manifest."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import List, Tuple

from .data import PhoenixContext, Turn, attach_recognised, load_manifest, load_phoenix


@dataclass
class DataConfig:
    phoenix: str = ""              # directory with train.{gloss,de,ids} and dev.{gloss,de,ids}
    gloss: str = ""                # or explicit training files
    text: str = ""
    ids: str = ""
    dev_gloss: str = ""
    dev_text: str = ""
    dev_ids: str = ""
    context_pairs: List[str] = field(default_factory=list)  # "IDS:DE" pairs searched for context
    manifest: str = ""             # `scope synth` dataset dir or manifest.jsonl
    domain: str = ""               # manifest only: keep one domain (LoRA adapters)
    max_context: int = 2
    recognised: str = ""           # train.slr.hypotheses .jsonl: the recogniser's real outputs per turn

    def resolve(self) -> None:
        if self.phoenix:
            p = lambda n: os.path.join(self.phoenix, n)
            self.gloss, self.text, self.ids = self.gloss or p("train.gloss"), self.text or p("train.de"), self.ids or p("train.ids")
            if os.path.exists(p("dev.gloss")):
                self.dev_gloss = self.dev_gloss or p("dev.gloss")
                self.dev_text = self.dev_text or p("dev.de")
                self.dev_ids = self.dev_ids or p("dev.ids")
        if not self.context_pairs and self.ids:
            # Training context comes from the training split only: dev/test references stay unseen.
            self.context_pairs = [f"{self.ids}:{self.text}"]

    def load(self) -> Tuple[List[Turn], List[Turn]]:
        self.resolve()
        if self.manifest:
            tr = load_manifest(self.manifest, self.max_context, ["train"], self.domain)
            try:
                dv = load_manifest(self.manifest, self.max_context, ["dev"], self.domain)
            except ValueError:
                dv = []
            if self.recognised:
                n = attach_recognised(tr, self.recognised)
                print(f"recogniser outputs for {n} of {len(tr)} training turns from {self.recognised}", flush=True)
            return tr, dv
        if not (self.gloss and self.text and self.ids):
            raise ValueError("no training data: give --phoenix DIR, --gloss/--text/--ids files, or --manifest")
        pairs = []
        for s in self.context_pairs:
            a, sep, b = s.partition(":")
            if not sep:
                raise ValueError(f"--context-pairs entry {s!r} must be IDS_FILE:DE_FILE")
            pairs.append((a, b))
        ctx = PhoenixContext(pairs)
        tr = load_phoenix(self.gloss, self.text, self.ids, ctx, self.max_context, "train")
        dv = []
        if self.dev_gloss:
            # Dev context is looked up in every pair given plus dev itself (as eval does).
            dctx = PhoenixContext(pairs + [(self.dev_ids, self.dev_text)])
            dv = load_phoenix(self.dev_gloss, self.dev_text, self.dev_ids, dctx, self.max_context, "dev")
        return tr, dv


def add_data_flags(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("data")
    g.add_argument("--phoenix", default="", help="Phoenix-2014T directory (train.* and dev.* files, read in place)")
    g.add_argument("--gloss", default="", help="training glosses, one sentence a line")
    g.add_argument("--text", default="", help="training sentences, line-aligned with --gloss")
    g.add_argument("--ids", default="", help="sentence ids <date>_<show>-<n>, line-aligned")
    g.add_argument("--dev-gloss", default="")
    g.add_argument("--dev-text", default="")
    g.add_argument("--dev-ids", default="")
    g.add_argument("--context-pairs", default="", help="comma list IDS:DE of files searched for training context (default: the training pair)")
    g.add_argument("--manifest", default="", help="`scope synth` dataset directory or manifest.jsonl")
    g.add_argument("--domain", default="", help="with --manifest: only this domain's dialogues")
    g.add_argument("--max-context", type=int, default=2, help="previous turns in the prompt")
    g.add_argument("--recognised", default="",
                   help="with --manifest: the recogniser's real top-k per training turn (train.slr.hypotheses .jsonl)")


def data_config(a: argparse.Namespace) -> DataConfig:
    return DataConfig(phoenix=a.phoenix, gloss=a.gloss, text=a.text, ids=a.ids, dev_gloss=a.dev_gloss,
                      dev_text=a.dev_text, dev_ids=a.dev_ids,
                      context_pairs=[s for s in a.context_pairs.split(",") if s],
                      manifest=a.manifest, domain=a.domain, max_context=a.max_context, recognised=a.recognised)
