#!/usr/bin/env python3
"""Writes the GGUF reference fixtures in Tests/Fixtures/gguf/ with gguf-py (PyPI `gguf` 0.19.0) and numpy.

    python3 Tests/Fixtures/make_gguf.py

Files:
  all_types.gguf     v3, general.alignment = 64, every KV value type, one tensor of every decodable type
  v2.gguf            a copy of all_types.gguf with the version field set to 2 (v2 and v3 share the layout)
  undecodable.gguf   tensors of types the Swift reader lists but cannot decode, because gguf-py cannot
                     dequantize them either (Q8_K, Q1_0; random bytes). Not Q8_1: gguf-py 0.19.0 sizes its
                     block as 40 bytes (the old float d, s layout), ggml's block_q8_1 has 36
  expected.json      per file: metadata (key, GGUF value type, value) and per tensor the name, type, numpy-order
                     shape, byte size and the float32 bit patterns that gguf.quants.dequantize computes

Quantized tensors of the legacy types come from gguf.quants.quantize on random normal data. gguf-py cannot
quantize K-quants, so their blocks are random bytes with finite random f16 scales: every bit of the packed
fields is exercised and gguf.quants.dequantize is the reference for the floats.
"""
import json
import os
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

from importlib.metadata import version
assert version("gguf") == "0.19.0", version("gguf")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "gguf")
rng = np.random.default_rng(20240611)


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8).reshape(-1, 2)


def kquant_blocks(qtype, n_blocks):
    """Random block bytes with finite f16 scale fields at the positions ggml's structs put them."""
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    scale = lambda: f16_bytes(rng.normal(0, 0.02, size=n_blocks))
    if qtype == T.Q2_K:      # scales[16], qs[64], d, dmin
        blocks[:, 80:82] = scale()
        blocks[:, 82:84] = scale()
    elif qtype == T.Q3_K:    # hmask[32], qs[64], scales[12], d
        blocks[:, 108:110] = scale()
    elif qtype in (T.Q4_K, T.Q5_K):  # d, dmin, scales[12], ...
        blocks[:, 0:2] = scale()
        blocks[:, 2:4] = scale()
    elif qtype == T.Q6_K:    # ql[128], qh[64], scales[16], d
        blocks[:, 208:210] = scale()
    return blocks


def bits(floats):
    return [int(v) for v in np.ascontiguousarray(floats, dtype=np.float32).reshape(-1).view(np.uint32)]


