#!/usr/bin/env python3
"""Per-tensor types llama-quantize chooses when an importance matrix is given, for every preset it allows
with one — the presets of make_presets.py plus Q2_K_S (refused without a matrix) — on make_presets.py's
models. Same oracle and build as make_presets.py (`llama-quantize --dry-run`, llama.cpp vendored in
llama-cpp-python 0.3.36, GGML_NATIVE=OFF); the matrix is a legacy .dat with one entry, enough for
llama-quantize to take its importance-matrix rules (`has_imatrix`), which change Q4_0, Q5_0, IQ4_NL and IQ4_XS.

    LLAMA_QUANTIZE=/path/to/llama-quantize python3 Tests/Fixtures/make_presets_imatrix.py

Writes presets/with_imatrix.json: {"choices": {model: {preset: {tensor: TYPE}}}} (models in reference.json).
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import make_presets as mp

PRESETS = mp.PRESETS


def write_imatrix(path, name, n):
    with open(path, "wb") as f:
        f.write(struct.pack("<i", 1))
        f.write(struct.pack("<i", len(name)) + name.encode())
        f.write(struct.pack("<ii", 1, n) + struct.pack(f"<{n}f", *([1.0] * n)))


def main():
    quantize = os.environ.get("LLAMA_QUANTIZE")
    if not quantize:
        sys.exit("set LLAMA_QUANTIZE to the llama-quantize binary")
    out = {"oracle": "llama-quantize --dry-run --imatrix, llama.cpp vendored in llama-cpp-python 0.3.36", "choices": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (meta, tensors) in mp.MODELS.items():
            path = os.path.join(tmp, name + ".gguf")
            mp.write_model(path, meta, tensors)
            im = os.path.join(tmp, name + ".dat")
            write_imatrix(im, "blk.0.attn_q.weight", meta["embedding_length"])
            out["choices"][name] = {}
            for preset in PRESETS:
                p = subprocess.run([quantize, "--dry-run", "--imatrix", im, path, preset], capture_output=True, text=True)
                if p.returncode != 0:
                    sys.exit(f"llama-quantize failed for {preset}:\n{p.stderr[-2000:]}")
                types = {}
                for line in (p.stdout + p.stderr).splitlines():
                    m = mp.LINE.match(line.strip())
                    if m:
                        types[m.group(1)] = (m.group(3) or m.group(2)).upper()
                assert len(types) == len(tensors), (name, preset, len(types))
                out["choices"][name][preset] = types
            print(name, "done")
    with open(os.path.join(mp.OUT, "with_imatrix.json"), "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
