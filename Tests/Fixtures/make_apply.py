#!/usr/bin/env python3
"""Fixtures for `weightlab apply` (Tests/weightlabTests/ApplyCommandTests), written with the reference libraries.

    python3 Tests/Fixtures/make_apply.py       # writes Tests/Fixtures/apply/

GGUF (gguf-py 0.19): `input.gguf` holds F32, F16, BF16, Q8_0, Q4_0 and I32 tensors and metadata (a custom
alignment of 64, a `general.file_type` to be replaced); `plan_gguf.json` re-quantizes some tensors to each
ggml type weightlab quantizes (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1), prunes one before quantizing, prunes one
without quantizing and leaves the rest alone. `expected.gguf` is what apply must write, byte for byte,
built here with gguf-py's GGUFWriter: the same metadata in the same order with `general.file_type` = 7
(MOSTLY_Q8_0, the dominant type) and `general.quantization_version` = 2 appended, each re-quantized tensor
= `gguf.quants.quantize` of its decoded (and pruned) float32 values, the rest copied.

safetensors: `input.safetensors` (F32, F16, BF16, I64, metadata) and `plan_safetensors.json`;
`expected_safetensors.json` holds, per tensor, the dtype, shape and the values the fake-quant output must
hold (float64 text of the stored values): int8 per-channel symmetric fake-quantization in float32
(make_compression.quant_int, numpy) of the (pruned) input, cast to the tensor's own dtype with numpy /
ml_dtypes (round to nearest even).
"""
import json
import os
import sys

import ml_dtypes
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_compression as mc  # noqa: E402  (the numpy reference quantizers)

OUT = os.path.join(HERE, "apply")
f32 = np.float32


def values(rng, shape, scale=0.1):
    w = (rng.standard_normal(shape) * scale).astype(f32)
    flat = w.reshape(-1)
    if flat.size < 8:
        return w
    flat[3] = 0.0                       # an exact zero
    flat[7] = scale * 9                 # an outlier
    if flat.size >= 64:
        flat[32:64] = 0.0               # an all-zero block
    return w


def gguf_file(path, tensors, file_type, quantization_version=None):
    """tensors: [(name, raw_bytes_or_array, shape, ggml type)]"""
    w = gguf.GGUFWriter(path, "llama")
    w.add_custom_alignment(64)
    w.add_file_type(file_type)
    w.add_string("general.name", "weightlab apply fixture")
    w.add_uint32("llama.block_count", 1)
    w.add_array("test.values", [1.5, -2.0, 3.25])
    if quantization_version is not None:
        w.add_quantization_version(quantization_version)
    for name, data, shape, t in tensors:
        if t in (T.F32, T.F16, T.I32):
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, data, raw_dtype=t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def dequant(data, t, shape):
    if t == T.F32:
        return data.astype(f32)
    if t == T.F16:
        return data.astype(f32)
    return gguf.quants.dequantize(data, t).reshape(shape).astype(f32)


def prune(w, threshold):
    out = w.copy()
    out[np.abs(out) < f32(threshold)] = 0
    return out


