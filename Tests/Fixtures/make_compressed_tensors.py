#!/usr/bin/env python3
"""Decodes Tests/Fixtures/compressed_tensors/model.safetensors with numpy, as a compressed-tensors loader would,
and writes what it reads to decoded.safetensors.

Run from anywhere:  python3 Tests/Fixtures/make_compressed_tensors.py
Needs numpy, safetensors and ml_dtypes (Tests/Fixtures/requirements.txt); not the `compressed-tensors`
package, which needs torch.

model.safetensors and config.json are written by weightlab's CompressedTensors packer through SafetensorsWriter
(regenerate them with `WEIGHTLAB_REGENERATE_CT=1 swift test --filter CompressedTensorsTests`). This decoder is
written from the format's description (neuralmagic/compressed-tensors: pack_quantized.py `unpack_from_int32`,
naive_quantized.py, forward.py `dequantize`; see the shared reference export_and_solver.md §A1), not from
weightlab's code:

- each config group names its modules in `targets` (exact names or `re:` patterns); its `weights` give
  num_bits, type, symmetric, strategy, group_size; its format is the group's `format` when the top-level format
  is `mixed-precision`, else the top-level one;
- pack-quantized: `weight_packed` int32 [N, ceil(K/p)], p = 32 // num_bits, element i of a word at bits
  i*num_bits (low first), unsigned = signed + 2^(b-1); `weight_shape` int64 [N, K]; asymmetric group/channel
  zero points int32 packed the same way along dim 0; an asymmetric tensor grid keeps an int8 zero point;
- int-quantized / naive-quantized: `weight` int8 [N, K], `weight_zero_point` int8 when asymmetric;
- float-quantized: `weight` float8_e4m3fn [N, K];
- dequantize: (q - zp) * scale in the scale's dtype (float32 here), the scale broadcast over its group
  (group: [N, K/g] repeated g times along K; channel: [N, 1]; tensor: [1]).

The Swift test compares decoded.safetensors with the engine's reconstruction, value for value.
"""
import json
import os
import re
import struct

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(HERE, "compressed_tensors")

DTYPES = {"F32": np.float32, "I32": np.int32, "I64": np.int64, "I8": np.int8, "U8": np.uint8,
          "F8_E4M3": ml_dtypes.float8_e4m3fn}


def read_safetensors(path):
    """Every tensor of a safetensors file, parsed with json and numpy (safetensors.numpy has no FP8)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
        out[name] = (info["dtype"], np.frombuffer(data[base + a:base + b], dtype=dt).reshape(info["shape"]))
    return out


def unpack_from_int32(packed, num_bits, length, packed_dim):
    """Signed codes from words of `32 // num_bits` values each, low first, along `packed_dim`."""
    p = 32 // num_bits
    mask = (1 << num_bits) - 1
    words = packed.astype(np.int64) & 0xFFFFFFFF
    if packed_dim == 1:
        out = np.zeros((words.shape[0], words.shape[1] * p), dtype=np.int64)
        for i in range(p):
            out[:, i::p] = (words >> (num_bits * i)) & mask
        out = out[:, :length]
    else:
        out = np.zeros((words.shape[0] * p, words.shape[1]), dtype=np.int64)
        for i in range(p):
            out[i::p, :] = (words >> (num_bits * i)) & mask
        out = out[:length, :]
    return (out - (1 << (num_bits - 1))).astype(np.int8)


def matches(target, module):
    if target.startswith("re:"):
        return re.match(target[3:], module) is not None
    return target == module


def dequantize(q, scale, zp, strategy, group_size):
    n, k = q.shape
    x = q.astype(np.float32)
    if zp is not None:
        zp = zp.astype(np.float32)
    if strategy == "group":
        assert scale.shape == (n, k // group_size), (scale.shape, q.shape, group_size)
        scale = np.repeat(scale, group_size, axis=1)
        if zp is not None:
            zp = np.repeat(zp, group_size, axis=1)
    elif strategy == "channel":
        assert scale.shape == (n, 1), scale.shape
    else:
        assert strategy == "tensor" and scale.shape == (1,), (strategy, scale.shape)
    if zp is not None:
        x = x - zp
    return (x * scale).astype(np.float32)


def decode_module(tensors, module, fmt, args):
    bits, strategy, sym = args["num_bits"], args["strategy"], args["symmetric"]
    group = args.get("group_size")
    dtype, scale = tensors[module + ".weight_scale"]
    assert dtype == "F32"
    zp = None
    if fmt == "pack-quantized":
        dt, packed = tensors[module + ".weight_packed"]
        _, shape = tensors[module + ".weight_shape"]
        assert dt == "I32" and tensors[module + ".weight_shape"][0] == "I64" and shape.shape == (2,)
        n, k = int(shape[0]), int(shape[1])
        p = 32 // bits
        assert packed.shape == (n, -(-k // p)), packed.shape
        q = unpack_from_int32(packed, bits, k, 1)
        if not sym:
            zdt, z = tensors[module + ".weight_zero_point"]
            if strategy in ("group", "channel"):
                assert zdt == "I32" and z.shape == (-(-n // p), scale.shape[1]), (zdt, z.shape)
                zp = unpack_from_int32(z, bits, n, 0)
            else:
                assert zdt == "I8" and z.shape == (1,)
                zp = z
        assert module + ".weight" not in tensors
    elif fmt in ("int-quantized", "naive-quantized"):
        dt, q = tensors[module + ".weight"]
        assert dt == "I8"
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        assert q.min() >= lo and q.max() <= hi
        if not sym:
            zdt, zp = tensors[module + ".weight_zero_point"]
            assert zdt == "I8" and zp.shape == scale.shape
    elif fmt == "float-quantized":
        dt, q = tensors[module + ".weight"]
        assert dt == "F8_E4M3" and args["type"] == "float" and bits == 8
    else:
        raise ValueError("unknown format " + fmt)
    if sym:
        assert module + ".weight_zero_point" not in tensors
    return dequantize(q, scale, zp, strategy, group)


def main():
    tensors = read_safetensors(os.path.join(DIR, "model.safetensors"))
    with open(os.path.join(DIR, "config.json")) as f:
        config = json.load(f)["quantization_config"]
    assert config["quant_method"] == "compressed-tensors"
    assert config["quantization_status"] == "compressed"
    top = config["format"]
    modules = sorted({name.rsplit(".", 1)[0] for name in tensors})
    decoded = {}
    for module in modules:
        groups = [g for g in config["config_groups"].values() if any(matches(t, module) for t in g["targets"])]
        if not groups:
            assert module in config["ignore"], module + " is neither targeted nor ignored"
            continue
        assert len(groups) == 1, module + " is targeted by several groups"
        g = groups[0]
        fmt = g["format"] if top == "mixed-precision" else top
        decoded[module + ".weight"] = decode_module(tensors, module, fmt, g["weights"])
    save_file(decoded, os.path.join(DIR, "decoded.safetensors"))
    print("decoded %d modules" % len(decoded))


if __name__ == "__main__":
    main()
