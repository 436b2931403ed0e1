"""Procedural keypoint sentences for tests: a rest pose, and for every gloss a right-hand
movement to a gloss-specific place with a gloss-specific hand shape. Tiny, deterministic,
and only meant to check that training learns and that export matches (not a corpus: the
synthetic corpus comes from `scope synth`)."""
from __future__ import annotations

import numpy as np

from . import data, features, poseio

FPS = 25.0


def _frame(rng, hand_xy, shape, jitter=1.0):
    f = np.zeros((poseio.N_POINTS, 3), np.float32)
    c = np.zeros(poseio.N_POINTS, np.float32)
    body = {0: (320, 120), 11: (380, 220), 12: (260, 220), 13: (400, 320), 14: (240, 320),
            15: (390, 400), 16: (250, 400)}
    for k, (x, y) in body.items():
        f[k, :2] = (x, y)
        c[k] = 1
    f[16, :2] = hand_xy
    for i in features.FACE:
        a = i * 0.37
        f[33 + i, :2] = (320 + 30 * np.cos(a), 110 + 35 * np.sin(a))
        c[33 + i] = 1
    for j in range(21):
        a = j * 0.3 + shape
        r = 8 + 2.5 * (j % 4) * (1 + 0.5 * np.sin(shape * 3))
        f[522 + j, :2] = (hand_xy[0] + r * np.cos(a), hand_xy[1] + r * np.sin(a))
        c[522 + j] = 1
    f[:, :2] += rng.normal(0, jitter, (poseio.N_POINTS, 2)).astype(np.float32) * (c[:, None] > 0)
    return f, c


def sentence(glosses, vocab, rng, frames_per_sign=10):
    """Holistic frames [T, 543, 3] and confidence [T, 543] for a gloss sequence."""
    rest = np.array([250.0, 400.0])
    fr, cf = [], []
    for _ in range(4):
        a, b = _frame(rng, rest, 0.0)
        fr.append(a), cf.append(b)
    for g in glosses:
        k = vocab.index(g)
        target = np.array([200 + 40 * (k % 5), 150 + 50 * (k // 5)], float)
        shape = 0.7 * k
        for i in range(frames_per_sign):
            w = np.sin(np.pi * (i + 0.5) / frames_per_sign)
            a, b = _frame(rng, rest * (1 - w) + target * w, shape * w)
            fr.append(a), cf.append(b)
    for _ in range(4):
        a, b = _frame(rng, rest, 0.0)
        fr.append(a), cf.append(b)
    return np.stack(fr), np.stack(cf)


def samples(n, seed=0, vocab_size=6, max_len=4):
    rng = np.random.default_rng(seed)
    vocab = [f"G{i}" for i in range(vocab_size)]
    out = []
    for i in range(n):
        gl = list(rng.choice(vocab, int(rng.integers(1, max_len + 1))))
        frames, conf = sentence(gl, vocab, rng)
        pts, valid, sh, shv = features.select(frames, conf)
        text = " ".join(g.lower() for g in gl)
        out.append(data.Sample(f"toy{i}", gl, text, [f"turn before {text}"], [], FPS,
                               pts.astype(np.float32), valid, sh.astype(np.float32), shv, "train", "s0"))
    return out
