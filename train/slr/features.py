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
6. Hand shape (version 2 only), per hand, left then right: when the hand's wrist (hand point
   0) and middle-finger base (hand point 9) are valid and apart by more than 1e-6, hand
   points 1..20 relative to the wrist divided by that distance, ((x, y) - wrist) / |p9 - p0|
   (0 for an invalid point); all 0 otherwise. This shows the handshape and its orientation
   whatever the hand's size and place, which positions in shoulder widths hardly resolve.
7. Vector: [positions (P x 2, x then y per point), velocities (P x 2), left flag, right flag,
   (version 2:) left hand shape (20 x 2), right hand shape (20 x 2)], then standardised with
   the manifest's mean and std: (v - mean) / std.

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
HAND_SHAPE_DIM = 2 * 20 * 2   # version 2: points 1..20 of each hand relative to its wrist
VERSION = 2                   # the feature version new models are trained with

# Mirror image of the selected points (a left-handed signer's signing seen as right-handed):
# index into POINTS of each point's counterpart.
_MIRROR_BODY = {11: 12, 12: 11, 13: 14, 14: 13, 15: 16, 16: 15}
_MIRROR_FACE = {61: 291, 291: 61, 70: 300, 300: 70, 105: 334, 334: 105, 107: 336, 336: 107,
                33: 263, 263: 33, 133: 362, 362: 133}


def mirror_index():
    """For every selected point, the index (into POINTS) of its mirror-image counterpart."""
    out = []
    for i in POINTS:
        if i in UPPER_BODY:
            j = _MIRROR_BODY.get(i, i)
        elif 33 <= i < 501:
            j = 33 + _MIRROR_FACE.get(i - 33, i - 33)
        elif i in LEFT_HAND:
            j = i + 21
        else:
            j = i - 21
        out.append(POINTS.index(j))
    return out


def spec(version: int = VERSION) -> dict:
    """The feature spec as stored in manifest.json."""
    order = "positions[P][x,y], velocities[P][x,y], left_hand_flag, right_hand_flag"
    if version >= 2:
        order += ", left_hand_shape[20][x,y], right_hand_shape[20][x,y]"
    return {
        "name": "scope-slr-keypoints",
        "version": version,
        "layout": "mediapipe-holistic-543",
        "points": POINTS,
        "center": "midpoint of points 11,12",
        "scale": "distance of points 11,12",
        "left_hand": [LEFT_HAND[0], LEFT_HAND[-1] + 1],
        "right_hand": [RIGHT_HAND[0], RIGHT_HAND[-1] + 1],
        "ref_fps": REF_FPS,
        "dim": feature_dim(version),
        "order": order,
    }


def feature_dim(version: int = VERSION) -> int:
    return len(POINTS) * 4 + 2 + (HAND_SHAPE_DIM if version >= 2 else 0)


def select(frames: np.ndarray, conf: np.ndarray):
    """Points [T, P, 2] (float64) and validity [T, P] plus the shoulders, from Holistic frames."""
    pts = frames[:, POINTS, :2].astype(np.float64)
    valid = (conf[:, POINTS] > 0) & np.isfinite(pts).all(-1)
    sh = frames[:, list(SHOULDERS), :2].astype(np.float64)
    shv = (conf[:, list(SHOULDERS)] > 0) & np.isfinite(sh).all(-1)
    return pts, valid, sh, shv


def compute(frames: np.ndarray, conf: np.ndarray, fps: float, version: int = VERSION) -> np.ndarray:
    """Raw (unstandardised) features [T, D] float32 of Holistic frames [T, 543, >=2]."""
    pts, valid, sh, shv = select(frames, conf)
    return compute_selected(pts, valid, sh, shv, fps, version)


def hand_shape(pts, valid) -> np.ndarray:
    """Step 6: [T, 80] hand points relative to their wrist, in wrist-to-middle-base units."""
    t = pts.shape[0]
    out = []
    for lo in (len(POINTS) - 42, len(POINTS) - 21):
        w, m = pts[:, lo], pts[:, lo + 9]
        s = np.sqrt(((m - w) ** 2).sum(-1))
        ok = valid[:, lo] & valid[:, lo + 9] & (s > 1e-6)
        rel = (pts[:, lo + 1:lo + 21] - w[:, None, :]) / np.where(ok, s, 1.0)[:, None, None]
        rel = np.where((ok[:, None] & valid[:, lo + 1:lo + 21])[..., None], rel, 0.0)
        out.append(rel.reshape(t, -1))
    return np.concatenate(out, 1)


def compute_selected(pts, valid, sh, shv, fps: float, version: int = VERSION) -> np.ndarray:
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
    parts = [pos.reshape(t, -1), vel.reshape(t, -1), lh[:, None].astype(np.float64), rh[:, None].astype(np.float64)]
    if version >= 2:
        parts.append(hand_shape(pts, valid))
    return np.concatenate(parts, 1).astype(np.float32)


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((x.astype(np.float64) - mean) / std).astype(np.float32)
