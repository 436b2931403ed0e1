"""Reads a SCOPE dataset directory (manifest.jsonl + .pose files, see dataset/README.md) into
training samples: the selected keypoints of each signer turn, its glosses, the text of the
turn and the texts of the previous turns of its dialogue (the context)."""
from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from . import features, poseio


@dataclass
class Sample:
    id: str
    glosses: List[str]
    text: str
    context: List[str]           # previous turns' text, oldest first
    ambiguous: List[int]
    fps: float
    pts: np.ndarray              # [T, P, 2] float32 selected points
    valid: np.ndarray            # [T, P] bool
    sh: np.ndarray               # [T, 2, 2] shoulders
    shv: np.ndarray              # [T, 2] bool
    split: str = ""
    signer: str = ""

    def raw_features(self, version: int = features.VERSION) -> np.ndarray:
        return features.compute_selected(self.pts.astype(np.float64), self.valid,
                                         self.sh.astype(np.float64), self.shv, self.fps, version)


def read_manifest(data_dir: str) -> List[dict]:
    path = os.path.join(data_dir, "manifest.jsonl")
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e}") from None
    return out


def frame_range(e: dict, fps: float, n: int):
    """The turn's frames inside its .pose file: [round(start*fps), round(end*fps)) clipped."""
    start, end = float(e.get("start") or 0), float(e.get("end") or 0)
    if start == 0 and end == 0:
        return 0, n
    a = min(n, max(0, int(np.floor(start * fps + 0.5))))
    b = n if end == 0 else min(n, max(a, int(np.floor(end * fps + 0.5))))
    return a, b


def contexts(entries: List[dict]) -> Dict[str, List[str]]:
    """For every entry id, the texts of the earlier turns of its dialogue (by turn)."""
    by_dlg: Dict[str, List[dict]] = {}
    for e in entries:
        by_dlg.setdefault(e["dialogue_id"], []).append(e)
    out = {}
    for turns in by_dlg.values():
        turns.sort(key=lambda e: e["turn"])
        for i, e in enumerate(turns):
            out[e["id"]] = [t.get("text", "") for t in turns[:i]]
    return out


