#!/usr/bin/env python3
"""Reference bytes for an expert tensor (3-D, `ffn_*_exps`) quantized with a per-expert importance matrix.

llama-quantize (src/llama-quant.cpp, llama_model_quantize_impl) quantizes a tensor with ne2 experts one
expert slice at a time and hands ggml the imatrix slice of that expert:
    for i03 in range(ne2): ggml_quantize_chunk(type, f32 + i03*nelements_matrix, ..., imatrix + i03*ne0)
This script does exactly that with ggml-python 0.0.45's `ggml_quantize_chunk` (build it without
-march=native, see make_kquants.py), for a small tensor [3 experts, 4 rows, 512 columns].

Run on x86-64:  python3 Tests/Fixtures/make_expert_imatrix.py   (deterministic, fixed seed)
Writes expert_imatrix/: input.bin (float32, experts x rows x columns), imatrix.bin (float32, experts x
columns), <TYPE>.bin (ggml's bytes, experts after one another) and reference.json.
"""
import ctypes
import json
import os
import platform

import numpy as np
import ggml

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "expert_imatrix")
TYPES = {"Q3_K": ggml.GGML_TYPE_Q3_K, "Q4_K": ggml.GGML_TYPE_Q4_K, "Q6_K": ggml.GGML_TYPE_Q6_K,
         "IQ4_XS": ggml.GGML_TYPE_IQ4_XS, "Q4_0": ggml.GGML_TYPE_Q4_0}
EXPERTS, ROWS, COLS = 3, 4, 512


def quantize_expert(t, x, qw):
    rows, n = x.shape
    size = ggml.ggml_row_size(t, n) * rows
    dst = (ctypes.c_uint8 * size)()
    x = np.ascontiguousarray(x, np.float32)
    qw = np.ascontiguousarray(qw, np.float32)
    written = ggml.ggml_quantize_chunk(t, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                       ctypes.cast(dst, ctypes.c_void_p), 0, rows, n,
                                       qw.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
    assert written == size
    return bytes(dst)


def main():
    assert platform.machine() in ("x86_64", "AMD64"), "canonical bytes come from an x86-64 build without FMA"
    rng = np.random.default_rng(20261130)
    os.makedirs(OUT, exist_ok=True)
    x = (rng.standard_t(3, (EXPERTS, ROWS, COLS)) * 0.02).astype(np.float32)
    # Experts see very different activations: weights differ by expert, so using one expert's slice for all
    # (or none) changes the bytes.
    im = np.stack([rng.uniform(1e-3, 5.0, COLS), rng.lognormal(0, 2, COLS), rng.uniform(0, 1, COLS) ** 4]).astype(np.float32)
    x.astype("<f4").tofile(os.path.join(OUT, "input.bin"))
    im.astype("<f4").tofile(os.path.join(OUT, "imatrix.bin"))
    files = {}
    for name, t in TYPES.items():
        data = b"".join(quantize_expert(t, x[e], im[e]) for e in range(EXPERTS))
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
        files[name] = name + ".bin"
    ref = {"oracle": "ggml-python 0.0.45 ggml_quantize_chunk per expert slice with imatrix + e*ne0, GGML_NATIVE=OFF, x86-64",
           "shape": [EXPERTS, ROWS, COLS], "types": files}
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print("wrote", len(files), "types to", os.path.relpath(OUT))


if __name__ == "__main__":
    main()
