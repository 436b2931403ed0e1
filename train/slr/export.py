"""Export a trained recogniser to a model bundle folder:

  OUT/slr.onnx        fp32, inputs features [1, frames, D] (+ context [1, tokens] int64),
                      outputs log_probs [1, steps, glosses+1] (steps = ceil(ceil(frames/2)/2))
                      and embedding [1, d] (the encoder output averaged over time)
  OUT/slr.int8.onnx   the same with int8 MatMul/Gemm weights (QDQ, see onnxq)
  OUT/manifest.json   the bundle manifest read by models/bundle (Go)

  /usr/bin/python3 -m train.slr.export --checkpoint CK --out OUT [--name N --version V]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from typing import Optional

import numpy as np
import torch

from . import features, model as M, onnxq
from .train import load_checkpoint

FORMAT = "scope-bundle/1"
MIN_SCOPE_VERSION = "0.1.0"
OPSET = 14


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_onnx(net: M.Recognizer, path: str, frames: int = 64):
    net.eval()
    ex = M.Exportable(net)
    feats = torch.zeros(1, frames, net.cfg.feature_dim)
    names, axes = ["features"], {"features": {1: "frames"}, "log_probs": {1: "steps"}}
    args = (feats,)
    if net.with_context:
        args = (feats, torch.tensor([[2, 4, 5, 3]], dtype=torch.long))
        names.append("context")
        axes["context"] = {1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(ex, args, path, input_names=names, output_names=["log_probs", "embedding"],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)


_TYPES = {1: "float32", 7: "int64", 3: "int8"}


def file_entry(path, out_dir, precision, role="slr"):
    with open(path, "rb") as f:
        b = f.read()
    ins, outs = onnxq.io_info(b)

    def io(xs, batch_first=False):
        # the graph's batch dimension is symbolic after tracing; these models take batch 1
        return [{"name": n, "type": _TYPES.get(t, str(t)),
                 "shape": [1] + d[1:] if batch_first and d and isinstance(d[0], str) else d} for n, d, t in xs]

    return {"role": role, "path": os.path.relpath(path, out_dir), "sha256": hashlib.sha256(b).hexdigest(),
            "bytes": len(b), "precision": precision, "inputs": io(ins), "outputs": io(outs, True)}


def export_bundle(ck_path: str, out: str, name: str = "scope-slr", version: str = "0.1.0",
                  extra: Optional[dict] = None, quantize: bool = True):
    net, ck, tok = load_checkpoint(ck_path)
    os.makedirs(out, exist_ok=True)
    fp32 = os.path.join(out, "slr.onnx")
    export_onnx(net, fp32)
    files = [file_entry(fp32, out, "fp32")]
    if quantize:
        with open(fp32, "rb") as f:
            q, done = onnxq.quantize_weights(f.read())
        int8 = os.path.join(out, "slr.int8.onnx")
        with open(int8, "wb") as f:
            f.write(q)
        files.append(file_entry(int8, out, "int8"))
    spec = features.spec(ck["train_config"].get("feature_version", 1))
    spec["mean"] = [float(np.float32(x)) for x in ck["mean"]]
    spec["std"] = [float(np.float32(x)) for x in ck["std"]]
    man = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "min_scope_version": MIN_SCOPE_VERSION,
        "files": files,
        "slr": {
            "glosses": ck["glosses"],
            "blank": 0,
            "frame_stride": 4,
            "context": net.with_context,
            "features": spec,
            "context_tokenizer": ck["tokenizer"] if net.with_context else None,
            "model": ck["config"],
        },
    }
    if extra:
        man["slr"].update(extra)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
        f.write("\n")
    return man


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--name", default="scope-slr")
    p.add_argument("--version", default="0.1.0")
    p.add_argument("--no-int8", action="store_true")
    p.add_argument("--metrics", default="", help="JSON file of measured quality to record in the manifest")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    extra = None
    if a.metrics:
        with open(a.metrics) as f:
            extra = {"metrics": json.load(f)}
    man = export_bundle(a.checkpoint, a.out, a.name, a.version, extra=extra, quantize=not a.no_int8)
    for f in man["files"]:
        print(f"{f['path']}: {f['bytes']} bytes, {f['precision']}, sha256 {f['sha256'][:16]}")


if __name__ == "__main__":
    main()
