"""Reader of pose-format `.pose` files (versions 0.1 and 0.2), without the pose-format package.

Layout (little endian): float32 version; uint16 width, height, depth; uint16 component count;
per component: str name, str format, uint16 points, limbs, colors, then the point names (str),
limbs (2 x uint16) and colors (3 x uint16); str = uint16 length + UTF-8 bytes. Body v0.1:
uint16 fps, uint16 frames, uint16 people; v0.2: float32 fps, uint32 frames, uint16 people.
Then float32 data [frames, people, points, dims] and float32 confidence [frames, people, points].

holistic() maps the components onto MediaPipe Holistic's 543-point layout by name:
33 pose + 468 face + 21 left hand + 21 right hand; missing points get confidence 0.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import List

import numpy as np

POSE_NAMES = [
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE",
    "RIGHT_EYE_OUTER", "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER",
    "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY",
    "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX", "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP",
    "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE", "LEFT_HEEL",
    "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
]
HAND_NAMES = [
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP",
    "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP",
    "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP", "RING_FINGER_MCP",
    "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP", "PINKY_MCP", "PINKY_PIP",
    "PINKY_DIP", "PINKY_TIP",
]
N_POINTS = 543
FACE_OFFSET, LEFT_HAND_OFFSET, RIGHT_HAND_OFFSET = 33, 501, 522


class PoseFormatError(ValueError):
    pass


@dataclass
class Component:
    name: str
    format: str
    points: List[str]


@dataclass
class PoseFile:
    version: float
    width: int
    height: int
    depth: int
    components: List[Component]
    fps: float
    data: np.ndarray        # [frames, people, points, dims] float32
    confidence: np.ndarray  # [frames, people, points] float32

    def holistic(self, person: int = 0):
        """Frames [T, 543, 3] and confidence [T, 543] in MediaPipe Holistic layout."""
        if not 0 <= person < self.data.shape[1]:
            raise PoseFormatError(f"person {person} not in file with {self.data.shape[1]} people")
        t = self.data.shape[0]
        out = np.zeros((t, N_POINTS, 3), np.float32)
        conf = np.zeros((t, N_POINTS), np.float32)
        dims = min(3, self.data.shape[3])
        start = 0
        for c in self.components:
            idx = _holistic_indices(c)
            for j, k in enumerate(idx):
                if k is None:
                    continue
                out[:, k, :dims] = self.data[:, person, start + j, :dims]
                conf[:, k] = self.confidence[:, person, start + j]
            start += len(c.points)
        return out, conf


def _holistic_indices(c: Component):
    n = c.name.upper()
    if n == "POSE_LANDMARKS":
        m = {p: i for i, p in enumerate(POSE_NAMES)}
        return [m.get(p) for p in c.points]
    if n == "FACE_LANDMARKS":
        res = []
        for p in c.points:
            try:
                i = int(p)
            except ValueError:
                res.append(None)
                continue
            res.append(FACE_OFFSET + i if 0 <= i < 468 else None)
        return res
    if n in ("LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"):
        off = LEFT_HAND_OFFSET if n.startswith("LEFT") else RIGHT_HAND_OFFSET
        m = {p: i for i, p in enumerate(HAND_NAMES)}
        return [off + m[p] if p in m else None for p in c.points]
    return [None] * len(c.points)


class _Reader:
    def __init__(self, b: bytes, name: str):
        self.b, self.off, self.name = b, 0, name

    def unpack(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        if self.off + size > len(self.b):
            raise PoseFormatError(f"{self.name}: truncated at byte {self.off} (need {size} more bytes)")
        v = struct.unpack_from("<" + fmt, self.b, self.off)
        self.off += size
        return v

    def string(self) -> str:
        (n,) = self.unpack("H")
        if self.off + n > len(self.b):
            raise PoseFormatError(f"{self.name}: truncated string at byte {self.off}")
        s = self.b[self.off:self.off + n].decode("utf-8", errors="replace")
        self.off += n
        return s


def read(path: str) -> PoseFile:
    with open(path, "rb") as f:
        return parse(f.read(), path)


def parse(b: bytes, name: str = "<bytes>") -> PoseFile:
    r = _Reader(b, name)
    (version,) = r.unpack("f")
    version = round(version, 3)
    if version not in (0.1, 0.2):
        raise PoseFormatError(f"{name}: unsupported .pose version {version} (want 0.1 or 0.2)")
    width, height, depth = r.unpack("HHH")
    (nc,) = r.unpack("H")
    comps = []
    for _ in range(nc):
        cname, fmt = r.string(), r.string()
        npts, nlimbs, ncolors = r.unpack("HHH")
        pts = [r.string() for _ in range(npts)]
        r.unpack("H" * 2 * nlimbs)
        r.unpack("H" * 3 * ncolors)
        comps.append(Component(cname, fmt, pts))
    if version == 0.1:
        fps, frames, people = r.unpack("HHH")
    else:
        fps, frames, people = r.unpack("fIH")
    npoints = sum(len(c.points) for c in comps)
    dims = {len(c.format) - 1 for c in comps} if comps else {3}
    if len(dims) != 1:
        raise PoseFormatError(f"{name}: components have different point formats")
    d = dims.pop()
    count = frames * people * npoints
    need = count * d * 4 + count * 4
    if r.off + need > len(b):
        raise PoseFormatError(f"{name}: body holds {len(b) - r.off} bytes, header promises {need} "
                              f"({frames} frames x {people} people x {npoints} points)")
    data = np.frombuffer(b, np.float32, count * d, r.off).reshape(frames, people, npoints, d)
    conf = np.frombuffer(b, np.float32, count, r.off + count * d * 4).reshape(frames, people, npoints)
    return PoseFile(version, width, height, depth, comps, float(fps), data.copy(), conf.copy())
