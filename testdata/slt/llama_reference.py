"""Reference forward pass of a Hugging Face llama folder in plain PyTorch, for Go tests.

Reads config.json and model.safetensors (no transformers or safetensors package needed),
optionally merges a PEFT LoRA adapter (W += lora_alpha / r * B @ A), runs the token ids given
and writes JSON: {"logits": [[...] per position], "greedy": [ids], "forced_logits": [[...]]},
where forced_logits are the logits of every position of the tokens followed by the greedy
ones (teacher forcing: the other runtime is fed PyTorch's tokens, so one near-tie cannot
send it down another path). Uses Hugging Face's rotary convention (rotate_half), which is
what llama.cpp's converters assume.

    /usr/bin/python3 testdata/slt/llama_reference.py --model DIR [--adapter DIR] \
        --tokens 1,40,41 --generate 8 --out out.json
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "F16": np.float16}[e["dtype"]]
        a, b = e["data_offsets"]
        arr = np.frombuffer(body[a:b], dtype=dtype).astype(np.float32).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Llama:
    def __init__(self, folder, adapter=None):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = read_safetensors(os.path.join(folder, "model.safetensors"))
        if adapter:
            with open(os.path.join(adapter, "adapter_config.json")) as f:
                acfg = json.load(f)
            scale = acfg["lora_alpha"] / acfg["r"]
            ad = read_safetensors(os.path.join(adapter, "adapter_model.safetensors"))
            for name, a in ad.items():
                if ".lora_A." not in name:
                    continue
                b = ad[name.replace(".lora_A.", ".lora_B.")]
                base = name.replace("base_model.model.", "").replace(".lora_A.weight", ".weight")
                self.w[base] = self.w[base] + scale * (b @ a)

    def logits(self, ids):
        c, w = self.cfg, self.w
        d, nh = c["hidden_size"], c["num_attention_heads"]
        nkv = c.get("num_key_value_heads", nh)
        hd, eps, theta = d // nh, c["rms_norm_eps"], c.get("rope_theta", 10000.0)
        t = len(ids)
        x = w["model.embed_tokens.weight"][torch.tensor(ids)]
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        freqs = torch.outer(torch.arange(t, dtype=torch.float32), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
        mask = torch.full((t, t), float("-inf")).triu(1)
        for i in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % i
            h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
            q = (h @ w[p + "self_attn.q_proj.weight"].T).view(t, nh, hd)
            k = (h @ w[p + "self_attn.k_proj.weight"].T).view(t, nkv, hd)
            v = (h @ w[p + "self_attn.v_proj.weight"].T).view(t, nkv, hd)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
            att = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
            o = torch.einsum("hts,shd->thd", att.softmax(-1), v).reshape(t, d)
            x = x + o @ w[p + "self_attn.o_proj.weight"].T
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
            g = torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T)
            x = x + (g * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        x = rms_norm(x, w["model.norm.weight"], eps)
        return x @ w["lm_head.weight"].T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--adapter")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--generate", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    with torch.no_grad():
        m = Llama(args.model, args.adapter)
        ids = [int(s) for s in args.tokens.split(",")]
        logits = m.logits(ids)
        seq = list(ids)
        for _ in range(args.generate):
            seq.append(int(m.logits(seq)[-1].argmax()))
        forced = m.logits(seq)
    with open(args.out, "w") as f:
        json.dump({"logits": logits.tolist(), "greedy": seq[len(ids):], "forced_logits": forced.tolist()}, f)


if __name__ == "__main__":
    main()
