"""The training loop shared by train_lm and train_lora: batching, loss on the target tokens
only, AdamW with warmup + cosine decay, progress lines, DDP when WORLD_SIZE > 1.

Runs unchanged on one CPU (`python -m ...`) and under `torchrun` (gloo on CPU, nccl on GPU).
"""
from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .bleu import corpus_bleu
from .data import Augment, Turn, sample_prompt
from .model import LlamaForCausalLM
from .prompt import build_prompt, encode_example, Hypothesis
from .tokenizer import Tokenizer


@dataclass
class Optim:
    steps: int = 3000
    batch_size: int = 32          # examples per step per process
    lr: float = 1e-3
    min_lr_ratio: float = 0.05
    warmup: int = 200
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    max_minutes: float = 0.0      # >0: stop by wall clock; the schedule follows elapsed time
    log_every: int = 50
    eval_every: int = 0           # >0: dev BLEU on eval_subset sentences every N steps
    eval_subset: int = 200
    threads: int = 2
    seed: int = 1
    label_smoothing: float = 0.0  # cross-entropy label smoothing on the target tokens
    ema: float = 0.0              # >0: keep an exponential moving average of the weights with
                                  # this decay; the average is what train() leaves in the model
    avg_last: int = 0             # >0: also average the last N snapshots of the weights ...
    avg_every: int = 0            # ... taken every this many steps (0: steps/50)
    bpe_dropout: float = 0.0      # >0: sample the target's BPE segmentation (BPE-dropout)
    amp: str = ""                 # "bf16": autocast the forward pass on CUDA (ignored on CPU)


class Dist:
    """Process-group state; world 1 when not started by torchrun."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = torch.device("cpu")
        if torch.cuda.is_available() and os.environ.get("SLT_CPU", "") == "":
            self.device = torch.device("cuda", self.local)
            torch.cuda.set_device(self.device)
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()


def make_batches(turns: Sequence[Turn], tok: Tokenizer, vocab: Sequence[str], aug: Augment,
                 rng: random.Random, batch_size: int, max_len: int, bpe_dropout: float = 0.0
                 ) -> List[List[Tuple[List[int], int]]]:
    """One epoch of batches; examples of similar length share a batch (less padding).

    With bpe_dropout > 0 the target's segmentation is sampled (the prompt stays as the
    runtime tokenises it)."""
    order = list(range(len(turns)))
    rng.shuffle(order)
    exs = []

    def encode(ctx, hyps, text):
        ids, p = encode_example(tok, build_prompt(ctx, hyps), text)
        if bpe_dropout > 0:
            ids = ids[:p] + tok.encode_sampled(text, bpe_dropout) + [tok.eos_id]
        return ids, p

    for i in order:
        ctx, hyps = sample_prompt(turns[i], vocab, rng, aug)
        ids, p = encode(ctx, hyps, turns[i].text)
        while len(ids) > max_len and ctx:          # drop the oldest context first
            ctx = ctx[1:]
            ids, p = encode(ctx, hyps, turns[i].text)
        if len(ids) <= max_len:
            exs.append((ids, p))
    chunk = batch_size * 50
    batches = []
    for c in range(0, len(exs), chunk):
        part = sorted(exs[c:c + chunk], key=lambda e: len(e[0]))
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(batch, pad: int, device) -> Tuple[torch.Tensor, torch.Tensor]:
    n = max(len(ids) for ids, _ in batch)
    x = torch.full((len(batch), n), pad, dtype=torch.long)
    y = torch.full((len(batch), n), -100, dtype=torch.long)
    for r, (ids, p) in enumerate(batch):
        t = torch.tensor(ids)
        x[r, :len(ids)] = t
        y[r, p - 1:len(ids) - 1] = t[p:]          # position i predicts token i+1: targets only
    return x.to(device), y.to(device)


class TargetLoss(torch.nn.Module):
    """Mean cross-entropy over target positions; the vocabulary projection runs only there
    (most positions are prompt). A module so DDP wraps the whole computation."""

    def __init__(self, model: LlamaForCausalLM, label_smoothing: float = 0.0):
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.model.hidden(x)
        keep = y != -100
        logits = self.model.lm_head(h[keep])
        return F.cross_entropy(logits.float(), y[keep], label_smoothing=self.label_smoothing)


class WeightEMA:
    """Exponential moving average of the trainable weights (Polyak averaging). The decay
    ramps up as (1 + n) / (10 + n) so early steps do not drag in the random init."""

    def __init__(self, params: Sequence[torch.Tensor], decay: float):
        self.params = list(params)
        self.decay = decay
        self.n = 0
        self.shadow = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        self.n += 1
        d = min(self.decay, (1 + self.n) / (10 + self.n))
        for s, p in zip(self.shadow, self.params):
            s.mul_(d).add_(p.detach(), alpha=1 - d)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchanges the live weights and the averages (call twice to undo)."""
        for s, p in zip(self.shadow, self.params):
            tmp = p.detach().clone()
            p.copy_(s)
            s.copy_(tmp)


