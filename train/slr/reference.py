"""Reference outputs for the Go tests of models/slr (they run this module with /usr/bin/python3).

  features --in FRAMES --out FEATS [--version V]
                                      raw features (version V, default the current one) of
                                      frames written by the Go test
  tiny --out DIR [--steps N]          train a tiny context model on toy data for a few steps,
                                      export its bundle to DIR and write DIR/reference/:
                                      frames.f32 (one toy sentence) and reference.json (its
                                      context turns and ids, PyTorch's log-probabilities and
                                      embedding, losses)

Frames files: b"SLRF", uint32 frames, float32 fps, then float32 points [frames][543][3] and
float32 confidence [frames][543], little endian. Feature files: uint32 frames, uint32 dim,
float32 [frames][dim].
"""
from __future__ import annotations

import argparse
import json
import os
import struct

import numpy as np

from . import features


def read_frames(path):
    with open(path, "rb") as fh:
        b = fh.read()
    if b[:4] != b"SLRF":
        raise ValueError(f"{path}: not a frames file (magic {b[:4]!r})")
    n, fps = struct.unpack_from("<If", b, 4)
    pts = np.frombuffer(b, "<f4", n * 543 * 3, 12).reshape(n, 543, 3)
    conf = np.frombuffer(b, "<f4", n * 543, 12 + n * 543 * 3 * 4).reshape(n, 543)
    return pts, conf, float(fps)


def write_frames(path, pts, conf, fps):
    with open(path, "wb") as f:
        f.write(b"SLRF" + struct.pack("<If", len(pts), fps))
        f.write(np.ascontiguousarray(pts, "<f4").tobytes())
        f.write(np.ascontiguousarray(conf, "<f4").tobytes())


def tiny(out, steps=40, seed=0):
    import torch
    from . import export, toy, train as T
    torch.set_num_threads(2)
    samples = toy.samples(32, seed=seed)
    cfg = T.TrainConfig(max_steps=steps, batch=8, d_model=32, layers=1, heads=2, ff=64, warmup=5, lr=3e-3,
                        dropout=0.0, augment=True, threads=2, eval_every=10 ** 9, seed=seed)
    res = T.train(cfg, samples, [], log=lambda m: None)
    os.makedirs(out, exist_ok=True)
    ck = os.path.join(out, "checkpoint.pt")
    T.save(res, ck)
    export.export_bundle(ck, out, name="slr-tiny-test", version="0.0.1")
    os.remove(ck)
    rng = np.random.default_rng(seed + 1)
    vocab = [f"G{i}" for i in range(6)]
    pts, conf = toy.sentence(["G1", "G3", "G2"], vocab, rng)
    pts[5:9, 501:522] = 0          # a hand the tracker lost for a few frames
    conf[5:9, 501:522] = 0
    turns = ["Hello, what do you need?", "g1 g3 please", "Ünïcode wörds 42 and UNSEEN ones"]
    ref = os.path.join(out, "reference")
    os.makedirs(ref, exist_ok=True)
    write_frames(os.path.join(ref, "frames.f32"), pts, conf, toy.FPS)
    x = features.standardise(features.compute(pts, conf, toy.FPS), res["norm"].mean, res["norm"].std)
    ids = res["tokenizer"].encode_context(turns)
    with torch.no_grad():
        lp, emb = res["model"](torch.from_numpy(x)[None], torch.tensor([ids]))
    lp = lp[0].numpy()
    json.dump({"fps": float(np.float32(toy.FPS)), "turns": turns, "context_ids": ids, "steps": lp.shape[0], "vocab": lp.shape[1],
               "log_probs": [float(v) for v in lp.reshape(-1)], "embedding": [float(v) for v in emb[0].numpy()],
               "losses": res["losses"]},
              open(os.path.join(ref, "reference.json"), "w"))
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("features")
    f.add_argument("--in", dest="inp", required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--version", type=int, default=features.VERSION, help="feature version (1 or 2)")
    t = sub.add_parser("tiny")
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, default=40)
    a = p.parse_args(argv)
    if a.cmd == "features":
        pts, conf, fps = read_frames(a.inp)
        x = features.compute(pts, conf, fps, a.version)
        with open(a.out, "wb") as fh:
            fh.write(struct.pack("<II", *x.shape) + np.ascontiguousarray(x, "<f4").tobytes())
    else:
        tiny(a.out, a.steps)


if __name__ == "__main__":
    main()
