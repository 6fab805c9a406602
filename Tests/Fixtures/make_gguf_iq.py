#!/usr/bin/env python3
"""Writes the GGUF fixture of ggml's IQ, TQ and FP4 block types with gguf-py (PyPI `gguf` 0.19.0) and numpy.

    python3 Tests/Fixtures/make_gguf_iq.py

Files (in Tests/Fixtures/gguf/):
  iq_types.gguf      v3, one tensor per type gguf.quants.dequantize handles beyond the legacy and K-quants:
                     IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0,
                     MXFP4, NVFP4 (a few blocks each)
  expected_iq.json   same schema as expected.json: metadata, and per tensor the name, type, numpy-order shape,
                     byte size and the float32 bit patterns gguf.quants.dequantize computes; plus "ggml_types":
                     every type gguf-py knows (id, name, block geometry, whether it can dequantize it)
  iq_grids.gguf      one tensor per IQ grid type whose blocks use every row of the grid once, in order
  iq_grids.npz       gguf.quants.dequantize of each of those tensors (float32, deflated: the values repeat)

gguf-py cannot quantize most of these types, so every block is random bytes (every bit of the packed fields,
grid indices, sign bits and sub-scales exercised) with the f16 scale set to a finite random value where ggml's
struct puts it (IQ1_M spreads it over the top nibbles of its four scale words). The scale bytes of the FP4
types are chosen instead: MXFP4 covers the E8M0 edges (subnormal at 0 and 1, overflow to infinity at 255),
NVFP4 the E4M3 edges (0x00 and 0x7F read as 0, subnormals, the ignored bit 7) and 48 other scale bytes.
"""
import json
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

from importlib.metadata import version
assert version("gguf") == "0.19.0", version("gguf")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "gguf")
NAME = "iq_types.gguf"
rng = np.random.default_rng(20261130)

# byte offset of the f16 scale d in each type's block, as in ggml-common.h
F16_SCALE_AT = {
    T.IQ2_XXS: 0, T.IQ2_XS: 0, T.IQ2_S: 0, T.IQ3_XXS: 0, T.IQ3_S: 0, T.IQ1_S: 0,
    T.IQ4_NL: 0, T.IQ4_XS: 0, T.TQ1_0: 52, T.TQ2_0: 64,
}


def f16_scales(n):
    return np.asarray(rng.normal(0, 0.02, size=n), dtype=np.float16).view(np.uint16)


def blocks(qtype, n_blocks):
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    b = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    if qtype in F16_SCALE_AT:
        at = F16_SCALE_AT[qtype]
        b[:, at:at + 2] = f16_scales(n_blocks).view(np.uint8).reshape(-1, 2)
    elif qtype == T.IQ1_M:
        # qs[32], qh[16], u16 scales[4]: the top nibble of scales[i] is bits 4i…4i+3 of d
        d = f16_scales(n_blocks)
        words = b[:, 48:56].copy().view(np.uint16)
        for i in range(4):
            words[:, i] = (words[:, i] & 0x0FFF) | (((d >> (4 * i)) & 0xF) << 12)
        b[:, 48:56] = words.view(np.uint8)
    elif qtype == T.MXFP4:
        edges = [0, 1, 2, 3, 126, 127, 128, 129, 252, 253, 254, 255]
        e = edges + list(rng.integers(100, 150, size=n_blocks - len(edges)))
        b[:, 0] = np.array(e, dtype=np.uint8)
    elif qtype == T.NVFP4:
        edges = [0x00, 0x01, 0x07, 0x08, 0x09, 0x3F, 0x40, 0x7E, 0x7F, 0x80, 0x81, 0x87, 0x88, 0xF8, 0xFE, 0xFF]
        rest = [x for x in rng.permutation(256) if x not in edges][:4 * n_blocks - len(edges)]
        b[:, 0:4] = np.array(edges + rest, dtype=np.uint8).reshape(n_blocks, 4)
    else:
        raise ValueError(qtype)
    return b


def bits(floats):
    return [int(v) for v in np.ascontiguousarray(floats, dtype=np.float32).reshape(-1).view(np.uint32)]


