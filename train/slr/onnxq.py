"""Int8 weight quantisation of an ONNX model, written against the protobuf wire format
(this machine has no Python onnx package and no ONNX Runtime quantisation tool).

Every 2-D float32 initializer with at least QUANT_MIN elements is replaced by an int8 tensor
with symmetric scales (zero point 0) and a DequantizeLinear node (opset >= 13, `axis`) that
restores the float weight under its old name: the QDQ weight-only form ONNX Runtime runs.
Weights of MatMul (input 1) and Gemm (input 1) get one scale per output column; other
tables (embeddings read by Gather, position tables) one scale per row.

The protobuf handling is generic: a message is a list of (field, wire type, value) kept in
order, so everything the quantiser does not touch is written back byte for byte.
"""
from __future__ import annotations

import struct
from typing import List, Tuple

import numpy as np

QUANT_MIN = 1024

# ONNX field numbers (onnx.proto3).
MODEL_GRAPH, MODEL_OPSET = 7, 8
GRAPH_NODE, GRAPH_INITIALIZER = 1, 5
NODE_INPUT, NODE_OUTPUT, NODE_NAME, NODE_OP, NODE_ATTR = 1, 2, 3, 4, 5
T_DIMS, T_TYPE, T_FLOAT, T_NAME, T_RAW = 1, 2, 4, 8, 9
A_NAME, A_I, A_TYPE = 1, 3, 20
OPSET_DOMAIN, OPSET_VERSION = 1, 2
FLOAT, INT8 = 1, 3
ATTR_INT = 2

Field = Tuple[int, int, object]


def _varint(b: bytes, i: int):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7


def _enc_varint(v: int) -> bytes:
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def decode(b: bytes) -> List[Field]:
    out, i = [], 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt} at byte {i}")
        out.append((f, wt, v))
    return out


def encode(fields: List[Field]) -> bytes:
    out = bytearray()
    for f, wt, v in fields:
        out += _enc_varint(f << 3 | wt)
        if wt == 0:
            out += _enc_varint(v)
        elif wt == 2:
            out += _enc_varint(len(v)) + v
        else:
            out += v
    return bytes(out)


def _get(fields, num):
    return [v for f, _, v in fields if f == num]


def _ints(fields, num) -> List[int]:
    """Repeated int64 field, packed or not."""
    out = []
    for f, wt, v in fields:
        if f != num:
            continue
        if wt == 0:
            out.append(v)
        else:
            i = 0
            while i < len(v):
                x, i = _varint(v, i)
                out.append(x)
    return out


def _s(name: str) -> bytes:
    return name.encode()


def tensor(name: str, dims, dtype: int, raw: bytes) -> bytes:
    fs = [(T_DIMS, 0, d) for d in dims] + [(T_TYPE, 0, dtype), (T_NAME, 2, _s(name)), (T_RAW, 2, raw)]
    return encode(fs)


def node(op: str, inputs, outputs, name: str, attrs=()) -> bytes:
    fs = [(NODE_INPUT, 2, _s(x)) for x in inputs] + [(NODE_OUTPUT, 2, _s(x)) for x in outputs]
    fs += [(NODE_NAME, 2, _s(name)), (NODE_OP, 2, _s(op))]
    for k, v in attrs:
        fs.append((NODE_ATTR, 2, encode([(A_NAME, 2, _s(k)), (A_I, 0, v), (A_TYPE, 0, ATTR_INT)])))
    return encode(fs)


def _float_array(t) -> np.ndarray:
    dims = _ints(t, T_DIMS)
    raw = _get(t, T_RAW)
    if raw:
        a = np.frombuffer(raw[0], "<f4")
    else:
        vals = []
        for f, wt, v in t:
            if f == T_FLOAT:
                vals += list(struct.unpack(f"<{len(v) // 4}f", v)) if wt == 2 else [struct.unpack("<f", v)[0]]
        a = np.array(vals, np.float32)
    return a.reshape(dims)


