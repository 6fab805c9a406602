#!/usr/bin/env python3
"""Records what llama-quantize writes, tensor by tensor, for presets applied to one small llama model with
real random values: the input for `weightlab apply --plan {"preset": ...}` to reproduce byte for byte.

The oracle is llama-quantize built from the llama.cpp sources vendored in the PyPI sdist `llama-cpp-python`
0.3.36 with GGML_NATIVE=OFF (see make_presets.py for the build; without -march=native ggml-quants.c is
compiled without FMA contraction, the canonical x86-64 bytes — llamacpp_quantize_facts.md §12).

Run:  LLAMA_QUANTIZE=/path/to/llama-quantize python3 Tests/Fixtures/make_preset_bytes.py
Writes preset_bytes/:
  model.gguf       llama architecture, 2 layers, embd 256, 4 query heads per kv head, ffn 32 (ffn_down rows
                   of 32: llama-quantize's fallbacks), untied output; weights F16 except a few F32 ones (and
                   the norms), N(0, 0.02) with a few ×30 outliers
  imatrix.gguf     an importance matrix in llama-imatrix's GGUF format for every blk.* matrix (gguf-py)
  reference.json   per run (preset, with or without the imatrix): for every tensor of llama-quantize's output,
                   its type name and the sha256 of its data (the outputs themselves are not kept)
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "preset_bytes")
RUNS = [("Q4_K_M", False), ("Q5_K_M", False), ("Q6_K", False), ("Q4_0", False), ("Q8_0", False),
        ("IQ4_XS", False), ("Q3_K_M", False), ("Q2_K", False), ("Q4_K_M", True), ("IQ4_XS", True), ("Q4_0", True)]

LAYERS, EMBD, HEADS, KV_HEADS, HEAD_DIM, FF, VOCAB = 2, 256, 4, 1, 64, 32, 64


def tensors():
    """(GGUF name, NumPy shape) in llama.cpp's weights order (names without a layer first, then by layer)."""
    t = [("output.weight", (VOCAB, EMBD)), ("output_norm.weight", (EMBD,)), ("token_embd.weight", (VOCAB, EMBD))]
    for i in range(LAYERS):
        b = f"blk.{i}."
        layer = [(b + "attn_k.weight", (KV_HEADS * HEAD_DIM, EMBD)), (b + "attn_norm.weight", (EMBD,)),
                 (b + "attn_output.weight", (EMBD, HEADS * HEAD_DIM)), (b + "attn_q.weight", (HEADS * HEAD_DIM, EMBD)),
                 (b + "attn_v.weight", (KV_HEADS * HEAD_DIM, EMBD)), (b + "ffn_down.weight", (EMBD, FF)),
                 (b + "ffn_gate.weight", (FF, EMBD)), (b + "ffn_norm.weight", (EMBD,)), (b + "ffn_up.weight", (FF, EMBD))]
        t += sorted(layer)
    return t


def write_model(path, rng):
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("weightlab preset bytes")
    w.add_block_count(LAYERS)
    w.add_context_length(256)
    w.add_embedding_length(EMBD)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(VOCAB)
    w.add_file_type(1)
    for name, shape in tensors():
        if len(shape) == 1:
            w.add_tensor(name, (1 + rng.normal(0, 0.1, shape)).astype(np.float32))
            continue
        x = rng.normal(0, 0.02, shape)
        outliers = rng.random(shape) < 0.002
        x[outliers] *= 30
        f32 = name in ("blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.ffn_down.weight", "token_embd.weight")
        w.add_tensor(name, x.astype(np.float32 if f32 else np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_imatrix(path, rng):
    w = gguf.GGUFWriter(path, arch="")
    w.kv_data[0].pop("general.architecture", None)
    w.add_type("imatrix")
    w.add_array("imatrix.datasets", ["random.txt"])
    w.add_uint32("imatrix.chunk_count", 4)
    w.add_uint32("imatrix.chunk_size", 512)
    for name, shape in sorted(tensors()):
        if len(shape) != 2 or not name.startswith("blk."):
            continue
        w.add_tensor(name + ".counts", np.array([[2048]], np.float32))
        w.add_tensor(name + ".in_sum2", (rng.gamma(0.5, 2.0, (1, shape[1])) * 2048).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    quantize = os.environ.get("LLAMA_QUANTIZE")
    if not quantize:
        sys.exit("set LLAMA_QUANTIZE to the llama-quantize binary")
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2026)
    model = os.path.join(OUT, "model.gguf")
    imatrix = os.path.join(OUT, "imatrix.gguf")
    write_model(model, rng)
    write_imatrix(imatrix, rng)
    ref = {"oracle": "llama-quantize, llama.cpp vendored in llama-cpp-python 0.3.36, GGML_NATIVE=OFF", "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for preset, with_imatrix in RUNS:
            out = os.path.join(tmp, "out.gguf")
            cmd = [quantize] + (["--imatrix", imatrix] if with_imatrix else []) + [model, out, preset, "1"]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"llama-quantize failed for {preset}:\n{p.stderr[-3000:]}{p.stdout[-3000:]}")
            r = gguf.GGUFReader(out)
            result = {}
            for t in r.tensors:
                result[t.name] = {"type": t.tensor_type.name, "sha256": hashlib.sha256(bytes(t.data.tobytes())).hexdigest(),
                                  "bytes": int(t.n_bytes)}
            ref["runs"].append({"preset": preset, "imatrix": with_imatrix, "tensors": result})
            print(preset, "imatrix" if with_imatrix else "", "done")
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
