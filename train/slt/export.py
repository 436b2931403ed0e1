"""Export to (and load from) a Hugging Face Llama folder and a PEFT LoRA adapter folder.

Model folder: config.json, model.safetensors (F32 tensors; 2-D weights rounded to fp16 values,
since llama.cpp's converter stores them F16), generation_config.json, tokenizer files.
Adapter folder: adapter_config.json (integer lora_alpha) + adapter_model.safetensors with
PEFT names base_model.model.<module path>.lora_A.weight / lora_B.weight.
"""
from __future__ import annotations

import json
import os
from typing import Dict, Optional, Tuple

import torch

from . import safetensors
from .model import LlamaConfig, LlamaForCausalLM, LoRALinear, LoraConfig
from .tokenizer import Tokenizer, write_json

PEFT_PREFIX = "base_model.model."


def _fp16_values(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return {k: (v.detach().half().float() if v.dim() == 2 else v.detach().float()).contiguous()
            for k, v in sd.items()}


def export_model(model: LlamaForCausalLM, tok: Tokenizer, out_dir: str, merged: bool = False,
                 name: str = "") -> None:
    """Writes the HF folder. merged=True folds any LoRA updates into the base weights.

    name goes to config.json's "_name_or_path" (models trained on synthetic data carry
    "synthetic" in it, so tools can label their results)."""
    if model.config.vocab_size != len(tok):
        raise ValueError(f"model vocab_size {model.config.vocab_size} != tokenizer size {len(tok)}")
    os.makedirs(out_dir, exist_ok=True)
    sd = model.merged_state_dict() if merged else model.base_state_dict()
    safetensors.save_file(_fp16_values(sd), os.path.join(out_dir, "model.safetensors"),
                          metadata={"format": "pt"})
    cfg = model.config.hf_config()
    if name:
        cfg["_name_or_path"] = name
    write_json(os.path.join(out_dir, "config.json"), cfg)
    write_json(os.path.join(out_dir, "generation_config.json"), {
        "bos_token_id": model.config.bos_token_id, "eos_token_id": model.config.eos_token_id,
        "do_sample": False})
    tok.export(out_dir)


def load_model(model_dir: str) -> Tuple[LlamaForCausalLM, Tokenizer]:
    cfg_path = os.path.join(model_dir, "config.json")
    if not os.path.exists(cfg_path):
        raise FileNotFoundError(f"{cfg_path} not found: {model_dir} is not an exported model folder")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = LlamaConfig.from_hf(json.load(f))
    model = LlamaForCausalLM(cfg)
    sd, _ = safetensors.load_file(os.path.join(model_dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ValueError(f"{model_dir}/model.safetensors: missing {missing}, unexpected {unexpected}")
    return model, Tokenizer(os.path.join(model_dir, "tokenizer.model"))


def export_adapter(model: LlamaForCausalLM, lora: LoraConfig, out_dir: str,
                   base_model: str = "", metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes a PEFT LoRA adapter (tensors F32, values rounded to fp16)."""
    sd = model.lora_state_dict()
    if not sd:
        raise ValueError("export_adapter: the model has no LoRA layers (call add_lora first)")
    os.makedirs(out_dir, exist_ok=True)
    tensors = {PEFT_PREFIX + k: v for k, v in _fp16_values(sd).items()}
    safetensors.save_file(tensors, os.path.join(out_dir, "adapter_model.safetensors"),
                          metadata={"format": "pt", **(metadata or {})})
    write_json(os.path.join(out_dir, "adapter_config.json"), {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "r": int(lora.r),
        "lora_alpha": int(lora.alpha),
        "lora_dropout": float(lora.dropout),
        "target_modules": list(lora.target_modules),
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
    })


def load_adapter(model: LlamaForCausalLM, adapter_dir: str) -> LoraConfig:
    """Adds the adapter in adapter_dir to model (which must not have LoRA yet) and loads it."""
    with open(os.path.join(adapter_dir, "adapter_config.json"), encoding="utf-8") as f:
        c = json.load(f)
    lora = LoraConfig(r=int(c["r"]), alpha=int(c["lora_alpha"]), target_modules=list(c["target_modules"]))
    model.add_lora(lora)
    sd, _ = safetensors.load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    sd = {k[len(PEFT_PREFIX):] if k.startswith(PEFT_PREFIX) else k: v for k, v in sd.items()}
    own = model.lora_state_dict()
    if set(sd) != set(own):
        raise ValueError(f"{adapter_dir}: adapter tensors do not match the model "
                         f"(extra {sorted(set(sd) - set(own))[:3]}, missing {sorted(set(own) - set(sd))[:3]})")
    model.load_state_dict(sd, strict=False)
    return lora