def make_gguf(rng):
    src = {}
    def add(name, shape, t, scale=0.1):
        v = values(rng, shape, scale)
        if t == T.F32:
            data = v
        elif t == T.F16:
            data = v.astype(np.float16)
        elif t == T.I32:
            data = np.arange(np.prod(shape), dtype=np.int32).reshape(shape)
        else:
            data = gguf.quants.quantize(v, t)
        src[name] = (data, list(shape), t)

    add("token_embd.weight", (24, 64), T.F16)
    add("blk.0.attn_norm.weight", (64,), T.F32)
    add("blk.0.attn_q.weight", (8, 64), T.F32)
    add("blk.0.attn_k.weight", (8, 64), T.BF16)
    add("blk.0.attn_v.weight", (4, 64), T.Q8_0)
    add("blk.0.ffn_up.weight", (4, 96), T.F32, scale=3.0)
    add("blk.0.ffn_down.weight", (4, 64), T.F32)
    add("blk.0.ffn_gate.weight", (4, 32), T.F32)
    add("blk.0.pos", (5,), T.I32)
    add("output.weight", (4, 64), T.Q4_0)
    order = list(src)

    gguf_file(os.path.join(OUT, "input.gguf"), [(n,) + src[n] for n in order], file_type=1)

    plan = {"version": 1, "note": "make_apply.py: one tensor to each ggml type, pruning before and without quantizing",
            "rules": [
                {"match": "^token_embd\\.weight$", "quantize": {"format": "gguf", "type": "q8_0"}},
                {"match": "^blk\\.0\\.attn_q\\.weight$", "quantize": {"format": "gguf", "type": "q4_0"}},
                {"match": "^blk\\.0\\.attn_k\\.weight$", "quantize": {"format": "gguf", "type": "q4_1"}},
                {"match": "^blk\\.0\\.attn_v\\.weight$", "quantize": {"format": "gguf", "type": "q4_0"}},
                {"match": "^blk\\.0\\.ffn_up\\.weight$", "quantize": {"format": "gguf", "type": "q5_0"}},
                {"match": "^blk\\.0\\.ffn_down\\.weight$", "prune": {"method": "magnitude", "threshold": 0.05},
                 "quantize": {"format": "gguf", "type": "q5_1"}},
                {"match": "^blk\\.0\\.ffn_gate\\.weight$", "prune": {"method": "magnitude", "threshold": 0.05}},
            ]}
    with open(os.path.join(OUT, "plan_gguf.json"), "w") as f:
        json.dump(plan, f, indent=2)

    target = {"token_embd.weight": (T.Q8_0, None), "blk.0.attn_q.weight": (T.Q4_0, None),
              "blk.0.attn_k.weight": (T.Q4_1, None), "blk.0.attn_v.weight": (T.Q4_0, None),
              "blk.0.ffn_up.weight": (T.Q5_0, None), "blk.0.ffn_down.weight": (T.Q5_1, 0.05),
              "blk.0.ffn_gate.weight": (T.F32, 0.05)}
    expected = []
    for n in order:
        data, shape, t = src[n]
        if n not in target:
            expected.append((n, data, shape, t))
            continue
        to, threshold = target[n]
        x = dequant(data, t, shape)
        if threshold is not None:
            x = prune(x, threshold)
        expected.append((n, x if to == T.F32 else gguf.quants.quantize(x, to), shape, to))
    gguf_file(os.path.join(OUT, "expected.gguf"), expected, file_type=int(gguf.LlamaFileType.MOSTLY_Q8_0),
              quantization_version=gguf.GGML_QUANT_VERSION)


def make_safetensors(rng):
    a = values(rng, (8, 64))
    b = values(rng, (4, 64)).astype(np.float16)
    c = values(rng, (4, 32)).astype(ml_dtypes.bfloat16)
    d = values(rng, (64,))
    e = np.arange(6, dtype=np.int64)
    save_file({"a.weight": a, "b.weight": b, "c.weight": c, "d.bias": d, "e.ids": e},
              os.path.join(OUT, "input.safetensors"), metadata={"format": "pt"})
    plan = {"version": 1, "note": "make_apply.py: int8 per channel, one tensor pruned first",
            "default": {"quantize": {"format": "int", "bits": 8, "symmetric": True, "granularity": "channel",
                                     "clip": "minmax"}},
            "rules": [{"match": "^c\\.weight$", "prune": {"method": "magnitude", "threshold": 0.05}}]}
    with open(os.path.join(OUT, "plan_safetensors.json"), "w") as f:
        json.dump(plan, f, indent=2)

    def fq(x):
        return mc.quant_int(x.astype(f32), 8, True, ("channel",), ("minmax",))
    out = {
        "a.weight": ("F32", fq(a)),
        "b.weight": ("F16", fq(b).astype(np.float16)),
        "c.weight": ("BF16", fq(prune(c.astype(f32), 0.05)).astype(ml_dtypes.bfloat16)),
        "d.bias": ("F32", d),
        "e.ids": ("I64", e),
    }
    ref = {n: {"dtype": dt, "shape": list(v.shape), "values": [repr(float(x)) for x in v.astype(np.float64).ravel()]}
           for n, (dt, v) in out.items()}
    with open(os.path.join(OUT, "expected_safetensors.json"), "w") as f:
        json.dump(ref, f, indent=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261130)
    make_gguf(rng)
    make_safetensors(rng)
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