def load(data_dir: str, splits: Optional[List[str]] = None, limit: int = 0, log=print,
         cache: str = "") -> List[Sample]:
    """The signer turns of splits (all when empty), the first `limit` when > 0. With cache (a
    folder), the selected points are kept in a pickle named after the corpus, splits and limit,
    and read from there the next time (reading thousands of .pose files takes minutes)."""
    path = ""
    if cache:
        st = os.stat(os.path.join(data_dir, "manifest.jsonl"))
        key = f"{os.path.abspath(data_dir)}|{','.join(splits or [])}|{limit}|{st.st_size}|{st.st_mtime_ns}"
        path = os.path.join(cache, "slr-samples-" + hashlib.sha256(key.encode()).hexdigest()[:16] + ".pkl")
        if os.path.exists(path):
            with open(path, "rb") as f:
                out = pickle.load(f)
            if log:
                log(f"read {len(out)} turns from the cache {path}")
            return out
    out = _load(data_dir, splits, limit, log)
    if path:
        os.makedirs(cache, exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            pickle.dump(out, f, protocol=4)
        os.replace(path + ".tmp", path)
    return out


def _load(data_dir: str, splits: Optional[List[str]], limit: int, log) -> List[Sample]:
    entries = read_manifest(data_dir)
    ctx = contexts(entries)
    out = []
    todo = [e for e in entries if e.get("speaker") == "signer" and (not splits or e.get("split") in splits)]
    if limit:
        todo = todo[:limit]
    for i, e in enumerate(todo):
        p = poseio.read(os.path.join(data_dir, e["pose"]))
        frames, conf = p.holistic(0)
        a, b = frame_range(e, p.fps, len(frames))
        pts, valid, sh, shv = features.select(frames[a:b], conf[a:b])
        out.append(Sample(e["id"], list(e.get("glosses") or []), e.get("text", ""), ctx[e["id"]],
                          list(e.get("ambiguous") or []), p.fps, pts.astype(np.float32), valid,
                          sh.astype(np.float32), shv, e.get("split", ""), e.get("signer_id", "")))
        if log and (i + 1) % 500 == 0:
            log(f"read {i + 1}/{len(todo)} turns")
    return out


@dataclass
class Augment:
    rotate_deg: float = 12.0
    scale: float = 0.15          # independent x/y scale in [1-s, 1+s]
    speed: float = 0.25          # time stretch in [1/(1+s), 1+s]
    drop_hand: float = 0.15      # probability per hand of a dropped span
    jitter: float = 0.004        # Gaussian noise, in shoulder widths
    mirror: float = 0.0          # probability of the mirror image (left- and right-handed signing)


_MIRROR = features.mirror_index()


def augment(s: Sample, a: Augment, rng: np.random.Generator):
    """Returns augmented (pts, valid, sh, shv) in float64: mirror image, rotation, scale, speed,
    dropped hands."""
    pts, valid, sh, shv = s.pts.astype(np.float64), s.valid.copy(), s.sh.astype(np.float64), s.shv.copy()
    t = len(pts)
    if a.mirror and rng.random() < a.mirror:
        # x -> -x (about any axis: features are centred on the shoulders), points swapped with
        # their counterparts, as a mirrored camera and the keypoint estimator would give them
        pts = pts[:, _MIRROR] * np.array([-1.0, 1.0])
        valid = valid[:, _MIRROR]
        sh = sh[:, ::-1] * np.array([-1.0, 1.0])
        shv = shv[:, ::-1]
    if a.speed and t > 2:
        f = float(np.exp(rng.uniform(-np.log1p(a.speed), np.log1p(a.speed))))
        n = max(2, int(round(t / f)))
        src = np.linspace(0, t - 1, n)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, t - 1)
        w = (src - lo)[:, None, None]
        both = valid[lo] & valid[hi]
        pts = np.where(both[..., None], pts[lo] * (1 - w) + pts[hi] * w, pts[np.rint(src).astype(int)])
        valid = valid[np.rint(src).astype(int)]
        bsh = shv[lo] & shv[hi]
        sh = np.where(bsh[..., None], sh[lo] * (1 - w) + sh[hi] * w, sh[np.rint(src).astype(int)])
        shv = shv[np.rint(src).astype(int)]
        t = n
    ok = shv.all(-1)
    center = sh[ok].mean((0, 1)) if ok.any() else np.zeros(2)
    th = np.deg2rad(rng.uniform(-a.rotate_deg, a.rotate_deg))
    sx, sy = rng.uniform(1 - a.scale, 1 + a.scale, 2)
    m = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) @ np.diag([sx, sy])
    pts = (pts - center) @ m.T + center
    sh = (sh - center) @ m.T + center
    if a.jitter and ok.any():
        width = np.median(np.sqrt(((sh[ok, 0] - sh[ok, 1]) ** 2).sum(-1)))
        pts = pts + rng.normal(0, a.jitter * width, pts.shape)
    n_body = len(features.POINTS) - 42
    for lo_i in (n_body, n_body + 21):
        if rng.random() < a.drop_hand and t > 1:
            span = int(t * rng.uniform(0.2, 1.0))
            st = int(rng.integers(0, t - span + 1))
            valid[st:st + span, lo_i:lo_i + 21] = False
    return pts, valid, sh, shv


class GlossVocab:
    """Gloss ids: 0 is the CTC blank, then the training glosses sorted."""

    def __init__(self, glosses: List[str]):
        self.items = ["<blank>"] + sorted(set(glosses))
        self.index = {g: i for i, g in enumerate(self.items)}

    def encode(self, gl: List[str]) -> List[int]:
        return [self.index[g] for g in gl if g in self.index]

    def decode(self, ids) -> List[str]:
        return [self.items[i] for i in ids]


@dataclass
class Norm:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, samples: List[Sample], version: int = features.VERSION):
        x = np.concatenate([s.raw_features(version).astype(np.float64) for s in samples], 0)
        # rounded to float32: the manifest stores float32 and the Go runtime must see the same
        return cls(x.mean(0).astype(np.float32).astype(np.float64),
                   np.maximum(x.std(0), 1e-3).astype(np.float32).astype(np.float64))
