"""Trains a LoRA domain adapter on a frozen base model and exports it in PEFT format.

    /usr/bin/python3 -m train.slt.train_lora --base runs/slt-demo/model --manifest DATASET_DIR \\
        --domain pharmacy --out runs/slt-demo/adapters/pharmacy
    torchrun --nproc_per_node 4 -m train.slt.train_lora ...   (DDP; same flags)

Writes OUT/adapter_config.json + OUT/adapter_model.safetensors (convert with
`scope llm convert-adapter`) and OUT/result.json (loss, dev BLEU of base and base+adapter).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import List, Optional

from .data import Augment, gloss_vocab
from .export import export_adapter, load_model
from .jobdata import DataConfig, add_data_flags, data_config
from .model import LoraConfig
from .train_lm import add_optim_flags, augment_config, log, optim_config
from .trainer import Dist, Optim, dev_bleu, set_seed, train


@dataclass
class LoraJob:
    out: str
    base: str
    data: DataConfig
    lora: LoraConfig
    optim: Optim
    augment: Augment
    final_eval: bool = True


def run(job: LoraJob) -> dict:
    d = Dist()
    set_seed(job.optim.seed, job.optim.threads)
    model, tok = load_model(job.base)
    turns, dev = job.data.load()
    label = " (synthetic)" if job.data.manifest else ""
    if d.main:
        log(f"data{label}: {len(turns)} training turns, {len(dev)} dev turns, domain {job.data.domain or 'all'}")
    res = {}
    if d.main and job.final_eval and dev:
        model.eval()
        res["dev_bleu4_base"] = round(dev_bleu(model, tok, dev, True), 2)
    wrapped = model.add_lora(job.lora)
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if d.main:
        log(f"lora: r {job.lora.r} alpha {job.lora.alpha} on {len(wrapped)} projections, {n} trainable parameters")
    model.train()
    res.update(train(model, tok, turns, dev, gloss_vocab(turns), job.augment, job.optim, d, log))
    res.pop("candidates", None)      # the adapter exports what train() left in the model
    if d.main:
        model.eval()
        export_adapter(model, job.lora, job.out, base_model=os.path.abspath(job.base),
                       metadata={"domain": job.data.domain, "synthetic": str(bool(job.data.manifest)).lower()})
        log(f"exported {job.out}")
        if job.final_eval and dev:
            res["dev_bleu4_adapter"] = round(dev_bleu(model, tok, dev, True), 2)
            log(f"dev BLEU-4{label} (PyTorch greedy, reference glosses, context): base {res['dev_bleu4_base']} "
                f"with adapter {res['dev_bleu4_adapter']}")
        res["synthetic"] = bool(job.data.manifest)
        with open(os.path.join(job.out, "result.json"), "w", encoding="utf-8") as f:
            json.dump({"job": asdict(job), "result": res}, f, indent=2)
        log("result " + json.dumps(res))
    d.close()
    return res


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.slt.train_lora", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="adapter output directory")
    ap.add_argument("--base", required=True, help="base model folder written by train_lm (OUT/model)")
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--alpha", type=int, default=16, help="lora_alpha (an integer; scale = alpha / r)")
    ap.add_argument("--lora-dropout", type=float, default=0.0)
    ap.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj", help="comma list of projections")
    ap.add_argument("--no-final-eval", action="store_true")
    add_data_flags(ap)
    add_optim_flags(ap, steps=300, lr=2e-3, batch=16, warmup=20)
    a = ap.parse_args(argv)
    job = LoraJob(out=a.out, base=a.base, data=data_config(a),
                  lora=LoraConfig(r=a.r, alpha=a.alpha, dropout=a.lora_dropout,
                                  target_modules=[t for t in a.targets.split(",") if t]),
                  optim=optim_config(a), augment=augment_config(a), final_eval=not a.no_final_eval)
    try:
        run(job)
    except (ValueError, FileNotFoundError) as e:
        print(f"train_lora: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
