#!/usr/bin/env python3
"""Reads the files weightlab's writers produced with the reference libraries and prints what they see, as JSON.

    python3 Tests/Fixtures/check_written.py <directory>            # prints the JSON
    python3 Tests/Fixtures/make_writer_reference.py                # the same for written/ into reference.json

Needs numpy, safetensors, gguf and ml_dtypes (Tests/Fixtures/requirements.txt). The Swift tests
(WeightFormatsTests.WriterReferenceTests) run it on freshly written files when these packages are installed,
and compare the committed reference.json, produced by this script from the committed files in written/,
with what our reader sees in those files, so the check holds without Python too.

For every *.safetensors and *.gguf file in the directory (sorted by name):
  safetensors: parsed by the reference (`safetensors.deserialize`, the Rust parser, which validates the
    header, dtypes, offsets and sizes); tensors in data-offset order (`safe_open(...).offset_keys()`);
    metadata from `safe_open(...).metadata()` as sorted [key, value] pairs; values as float64 from
    `safetensors.numpy.load_file` (BF16 and F8 through ml_dtypes, which numpy lacks).
  gguf: parsed by `gguf.GGUFReader`; metadata in file order with gguf-py's type chain (`field.types`, an
    array's element types follow ARRAY, nested arrays flattened as gguf-py flattens them) and the leaf values
    as text (integers exactly, floats as repr, so no precision is lost in JSON); tensors with their ggml type
    name, `ne` (innermost first), byte count, absolute data offset, and float64 values (the typed
    array for plain types, `gguf.quants.dequantize` for block types and BF16). Also the file's alignment.
Every tensor also has "hex": its stored bytes as the reference hands them out.
"""
import json
import os
import sys

import ml_dtypes
import numpy as np
import gguf
import safetensors
from safetensors import safe_open
from safetensors.numpy import load_file

SPECIAL = {"BF16": ml_dtypes.bfloat16, "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2}


def floats(a):
    return [float(x) for x in np.asarray(a).astype(np.float64).reshape(-1)]


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = dict(safetensors.deserialize(f.read()))
    with safe_open(path, framework="np") as f:
        order = list(f.offset_keys())
        metadata = f.metadata() or {}
    loadable = [n for n in order if raw[n]["dtype"] not in SPECIAL]
    arrays = load_file(path) if loadable == order else {}
    tensors = []
    for name in order:
        info = raw[name]
        data = bytes(info["data"])
        if info["dtype"] in SPECIAL:
            values = np.frombuffer(data, dtype=SPECIAL[info["dtype"]])
        elif arrays:
            values = arrays[name]
        else:
            values = np.frombuffer(data, dtype=safetensors.numpy._getdtype(info["dtype"]))
        tensors.append({"name": name, "dtype": info["dtype"], "shape": list(info["shape"]),
                        "hex": data.hex(), "values": floats(values)})
    return {"format": "safetensors", "metadata": sorted([k, v] for k, v in metadata.items()), "tensors": tensors}


def leaf_text(part, gtype):
    if gtype == gguf.GGUFValueType.STRING:
        return bytes(part).decode("utf-8")
    v = part[0].item()
    if gtype == gguf.GGUFValueType.BOOL:
        return "true" if v else "false"
    if gtype in (gguf.GGUFValueType.FLOAT32, gguf.GGUFValueType.FLOAT64):
        return repr(float(v))
    return str(int(v))


def read_gguf(path):
    reader = gguf.GGUFReader(path)
    metadata = []
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):
            continue   # gguf-py's pseudo-fields for the version and counts
        types = [t.name for t in field.types]
        leaf = field.types[-1]
        values = [leaf_text(field.parts[i], leaf) for i in field.data]
        metadata.append({"key": field.name, "types": types, "values": values})
    tensors = []
    for t in reader.tensors:
        # gguf-py hands plain types out as typed arrays, and block types (and BF16) as bytes to dequantize.
        values = t.data if t.data.dtype != np.uint8 else gguf.quants.dequantize(t.data, t.tensor_type)
        tensors.append({"name": t.name, "type": t.tensor_type.name, "ne": [int(d) for d in t.shape],
                        "n_bytes": int(t.n_bytes), "offset": int(t.data_offset),
                        "hex": t.data.tobytes().hex(), "values": floats(values)})
    return {"format": "gguf", "alignment": int(reader.alignment), "metadata": metadata, "tensors": tensors}


def main():
    directory = sys.argv[1]
    out = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.endswith(".safetensors"):
            out[name] = read_safetensors(path)
        elif name.endswith(".gguf"):
            out[name] = read_gguf(path)
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
