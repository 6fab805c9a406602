#!/usr/bin/env python3
"""Writes the reference bytes of ggml's K-quant, IQ4 and importance-weighted quantizers.

The oracle is ggml itself: `ggml_quantize_chunk` from PyPI `ggml-python` 0.0.45, which vendors ggml and
builds it from source. Build it WITHOUT -march=native so the compiler does not contract a*b+c into FMA
(that changes K-quant bytes; ggml-quants.c lives in ggml-base, which llama-quantize also builds without
arch flags):

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_OPENMP=OFF" pip install --no-cache-dir ggml-python==0.0.45

Run on x86-64:  python3 Tests/Fixtures/make_kquants.py   (deterministic, fixed seed)
CI does not run this script; the Swift tests only read what it wrote, under kquants/:
  inputs/<name>.bin        little-endian float32 tensors (rows x row_length)
  inputs/<name>.imatrix    float32 importance weights, one per column
  outputs/<case>.bin       ggml's block bytes
  reference.json           one entry per case: input, shape, type, imatrix (or null), bytes file; plus the
                           fallback types llama-quantize substitutes when a row does not divide 256.
"""
import ctypes
import json
import os
import platform
import time

import numpy as np
import ggml

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "kquants")
f32 = np.float32

TYPES = {
    "Q2_K": ggml.GGML_TYPE_Q2_K, "Q3_K": ggml.GGML_TYPE_Q3_K, "Q4_K": ggml.GGML_TYPE_Q4_K,
    "Q5_K": ggml.GGML_TYPE_Q5_K, "Q6_K": ggml.GGML_TYPE_Q6_K, "IQ4_NL": ggml.GGML_TYPE_IQ4_NL,
    "IQ4_XS": ggml.GGML_TYPE_IQ4_XS, "Q4_0": ggml.GGML_TYPE_Q4_0, "Q4_1": ggml.GGML_TYPE_Q4_1,
    "Q5_0": ggml.GGML_TYPE_Q5_0, "Q5_1": ggml.GGML_TYPE_Q5_1, "Q8_0": ggml.GGML_TYPE_Q8_0,
}
BLOCK = {"Q2_K": 256, "Q3_K": 256, "Q4_K": 256, "Q5_K": 256, "Q6_K": 256, "IQ4_XS": 256,
         "IQ4_NL": 32, "Q4_0": 32, "Q4_1": 32, "Q5_0": 32, "Q5_1": 32, "Q8_0": 32}
# llama-quantize's tensor_type_fallback (src/llama-quant.cpp) for a row that does not divide 256.
FALLBACK = {"Q2_K": "Q4_0", "Q3_K": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0", "IQ4_XS": "IQ4_NL"}


def make_inputs(rng):
    inputs = {}
    inputs["normal_8x512"] = rng.normal(0, 0.02, (8, 512)).astype(f32)
    t = (rng.standard_t(2, (4, 512)) * 0.02).astype(f32)
    t[1, 17] = 3.0
    t[2, 300] = -5.0
    inputs["heavy_4x512"] = t
    z = np.zeros((2, 256), f32)
    z[1, 100:132] = rng.normal(0, 1, 32).astype(f32)       # one live sub-block in a zero row
    inputs["zeros_2x256"] = z
    tiny = rng.normal(0, 1, (4, 256)).astype(f32)
    tiny *= np.array([1e-7, 1e-12, 1e-16, 1e-25], f32)[:, None]
    inputs["tiny_4x256"] = tiny.astype(f32)
    huge = rng.normal(0, 1, (3, 256)).astype(f32)
    huge *= np.array([3e3, 2e4, 1e6], f32)[:, None]
    inputs["huge_3x256"] = huge.astype(f32)
    c = np.empty((3, 256), f32)
    c[0] = 0.5
    c[1] = -0.25
    c[2] = np.where(np.arange(256) % 2 == 0, 1.0, -1.0)
    inputs["constant_3x256"] = c
    inputs["uniform_positive_2x256"] = rng.uniform(0.1, 1.0, (2, 256)).astype(f32)
    inputs["rows288_4x288"] = rng.normal(0, 0.05, (4, 288)).astype(f32)   # 288 = 9 x 32, not a multiple of 256
    return inputs


def make_imatrix(rng, n, name):
    w = rng.uniform(1e-3, 5.0, n).astype(f32)
    if name.startswith("normal"):
        w[40:56] = 0          # a sub-block no activation reached
        w[300] = 0
    if name.startswith("heavy"):
        w = (rng.lognormal(0, 2, n)).astype(f32)
    return w


def quantize(tname, x, imatrix):
    rows, n = x.shape
    t = TYPES[tname]
    x = np.ascontiguousarray(x, f32)
    size = ggml.ggml_row_size(t, n) * rows
    dst = (ctypes.c_uint8 * size)()
    qw = None
    if imatrix is not None:
        imatrix = np.ascontiguousarray(imatrix, f32)
        qw = imatrix.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    src = x.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    written = ggml.ggml_quantize_chunk(t, src, ctypes.cast(dst, ctypes.c_void_p), 0, rows, n, qw)
    assert written == size, (tname, written, size)
    return bytes(dst)


def main():
    assert platform.machine() in ("x86_64", "AMD64"), "canonical bytes come from an x86-64 build without FMA"
    rng = np.random.default_rng(20261130)
    os.makedirs(os.path.join(OUT, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "outputs"), exist_ok=True)
    inputs = make_inputs(rng)
    cases = []
    for name, x in inputs.items():
        x.astype("<f4").tofile(os.path.join(OUT, "inputs", name + ".bin"))
        qw = make_imatrix(rng, x.shape[1], name)
        qw.astype("<f4").tofile(os.path.join(OUT, "inputs", name + ".imatrix"))
        for tname in TYPES:
            if x.shape[1] % BLOCK[tname]:
                continue
            for weighted in (False, True):
                if weighted and tname == "Q8_0":
                    continue        # ggml ignores the imatrix for Q8_0
                case = f"{name}.{tname}" + (".imatrix" if weighted else "")
                data = quantize(tname, x, qw if weighted else None)
                with open(os.path.join(OUT, "outputs", case + ".bin"), "wb") as f:
                    f.write(data)
                cases.append({"input": name, "shape": list(x.shape), "type": tname,
                              "imatrix": (name + ".imatrix") if weighted else None, "bytes": case + ".bin"})
    # Speed of the oracle on one core (for Benchmarks/README.md), 1024 x 4096 normal values.
    big = rng.normal(0, 0.02, (1024, 4096)).astype(f32)
    speed = {}
    for tname in ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]:
        t0 = time.perf_counter()
        quantize(tname, big, None)
        speed[tname] = round(big.size / (time.perf_counter() - t0) / 1e6, 1)
    ref = {
        "oracle": "ggml-python 0.0.45 ggml_quantize_chunk, GGML_NATIVE=OFF, x86-64",
        "fallback": FALLBACK,
        "cases": cases,
        "ggml_million_weights_per_second": speed,
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print("wrote", len(cases), "cases to", os.path.relpath(OUT))
    print("ggml speed (M weights/s, one core):", speed)


if __name__ == "__main__":
    main()