# name, type, numpy-order shape (last dimension a whole number of blocks)
TENSORS = [
    ("iq2_xxs", T.IQ2_XXS, [2, 256]),
    ("iq2_xs", T.IQ2_XS, [1, 512]),
    ("iq2_s", T.IQ2_S, [2, 1, 256]),
    ("iq3_xxs", T.IQ3_XXS, [2, 256]),
    ("iq3_s", T.IQ3_S, [1, 512]),
    ("iq1_s", T.IQ1_S, [2, 256]),
    ("iq1_m", T.IQ1_M, [1, 512]),
    ("iq4_nl", T.IQ4_NL, [3, 96]),
    ("iq4_xs", T.IQ4_XS, [2, 256]),
    ("tq1_0", T.TQ1_0, [2, 256]),
    ("tq2_0", T.TQ2_0, [1, 512]),
    ("mxfp4", T.MXFP4, [4, 128]),
    ("nvfp4", T.NVFP4, [2, 512]),
]


ONE = np.array([1.0], dtype=np.float16).view(np.uint8)   # f16 1.0 as bytes


def grid_sweep(qtype):
    """Blocks that use every row of the type's grid once, in order (row r is the r-th 8 or 4 elements), with
    d = 1, sub-scale 0, no sign flips and delta +0.125: the decoded floats are the grid rows, scaled."""
    rows = {T.IQ2_XXS: 256, T.IQ2_XS: 512, T.IQ2_S: 1024, T.IQ3_XXS: 256, T.IQ3_S: 512,
            T.IQ1_S: 2048, T.IQ1_M: 2048}[qtype]
    per_block = 256 // (4 if qtype in (T.IQ3_XXS, T.IQ3_S) else 8)
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n = rows // per_block
    b = np.zeros((n, type_size), dtype=np.uint8)
    r = np.arange(rows, dtype=np.uint32).reshape(n, per_block)
    if qtype != T.IQ1_M:
        b[:, 0:2] = ONE
    if qtype == T.IQ2_XXS:    # 8 × (u32 four row bytes, u32 aux = 0)
        b[:, 2:66].view(np.uint32)[:, 0::2] = r.astype(np.uint8).view(np.uint32)
    elif qtype == T.IQ2_XS:   # u16 qs[32]: 9-bit row, sign index 0
        b[:, 2:66] = r.astype(np.uint16).view(np.uint8)
    elif qtype in (T.IQ2_S, T.IQ3_S):   # low 8 bits in qs, high bits in qh
        b[:, 2:2 + per_block] = (r & 0xFF).astype(np.uint8)
        high = r >> 8
        if qtype == T.IQ2_S:  # qh[8] at 66: 2 bits per row
            q = high.reshape(n, 8, 4) << np.array([0, 2, 4, 6], dtype=np.uint32)
            b[:, 66:74] = q.sum(axis=-1).astype(np.uint8)
        else:                 # qh[8] at 66: 1 bit per row
            q = high.reshape(n, 8, 8) << np.arange(8, dtype=np.uint32)
            b[:, 66:74] = q.sum(axis=-1).astype(np.uint8)
    elif qtype == T.IQ3_XXS:  # qs[64] at 2, aux = 0
        b[:, 2:66] = r.astype(np.uint8)
    elif qtype == T.IQ1_S:    # qs[32] at 2, u16 qh[8] at 34: 3 high bits per row
        b[:, 2:34] = (r & 0xFF).astype(np.uint8)
        q = (r >> 8).reshape(n, 8, 4) << np.array([0, 3, 6, 9], dtype=np.uint32)
        b[:, 34:50] = q.sum(axis=-1).astype(np.uint16).view(np.uint8)
    elif qtype == T.IQ1_M:    # qs[32], qh[16]: a nibble per row, u16 scales[4]: d in the top nibbles
        b[:, 0:32] = (r & 0xFF).astype(np.uint8)
        q = (r >> 8).reshape(n, 16, 2) << np.array([0, 4], dtype=np.uint32)
        b[:, 32:48] = q.sum(axis=-1).astype(np.uint8)
        d = int(ONE.view(np.uint16)[0])
        b[:, 48:56] = np.array([((d >> (4 * i)) & 0xF) << 12 for i in range(4)], dtype=np.uint16).view(np.uint8)
    return b