def loss_fn(model: LlamaForCausalLM, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return TargetLoss(model)(x, y)


def translate(model: LlamaForCausalLM, tok: Tokenizer, items: Sequence[Tuple[List[str], List[Hypothesis]]],
              max_new_tokens: int = 60, batch_size: int = 32) -> List[str]:
    """Greedy translations of (context, hypotheses) prompts, as the runtime makes them."""
    was = model.training
    model.eval()
    outs = []
    for b in range(0, len(items), batch_size):
        prompts = [[tok.bos_id] + tok.encode(build_prompt(c, h)) for c, h in items[b:b + batch_size]]
        for ids in model.greedy_batch(prompts, max_new_tokens, tok.eos_id, pad_id=0):
            outs.append(tok.decode(ids).strip())
    model.train(was)
    return outs


def dev_bleu(model, tok, dev: Sequence[Turn], use_context: bool, hyps_of: Optional[Sequence[str]] = None) -> float:
    items = [(t.context if use_context else [], [Hypothesis(hyps_of[i] if hyps_of else t.glosses, 1.0)])
             for i, t in enumerate(dev)]
    return corpus_bleu(translate(model, tok, items), [t.text for t in dev])[3]


def train(model: LlamaForCausalLM, tok: Tokenizer, turns: Sequence[Turn], dev: Sequence[Turn],
          vocab: Sequence[str], aug: Augment, o: Optim, d: Dist, log: Callable[[str], None]) -> dict:
    model.to(d.device)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=o.lr, betas=(0.9, 0.98))
    net = TargetLoss(model, o.label_smoothing)
    ema = WeightEMA(params, o.ema) if o.ema > 0 else None
    if d.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[d.local] if d.device.type == "cuda" else None)
    rng = random.Random(o.seed)      # same on every rank: the same batches, each takes its share
    max_len = model.config.max_position_embeddings
    start = time.time()
    step, epoch, toks, seen_tok = 0, 0, 0, 0
    t_log = time.time()
    losses: List[float] = []
    last = {}
    batches: List = []
    stop = False
    amp = o.amp == "bf16" and d.device.type == "cuda"
    avg_every = o.avg_every or max(1, o.steps // 50)
    snaps: List[List[torch.Tensor]] = []      # the last avg_last snapshots, on the CPU
    best_bleu, best_state = -1.0, None        # with eval_every: the weights of the best dev score
    while not stop:
        if not batches:
            epoch += 1
            batches = make_batches(turns, tok, vocab, aug, rng, o.batch_size, max_len, o.bpe_dropout)
            batches = batches[d.rank::d.world][: len(batches) // d.world]
        batch = batches.pop()
        progress = step / o.steps
        if o.max_minutes > 0:
            progress = max(progress, (time.time() - start) / 60 / o.max_minutes)
        if step < o.warmup:
            lr = o.lr * (step + 1) / o.warmup
        else:
            lr = o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = collate(batch, 0, d.device)
        if amp:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = net(x, y)
        else:
            loss = net(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if o.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, o.grad_clip)
        opt.step()
        if ema is not None:
            ema.update()
        step += 1
        if o.avg_last > 0 and step % avg_every == 0:
            snaps.append([p.detach().to("cpu", copy=True) for p in params])
            del snaps[:-o.avg_last]
        losses.append(float(loss))
        toks += int(x.numel())
        seen_tok += int(x.numel()) * d.world
        if step % o.log_every == 0 or step == 1:
            now = time.time()
            msg = (f"step {step}/{o.steps} epoch {epoch} loss {sum(losses[-o.log_every:]) / len(losses[-o.log_every:]):.4f} "
                   f"lr {lr:.2e} tokens/s {toks / max(now - t_log, 1e-9):.0f} elapsed {now - start:.0f}s")
            toks, t_log = 0, now
            if d.main:
                log(msg)
        if o.eval_every and step % o.eval_every == 0 and d.main and dev:
            sub = list(dev[: o.eval_subset])
            if ema is not None:
                ema.swap()
            b = dev_bleu(model, tok, sub, True)
            if b > best_bleu:
                best_bleu, best_state = b, [p.detach().to("cpu", copy=True) for p in params]
            if ema is not None:
                ema.swap()
            log(f"step {step} dev[:{len(sub)}] BLEU-4 {b:.2f} (reference glosses, context"
                + (", weight average)" if ema is not None else ")"))
            t_log = time.time()
        stop = step >= o.steps or (o.max_minutes > 0 and time.time() - start >= o.max_minutes * 60)
    # Candidate weights for the caller to choose among on dev (select_on_dev): the last
    # step's, the moving average, the mean of the last snapshots, the best dev subset score.
    cands = {"last": [p.detach().to("cpu", copy=True) for p in params]}
    if ema is not None:
        cands["ema"] = [s.detach().to("cpu", copy=True) for s in ema.shadow]
        ema.swap()       # leave the averaged weights in the model: they are what gets exported
    if len(snaps) >= 2:
        cands[f"avg{len(snaps)}"] = [torch.stack(ts).mean(0) for ts in zip(*snaps)]
    if best_state is not None:
        cands["best"] = best_state
    last["candidates"] = cands
    last["steps"] = step
    last["epochs"] = epoch
    last["train_seconds"] = round(time.time() - start, 1)
    last["final_loss"] = round(sum(losses[-o.log_every:]) / len(losses[-o.log_every:]), 4)
    last["tokens"] = seen_tok
    return last


@torch.no_grad()
def load_params(model: LlamaForCausalLM, values: Sequence[torch.Tensor]) -> None:
    """Copies a candidate's values (in trainable-parameter order) into the model."""
    params = [p for p in model.parameters() if p.requires_grad]
    if len(params) != len(values):
        raise ValueError(f"candidate has {len(values)} tensors, the model {len(params)} parameters")
    for p, v in zip(params, values):
        p.copy_(v.to(p.device))


def set_seed(seed: int, threads: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
