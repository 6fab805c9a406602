#!/usr/bin/env python3
"""Writes the safetensors and NumPy reference fixtures for the WeightFormats reader tests.

Run from anywhere:  python3 Tests/Fixtures/make_formats_safetensors_numpy.py
Needs numpy and safetensors (pip install numpy safetensors). Output is deterministic (fixed seeds).

Files go to Tests/Fixtures/safetensors/ and Tests/Fixtures/numpy/, each with an expected.json:
    {"<file>": {"format": ..., "metadata": {...}, "tensors": [
        {"name", "dtype" (safetensors spelling), "shape", "count",
         "min", "max", "mean", "std" (population; numpy, float64; null for empty tensors),
         "first": the first up to 16 stored elements as float64}, ...]}}
Tensors are listed in the order the reader must return them: data-offset order for safetensors (what
safe_open(...).offset_keys() returns), archive order for .npz.

Written with the real libraries: safetensors.numpy.save_file, np.save, np.lib.format.write_array (format
versions 1.0/2.0/3.0), np.savez, np.savez_compressed. safetensors.numpy cannot write BF16 or the F8 types
(numpy has no such dtypes, and neither torch nor ml_dtypes is installed here), so `bf16_f8.safetensors` is
crafted by hand below in the same layout save_file uses; the script then opens it with the reference
library (safe_open), which validates the header, offsets and sizes, so the hand-made file is one the
reference accepts. Its reference values come from decoding the stored bytes in Python (bf16: the upper half
of an IEEE float32; F8_E4M3: E4M3FN, bias 7, no infinities; F8_E5M2: the upper byte of an IEEE half).
"""
import json
import os
import struct

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ST = os.path.join(HERE, "safetensors")
NP = os.path.join(HERE, "numpy")

NP_TO_ST = {
    "float64": "F64", "float32": "F32", "float16": "F16",
    "int8": "I8", "uint8": "U8", "int16": "I16", "uint16": "U16",
    "int32": "I32", "uint32": "U32", "int64": "I64", "uint64": "U64", "bool": "BOOL",
}


def stats(values, dtype, shape, name):
    """values: float64 numpy array of the stored elements in row-major (C) order."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    entry = {"name": name, "dtype": dtype, "shape": [int(d) for d in shape], "count": int(v.size)}
    if v.size == 0:
        entry.update({"min": None, "max": None, "mean": None, "std": None, "first": []})
    else:
        entry.update({
            "min": float(v.min()), "max": float(v.max()),
            "mean": float(v.mean()), "std": float(v.std()),
            "first": [float(x) for x in v[:16]],
        })
    return entry


def array_entry(name, a):
    return stats(np.ascontiguousarray(a).astype(np.float64), NP_TO_ST[a.dtype.name], a.shape, name)


def safetensors_entries(path, arrays):
    """Expected entries in the file's data-offset order, as the reference library reports it."""
    with safe_open(path, framework="np") as f:
        order = f.offset_keys()
        assert sorted(order) == sorted(arrays), (order, list(arrays))
    return [array_entry(k, arrays[k]) for k in order]


def rng_values(rng, dtype, shape):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (rng.standard_normal(shape) * 3).astype(dt)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    info = np.iinfo(dt)
    lo, hi = max(info.min, -1000), min(info.max, 1000)
    return rng.integers(lo, hi + 1, shape).astype(dt)


# ----------------------------------------------------------------------------------------- safetensors

