#!/usr/bin/env python3
"""Writes importance-matrix files in both of llama.cpp's formats and what ggml makes of them.

- imatrix/small.imatrix.gguf: the GGUF format of `llama-imatrix` (general.type = "imatrix", imatrix.datasets,
  imatrix.chunk_count, imatrix.chunk_size; per entry `<name>.in_sum2` F32 {ne0, n_mat} and `<name>.counts`
  F32 {1, n_mat}), written with gguf-py. One entry has an expert whose count is 0 (llama-quantize uses 1s).
- imatrix/small.imatrix.dat: the legacy format (i32 n; per entry i32 len, name, i32 ncall, i32 nval,
  f32 data[nval] = (Σx²/count)·ncall; trailer i32 last_chunk, i32 len, dataset).
- imatrix/reference.json: the per-column weights llama-quantize hands the quantizer (numpy float32:
  in_sum2/counts, data/ncall), the importance-weighted error of a Q4_K reconstruction, and
- imatrix/<tensor>.Q4_K.bin: ggml's Q4_K bytes of imatrix/<tensor>.bin with those weights
  (`ggml_quantize_chunk` of ggml-python 0.0.45 built with GGML_NATIVE=OFF, see make_kquants.py).

Run:  python3 Tests/Fixtures/make_imatrix.py   (needs numpy, gguf==0.19.0, ggml-python)
"""
import ctypes
import json
import os
import struct

import numpy as np
import gguf
import ggml

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "imatrix")
f32 = np.float32


def main():
    rng = np.random.default_rng(99)
    os.makedirs(OUT, exist_ok=True)
    # name -> (in_sum2 [n_mat, ne0], counts [n_mat])
    entries = {
        "blk.0.attn_q.weight": (rng.uniform(0, 50, (1, 512)).astype(f32), np.array([40], f32)),
        "blk.0.ffn_down.weight": (rng.uniform(0, 9, (1, 256)).astype(f32), np.array([16], f32)),
        "blk.0.ffn_up_exps.weight": (rng.uniform(0, 5, (3, 256)).astype(f32), np.array([8, 0, 24], f32)),
    }
    w = gguf.GGUFWriter(os.path.join(OUT, "small.imatrix.gguf"), arch="")
    w.kv_data[0].pop("general.architecture", None)
    w.add_type("imatrix")
    w.add_array("imatrix.datasets", ["calibration.txt"])
    w.add_uint32("imatrix.chunk_count", 5)
    w.add_uint32("imatrix.chunk_size", 512)
    for name in sorted(entries):
        sums, counts = entries[name]
        w.add_tensor(name + ".counts", counts.reshape(len(counts), 1))
        w.add_tensor(name + ".in_sum2", sums)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    weights = {}
    for name, (sums, counts) in entries.items():
        e = np.empty_like(sums)
        for j, c in enumerate(counts):
            e[j] = sums[j] / c if c > 0 else 1
        weights[name] = e.reshape(-1)

    # Legacy: data = (sums/count)*ncall with ncall = ceil(max(count)/chunk_size) as llama-imatrix writes it;
    # here ncall is chosen so the division is not trivial.
    with open(os.path.join(OUT, "small.imatrix.dat"), "wb") as f:
        legacy = {name: weights[name] for name in ["blk.0.attn_q.weight", "blk.0.ffn_down.weight"]}
        f.write(struct.pack("<i", len(legacy)))
        legacy_weights = {}
        for k, (name, e) in enumerate(legacy.items()):
            ncall = 3 + k
            data = (e * f32(ncall)).astype(f32)
            b = name.encode()
            f.write(struct.pack("<i", len(b)) + b + struct.pack("<ii", ncall, len(data)))
            f.write(data.astype("<f4").tobytes())
            legacy_weights[name] = (data / f32(ncall)).astype(f32)
        ds = b"calibration.txt"
        f.write(struct.pack("<ii", 5, len(ds)) + ds)

    # ggml's Q4_K of a tensor with the GGUF file's weights for blk.0.attn_q.weight (rows of 512 columns).
    x = rng.normal(0, 0.02, (4, 512)).astype(f32)
    x.astype("<f4").tofile(os.path.join(OUT, "attn_q.bin"))
    qw = np.ascontiguousarray(weights["blk.0.attn_q.weight"], f32)
    t = ggml.GGML_TYPE_Q4_K
    size = ggml.ggml_row_size(t, 512) * 4
    dst = (ctypes.c_uint8 * size)()
    ggml.ggml_quantize_chunk(t, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), ctypes.cast(dst, ctypes.c_void_p),
                             0, 4, 512, qw.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
    with open(os.path.join(OUT, "attn_q.Q4_K.bin"), "wb") as f:
        f.write(bytes(dst))
    # The importance-weighted error of that reconstruction (float64): Σ w_c (x - x̂)² over all elements,
    # divided by the element count, and the weighted SQNR 10·log10(Σ w_c x² / Σ w_c (x - x̂)²).
    xhat = gguf.quants.dequantize(np.frombuffer(bytes(dst), np.uint8).reshape(4, -1), gguf.GGMLQuantizationType.Q4_K)
    wc = qw.astype(np.float64)[None, :]
    err = (wc * (x.astype(np.float64) - xhat.astype(np.float64)) ** 2).sum()
    sig = (wc * x.astype(np.float64) ** 2).sum()
    ref = {
        "gguf": {name: e.tolist() for name, e in weights.items()},
        "dat": {name: e.tolist() for name, e in legacy_weights.items()},
        "datasets": ["calibration.txt"],
        "chunk_count": 5,
        "attn_q": {"shape": [4, 512], "weighted_mse": err / x.size, "weighted_sqnr_db": 10 * np.log10(sig / err)},
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")
    print("wrote", os.path.relpath(OUT))


if __name__ == "__main__":
    main()
