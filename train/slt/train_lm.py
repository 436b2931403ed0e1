"""Trains the translator LM from scratch and exports it as a Hugging Face Llama folder.

    /usr/bin/python3 -m train.slt.train_lm --phoenix ../shared/data/phoenix2014t --out runs/slt-phoenix
    /usr/bin/python3 -m train.slt.train_lm --manifest DATASET_DIR --out runs/slt-demo
    torchrun --nproc_per_node 4 -m train.slt.train_lm ...   (DDP; same flags)

Writes OUT/tokenizer.model, OUT/model/ (convert it with `scope llm convert`), OUT/result.json
(config, steps, loss, dev BLEU from PyTorch greedy decoding).
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
from .export import export_model, load_model
from .jobdata import DataConfig, add_data_flags, data_config
from .lexicon import Lexicon
from .model import LlamaConfig, LlamaForCausalLM, count_parameters
from .prompt import PROMPT_END
from .tokenizer import Tokenizer, train_tokenizer
from .trainer import Dist, Optim, dev_bleu, load_params, set_seed, train


@dataclass
class LMJob:
    out: str
    data: DataConfig
    model: LlamaConfig
    optim: Optim
    augment: Augment
    vocab_size: int = 3000
    tokenizer: str = ""           # reuse this tokenizer.model instead of training one
    final_eval: bool = True
    final_eval_limit: int = 0     # >0: only the first N dev turns
    name: str = ""                # config.json _name_or_path (default: scope-slt[-synthetic])
    init_from: str = ""           # continue from this exported model folder (its size and tokenizer)
    select_on_dev: bool = False   # export the candidate (last/ema/avgN/best) with the best dev BLEU-4


def log(msg: str) -> None:
    print(msg, flush=True)


def tokenizer_lines(turns) -> List[str]:
    lines = []
    for t in turns:
        lines += [t.text, t.glosses]
    # The prompt's fixed words, so they become whole pieces.
    lines += [f"ctx: gloss 0.{i:02d}: {PROMPT_END}" for i in range(100)] * 5
    return lines


def run(job: LMJob) -> dict:
    d = Dist()
    set_seed(job.optim.seed, job.optim.threads)
    turns, dev = job.data.load()
    if d.main:
        log(f"data: {len(turns)} training turns, {len(dev)} dev turns"
            + (" (synthetic)" if job.data.manifest else ""))
    os.makedirs(job.out, exist_ok=True)
    tok_path = os.path.join(job.out, "tokenizer.model")
    if job.init_from:
        model, tok = load_model(job.init_from)
        model.config.dropout = job.model.dropout
        job.model = model.config
        fresh = LlamaForCausalLM(job.model)      # same weights, with this run's dropout
        fresh.load_state_dict(model.state_dict())
        model = fresh
        if d.main:
            log(f"continuing from {job.init_from}")
    elif job.tokenizer:
        tok = Tokenizer(job.tokenizer)
    elif d.main:
        tok = train_tokenizer(tokenizer_lines(turns), tok_path, job.vocab_size, seed=job.optim.seed)
    if not job.tokenizer and d.world > 1:
        import torch.distributed as dist
        dist.barrier()
        tok = Tokenizer(tok_path)
    if not job.init_from:
        job.model.vocab_size = len(tok)
        model = LlamaForCausalLM(job.model)
    if d.main:
        log(f"model: {count_parameters(model) / 1e6:.2f}M parameters, vocab {len(tok)}, "
            f"hidden {job.model.hidden_size}, layers {job.model.num_hidden_layers}")
    vocab = gloss_vocab(turns)
    res = train(model, tok, turns, dev, vocab, job.augment, job.optim, d, log)
    cands = res.pop("candidates", {})
    if d.main and job.select_on_dev and dev and len(cands) > 1:
        model.eval()
        sel = dev[: job.final_eval_limit] if job.final_eval_limit > 0 else dev
        scores = {}
        for name, values in cands.items():
            load_params(model, values)
            scores[name] = round(dev_bleu(model, tok, sel, True), 2)
            log(f"candidate {name}: dev BLEU-4 {scores[name]} (reference glosses, context)")
        chosen = max(scores, key=scores.get)
        load_params(model, cands[chosen])
        res["candidates_dev_bleu4_context"] = scores
        res["chosen"] = chosen
        log(f"chosen on dev: {chosen}")
    if d.main:
        model.eval()
        name = job.name or ("scope-slt-synthetic" if job.data.manifest else "scope-slt")
        export_model(model, tok, os.path.join(job.out, "model"), name=name)
        log(f"exported {os.path.join(job.out, 'model')}")
        if job.final_eval and dev:
            if job.final_eval_limit > 0:
                dev = dev[: job.final_eval_limit]
            t0 = time.time()
            res["dev_bleu4_ref_context"] = round(dev_bleu(model, tok, dev, True), 2)
            res["dev_bleu4_ref_nocontext"] = round(dev_bleu(model, tok, dev, False), 2)
            res["dev_eval_seconds"] = round(time.time() - t0, 1)
            label = " (synthetic)" if job.data.manifest else ""
            log(f"dev BLEU-4 (PyTorch greedy, reference glosses){label}: context {res['dev_bleu4_ref_context']}"
                f" no context {res['dev_bleu4_ref_nocontext']}")
        res["synthetic"] = bool(job.data.manifest)
        with open(os.path.join(job.out, "result.json"), "w", encoding="utf-8") as f:
            json.dump({"job": asdict(job), "result": res}, f, indent=2)
        log("result " + json.dumps(res))
    d.close()
    return res


def add_model_flags(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("model")
    g.add_argument("--hidden", type=int, default=256)
    g.add_argument("--layers", type=int, default=4)
    g.add_argument("--heads", type=int, default=4)
    g.add_argument("--kv-heads", type=int, default=2)
    g.add_argument("--intermediate", type=int, default=704, help="MLP width (multiple of 32 for Q4_0)")
    g.add_argument("--max-len", type=int, default=256, help="max_position_embeddings; longer examples lose context")
    g.add_argument("--dropout", type=float, default=0.1)
    g.add_argument("--vocab", type=int, default=3000, help="tokenizer size")
    g.add_argument("--tokenizer", default="", help="reuse this tokenizer.model")
    g.add_argument("--tie-embeddings", action="store_true",
                   help="train with lm_head tied to the input embeddings (exported untied)")


def add_optim_flags(ap: argparse.ArgumentParser, steps=3000, lr=1e-3, batch=32, warmup=200) -> None:
    g = ap.add_argument_group("optimisation")
    g.add_argument("--steps", type=int, default=steps)
    g.add_argument("--batch-size", type=int, default=batch, help="examples per step per process")
    g.add_argument("--lr", type=float, default=lr)
    g.add_argument("--warmup", type=int, default=warmup)
    g.add_argument("--weight-decay", type=float, default=0.05)
    g.add_argument("--max-minutes", type=float, default=0.0, help=">0: stop by wall clock (not reproducible)")
    g.add_argument("--eval-every", type=int, default=0)
    g.add_argument("--log-every", type=int, default=50)
    g.add_argument("--threads", type=int, default=2)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--label-smoothing", type=float, default=0.0, help="cross-entropy label smoothing (e.g. 0.1)")
    g.add_argument("--ema", type=float, default=0.0,
                   help="export an exponential moving average of the weights with this decay (e.g. 0.999); 0: off")
    g.add_argument("--avg-last", type=int, default=0, help="also average the last N weight snapshots (checkpoint averaging)")
    g.add_argument("--avg-every", type=int, default=0, help="steps between those snapshots (default steps/50)")
    g.add_argument("--bpe-dropout", type=float, default=0.0, help="BPE-dropout rate on the target sentence (e.g. 0.1)")
    g.add_argument("--amp", default="", choices=["", "bf16"], help="bf16 autocast on CUDA (ignored on CPU)")
    g = ap.add_argument_group("augmentation")
    g.add_argument("--p-no-context", type=float, default=0.3)
    g.add_argument("--p-single", type=float, default=0.5)
    g.add_argument("--p-noisy-top", type=float, default=0.15)
    g.add_argument("--noise-rate", type=float, default=0.2)
    g.add_argument("--p-real", type=float, default=0.0,
                   help="share of views of a turn with --recognised outputs that use one of them")
    g.add_argument("--lexicon", default="",
                   help="lexicon.json: only views that one hypothesis supports (what the faithful runtime can say)")


def optim_config(a) -> Optim:
    return Optim(steps=a.steps, batch_size=a.batch_size, lr=a.lr, warmup=a.warmup, weight_decay=a.weight_decay,
                 max_minutes=a.max_minutes, eval_every=a.eval_every, log_every=a.log_every,
                 threads=a.threads, seed=a.seed, label_smoothing=a.label_smoothing, ema=a.ema,
                 avg_last=a.avg_last, avg_every=a.avg_every, bpe_dropout=a.bpe_dropout, amp=a.amp)


def augment_config(a) -> Augment:
    if a.lexicon:
        Lexicon.load(a.lexicon)  # fail early on a bad file
    return Augment(max_context=a.max_context, p_no_context=a.p_no_context, p_single=a.p_single,
                   p_noisy_top=a.p_noisy_top, noise_rate=a.noise_rate, p_real=a.p_real, lexicon=a.lexicon)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.slt.train_lm", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--no-final-eval", action="store_true", help="skip the PyTorch dev BLEU at the end")
    ap.add_argument("--init-from", default="", help="continue training the model in this exported folder (OUT/model)")
    ap.add_argument("--name", default="", help="model name in config.json (default scope-slt, or scope-slt-synthetic for --manifest)")
    ap.add_argument("--final-eval-limit", type=int, default=0, help="final dev BLEU on the first N dev turns only")
    ap.add_argument("--select-on-dev", action="store_true",
                    help="score each candidate (last step, --ema, --avg-last, best --eval-every) on dev with "
                         "context and export the best")
    add_data_flags(ap)
    add_model_flags(ap)
    add_optim_flags(ap)
    a = ap.parse_args(argv)
    job = LMJob(out=a.out, data=data_config(a),
                model=LlamaConfig(hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                                  num_key_value_heads=a.kv_heads, intermediate_size=a.intermediate,
                                  max_position_embeddings=a.max_len, dropout=a.dropout,
                                  tie_embeddings=a.tie_embeddings),
                optim=optim_config(a), augment=augment_config(a), vocab_size=a.vocab,
                tokenizer=a.tokenizer, final_eval=not a.no_final_eval,
                final_eval_limit=a.final_eval_limit, name=a.name,
                init_from=a.init_from, select_on_dev=a.select_on_dev)
    try:
        run(job)
    except (ValueError, FileNotFoundError) as e:
        print(f"train_lm: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
