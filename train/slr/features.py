"""Keypoint features of the recogniser. The Go runtime (models/slr/features.go) computes
the same numbers from the same frames; the spec travels in the bundle manifest
("features") and a test compares both implementations on a fixture.

Per frame t, from MediaPipe Holistic points (x, y in pixels, or any units equal on both
axes) and their confidence:

1. Select the points of SPEC["points"] (upper body, selected face points, both hands).
   A point is valid when its confidence is > 0 and its coordinates are finite.
2. Centre and scale: c = midpoint of the shoulders (pose 11, 12), s = their distance, when
   both are valid and s > 1e-6. Frames without them use the last earlier frame that had
   them, frames before the first such frame the first one; no such frame at all: c = 0, s = 1.
3. Position of a valid point: ((x, y) - c) / s; invalid points give (0, 0).
4. Velocity: (position_t - position_{t-1}) * fps / REF_FPS when the point is valid in both
   frames, else 0; 0 in the first frame.
5. Hand flags: 1 when any point of the left (right) hand is valid.
6. Vector: [positions (P x 2, x then y per point), velocities (P x 2), left flag, right flag],
   then standardised with the manifest's mean and std: (v - mean) / std.

Arithmetic is float64, rounded to float32 at the end (Go does the same).
"""
from __future__ import annotations

import numpy as np

REF_FPS = 25.0

UPPER_BODY = [0, 11, 12, 13, 14, 15, 16]
# Face (index into the 468 face mesh): lips, eyebrows, eye corners, nose tip, chin.
FACE = [61, 291, 0, 17, 13, 14, 70, 105, 107, 336, 334, 300, 33, 133, 362, 263, 1, 152]
LEFT_HAND = list(range(501, 522))
RIGHT_HAND = list(range(522, 543))
POINTS = UPPER_BODY + [33 + i for i in FACE] + LEFT_HAND + RIGHT_HAND
SHOULDERS = (11, 12)


def spec() -> dict:
    """The feature spec as stored in manifest.json."""
    return {
        "name": "scope-slr-keypoints",
        "version": 1,
        "layout": "mediapipe-holistic-543",
        "points": POINTS,
        "center": "midpoint of points 11,12",
        "scale": "distance of points 11,12",
        "left_hand": [LEFT_HAND[0], LEFT_HAND[-1] + 1],
        "right_hand": [RIGHT_HAND[0], RIGHT_HAND[-1] + 1],
        "ref_fps": REF_FPS,
        "dim": feature_dim(),
        "order": "positions[P][x,y], velocities[P][x,y], left_hand_flag, right_hand_flag",
    }


def feature_dim() -> int:
    return len(POINTS) * 4 + 2


def select(frames: np.ndarray, conf: np.ndarray):
    """Points [T, P, 2] (float64) and validity [T, P] plus the shoulders, from Holistic frames."""
    pts = frames[:, POINTS, :2].astype(np.float64)
    valid = (conf[:, POINTS] > 0) & np.isfinite(pts).all(-1)
    sh = frames[:, list(SHOULDERS), :2].astype(np.float64)
    shv = (conf[:, list(SHOULDERS)] > 0) & np.isfinite(sh).all(-1)
    return pts, valid, sh, shv


def compute(frames: np.ndarray, conf: np.ndarray, fps: float) -> np.ndarray:
    """Raw (unstandardised) features [T, D] float32 of Holistic frames [T, 543, >=2]."""
    pts, valid, sh, shv = select(frames, conf)
    return compute_selected(pts, valid, sh, shv, fps)


def compute_selected(pts, valid, sh, shv, fps: float) -> np.ndarray:
    t = pts.shape[0]
    centers = np.zeros((t, 2))
    scales = np.ones(t)
    ok = shv.all(-1)
    c = (sh[:, 0] + sh[:, 1]) / 2 if t else np.zeros((0, 2))
    s = np.sqrt(((sh[:, 0] - sh[:, 1]) ** 2).sum(-1)) if t else np.zeros(0)
    ok &= s > 1e-6
    idx = np.nonzero(ok)[0]
    if len(idx):
        # last frame <= i with shoulders; frames before the first one use the first one
        last = np.maximum.accumulate(np.where(ok, np.arange(t), idx[0]))
        centers, scales = c[last], s[last]
    pos = (pts - centers[:, None, :]) / scales[:, None, None]
    pos = np.where(valid[..., None], pos, 0.0)
    vel = np.zeros_like(pos)
    if t > 1:
        both = valid[1:] & valid[:-1]
        vel[1:] = np.where(both[..., None], (pos[1:] - pos[:-1]) * (fps / REF_FPS), 0.0)
    lh = valid[:, len(POINTS) - 42:len(POINTS) - 21].any(-1)
    rh = valid[:, len(POINTS) - 21:].any(-1)
    out = np.concatenate([pos.reshape(t, -1), vel.reshape(t, -1),
                          lh[:, None].astype(np.float64), rh[:, None].astype(np.float64)], 1)
    return out.astype(np.float32)


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((x.astype(np.float64) - mean) / std).astype(np.float32)
