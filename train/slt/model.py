"""A llama-architecture causal LM in plain PyTorch, with optional LoRA on the projections.

The parameter names match Hugging Face's LlamaForCausalLM (model.embed_tokens.weight,
model.layers.N.self_attn.q_proj.weight, ..., model.norm.weight, lm_head.weight) so the exported
folder converts with llama.cpp's (ollama's) converter. Rotary embeddings use HF's `rotate_half`
convention: the converter permutes q/k rows for llama.cpp assuming exactly this layout.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LlamaConfig:
    vocab_size: int = 2000
    hidden_size: int = 256
    intermediate_size: int = 704
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 512
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    bos_token_id: int = 1
    eos_token_id: int = 2
    pad_token_id: int = 0  # <unk>: never a target (loss ignores pads by mask)
    dropout: float = 0.0   # training only; not part of the exported model
    tie_embeddings: bool = False  # training only: lm_head shares the input embedding matrix
                                  # (fewer free parameters on small corpora); the export writes
                                  # both tensors, so the runtime sees an ordinary untied model

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def validate(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of "
                             f"num_attention_heads {self.num_attention_heads}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"num_attention_heads {self.num_attention_heads} is not a multiple "
                             f"of num_key_value_heads {self.num_key_value_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head_dim {self.head_dim} must be even for rotary embeddings")

    def hf_config(self) -> Dict[str, object]:
        """config.json for LlamaForCausalLM."""
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "hidden_act": "silu",
            "tie_word_embeddings": False,
            "attention_bias": False,
            "mlp_bias": False,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "torch_dtype": "float16",
            "initializer_range": 0.02,
        }

    @classmethod
    def from_hf(cls, d: Dict[str, object]) -> "LlamaConfig":
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class LoraConfig:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: List[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])

    @property
    def scale(self) -> float:
        return self.alpha / self.r


class LoRALinear(nn.Linear):
    """nn.Linear (frozen base weight) plus a low-rank update scale * B @ A.

    Parameter names (weight, lora_A.weight, lora_B.weight) are PEFT's, under the module path.
    """

    def __init__(self, base: nn.Linear, cfg: LoraConfig):
        super().__init__(base.in_features, base.out_features, bias=base.bias is not None)
        self.weight = base.weight
        self.bias = base.bias
        self.weight.requires_grad_(False)
        self.lora_A = nn.Linear(base.in_features, cfg.r, bias=False)
        self.lora_B = nn.Linear(cfg.r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scale = cfg.scale
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias) + self.lora_B(self.lora_A(self.drop(x))) * self.scale

    def merged_weight(self) -> torch.Tensor:
        return self.weight + self.scale * (self.lora_B.weight @ self.lora_A.weight)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(var + self.eps)).type_as(x) * self.weight


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Rotary(nn.Module):
    def __init__(self, head_dim: int, theta: float):
        super().__init__()
        inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, positions: torch.Tensor):
        """positions [T] -> cos, sin [T, D]; positions [B, T] -> [B, 1, T, D] (per-row offsets)."""
        freqs = positions.float()[..., None] * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        if positions.dim() == 2:
            emb = emb[:, None]
        return emb.cos(), emb.sin()


class Attention(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.nh, self.nkv, self.hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, c.hidden_size, bias=False)

    def forward(self, x, cos, sin, mask, cache: Optional[Dict[str, torch.Tensor]] = None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if "k" in cache:
                k = torch.cat((cache["k"], k), dim=2)
                v = torch.cat((cache["v"], v), dim=2)
            cache["k"], cache["v"] = k, v
        if self.nkv != self.nh:
            rep = self.nh // self.nkv
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        y = torch.softmax(att.float(), dim=-1).type_as(q) @ v
        return self.o_proj(y.transpose(1, 2).reshape(b, t, self.nh * self.hd))


class MLP(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.drop = nn.Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, x, cos, sin, mask, cache=None):
        x = x + self.drop(self.self_attn(self.input_layernorm(x), cos, sin, mask, cache))
        return x + self.drop(self.mlp(self.post_attention_layernorm(x)))


class LlamaModel(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        c.validate()
        self.config = c
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.rotary = Rotary(c.head_dim, c.rope_theta)
        self.drop = nn.Dropout(c.dropout) if c.dropout > 0 else nn.Identity()
        self.apply(self._init)
        # GPT-2 style scaled init of the residual projections keeps deep stacks stable.
        for n, p in self.named_parameters():
            if n.endswith("o_proj.weight") or n.endswith("down_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c.num_hidden_layers))
        if c.tie_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids: torch.Tensor, start_pos: int = 0) -> torch.Tensor:
        """ids [B, T] -> logits [B, T, V]. Right padding is safe: attention is causal."""
        return self.lm_head(self.hidden(ids, start_pos))

    def hidden(self, ids: torch.Tensor, start_pos: int = 0) -> torch.Tensor:
        """ids [B, T] -> final normalised hidden states [B, T, H] (what lm_head reads)."""
        b, t = ids.shape
        pos = torch.arange(start_pos, start_pos + t, device=ids.device)
        cos, sin = self.rotary(pos)
        mask = torch.full((t, t), float("-inf"), device=ids.device).triu(1)
        x = self.drop(self.model.embed_tokens(ids))
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.model.norm(x)

    # --- LoRA -------------------------------------------------------------------------
    def add_lora(self, cfg: LoraConfig) -> List[str]:
        """Freezes every base parameter and wraps the target projections; returns their names."""
        for p in self.parameters():
            p.requires_grad_(False)
        wrapped = []
        for name, module in list(self.named_modules()):
            for child_name, child in list(module.named_children()):
                if child_name in cfg.target_modules and isinstance(child, nn.Linear) \
                        and not isinstance(child, LoRALinear):
                    setattr(module, child_name, LoRALinear(child, cfg))
                    wrapped.append(f"{name}.{child_name}" if name else child_name)
        if not wrapped:
            raise ValueError(f"LoRA target_modules {cfg.target_modules} match no projection; "
                             f"use q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")
        return wrapped

    def lora_state_dict(self) -> Dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if ".lora_A." in k or ".lora_B." in k}

    def base_state_dict(self) -> Dict[str, torch.Tensor]:
        """HF Llama tensor names of the base model (LoRA updates left out, not merged)."""
        return {k: v for k, v in self.state_dict().items() if ".lora_" not in k}

    def merged_state_dict(self) -> Dict[str, torch.Tensor]:
        """HF Llama tensor names with every LoRA update merged into its base weight."""
        sd = self.base_state_dict()
        for name, m in self.named_modules():
            if isinstance(m, LoRALinear):
                sd[f"{name}.weight"] = m.merged_weight().detach().clone()
        return sd

    # --- generation -------------------------------------------------------------------
    @torch.no_grad()
    def greedy(self, prompt: Sequence[int], max_new_tokens: int, eos_id: Optional[int] = None) -> List[int]:
        """Greedy continuation of prompt (no KV cache: the models here are small)."""
        ids = list(prompt)
        out: List[int] = []
        limit = self.config.max_position_embeddings
        for _ in range(max_new_tokens):
            if len(ids) >= limit:
                break
            logits = self(torch.tensor([ids], device=self.lm_head.weight.device))[0, -1]
            nxt = int(torch.argmax(logits))
            out.append(nxt)
            if eos_id is not None and nxt == eos_id:
                break
            ids.append(nxt)
        return out

    @torch.no_grad()
    def greedy_batch(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, eos_id: int,
                     pad_id: int = 0) -> List[List[int]]:
        """Greedy decoding of many prompts at once with a KV cache (EOS not included).

        Prompts are left-padded; each row's rotary positions start at 0 at its first real
        token and padded keys are masked, so every row decodes as it would alone."""
        dev = self.lm_head.weight.device
        b = len(prompts)
        n = max(len(p) for p in prompts)
        limit = self.config.max_position_embeddings
        pad = torch.tensor([n - len(p) for p in prompts], device=dev)
        ids = torch.full((b, n), pad_id, dtype=torch.long, device=dev)
        for r, p in enumerate(prompts):
            ids[r, n - len(p):] = torch.tensor(list(p), dtype=torch.long)
        ar = torch.arange(n, device=dev)
        pos = (ar[None] - pad[:, None]).clamp(min=0)
        valid = ar[None] >= pad[:, None]                                    # [B, n] real keys
        allowed = torch.ones(n, n, dtype=torch.bool, device=dev).tril()[None] & valid[:, None, :]
        allowed |= torch.eye(n, dtype=torch.bool, device=dev)[None]         # pad rows see themselves
        mask = torch.zeros(b, 1, n, n, device=dev).masked_fill(~allowed[:, None], float("-inf"))
        caches: List[Dict[str, torch.Tensor]] = [{} for _ in self.model.layers]
        outs: List[List[int]] = [[] for _ in prompts]
        done = torch.zeros(b, dtype=torch.bool, device=dev)
        x, step_pos = ids, pos
        for _ in range(max_new_tokens):
            if int(step_pos.max()) >= limit:
                break
            cos, sin = self.rotary(step_pos)
            h = self.model.embed_tokens(x)
            for layer, cache in zip(self.model.layers, caches):
                h = layer(h, cos, sin, mask, cache)
            nxt = self.lm_head(self.model.norm(h[:, -1])).argmax(-1)
            for r in range(b):
                if not done[r]:
                    if int(nxt[r]) == eos_id:
                        done[r] = True
                    else:
                        outs[r].append(int(nxt[r]))
            if bool(done.all()):
                break
            x = nxt[:, None]
            step_pos = step_pos[:, -1:] + 1
            valid = torch.cat((valid, torch.ones(b, 1, dtype=torch.bool, device=dev)), dim=1)
            mask = torch.zeros(b, 1, 1, valid.shape[1], device=dev).masked_fill(~valid[:, None, None], float("-inf"))
        return outs


def round_fp16_(model: nn.Module) -> None:
    """Rounds every 2-D weight to the nearest fp16 value in place (llama.cpp stores them F16)."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.copy_(p.half().float())


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