def quantize_weights(model: bytes, min_elements: int = QUANT_MIN, matmul_only: bool = False):
    """Returns (quantised model bytes, names of the quantised weights)."""
    m = decode(model)
    gi = [i for i, (f, _, _) in enumerate(m) if f == MODEL_GRAPH]
    if len(gi) != 1:
        raise ValueError("not an ONNX model: no graph")
    for v in _get(m, MODEL_OPSET):
        o = decode(v)
        dom = _get(o, OPSET_DOMAIN)
        if (not dom or dom[0] in (b"", b"ai.onnx")) and _get(o, OPSET_VERSION)[0] < 13:
            raise ValueError("per-axis DequantizeLinear needs opset >= 13; export with opset 13 or later")
    g = decode(m[gi[0]][2])
    # weight name -> axis of its output channels
    targets = {}
    for f, _, v in g:
        if f != GRAPH_NODE:
            continue
        n = decode(v)
        op = _get(n, NODE_OP)[0].decode()
        ins = [x.decode() for x in _get(n, NODE_INPUT)]
        if op == "MatMul" and len(ins) > 1:
            targets[ins[1]] = -1
        elif op == "Gemm" and len(ins) > 1:
            trans_b = 0
            for a in _get(n, NODE_ATTR):
                ad = decode(a)
                if _get(ad, A_NAME)[0] == b"transB":
                    trans_b = _get(ad, A_I)[0]
            targets[ins[1]] = 0 if trans_b else 1
    new_g, dq_nodes, done = [], [], []
    for f, wt, v in g:
        if f == GRAPH_INITIALIZER:
            t = decode(v)
            name = _get(t, T_NAME)[0].decode()
            dt = _get(t, T_TYPE)
            dims = _ints(t, T_DIMS)
            if (matmul_only is False or name in targets) and dt and dt[0] == FLOAT and len(dims) == 2 \
                    and np.prod(dims) >= min_elements:
                w = _float_array(t).astype(np.float64)
                axis = targets.get(name, 0) % 2
                amax = np.abs(w).max(axis=1 - axis)
                scale = np.where(amax > 0, amax / 127.0, 1.0)
                shape = (1, -1) if axis == 1 else (-1, 1)
                q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
                new_g.append((GRAPH_INITIALIZER, 2, tensor(name + "_q", dims, INT8, q.tobytes())))
                new_g.append((GRAPH_INITIALIZER, 2, tensor(name + "_scale", [len(scale)], FLOAT,
                                                           scale.astype("<f4").tobytes())))
                new_g.append((GRAPH_INITIALIZER, 2, tensor(name + "_zero", [len(scale)], INT8,
                                                           np.zeros(len(scale), np.int8).tobytes())))
                dq_nodes.append((GRAPH_NODE, 2, node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zero"],
                                                     [name], name + "_dequantize", [("axis", axis)])))
                done.append(name)
                continue
        new_g.append((f, wt, v))
    # DequantizeLinear nodes first keeps the node list topologically sorted.
    first = next((i for i, (f, _, _) in enumerate(new_g) if f == GRAPH_NODE), len(new_g))
    new_g = new_g[:first] + dq_nodes + new_g[first:]
    m[gi[0]] = (MODEL_GRAPH, 2, encode(new_g))
    return encode(m), done


def io_info(model: bytes):
    """Graph inputs and outputs as [(name, dims)] with dims as ints or symbolic names."""
    g = decode(_get(decode(model), MODEL_GRAPH)[0])
    init_names = {_get(decode(v), T_NAME)[0].decode() for v in _get(g, GRAPH_INITIALIZER)}

    def vi(v):
        d = decode(v)
        name = _get(d, 1)[0].decode()
        dims = []
        for tp in _get(d, 2):                      # TypeProto
            for tt in _get(decode(tp), 1):         # tensor_type
                tt = decode(tt)
                elem = _get(tt, 1)[0] if _get(tt, 1) else 0
                for sh in _get(tt, 2):             # TensorShapeProto
                    for dim in _get(decode(sh), 1):
                        dd = decode(dim)
                        val = _get(dd, 1)
                        dims.append(val[0] if val else _get(dd, 2)[0].decode())
                return name, dims, elem
        return name, dims, 0

    ins = [vi(v) for v in _get(g, 11)]
    outs = [vi(v) for v in _get(g, 12)]
    return [x for x in ins if x[0] not in init_names], outs