def quantized(qtype, shape):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n = int(np.prod(shape))
    if qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        data = gguf.quants.quantize(rng.standard_normal(shape).astype(np.float32), qtype)
    else:
        data = kquant_blocks(qtype, n // block_size)
        data = data.reshape(*shape[:-1], shape[-1] // block_size * type_size)
    return data


class Fixture:
    def __init__(self, name, alignment=None):
        self.name = name
        self.writer = gguf.GGUFWriter(os.path.join(OUT, name), arch="weightlab-test")
        self.metadata = [("general.architecture", "STRING", "weightlab-test")]
        self.tensors = []
        if alignment is not None:
            self.writer.add_custom_alignment(alignment)
            self.metadata.append(("general.alignment", "UINT32", str(alignment)))

    def kv(self, key, value, vtype, sub_type=None, described=None):
        self.writer.add_key_value(key, value, vtype, sub_type=sub_type)
        self.metadata.append((key, vtype.name, described if described is not None else describe(value, vtype)))

    def tensor(self, name, qtype, shape):
        if qtype == T.F32:
            data = rng.standard_normal(shape).astype(np.float32)
            self.writer.add_tensor(name, data)
            ref = data
        elif qtype == T.F16:
            data = rng.standard_normal(shape).astype(np.float16)
            self.writer.add_tensor(name, data)
            ref = gguf.quants.dequantize(data.view(np.uint8), T.F16)
        elif qtype == T.BF16:
            data = gguf.quants.quantize(rng.standard_normal(shape).astype(np.float32), T.BF16)
            self.writer.add_tensor(name, data, raw_dtype=T.BF16)
            ref = gguf.quants.dequantize(data, T.BF16)
        elif qtype == T.F64:
            data = rng.standard_normal(shape).astype(np.float64)
            self.writer.add_tensor(name, data)
            ref = data.astype(np.float32)
        elif qtype in (T.I8, T.I16, T.I32):
            dt = {T.I8: np.int8, T.I16: np.int16, T.I32: np.int32}[qtype]
            info = np.iinfo(dt)
            data = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)
            data.reshape(-1)[:2] = [info.min, info.max]
            self.writer.add_tensor(name, data)
            ref = data.astype(np.float32)
        else:
            data = quantized(qtype, shape)
            self.writer.add_tensor(name, data, raw_dtype=qtype)
            try:
                ref = gguf.quants.dequantize(data, qtype)
            except NotImplementedError:
                ref = None
        entry = {"name": name, "type": qtype.name, "shape": list(shape), "nbytes": int(data.nbytes)}
        if ref is not None:
            assert list(ref.shape) == list(shape), (name, ref.shape, shape)
            entry["values"] = bits(ref)
        else:
            entry["values"] = None
        self.tensors.append(entry)

    def write(self):
        w = self.writer
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return {
            "metadata": [{"key": k, "type": t, "value": v} for k, t, v in self.metadata],
            "tensors": self.tensors,
        }


INT_TYPES = {V.UINT8, V.INT8, V.UINT16, V.INT16, V.UINT32, V.INT32, V.UINT64, V.INT64}


def describe(value, vtype, sub_type=None):
    """JSON form of a value: integers as decimal strings, floats as the float64 bit pattern (hex) of the value a
    reader sees after widening, so comparisons are exact; arrays as {"element_type", "items"}."""
    if vtype in INT_TYPES:
        return str(int(value))
    if vtype == V.FLOAT32:
        return "%016x" % struct.unpack("<Q", struct.pack("<d", float(np.float32(value))))[0]
    if vtype == V.FLOAT64:
        return "%016x" % struct.unpack("<Q", struct.pack("<d", float(value)))[0]
    if vtype == V.BOOL:
        return bool(value)
    if vtype == V.STRING:
        return value
    raise ValueError(vtype)


def describe_array(items, element_type):
    if element_type == V.ARRAY:
        return {"element_type": "ARRAY",
                "items": [describe_array(i, V.get_type(i[0])) for i in items]}
    return {"element_type": element_type.name, "items": [describe(i, element_type) for i in items]}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    # --- every KV value type, alignment 64, one tensor of every decodable type
    f = Fixture("all_types.gguf", alignment=64)
    f.kv("test.u8", 200, V.UINT8)
    f.kv("test.i8", -100, V.INT8)
    f.kv("test.u16", 65535, V.UINT16)
    f.kv("test.i16", -32768, V.INT16)
    f.kv("test.u32", 4294967295, V.UINT32)
    f.kv("test.i32", -2147483648, V.INT32)
    f.kv("test.u64", 18446744073709551615, V.UINT64)
    f.kv("test.i64", -9223372036854775808, V.INT64)
    f.kv("test.f32", 3.140625, V.FLOAT32)
    f.kv("test.f32_inexact", 0.1, V.FLOAT32)
    f.kv("test.f64", 2.718281828459045, V.FLOAT64)
    f.kv("test.true", True, V.BOOL)
    f.kv("test.false", False, V.BOOL)
    f.kv("test.string", "héllo, GGUF ✓", V.STRING)
    f.kv("test.empty_string", "", V.STRING)
    strings = ["<s>", "</s>", "▁the", "", "日本"]
    f.kv("test.strings", strings, V.ARRAY, described=describe_array(strings, V.STRING))
    u16s = [0, 1, 65535]
    f.kv("test.u16s", u16s, V.ARRAY, sub_type=V.UINT16, described=describe_array(u16s, V.UINT16))
    f32s = [0.5, -1.25, 1e-3]
    f.kv("test.f32s", f32s, V.ARRAY, sub_type=V.FLOAT32, described=describe_array(f32s, V.FLOAT32))
    bools = [True, False, True]
    f.kv("test.bools", bools, V.ARRAY, described=describe_array(bools, V.BOOL))
    nested = [[1, 2, 3], [-4], [5, 6]]
    f.kv("test.nested", nested, V.ARRAY, described=describe_array(nested, V.ARRAY))

    f.tensor("f32", T.F32, [3, 5])
    f.tensor("f16", T.F16, [2, 3, 4])
    f.tensor("bf16", T.BF16, [7])
    f.tensor("f64", T.F64, [2, 6])
    f.tensor("i8", T.I8, [4, 9])
    f.tensor("i16", T.I16, [2, 5])
    f.tensor("i32", T.I32, [3, 3])
    f.tensor("q8_0", T.Q8_0, [3, 1, 64])
    f.tensor("q4_0", T.Q4_0, [4, 32])
    f.tensor("q4_1", T.Q4_1, [3, 64])
    f.tensor("q5_0", T.Q5_0, [2, 2, 32])
    f.tensor("q5_1", T.Q5_1, [5, 32])
    f.tensor("q2_k", T.Q2_K, [2, 256])
    f.tensor("q3_k", T.Q3_K, [3, 1, 256])
    f.tensor("q4_k", T.Q4_K, [2, 256])
    f.tensor("q5_k", T.Q5_K, [1, 512])
    f.tensor("q6_k", T.Q6_K, [3, 256])
    expected["all_types.gguf"] = f.write()

    # --- v2: identical layout (u64 counts), only the version field differs
    with open(os.path.join(OUT, "all_types.gguf"), "rb") as src:
        data = bytearray(src.read())
    assert data[:4] == b"GGUF" and struct.unpack_from("<I", data, 4)[0] == 3
    struct.pack_into("<I", data, 4, 2)
    with open(os.path.join(OUT, "v2.gguf"), "wb") as dst:
        dst.write(data)
    expected["v2.gguf"] = expected["all_types.gguf"]

    # --- types we list but do not decode
    u = Fixture("undecodable.gguf")
    u.kv("test.note", "undecodable types", V.STRING)
    u.tensor("q8_k", T.Q8_K, [1, 256])
    u.tensor("q1_0", T.Q1_0, [2, 128])
    u.tensor("f32_after", T.F32, [4])
    expected["undecodable.gguf"] = u.write()

    # Cross-check with gguf-py's own reader: key order and tensor geometry as recorded.
    for name in ("all_types.gguf", "v2.gguf", "undecodable.gguf"):
        r = gguf.GGUFReader(os.path.join(OUT, name))
        keys = [k for k in r.fields if not k.startswith("GGUF.")]
        assert keys == [m["key"] for m in expected[name]["metadata"]], (name, keys)
        for t, e in zip(r.tensors, expected[name]["tensors"]):
            assert t.name == e["name"] and t.tensor_type.name == e["type"] and int(t.n_bytes) == e["nbytes"]
            assert list(reversed(t.shape.tolist())) == e["shape"], (t.name, t.shape)
            assert int(t.data_offset) % (64 if name != "undecodable.gguf" else 32) == 0

    with open(os.path.join(OUT, "expected.json"), "w") as out:
        json.dump(expected, out, indent=None, separators=(",", ":"), ensure_ascii=True)
        out.write("\n")


if __name__ == "__main__":
    main()