def write_safetensors(expected):
    rng = np.random.default_rng(20240601)

    # Every dtype numpy can write, odd shapes, __metadata__.
    dtypes = {}
    shapes = [(3, 5, 7), (11,), (2, 3), (4, 1, 3), (13,), (5, 2)]
    for i, np_name in enumerate(NP_TO_ST):
        dtypes["t_" + NP_TO_ST[np_name].lower()] = rng_values(rng, np_name, shapes[i % len(shapes)])
    meta = {"format": "np", "note": "reference fixture", "unicode": "gr\u00fc\u00dfe"}
    path = os.path.join(ST, "dtypes.safetensors")
    save_file(dtypes, path, metadata=meta)
    expected["dtypes.safetensors"] = {"format": "safetensors", "metadata": meta,
                                      "tensors": safetensors_entries(path, dtypes)}

    # Odd shapes: 0-d scalar, 1-d, 3-d, an empty tensor, a length-1 vector.
    shaped = {
        "scalar": np.array(2.5, dtype=np.float32),
        "vector": rng_values(rng, "float32", (9,)),
        "cube": rng_values(rng, "float32", (3, 5, 7)),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "one": np.array([-1.25], dtype=np.float16),
    }
    path = os.path.join(ST, "shapes.safetensors")
    save_file(shaped, path)
    expected["shapes.safetensors"] = {"format": "safetensors", "metadata": {},
                                      "tensors": safetensors_entries(path, shaped)}

    # BF16 and F8 by hand (see the module docstring).
    f32 = (rng.standard_normal(12) * 4).astype(np.float32)
    bf16_bits = (f32.view(np.uint32) >> 16).astype(np.uint16)          # truncation: exact bf16 values
    bf16_vals = (bf16_bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    e4m3_bytes = np.array([b for b in range(256) if (b & 0x7F) != 0x7F][::9], dtype=np.uint8)  # no NaN
    e5m2_bytes = np.array([b for b in range(256) if (b & 0x7C) != 0x7C][::9], dtype=np.uint8)  # no inf/NaN

    def e4m3(b):
        s = -1.0 if b & 0x80 else 1.0
        e, m = (b >> 3) & 0xF, b & 7
        return s * (m / 8.0) * 2.0 ** -6 if e == 0 else s * (1 + m / 8.0) * 2.0 ** (e - 7)

    def e5m2(b):
        return float(np.frombuffer(struct.pack("<H", b << 8), dtype=np.float16)[0])

    parts = [
        ("w_bf16", "BF16", [3, 4], bf16_bits.astype("<u2").tobytes(), bf16_vals),
        ("w_e4m3", "F8_E4M3", [len(e4m3_bytes)], e4m3_bytes.tobytes(), [e4m3(int(b)) for b in e4m3_bytes]),
        ("w_e5m2", "F8_E5M2", [len(e5m2_bytes)], e5m2_bytes.tobytes(), [e5m2(int(b)) for b in e5m2_bytes]),
    ]
    header = {"__metadata__": {"format": "pt", "writer": "hand-made by make_formats_safetensors_numpy.py"}}
    data = b""
    for name, dt, shape, raw, _ in parts:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    path = os.path.join(ST, "bf16_f8.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + data)
    with safe_open(path, framework="np") as f:       # the reference accepts the hand-made file
        assert f.offset_keys() == [p[0] for p in parts]
        assert f.metadata() == header["__metadata__"]
    expected["bf16_f8.safetensors"] = {
        "format": "safetensors", "metadata": header["__metadata__"],
        "tensors": [stats(vals, dt, shape, name) for name, dt, shape, _, vals in parts]}

    # A sharded model: two shards written by save_file, the index written as transformers writes it.
    shard_dir = os.path.join(ST, "sharded")
    os.makedirs(shard_dir, exist_ok=True)
    shard1 = {"model.embed.weight": rng_values(rng, "float32", (6, 4)),
              "model.layers.0.weight": rng_values(rng, "float16", (4, 4))}
    shard2 = {"model.layers.1.weight": rng_values(rng, "float32", (4, 4)),
              "lm_head.weight": rng_values(rng, "float32", (6, 4))}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    entries = []
    total = 0
    weight_map = {}
    for fname, tensors in zip(names, [shard1, shard2]):
        p = os.path.join(shard_dir, fname)
        save_file(tensors, p, metadata={"format": "pt"})
        entries += safetensors_entries(p, tensors)
        for k, a in tensors.items():
            weight_map[k] = fname
            total += a.nbytes
    index = {"metadata": {"total_size": total},
             "weight_map": {k: weight_map[k] for k in sorted(weight_map)}}
    with open(os.path.join(shard_dir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")
    expected["sharded/model.safetensors.index.json"] = {
        "format": "safetensors", "metadata": {"total_size": total, "format": "pt"}, "tensors": entries}


# ----------------------------------------------------------------------------------------------- numpy

def write_numpy(expected):
    rng = np.random.default_rng(7)

    def save(name, a, version=None, expect=None):
        path = os.path.join(NP, name)
        if version is None:
            np.save(path, a)
        else:
            with open(path, "wb") as f:
                np.lib.format.write_array(f, a, version=version)
        back = np.load(path)                               # the reference reads it back
        assert back.dtype == a.dtype and back.shape == a.shape
        # Values in logical row-major order, whatever the storage order and byte order.
        ref = expect if expect is not None else a
        e = array_entry(os.path.splitext(name)[0], ref)
        e["descr"] = np.lib.format.dtype_to_descr(a.dtype)
        e["fortran_order"] = bool(a.flags.f_contiguous and not a.flags.c_contiguous)
        expected[name] = {"format": "npy", "metadata": {}, "tensors": [e]}

    save("f4_v1.npy", rng_values(rng, "<f4", (3, 4)), version=(1, 0))
    save("f4_v2.npy", rng_values(rng, "<f4", (2, 3, 2)), version=(2, 0))
    save("f4_v3.npy", rng_values(rng, "<f4", (5,)), version=(3, 0))
    save("f8_big.npy", rng_values(rng, ">f8", (4, 3)))
    save("f8_little.npy", rng_values(rng, "<f8", (7,)))
    save("f2_little.npy", rng_values(rng, "<f2", (2, 5)))
    save("f2_big.npy", rng_values(rng, ">f2", (3, 3)))
    save("f4_big.npy", rng_values(rng, ">f4", (6,)))
    fortran = np.asfortranarray(rng_values(rng, "<f4", (3, 5)))
    save("fortran.npy", fortran)
    fortran3 = np.asfortranarray(rng_values(rng, ">i4", (2, 3, 4)))
    save("fortran_big_3d.npy", fortran3)
    save("scalar.npy", np.array(-3.75, dtype="<f4"))
    save("bool.npy", rng_values(rng, "|b1", (3, 7)))
    for code in ["|i1", "|u1", "<i2", ">i2", "<u2", ">u2", "<i4", "<u4", ">u4", "<i8", ">i8", "<u8"]:
        tag = code.replace("<", "le_").replace(">", "be_").replace("|", "")
        save("int_%s.npy" % tag, rng_values(rng, code, (4, 3)))

    # npz: stored (np.savez) and deflated (np.savez_compressed). The deflated archive holds a member
    # larger than one 64 KiB inflate chunk, so the streamed inflation crosses chunk boundaries.
    members = {"weight": rng_values(rng, "<f4", (4, 6)), "bias": rng_values(rng, "<f2", (6,)),
               "steps": np.arange(10, dtype="<i8"), "flag": np.array(True)}
    np.savez(os.path.join(NP, "stored.npz"), **members)
    big = ((np.arange(30000) % 97) / 8.0 - 6).astype("<f4").reshape(300, 100)
    compressed = {"big": big, "small": rng_values(rng, ">f8", (3, 2)),
                  "fortran": np.asfortranarray(rng_values(rng, "<f4", (4, 2)))}
    np.savez_compressed(os.path.join(NP, "deflated.npz"), **compressed)
    for fname, arrays in [("stored.npz", members), ("deflated.npz", compressed)]:
        with np.load(os.path.join(NP, fname)) as z:
            order = [f[:-4] for f in z.zip.namelist()]
            assert sorted(order) == sorted(arrays)
            entries = []
            for k in order:
                entries.append(array_entry(k, z[k]))
        expected[fname] = {"format": "npz", "metadata": {}, "tensors": entries}


def main():
    os.makedirs(ST, exist_ok=True)
    os.makedirs(NP, exist_ok=True)
    st, nps = {}, {}
    write_safetensors(st)
    write_numpy(nps)
    for directory, exp in [(ST, st), (NP, nps)]:
        with open(os.path.join(directory, "expected.json"), "w") as f:
            json.dump(exp, f, indent=1, sort_keys=True)
            f.write("\n")
    print("wrote %d safetensors and %d numpy fixtures" % (len(st), len(nps)))


if __name__ == "__main__":
    main()
