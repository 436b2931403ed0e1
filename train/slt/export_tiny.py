"""Writes a tiny random llama, a LoRA adapter and PyTorch reference outputs, for Go tests.

    /usr/bin/python3 -m train.slt.export_tiny --out DIR --seed 1

DIR/model/        HF Llama folder (random weights, fp16-rounded; tokenizer trained here)
DIR/adapter/      PEFT adapter on q_proj/k_proj/v_proj with non-zero lora_B
DIR/merged/       HF folder with the adapter merged into the weights
DIR/reference.json  prompt ids, per-position logits and greedy tokens of base and base+adapter

Deterministic for a given seed. Takes about a second on one core.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from dataclasses import asdict, dataclass, field
from typing import List, Optional

import torch

from .export import export_adapter, export_model
from .model import LlamaConfig, LlamaForCausalLM, LoRALinear, LoraConfig, round_fp16_
from .prompt import Hypothesis, build_prompt
from .tokenizer import train_tokenizer

_WORDS = ("guten abend liebe zuschauer morgen regen sonne wind nord sued ost west schnee "
          "gewitter wolken temperatur grad heute nacht tag wetter kalt warm the pharmacy "
          "doctor pain medicine take twice daily where ticket counter help please thank you "
          "how often should i appointment tomorrow").split()
_GLOSSES = ("MORGEN REGEN SONNE WIND NORD SUED SCHNEE WOLKE KALT WARM PAIN MEDICINE TAKE "
            "WHERE TICKET HELP DOCTOR TOMORROW").split()


@dataclass
class TinyConfig:
    out: str = ""
    seed: int = 1
    vocab_size: int = 320
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    weight_std: float = 0.12        # larger than training init so logits spread (clear argmax)
    lm_head_std: float = 0.6
    lora_r: int = 4
    lora_alpha: int = 8
    lora_targets: List[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj"])
    lora_b_std: float = 0.15
    max_new_tokens: int = 12
    prompt_ids: Optional[List[int]] = None


def _corpus(rng: random.Random) -> List[str]:
    lines = []
    for _ in range(400):
        lines.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 10))) + rng.choice([" .", " ?", ""]))
        lines.append(" ".join(rng.choice(_GLOSSES) for _ in range(rng.randint(2, 6))))
        lines.append(f"ctx: gloss {rng.random():.2f}: text:")
    return lines


def _run(model: LlamaForCausalLM, ids: List[int], cfg: TinyConfig, eos: int) -> dict:
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0]
    top2 = logits.topk(2, dim=-1).values
    greedy = model.greedy(ids, cfg.max_new_tokens, eos_id=eos)
    with torch.no_grad():
        gl = model(torch.tensor([ids + greedy[:-1]]))[0, len(ids) - 1:]
    g2 = gl.topk(2, dim=-1).values
    return {
        "logits": [[round(float(x), 6) for x in row] for row in logits],
        "argmax": [int(i) for i in logits.argmax(-1)],
        "min_top2_margin": round(float((top2[:, 0] - top2[:, 1]).min()), 6),
        "greedy": greedy,
        # Teacher forcing: row i is the logits after the prompt and greedy[:i], so another
        # runtime can be fed these tokens and compared position by position.
        "greedy_logits": [[round(float(x), 6) for x in row] for row in gl],
        "greedy_min_top2_margin": round(float((g2[:, 0] - g2[:, 1]).min()), 6),
    }


def export_tiny(cfg: TinyConfig) -> dict:
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    os.makedirs(cfg.out, exist_ok=True)
    tok = train_tokenizer(_corpus(rng), os.path.join(cfg.out, "tokenizer.model"), cfg.vocab_size, seed=cfg.seed)
    mc = LlamaConfig(vocab_size=len(tok), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
                     num_hidden_layers=cfg.num_hidden_layers, num_attention_heads=cfg.num_attention_heads,
                     num_key_value_heads=cfg.num_key_value_heads, max_position_embeddings=256)
    model = LlamaForCausalLM(mc).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n == "lm_head.weight":
                p.normal_(0, cfg.lm_head_std)
            elif p.dim() == 2:
                p.normal_(0, cfg.weight_std)
            else:
                p.uniform_(0.8, 1.2)  # norm weights: not all ones, to catch a mix-up
    round_fp16_(model)
    export_model(model, tok, os.path.join(cfg.out, "model"), name="scope-slt-tiny-random")

    prompt = build_prompt(["guten abend liebe zuschauer"],
                          [Hypothesis("MORGEN REGEN NORD", 0.82), Hypothesis("MORGEN SONNE", 0.11)])
    ids = cfg.prompt_ids or [tok.bos_id] + tok.encode(prompt)
    if max(ids) >= len(tok) or min(ids) < 0:
        raise ValueError(f"--prompt-ids: ids must lie in [0, {len(tok)})")
    base = _run(model, ids, cfg, tok.eos_id)

    lora = LoraConfig(r=cfg.lora_r, alpha=cfg.lora_alpha, target_modules=list(cfg.lora_targets))
    model.add_lora(lora)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_A.weight.normal_(0, cfg.weight_std)
                m.lora_B.weight.normal_(0, cfg.lora_b_std)
    round_fp16_(model)  # adapter values are fp16-exact too
    export_adapter(model, lora, os.path.join(cfg.out, "adapter"), base_model="../model")
    merged = _run(model, ids, cfg, tok.eos_id)
    export_model(model, tok, os.path.join(cfg.out, "merged"), merged=True)

    texts = ["guten abend liebe zuschauer .", "MORGEN REGEN NORD", prompt,
             "How often should I take the medicine?", "über   zwei  leerzeichen"]
    ref = {
        "seed": cfg.seed,
        "prompt": prompt,
        "prompt_ids": ids,
        "bos_id": tok.bos_id, "eos_id": tok.eos_id, "vocab_size": len(tok),
        "max_new_tokens": cfg.max_new_tokens,
        "adapter": {"r": lora.r, "lora_alpha": lora.alpha, "scale": lora.scale,
                    "target_modules": lora.target_modules},
        "tokenizer_cases": [{"text": t, "ids": tok.encode(t)} for t in texts],
        "base": base,
        "merged": merged,
        "notes": "logits are per prompt position (row i predicts token i+1), PyTorch float32 "
                 "on the fp16-rounded weights; merged = W + scale * B @ A applied in float32; "
                 "greedy stops at eos or max_new_tokens, eos included when produced; "
                 "tokenizer_cases ids are without BOS",
    }
    with open(os.path.join(cfg.out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False)
    return ref


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.slt.export_tiny", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--targets", default="q_proj,k_proj,v_proj", help="LoRA target modules, comma list")
    ap.add_argument("--prompt-ids", default="", help="comma list of token ids (with BOS) instead of the built-in prompt")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = TinyConfig(out=a.out, seed=a.seed, lora_targets=[t for t in a.targets.split(",") if t],
                     prompt_ids=[int(x) for x in a.prompt_ids.split(",")] if a.prompt_ids else None)
    ref = export_tiny(cfg)
    print(f"wrote {a.out}: vocab {ref['vocab_size']}, prompt {len(ref['prompt_ids'])} tokens, "
          f"base greedy {ref['base']['greedy']}, merged greedy {ref['merged']['greedy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