def write_grid_sweep():
    """iq_grids.gguf and iq_grids.npz: every grid row of every IQ grid type, decoded by gguf-py."""
    path = os.path.join(OUT, "iq_grids.gguf")
    w = gguf.GGUFWriter(path, arch="weightlab-test")
    refs = {}
    for qtype in (T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S, T.IQ1_M):
        data = grid_sweep(qtype).reshape(1, -1)
        name = qtype.name.lower()
        w.add_tensor(name, data, raw_dtype=qtype)
        ref = gguf.quants.dequantize(data, qtype)
        grid = quants_grid(qtype)
        scale = {T.IQ3_S: 1.0, T.IQ3_XXS: 0.25}.get(qtype, 0.125)
        expect = grid + np.float32(0.125) if qtype in (T.IQ1_S, T.IQ1_M) else grid * np.float32(scale)
        assert np.array_equal(ref.reshape(-1), expect.reshape(-1)), name   # the sweep reads every row in order
        refs[name] = ref
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    np.savez_compressed(os.path.join(OUT, "iq_grids.npz"), **refs)


def quants_grid(qtype):
    cls = {T.IQ2_XXS: gguf.quants.IQ2_XXS, T.IQ2_XS: gguf.quants.IQ2_XS, T.IQ2_S: gguf.quants.IQ2_S,
           T.IQ3_XXS: gguf.quants.IQ3_XXS, T.IQ3_S: gguf.quants.IQ3_S, T.IQ1_S: gguf.quants.IQ1_S,
           T.IQ1_M: gguf.quants.IQ1_M}[qtype]
    cls.init_grid()
    return np.asarray(cls.grid, dtype=np.float32).reshape(-1)


def ggml_types():
    """Every type gguf-py 0.19.0 knows: id, name, block geometry, and whether gguf.quants.dequantize decodes it."""
    out = []
    for t in T:
        block_size, type_size = gguf.GGML_QUANT_SIZES[t]
        try:
            gguf.quants.dequantize(np.zeros((1, type_size), dtype=np.uint8), t)
            dequantizes = True
        except NotImplementedError:
            dequantizes = False
        out.append({"id": int(t), "name": t.name, "block_size": block_size, "type_size": type_size,
                    "dequantizes": dequantizes})
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, NAME)
    w = gguf.GGUFWriter(path, arch="weightlab-test")
    w.add_key_value("test.note", "IQ, TQ and FP4 block types", V.STRING)
    metadata = [("general.architecture", "STRING", "weightlab-test"),
                ("test.note", "STRING", "IQ, TQ and FP4 block types")]
    tensors = []
    for name, qtype, shape in TENSORS:
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        n = int(np.prod(shape))
        data = blocks(qtype, n // block_size).reshape(*shape[:-1], shape[-1] // block_size * type_size)
        w.add_tensor(name, data, raw_dtype=qtype)
        with np.errstate(over="ignore"):   # MXFP4's e = 255 scale times 12 is infinite, as in ggml
            ref = gguf.quants.dequantize(data, qtype)
        assert ref.dtype == np.float32 and list(ref.shape) == shape, (name, ref.dtype, ref.shape)
        assert np.isfinite(ref).all() or qtype == T.MXFP4, name    # only MXFP4's e = 255 overflows
        tensors.append({"name": name, "type": qtype.name, "shape": shape, "nbytes": int(data.nbytes),
                        "values": bits(ref)})
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # Cross-check with gguf-py's own reader, and that the reader's data decodes to the same floats.
    r = gguf.GGUFReader(path)
    assert [k for k in r.fields if not k.startswith("GGUF.")] == [m[0] for m in metadata]
    assert len(r.tensors) == len(tensors)
    for t, e in zip(r.tensors, tensors):
        assert t.name == e["name"] and t.tensor_type.name == e["type"] and int(t.n_bytes) == e["nbytes"]
        assert list(reversed(t.shape.tolist())) == e["shape"], (t.name, t.shape)
        with np.errstate(over="ignore"):
            assert bits(gguf.quants.dequantize(t.data, t.tensor_type)) == e["values"], t.name

    write_grid_sweep()

    expected = {NAME: {"metadata": [{"key": k, "type": ty, "value": v} for k, ty, v in metadata],
                       "tensors": tensors},
                "ggml_types": ggml_types()}
    with open(os.path.join(OUT, "expected_iq.json"), "w") as out:
        json.dump(expected, out, indent=None, separators=(",", ":"), ensure_ascii=True)
        out.write("\n")


if __name__ == "__main__":
    main()
