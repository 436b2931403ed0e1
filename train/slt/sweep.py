"""Several train_lm runs side by side (seeds, sizes, regularisation), their dev scores in one
table, and the transport of the chosen model as fp16 parts.

    # runs every entry of a sweep file at once (each a train_lm process with its own OUT/NAME)
    python -m train.slt.sweep run --plan train/slt/phoenix-sweep.json --out DIR [--parallel N] [-- extra train_lm flags]
    # the model folder as fp16 parts of at most --part-mb MiB each (for copying off a machine)
    python -m train.slt.sweep pack --model DIR/NAME/model --out PARTS_DIR
    # and back to an exported model folder (F32 tensors holding the fp16 values, as export writes)
    python -m train.slt.sweep unpack --parts PARTS_DIR --out MODEL_DIR

A plan file is JSON: {"common": [flags for every run], "runs": {"NAME": [flags], ...}}.
Every run gets `--out DIR/NAME`; its log is DIR/NAME.log and its result DIR/NAME/result.json.
The summary (DIR/summary.json and a table on stdout) is sorted by dev BLEU-4 with context.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from typing import Dict, List, Optional

import torch

from . import safetensors


def read_plan(path: str) -> Dict[str, List[str]]:
    with open(path, encoding="utf-8") as f:
        plan = json.load(f)
    runs = plan.get("runs")
    if not isinstance(runs, dict) or not runs:
        raise ValueError(f"{path}: needs a non-empty \"runs\" object of NAME: [flags]")
    common = [str(x) for x in plan.get("common", [])]
    out = {}
    for name, flags in runs.items():
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"{path}: run name {name!r} must be letters, digits, - and _")
        out[name] = common + [str(x) for x in flags]
    return out


def last_line(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 400))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else ""
    except OSError:
        return ""


def run_plan(plan: Dict[str, List[str]], out: str, parallel: int, extra: List[str], poll: float = 30.0) -> List[dict]:
    os.makedirs(out, exist_ok=True)
    pending = list(plan.items())
    procs: Dict[str, subprocess.Popen] = {}
    codes: Dict[str, int] = {}
    start = time.time()
    t_print = 0.0
    while pending or procs:
        while pending and len(procs) < parallel:
            name, flags = pending.pop(0)
            cmd = [sys.executable, "-u", "-m", "train.slt.train_lm", "--out", os.path.join(out, name)] + flags + extra
            with open(os.path.join(out, name + ".cmd"), "w", encoding="utf-8") as f:
                f.write(" ".join(cmd) + "\n")
            log = open(os.path.join(out, name + ".log"), "w", encoding="utf-8")
            procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            print(f"sweep: started {name}", flush=True)
        for name, p in list(procs.items()):
            rc = p.poll()
            if rc is not None:
                codes[name] = rc
                del procs[name]
                print(f"sweep: {name} finished with status {rc} after {time.time() - start:.0f}s: "
                      f"{last_line(os.path.join(out, name + '.log'))}", flush=True)
        if procs and time.time() - t_print >= poll:
            t_print = time.time()
            for name in procs:
                print(f"sweep: [{time.time() - start:.0f}s] {name}: {last_line(os.path.join(out, name + '.log'))}",
                      flush=True)
        time.sleep(1.0)
    rows = []
    for name in plan:
        row = {"name": name, "status": codes.get(name)}
        try:
            with open(os.path.join(out, name, "result.json"), encoding="utf-8") as f:
                r = json.load(f)
            res = r["result"]
            m = r["job"]["model"]
            row.update({k: res.get(k) for k in ("dev_bleu4_ref_context", "dev_bleu4_ref_nocontext", "steps", "epochs",
                                                 "train_seconds", "final_loss", "chosen",
                                                 "candidates_dev_bleu4_context")})
            row["model"] = {k: m.get(k) for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                                  "num_key_value_heads", "intermediate_size", "vocab_size",
                                                  "dropout", "tie_embeddings")}
        except (OSError, KeyError, ValueError) as e:
            row["error"] = str(e)
        rows.append(row)
    rows.sort(key=lambda r: -(r.get("dev_bleu4_ref_context") or -1))
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=2)
    print("sweep: dev BLEU-4 (PyTorch greedy, reference glosses): context / none, steps, epochs, chosen")
    for r in rows:
        print(f"  {r['name']:<16} {r.get('dev_bleu4_ref_context')} / {r.get('dev_bleu4_ref_nocontext')}  "
              f"steps {r.get('steps')} epochs {r.get('epochs')} chosen {r.get('chosen')} "
              f"{r.get('candidates_dev_bleu4_context') or ''} {r.get('error', '')}", flush=True)
    return rows


def pack(model_dir: str, out: str, part_mb: float) -> List[str]:
    """Writes model_dir as a tar (model.safetensors in F16) split into parts."""
    sd, meta = safetensors.load_file(os.path.join(model_dir, "model.safetensors"))
    half = {k: (v.half() if v.is_floating_point() and v.dim() == 2 else v) for k, v in sd.items()}
    buf = io.BytesIO()
    tmp = os.path.join(out, ".pack-tmp.safetensors")
    os.makedirs(out, exist_ok=True)
    safetensors.save_file(half, tmp, metadata=meta)
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in sorted(os.listdir(model_dir)):
            src = tmp if name == "model.safetensors" else os.path.join(model_dir, name)
            tar.add(src, arcname=name)
    os.remove(tmp)
    data = buf.getvalue()
    size = int(part_mb * 1024 * 1024)
    paths = []
    for i in range(0, len(data), size):
        p = os.path.join(out, f"model.tar.part{i // size:02d}")
        with open(p, "wb") as f:
            f.write(data[i:i + size])
        paths.append(p)
    return paths


def unpack(parts_dir: str, out: str) -> None:
    names = sorted(n for n in os.listdir(parts_dir) if n.startswith("model.tar.part"))
    if not names:
        raise FileNotFoundError(f"{parts_dir}: no model.tar.partNN files")
    data = b""
    for n in names:
        with open(os.path.join(parts_dir, n), "rb") as f:
            data += f.read()
    os.makedirs(out, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        for m in tar.getmembers():
            if not m.isfile() or "/" in m.name or m.name.startswith("."):
                raise ValueError(f"{parts_dir}: unexpected member {m.name!r}")
            with open(os.path.join(out, m.name), "wb") as f:
                f.write(tar.extractfile(m).read())
    p = os.path.join(out, "model.safetensors")
    sd, meta = safetensors.load_file(p)
    safetensors.save_file({k: v.float() if v.dtype == torch.float16 else v for k, v in sd.items()}, p, metadata=meta)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: List[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="python -m train.slt.sweep", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="verb", required=True)
    r = sub.add_parser("run")
    r.add_argument("--plan", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--parallel", type=int, default=0, help="runs at once (default: all)")
    r.add_argument("--only", default="", help="comma list of run names to keep")
    p = sub.add_parser("pack")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--part-mb", type=float, default=15.0)
    u = sub.add_parser("unpack")
    u.add_argument("--parts", required=True)
    u.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    try:
        if a.verb == "run":
            plan = read_plan(a.plan)
            if a.only:
                keep = set(a.only.split(","))
                plan = {k: v for k, v in plan.items() if k in keep}
            rows = run_plan(plan, a.out, a.parallel or len(plan), extra)
            return 0 if any(r.get("dev_bleu4_ref_context") is not None for r in rows) else 1
        if a.verb == "pack":
            for path in pack(a.model, a.out, a.part_mb):
                print(f"{path} {os.path.getsize(path)} bytes")
            return 0
        unpack(a.parts, a.out)
        print(f"unpacked into {a.out}")
        return 0
    except (ValueError, OSError) as e:
        print(f"sweep: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
