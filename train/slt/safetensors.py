"""Reader and writer of the safetensors format (no third-party package needed).

Layout: 8-byte little-endian header length N, N bytes of JSON header
({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}),
then the raw little-endian tensor bytes. Offsets are relative to the end of the header.
"""
from __future__ import annotations

import json
import struct
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

_DTYPES = {
    torch.float32: ("F32", np.float32),
    torch.float16: ("F16", np.float16),
    torch.int64: ("I64", np.int64),
    torch.int32: ("I32", np.int32),
    torch.uint8: ("U8", np.uint8),
}
_BY_NAME = {name: (dt, np_dt) for dt, (name, np_dt) in _DTYPES.items()}


def save_file(tensors: Mapping[str, torch.Tensor], path: str,
              metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes tensors (sorted by name) to path in safetensors format."""
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            raise ValueError(f"safetensors: tensor {name!r} has dtype {t.dtype}; "
                             f"convert it to one of {[str(d) for d in _DTYPES]}")
        dname, np_dt = _DTYPES[t.dtype]
        data = t.numpy().astype(np_dt, copy=False).astype(np.dtype(np_dt).newbyteorder("<"),
                                                          copy=False).tobytes()
        header[name] = {"dtype": dname, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def load_file(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Reads a safetensors file; returns (tensors, metadata)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(buf)[8 + n:]
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        if info["dtype"] not in _BY_NAME:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        dt, np_dt = _BY_NAME[info["dtype"]]
        b, e = info["data_offsets"]
        if not 0 <= b <= e <= len(data):
            raise ValueError(f"{path}: tensor {name!r} offsets {b}..{e} outside the data")
        arr = np.frombuffer(data[b:e], dtype=np.dtype(np_dt).newbyteorder("<")).astype(np_dt)
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out, meta
